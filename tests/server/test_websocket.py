"""The conversation WebSocket: the first meeting, streamed replies, barge-in, bad frames,
credentials, limits — with the scripted backend."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from os1.backends.base import GenerationOptions
from os1.backends.fair import FairBackend
from os1.config import Config
from os1.errors import UserError
from os1.events import BackendEvent, GenerationDone, TextDelta
from os1.messages import Message
from os1.persona.identity import ONBOARDED, Identity
from os1.server import create_app
from os1.server.app import api_of
from os1.server.state import Server
from os1.testing import ScriptedBackend
from tests.helpers import PrefillingBackend
from tests.server.conftest import bearer, converse, fast_settings, signup


def onboard(server: Server, name: str) -> None:
    store = server.accounts.open_store(server.accounts.get_user(name))
    store.save_identity(Identity("Samantha", "joe", name.capitalize(), ONBOARDED, {}))


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class ChatPrefillingBackend(PrefillingBackend):
    """Memory's model extraction (JSON-constrained calls, run when the model is idle) finds
    nothing and leaves the script to the conversation."""

    async def stream(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncGenerator[BackendEvent, None]:
        if options.json_schema is not None:
            yield TextDelta("{}")
            yield GenerationDone("stop", completion_tokens=1)
            return
        async for event in super().stream(messages, options):
            yield event


def test_a_message_being_typed_has_its_reply_prepared(config: Config) -> None:
    backend = ChatPrefillingBackend(
        script=["Lovely.", "Anna, of course.", "Biscuit! " * 30, "Yes.", "Hello, Bob.", "Bye, Ann."]
    )
    app = create_app(config, backend=FairBackend(backend), settings=fast_settings())  # as served
    with TestClient(app, base_url="http://testserver") as client:
        signup(client, "ann")
        onboard(api_of(app).state.os1, "ann")
        with client.websocket_connect("/api/conversation") as ws:
            ws.receive_json()
            converse(ws, {"type": "say", "text": "My sister is called Anna; my dog is Biscuit."})
            assert backend.prefilled == []  # nothing is prepared unasked
            ws.send_json({"type": "typing"})
            ws.send_json({"type": "typing"})  # (once per message)
            wait_for(lambda: len(backend.prefilled) == 1)
            notes, message, relaxed = backend.prefilled[0]
            assert "Anna" in notes and message == "" and relaxed is True  # large chunks
            frames = converse(ws, {"type": "say", "text": "What is my sister called?"})
            assert frames[-2]["text"] == "Anna, of course."
            sent = backend.calls[-1].messages
            assert sent[-1].content == "What is my sister called?"
            assert notes.splitlines()[-1] in sent[-2].content  # the notes chosen ahead
            # typed while the OS replies: prepared from the reply, once it is there
            backend.delay = 0.02
            ws.send_json({"type": "say", "text": "And my dog?"})
            ws.send_json({"type": "typing"})
            while ws.receive_json()["type"] != "idle":
                assert len(backend.prefilled) == 1  # not during the reply
            wait_for(lambda: len(backend.prefilled) == 2)
            assert converse(ws, {"type": "say", "text": "Good."})[-2]["text"] == "Yes."
            # another user on the model: a prefill for ann would take the prompt it keeps
            signup(client, "bob")
            onboard(api_of(app).state.os1, "bob")
            with client.websocket_connect("/api/conversation") as bob:
                bob.receive_json()
                assert converse(bob, {"type": "say", "text": "Hi."})[-2]["text"] == "Hello, Bob."
            ws.send_json({"type": "typing"})
            assert converse(ws, {"type": "say", "text": "Bye."})[-2]["text"] == "Bye, Ann."
            assert len(backend.prefilled) == 2
    backend.assert_done()


def test_the_os_speaks_first_then_the_first_meeting_goes_on(client: TestClient) -> None:
    signup(client, "ann")
    with client.websocket_connect("/api/conversation") as ws:
        ready = ws.receive_json()
        assert ready["type"] == "ready" and ready["identity"]["onboarded"] is False
        opening = converse(ws, {"type": "start"})
        assert [f["type"] for f in opening] == ["turn_started", "text_delta", "turn_ended", "idle"]
        assert "what should I call you" in opening[-2]["text"]
        reply = converse(ws, {"type": "say", "text": "I'm Ann", "client_id": "c1"})
        assert reply[0] == {"type": "message_stored", "message_id": 2, "client_id": "c1"}
        assert "Ann" in reply[-2]["text"] and "voices" in reply[-2]["text"]
    history = client.get("/api/history").json()
    assert [m["role"] for m in history] == ["assistant", "user", "assistant"]


def test_a_reply_streams_in_pieces_and_is_stored(client: TestClient, server: Server) -> None:
    signup(client, "ann")
    onboard(server, "ann")
    with client.websocket_connect("/api/conversation") as ws:
        ws.receive_json()
        frames = converse(ws, {"type": "say", "text": "Are you there?"})
    deltas = [f["text"] for f in frames if f["type"] == "text_delta"]
    assert len(deltas) > 3
    ended = next(f for f in frames if f["type"] == "turn_ended")
    assert "".join(deltas).strip() == ended["text"] == "Of course. I'm listening, all of me."
    assert client.get("/api/history").json()[-1]["content"] == ended["text"]


def test_a_resent_client_id_is_acknowledged_not_stored_twice(
    client: TestClient, server: Server
) -> None:
    signup(client, "ann")
    onboard(server, "ann")
    with client.websocket_connect("/api/conversation") as ws:
        ws.receive_json()
        first = converse(ws, {"type": "say", "text": "hello", "client_id": "same"})
    with client.websocket_connect("/api/conversation") as ws:  # a reconnect
        ws.receive_json()
        again = converse(ws, {"type": "say", "text": "hello", "client_id": "same"})
    assert again[0]["duplicate"] is True
    assert again[0]["message_id"] == first[0]["message_id"]
    users = [m for m in client.get("/api/history").json() if m["role"] == "user"]
    assert len(users) == 1


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        '{"type": "dance"}',
        '{"type": "say"}',
        '{"type": "say", "text": 5}',
        '{"type": "say", "text": "x", "extra": 1}',
        "\u0000\ud800",
    ],
)
def test_malformed_frames_get_an_error_and_the_socket_lives_on(
    client: TestClient, server: Server, raw: str
) -> None:
    signup(client, "ann")
    onboard(server, "ann")
    with client.websocket_connect("/api/conversation") as ws:
        ws.receive_json()
        ws.send_text(raw)
        error = ws.receive_json()
        assert error["type"] == "error" and error["code"] == "bad_frame"
        ws.send_bytes(b"\x00\x01")
        assert ws.receive_json()["code"] == "bad_frame"
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}


def test_an_oversized_frame_closes_with_1009_and_loses_nothing(
    client: TestClient, server: Server
) -> None:
    signup(client, "ann")
    onboard(server, "ann")
    with client.websocket_connect("/api/conversation") as ws:
        ws.receive_json()
        converse(ws, {"type": "say", "text": "keep this"})
        ws.send_text('{"type": "say", "text": "' + "x" * 70_000 + '"}')
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1009
    assert any(m["content"] == "keep this" for m in client.get("/api/history").json())


def test_too_long_input_is_one_sentence(client: TestClient, server: Server) -> None:
    signup(client, "ann")
    onboard(server, "ann")
    with client.websocket_connect("/api/conversation") as ws:
        ws.receive_json()
        frames = converse(ws, {"type": "say", "text": "x" * 20_000})
    assert frames[0]["type"] == "error" and "long" in frames[0]["message"]


def test_no_credentials_or_bad_token_close_with_4401(client: TestClient) -> None:
    for headers in ({}, {"authorization": "Bearer os1_nope"}):
        with client.websocket_connect("/api/conversation", headers=headers) as ws:
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4401


def test_cross_site_websocket_is_refused(client: TestClient) -> None:
    signup(client, "ann")
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect(
            "/api/conversation", headers={"origin": "https://evil.example"}
        ) as ws,
    ):
        ws.receive_json()


def test_stop_interrupts_and_keeps_what_was_said(config: Config) -> None:
    slow = ScriptedBackend(script=[" ".join(f"w{i}" for i in range(200))], delay=0.01)
    app = create_app(config, backend=slow, settings=fast_settings())
    with TestClient(app) as c:
        signup(c, "ann")
        onboard(api_of(app).state.os1, "ann")
        with c.websocket_connect("/api/conversation") as ws:
            ws.receive_json()
            ws.send_json({"type": "say", "text": "tell me everything"})
            seen = []
            while len([f for f in seen if f["type"] == "text_delta"]) < 5:
                seen.append(ws.receive_json())
            ws.send_json({"type": "stop"})
            while (f := ws.receive_json())["type"] != "turn_ended":
                seen.append(f)
        assert f["status"] == "interrupted" and f["text"].startswith("w0 w1 w2 w3 w4")
        last = c.get("/api/history").json()[-1]
        assert last["status"] == "interrupted" and last["content"] == f["text"]


def test_a_vanished_client_leaves_the_reply_interrupted_not_lost(config: Config) -> None:
    slow = ScriptedBackend(script=[" ".join(f"w{i}" for i in range(300))], delay=0.01)
    app = create_app(config, backend=slow, settings=fast_settings())
    with TestClient(app) as c:
        signup(c, "ann")
        onboard(api_of(app).state.os1, "ann")
        with c.websocket_connect("/api/conversation") as ws:
            ws.receive_json()
            ws.send_json({"type": "say", "text": "a long story please", "client_id": "k"})
            assert ws.receive_json()["type"] == "message_stored"
            ws.receive_json()
            ws.receive_json()
        history = c.get("/api/history").json()
        assert history[-2]["content"] == "a long story please"
        assert history[-1]["status"] == "interrupted"


def test_messages_are_rate_limited_per_user_and_not_stored(config: Config) -> None:
    backend = ScriptedBackend(script=["ok"], repeat_last=True)
    app = create_app(
        config, backend=backend, settings=fast_settings(message_burst=2, messages_per_minute=1)
    )
    with TestClient(app) as c:
        signup(c, "ann")
        onboard(api_of(app).state.os1, "ann")
        with c.websocket_connect("/api/conversation") as ws:
            ws.receive_json()
            converse(ws, {"type": "say", "text": "one"})
            converse(ws, {"type": "say", "text": "two"})
            ws.send_json({"type": "say", "text": "three"})
            limited = ws.receive_json()
        assert limited["code"] == "rate_limited" and limited["retry_after"] >= 1
        said = [m["content"] for m in c.get("/api/history").json() if m["role"] == "user"]
        assert said == ["one", "two"]


class Busy(UserError):
    def __init__(self) -> None:
        super().__init__("I'm busy with other people right now; try again in 4 s.")
        self.retry_after = 4


def test_a_busy_model_is_a_clear_error_and_the_message_is_kept(config: Config) -> None:
    app = create_app(config, backend=ScriptedBackend(script=[Busy()]), settings=fast_settings())
    with TestClient(app) as c:
        signup(c, "ann")
        onboard(api_of(app).state.os1, "ann")
        with c.websocket_connect("/api/conversation") as ws:
            ws.receive_json()
            frames = converse(ws, {"type": "say", "text": "are you free?"})
        errors = [f for f in frames if f["type"] == "error"]
        assert errors and "try again in 4 s" in errors[0]["message"]
        assert frames[0]["type"] == "message_stored"
        assert c.get("/api/history").json()[-2]["content"] == "are you free?"


def test_a_commit_waiting_for_the_disk_does_not_stall_other_users(
    client: TestClient, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ann", "bob"):
        signup(client, name)
        onboard(server, name)
    slow_store = server.accounts.open_store(server.accounts.get_user("ann"))
    add_messages = slow_store.add_messages
    writing, disk = threading.Event(), threading.Event()
    waited: list[bool] = []

    def waits_for_the_disk(*args: Any, **kwargs: Any) -> Any:
        writing.set()
        waited.append(disk.wait(10))  # ann's fsync takes until bob's whole turn is done
        return add_messages(*args, **kwargs)

    monkeypatch.setattr(slow_store, "add_messages", waits_for_the_disk)
    with (
        client.websocket_connect("/api/conversation", headers=bearer(client, "ann")) as ann,
        client.websocket_connect("/api/conversation", headers=bearer(client, "bob")) as bob,
    ):
        ann.receive_json()
        bob.receive_json()
        ann.send_json({"type": "say", "text": "hello from ann"})
        assert writing.wait(5)
        frames = converse(bob, {"type": "say", "text": "hello from bob"})
        assert frames[-2]["status"] == "complete"  # bob's turn ended while ann's commit waits
        disk.set()
        assert ann.receive_json()["type"] == "message_stored"
        while (f := ann.receive_json())["type"] != "turn_ended":
            pass
        assert f["status"] == "complete"
    assert waited and all(waited)  # on the event loop, it would have blocked bob until it timed out
