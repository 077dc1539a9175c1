"""Shared fixtures. Every test gets its own OS1_HOME; real network calls are blocked
(loopback stays open for the real servers tests start themselves)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from os1.config import Config, load_config
from os1.context import TurnContext
from os1.persona.identity import ONBOARDED, Identity
from os1.runtime import Runtime
from os1.testing import ScriptedBackend

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> None:
    host = address[0] if isinstance(address, tuple) else address
    if (
        self.family in (socket.AF_INET, socket.AF_INET6)
        and host
        not in (
            "127.0.0.1",
            "::1",
            "localhost",
            "0.0.0.0",
        )
        and not str(host).startswith("127.")
    ):
        raise RuntimeError(f"tests may not reach the network (tried {address!r})")
    _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "os1home"
    monkeypatch.setenv("OS1_HOME", str(path))
    # Share one model cache across tests so chunked models are assembled once per machine.
    monkeypatch.setenv(
        "OS1_MODEL_CACHE",
        os.environ.get(
            "OS1_TEST_MODEL_CACHE",
            str(Path.home() / ".local" / "share" / "os1" / "cache" / "models"),
        ),
    )
    for key in ("OS1_MODEL", "OS1_BACKEND_URL", "OS1_API_KEY", "OS1_BACKEND_MODEL"):
        monkeypatch.delenv(key, raising=False)
    return path


@pytest.fixture
def config(home: Path) -> Config:
    return load_config()


@pytest.fixture
def backend() -> Iterator[ScriptedBackend]:
    fake = ScriptedBackend()
    yield fake
    fake.assert_done()


@pytest.fixture
def runtime(config: Config, backend: ScriptedBackend) -> Iterator[Runtime]:
    rt = Runtime(config, backend=backend, memory_factory=None)
    yield rt
    rt.close()


def make_context(runtime: Runtime, name: str = "alice", onboarded: bool = True) -> TurnContext:
    ctx = runtime.context(runtime.user(name))
    if onboarded:
        ctx.store.save_identity(
            Identity(
                os_name="Samantha",
                voice="joe",
                user_name=name.capitalize(),
                onboarding_step=ONBOARDED,
                answers={"days": "writing letters"},
            )
        )
    return ctx


@pytest.fixture
def ctx(runtime: Runtime) -> TurnContext:
    return make_context(runtime)
