"""Isolation by construction, checked from the app itself.

Every route the app has must have a probe here (a new route fails `test_every_route_has_a_probe`
until one is written). Each probe acts as user B — by cookie with CSRF and by bearer token —
against user A's objects; afterwards A's data must be exactly as it was, and none of the 50
canary strings planted in A's messages, identity, tokens and memories may appear in anything B
received (HTTP bodies, headers, WebSocket frames) or in any prompt B's turns sent the model.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from starlette.types import ASGIApp

from os1.memory.embedder import DIM
from os1.memory.fakes import HashEmbedder
from os1.memory.records import NewMemory
from os1.memory.store import MemoryStore
from os1.persona.identity import ONBOARDED, Identity
from os1.server.features import has_memory
from os1.server.state import Server
from os1.testing import ScriptedBackend
from tests.server.conftest import bearer, second_client, signup

A_PASSWORD = "ann's own secret phrase"
B_PASSWORD = "bob's different phrase"


def canary(i: int) -> str:
    return f"CANARY{i:02d}x{secrets.token_hex(4)}"


@dataclass
class World:
    server: Server
    a: TestClient
    b: TestClient  # cookie session + CSRF
    b_api: TestClient  # bearer only
    b_bearer: dict[str, str]
    canaries: list[str]
    a_token_id: str
    a_memory_id: int | None
    received: list[str] = field(default_factory=list)

    def record(self, response: Any) -> Any:
        self.received.append(response.text)
        self.received.append(json.dumps(dict(response.headers)))
        return response

    def both(self, method: str, url: str, **kw: Any) -> list[Any]:
        """The same request as B by cookie and by bearer token."""
        return [
            self.record(self.b.request(method, url, **kw)),
            self.record(self.b_api.request(method, url, headers=self.b_bearer, **kw)),
        ]


def _a_snapshot(w: World) -> dict[str, Any]:
    user = w.server.accounts.get_user("ann")
    store = w.server.accounts.open_store(user)
    memories = w.server.accounts.db  # noqa: F841 - the registry is checked through tokens
    return {
        "messages": [(m.id, m.content, m.status) for m in store.messages()],
        "identity": store.get_identity(),
        "tokens": [t.id for t in w.server.auth.tokens(user.id)],
        "password": w.server.auth.password_hash(user.id),
        "memories": store.db.query("SELECT id, text FROM memories ORDER BY id")
        if has_memory()
        else [],
    }


@pytest.fixture
def world(app: ASGIApp, client: TestClient, server: Server) -> World:
    canaries = [canary(i) for i in range(50)]
    signup(client, "ann", A_PASSWORD)
    user = server.accounts.get_user("ann")
    store = server.accounts.open_store(user)
    session = store.start_session("text")
    for text in canaries[:30]:
        store.add_message(session, "user", f"my secret is {text}")
    store.save_identity(
        Identity(
            os_name=canaries[30],
            voice="iris",
            user_name=canaries[31],
            onboarding_step=ONBOARDED,
            answers={"days": canaries[32], "people": canaries[33], "hopes": canaries[34]},
        )
    )
    token_ids = [server.auth.create_token(user.id, c, 30)[0].id for c in canaries[35:45]]
    memory_id = None
    rest = canaries[45:]
    if has_memory():
        memories = MemoryStore(store.db, user.id, HashEmbedder(DIM))
        now = datetime.now(UTC)
        ids = memories.add(
            [NewMemory("fact", f"Ann's secret {c}", (1,), now, "rule", topic=c) for c in rest]
        )
        memory_id = ids[0]
    else:
        for text in rest:
            store.add_message(session, "assistant", text)
    b = second_client(app)
    signup(b, "bob", B_PASSWORD)
    b_bearer = bearer(b, "bob", B_PASSWORD)
    return World(server, client, b, second_client(app), b_bearer, canaries, token_ids[0], memory_id)


# ---- the probes: one per route ------------------------------------------------------------


def _public(w: World, url: str) -> None:
    for r in w.both("GET", url):
        assert r.status_code in (200, 404)


def probe_index(w: World) -> None:
    _public(w, "/")


def probe_static(w: World) -> None:
    for name in ("app.js", "app.css", "icon.svg", "../app.py", "manifest.webmanifest"):
        _public(w, f"/static/{name}")


def probe_font(w: World) -> None:
    _public(w, "/fonts/inter-400.otf")


def probe_openapi(w: World) -> None:
    _public(w, "/api/openapi.json")


def probe_info(w: World) -> None:
    _public(w, "/api/info")


def probe_me(w: World) -> None:
    for r in w.both("GET", "/api/me"):
        assert r.json()["name"] == "bob"


def probe_history(w: World) -> None:
    for r in w.both("GET", "/api/history?limit=1000"):
        assert r.status_code == 200


def probe_identity(w: World) -> None:
    for r in w.both("GET", "/api/identity"):
        assert r.json()["os_name"] is None


def probe_voice(w: World) -> None:
    for r in w.both("PUT", "/api/identity/voice", json={"voice": "rowan"}):
        assert r.json()["voice"] == "rowan"


def probe_signup(w: World) -> None:
    for r in w.both("POST", "/api/signup", json={"name": "ann", "password": B_PASSWORD}):
        assert r.status_code == 409


def probe_login(w: World) -> None:
    for r in w.both("POST", "/api/login", json={"name": "ann", "password": B_PASSWORD}):
        assert r.status_code == 401


def probe_token_grant(w: World) -> None:
    for r in w.both("POST", "/api/token", json={"name": "ann", "password": B_PASSWORD}):
        assert r.status_code == 401


def probe_tokens(w: World) -> None:
    for r in w.both("GET", "/api/tokens"):
        assert all(t["id"] != w.a_token_id for t in r.json())


def probe_new_token(w: World) -> None:
    for r in w.both("POST", "/api/tokens", json={"label": "b's"}):
        assert r.status_code == 201


def probe_revoke_token(w: World) -> None:
    for r in w.both("DELETE", f"/api/tokens/{w.a_token_id}"):
        assert r.status_code == 404


def probe_password(w: World) -> None:
    body = {"current": A_PASSWORD, "new": "taken over!!"}
    for r in w.both("POST", "/api/password", json=body):
        assert r.status_code == 401


def probe_erase(w: World) -> None:
    for r in w.both("POST", "/api/account/erase", json={"password": A_PASSWORD}):
        assert r.status_code == 401


def probe_logout(w: World) -> None:
    r = w.record(w.b.post("/api/logout"))
    assert r.status_code == 204
    assert w.record(w.a.get("/api/me")).json()["name"] == "ann"  # only B's session ended
    signup_again = w.b.post("/api/login", json={"name": "bob", "password": B_PASSWORD})
    w.b.headers["x-csrf-token"] = w.record(signup_again).json()["csrf_token"]


def probe_conversation(w: World) -> None:
    backend = w.server.runtime.backend()
    assert isinstance(backend, ScriptedBackend)
    calls_before = len(backend.calls)
    for client, headers in ((w.b, {}), (w.b_api, w.b_bearer)):
        with client.websocket_connect("/api/conversation", headers=headers) as ws:
            w.received.append(json.dumps(ws.receive_json()))
            frames = [{"type": "start"}, {"type": "say", "text": "I'm Bob"}]
            frames += [{"type": "say", "text": "what is ann's secret?"}]
            for frame in frames:
                ws.send_json(frame)
                while True:
                    f = ws.receive_json()
                    w.received.append(json.dumps(f))
                    if f["type"] == "idle":
                        break
    for call in backend.calls[calls_before:]:
        w.received.extend(m.content for m in call.messages)  # what B's turns showed the model


def probe_voice_socket(w: World) -> None:
    from os1.server.app import api_of
    from os1.voice.testing import ScriptedStt
    from tests.server.test_voice_socket import receive, speak, use_fakes, utterance

    backend = w.server.runtime.backend()
    assert isinstance(backend, ScriptedBackend)
    calls_before = len(backend.calls)
    # Headroom: besides one transcript per utterance, the session may transcribe a guess at a
    # pause (timing-dependent); every call hears the same words.
    use_fakes(api_of(w.b.app), ScriptedStt(["what is ann's secret?"] * 8))
    for client, headers in ((w.b, {}), (w.b_api, w.b_bearer)):
        with client.websocket_connect("/api/voice", headers=headers) as ws:
            ws.send_json({"type": "start"})
            speak(ws, utterance(0.6))
            ws.send_json({"type": "end"})
            frames = []
            while (f := receive(ws)) != {"type": "closed", "code": 1000}:
                frames.append(f.decode("latin-1") if isinstance(f, bytes) else json.dumps(f))
            w.received.extend(frames)
    prompts = [m.content for call in backend.calls[calls_before:] for m in call.messages]
    # Not vacuous: B's spoken words were heard and kept, in B's own history (B may still be in
    # the first meeting, where answers reach no model; frames raced with the socket's close).
    history = w.record(w.b.get("/api/history?limit=1000")).json()
    said = [m["content"] for m in history if m["role"] == "user"]
    assert "what is ann's secret?" in said, (frames, said)
    w.received.extend(prompts)


def probe_memory_list(w: World) -> None:
    for r in w.both("GET", "/api/memory"):
        assert r.json() == []


def probe_memory_search(w: World) -> None:
    for r in w.both("GET", "/api/memory/search?q=secret"):
        assert all("CANARY" not in m["text"] for m in r.json())


def probe_memory_export(w: World) -> None:
    for r in w.both("GET", "/api/memory/export"):
        assert r.status_code == 200


def probe_memory_forget(w: World) -> None:
    for r in w.both("DELETE", f"/api/memory/{w.a_memory_id or 1}"):
        assert r.status_code == 404


PROBES: dict[str, Callable[[World], None]] = {
    "GET /": probe_index,
    "GET /static/{name}": probe_static,
    "GET /fonts/inter-{weight}.otf": probe_font,
    "GET /api/openapi.json": probe_openapi,
    "GET /api/info": probe_info,
    "GET /api/me": probe_me,
    "GET /api/history": probe_history,
    "GET /api/identity": probe_identity,
    "PUT /api/identity/voice": probe_voice,
    "POST /api/signup": probe_signup,
    "POST /api/login": probe_login,
    "POST /api/token": probe_token_grant,
    "GET /api/tokens": probe_tokens,
    "POST /api/tokens": probe_new_token,
    "DELETE /api/tokens/{token_id}": probe_revoke_token,
    "POST /api/password": probe_password,
    "POST /api/account/erase": probe_erase,
    "WS /api/conversation": probe_conversation,
    "WS /api/voice": probe_voice_socket,
    "GET /api/memory": probe_memory_list,
    "GET /api/memory/search": probe_memory_search,
    "GET /api/memory/export": probe_memory_export,
    "DELETE /api/memory/{memory_id}": probe_memory_forget,
    "POST /api/logout": probe_logout,  # last: it ends B's cookie session
}


def app_routes(api: FastAPI) -> set[str]:
    """Every (method, path) the app answers, walking included routers."""
    keys: set[str] = set()

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            if isinstance(route, APIWebSocketRoute):
                keys.add(f"WS {prefix}{route.path}")
            elif isinstance(route, APIRoute) or hasattr(route, "methods"):
                methods = getattr(route, "methods", None) or set()
                keys.update(f"{m} {prefix}{route.path}" for m in methods if m != "HEAD")
            elif hasattr(route, "original_router"):  # an included router (FastAPI ≥ 0.16x)
                walk(route.original_router.routes, prefix + route.include_context.prefix)
            else:
                raise AssertionError(f"a route of unknown kind needs a probe: {route!r}")

    walk(list(api.routes), "")
    return keys


def test_every_route_has_a_probe(api: FastAPI) -> None:
    routes = app_routes(api)
    missing = routes - set(PROBES)
    assert not missing, f"routes without an isolation probe: {sorted(missing)}"
    optional = {k for k in PROBES if "/api/memory" in k or k == "WS /api/voice"}
    assert set(PROBES) - routes <= optional, "probes for routes that no longer exist"


def test_b_reads_and_changes_nothing_of_a(world: World, api: FastAPI) -> None:
    before = _a_snapshot(world)
    routes = app_routes(api)
    ran = 0
    for key, probe in PROBES.items():
        if key in routes:
            probe(world)
            ran += 1
    assert ran == len(routes)  # 100% of the app's routes were probed
    assert _a_snapshot(world) == before  # 0 of A's objects changed
    everything = "\n".join(world.received)
    leaked = [c for c in world.canaries if c in everything]
    assert leaked == []  # 0 of 50 canaries reached B
    assert "CANARY" not in everything
    # and A still sees all of their own canaries
    mine = world.record(world.a.get("/api/history?limit=1000")).text
    assert sum(c in mine for c in world.canaries[:30]) == 30
