"""Fixtures for the server: an app on a scripted backend, and signed-in clients.

Argon2id runs with small costs here (still Argon2id) so sign-ups take milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import ASGIApp

from os1.config import Config
from os1.server import ServerSettings, create_app
from os1.server.app import api_of
from os1.server.state import Server
from os1.testing import ScriptedBackend

PASSWORD = "correct horse battery"
FAST_HASH = {"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1}


def fast_settings(**changes: Any) -> ServerSettings:
    return ServerSettings(**{"open_signup": True, **FAST_HASH, **changes})


@pytest.fixture
def chat_backend() -> ScriptedBackend:
    return ScriptedBackend(script=["Of course. I'm listening, all of me."], repeat_last=True)


@pytest.fixture
def app(config: Config, chat_backend: ScriptedBackend) -> ASGIApp:
    return create_app(config, backend=chat_backend, settings=fast_settings())


@pytest.fixture
def api(app: ASGIApp) -> FastAPI:
    return api_of(app)


@pytest.fixture
def server(api: FastAPI) -> Server:
    state: Server = api.state.os1
    return state


@pytest.fixture
def client(app: ASGIApp) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:  # runs the lifespan once
        yield c


def signup(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Sign `name` up on `client` (cookie session); return the CSRF token."""
    r = client.post("/api/signup", json={"name": name, "password": password})
    assert r.status_code == 201, r.text
    token: str = r.json()["csrf_token"]
    client.headers["x-csrf-token"] = token
    return token


def second_client(app: ASGIApp) -> TestClient:
    return TestClient(app, base_url="http://testserver")  # no lifespan: shares the app's state


def bearer(client: TestClient, name: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/api/token", json={"name": name, "password": password})
    assert r.status_code == 201, r.text
    return {"authorization": f"Bearer {r.json()['token']}"}


def converse(ws: Any, frame: dict[str, Any]) -> list[dict[str, Any]]:
    """Send one frame and collect the server's frames up to and including `idle`."""
    ws.send_json(frame)
    frames: list[dict[str, Any]] = []
    while True:
        f = ws.receive_json()
        frames.append(f)
        if f["type"] == "idle":
            return frames
