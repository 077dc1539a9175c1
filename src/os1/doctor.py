"""Health checks for `os1 doctor`: each yields (ok, one sentence)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from os1.config import Config
from os1.errors import ModelFileError
from os1.profiles import PROFILES, installed, is_assembled, target_path

MIN_FREE_BYTES = 2 * 1024**3


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def diagnose(config: Config) -> Iterator[tuple[bool, str]]:
    v = sys.version_info
    yield v >= (3, 11), f"Python {v.major}.{v.minor}.{v.micro} (os1 needs 3.11 or newer)."
    has_llama = importlib.util.find_spec("llama_cpp") is not None
    yield (
        has_llama,
        (
            "llama-cpp-python is installed."
            if has_llama
            else "llama-cpp-python is missing; run `make run` to install it."
        ),
    )
    for name, profile in PROFILES.items():
        if not installed(profile):
            yield name != config.model, f"The {name} model's packages are not installed."
            continue
        ready = is_assembled(profile, config.models_dir)
        if not ready and profile.parts == 0:
            try:
                from os1.profiles import verify_file

                verify_file(target_path(profile, config.models_dir), profile.size, profile.sha256)
                ready = True
            except ModelFileError as e:
                yield False, e.sentence
                continue
        yield (
            ready or name != config.model,
            (
                f"The {name} model is verified ({profile.model})."
                if ready
                else f"The {name} model is not assembled yet; run `os1 models assemble {name}`."
            ),
        )
    home = config.home
    try:
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=home):
            pass
        yield True, f"The data directory {home} is writable."
    except OSError as e:
        yield False, f"The data directory {home} is not writable ({e.strerror})."
    free = shutil.disk_usage(_existing_parent(home)).free
    yield free >= MIN_FREE_BYTES, f"{free / 1024**3:.1f} GB free on the disk holding {home}."
    if config.model not in PROFILES and not config.backend_url:
        path = Path(config.model).expanduser()
        yield (
            path.is_file(),
            f"The model file {path} {'exists' if path.is_file() else 'is missing'}.",
        )
