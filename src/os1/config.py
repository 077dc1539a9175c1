"""Typed configuration, read once at the edge and passed down.

Sources, later ones winning: built-in defaults, `$OS1_HOME/config.toml`, environment variables
(`OS1_*`), then explicit overrides from the command line. `OS1_HOME` alone moves the whole data
directory (tests point it at a temporary directory). The API key for a remote backend comes from
`OS1_API_KEY` or from `$OS1_HOME/secrets.toml` (which must be mode 0600); it is never logged or
shown — `Config.__repr__` hides it.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from os1.errors import ConfigError


class _ConfigFile(BaseModel):
    """The validated shape of config.toml (a trust boundary: the user edits it)."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    backend_url: str | None = None
    backend_model: str | None = None
    n_ctx: int | None = Field(default=None, ge=512, le=1_048_576)
    n_threads: int | None = Field(default=None, ge=1, le=512)
    max_reply_tokens: int | None = Field(default=None, ge=16, le=32_768)
    max_input_chars: int | None = Field(default=None, ge=100, le=1_000_000)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    default_user: str | None = None
    parallel: int | None = Field(default=None, ge=1, le=64)


def default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "os1"


@dataclass(frozen=True)
class Config:
    home: Path
    model: str = "default"  # a profile name (see os1.profiles) or a path to a GGUF file
    model_cache: Path | None = None  # where assembled embedded models live; default home/cache
    backend_url: str | None = None  # an OpenAI-compatible server; overrides `model`
    backend_model: str | None = None  # the model name to ask that server for
    api_key: str | None = field(default=None, repr=False)
    n_ctx: int = 4096
    n_threads: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    max_reply_tokens: int = 400
    max_input_chars: int = 16_000
    temperature: float = 0.7
    default_user: str | None = None
    # Generations the embedded model runs at once (os1.backends.batched when > 1). None: the
    # command decides (1 for chat, 4 for `os1 serve`).
    parallel: int | None = None
    # PostgreSQL instead of SQLite files (os1.storage.postgres): the app role's URL, and
    # optionally the schema owner's, used only to migrate. Secrets: hidden from repr.
    database_url: str | None = field(default=None, repr=False)
    database_owner_url: str | None = field(default=None, repr=False)

    @property
    def models_dir(self) -> Path:
        return self.model_cache or (self.home / "cache" / "models")

    def with_overrides(self, **changes: Any) -> Config:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except (FileNotFoundError, NotADirectoryError):
        return {}  # no config file (a bad data directory is reported when it is opened)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"The config file {path} is not valid TOML ({e}).") from None
    except OSError as e:
        raise ConfigError(f"The config file {path} cannot be read ({e.strerror}).") from None


def _read_secret(home: Path, env: Mapping[str, str]) -> str | None:
    if env.get("OS1_API_KEY"):
        return env["OS1_API_KEY"]
    path = home / "secrets.toml"
    if not path.exists():
        return None
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise ConfigError(f"{path} must be readable only by you; run: chmod 600 {path}")
    key = _read_toml(path).get("api_key")
    if key is not None and not isinstance(key, str):
        raise ConfigError(f"api_key in {path} must be a string.")
    return key


def _env_parallel(env: Mapping[str, str]) -> int | None:
    raw = env.get("OS1_PARALLEL")
    if not raw:
        return None
    if not raw.strip().isdigit() or not 1 <= int(raw) <= 64:
        raise ConfigError(f"OS1_PARALLEL must be a whole number from 1 to 64, not {raw!r}.")
    return int(raw)


def load_config(env: Mapping[str, str] | None = None, **overrides: Any) -> Config:
    """Build the Config from file, environment and overrides (in that order of precedence)."""
    env = os.environ if env is None else env
    home = Path(env["OS1_HOME"]).expanduser() if env.get("OS1_HOME") else default_home()
    raw = _read_toml(home / "config.toml")
    try:
        parsed = _ConfigFile.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise ConfigError(
            f"The config file {home / 'config.toml'} has a bad value for {where}: {first['msg']}."
        ) from None
    config = Config(home=home).with_overrides(**parsed.model_dump())
    config = config.with_overrides(
        model=env.get("OS1_MODEL"),
        backend_url=env.get("OS1_BACKEND_URL"),
        backend_model=env.get("OS1_BACKEND_MODEL"),
        model_cache=Path(env["OS1_MODEL_CACHE"]) if env.get("OS1_MODEL_CACHE") else None,
        api_key=_read_secret(home, env),
        database_url=env.get("OS1_DATABASE_URL") or None,
        database_owner_url=env.get("OS1_DATABASE_OWNER_URL") or None,
        parallel=_env_parallel(env),
    )
    return config.with_overrides(**overrides)


__all__ = ["Config", "default_home", "load_config"]
