"""The conversation over a WebSocket: `WS /api/conversation`.

Sign-in: the web app's `os1_session` cookie (the handshake's Origin must be this site), or
`Authorization: Bearer <token>` for API clients. A handshake from another origin is refused
(HTTP 403); missing, invalid or expired credentials close the socket with code 4401.

Client → server: one JSON object per text frame (at most `max_frame_bytes`):

    {"type": "say", "text": "…", "client_id": "c-17"}   a message (client_id optional, ≤ 64 chars)
    {"type": "start"}                                   let the OS speak first (the first meeting's
                                                        opening); nothing happens once onboarded
    {"type": "stop"}                                    interrupt the reply in progress (barge-in)
    {"type": "typing"}                                  the user began writing a message: the
                                                        server may prepare its reply (memory's
                                                        notes chosen, the prompt evaluated on the
                                                        embedded model); nothing is stored or
                                                        interrupted, and more than one per
                                                        message does nothing more
    {"type": "ping"}                                    → {"type": "pong"}

Server → client: one JSON object per text frame. The conversation events are the dataclasses
of os1.events, field for field, with a snake_case `type`:

    {"type": "ready", "user": {"id", "name"}, "identity": {"os_name", "voice", "onboarded"}}
    {"type": "message_stored", "message_id": 7, "client_id": "c-17"}    durably committed: the ack
    {"type": "turn_started", "message_id": 8}
    {"type": "text_delta", "text": "Hel"}                                in order
    {"type": "turn_ended", "message_id": 8, "status": "complete", "text": "Hello."}
    {"type": "identity_changed", "os_name": "Samantha", "voice": "joe", "onboarded": true}
    {"type": "error", "message": "one sentence", "code": "…", "retry_after": 3}
    {"type": "idle"}                                     the turn is over; ready for the next
    {"type": "pong"}

Error codes: `bad_frame` (not JSON or not one of the shapes above; the socket stays open),
`rate_limited` (with `retry_after` seconds; the message was NOT stored — send it again later),
`turn` (the turn's own one-sentence error, e.g. the model is busy or unreachable; the message
was stored), `server` (a bug on our side; nothing that was acknowledged is lost).

Semantics: one turn at a time per connection. `stop`, or a new `say` while the OS is replying,
interrupts the reply: it is stored as `interrupted` with the text produced so far and the client
gets `turn_ended` with that status. A `client_id` seen before (for this user, in this process)
is not stored twice: the server answers `message_stored` with the original id and
`"duplicate": true`, so a client may resend after a reconnect without duplicating.

Close codes: 1000 normal, 1009 a frame over the size limit, 4401 not signed in, 4429 too many
connections at once, 4408 the client did not take frames for `send_timeout_s`, 1011 a bug.
A vanished client cancels its turn; what was said stays stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import aclosing
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, WebSocket
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from os1.context import TurnContext
from os1.conversation import run_turn
from os1.errors import UserError
from os1.events import MessageStored, TextDelta, TurnEnded, TurnStarted
from os1.server.deps import Principal, authenticate, same_origin, server_of
from os1.server.ratelimit import RateLimited
from os1.server.state import Server
from os1.server.wire import encode, event_frame
from os1.storage.offload import off_loop
from os1.typing_ahead import TypingAhead

log = logging.getLogger(__name__)
router = APIRouter()

CLOSE_TOO_BIG = 1009
CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 4408
CLOSE_RATE_LIMITED = 4429
CLOSE_BUG = 1011


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Say(_Frame):
    type: Literal["say"]
    text: str
    client_id: str | None = Field(default=None, max_length=64)


class Start(_Frame):
    type: Literal["start"]


class Stop(_Frame):
    type: Literal["stop"]


class Ping(_Frame):
    type: Literal["ping"]


class Typing(_Frame):
    type: Literal["typing"]


ClientFrame = Annotated[Say | Start | Stop | Ping | Typing, Field(discriminator="type")]
_frames: TypeAdapter[Say | Start | Stop | Ping | Typing] = TypeAdapter(ClientFrame)


class ClientTooSlow(Exception):
    """The client did not take a frame in time."""


class Conversation:
    """One signed-in socket: a reader loop and at most one running turn."""

    def __init__(self, ws: WebSocket, server: Server, principal: Principal) -> None:
        self.ws = ws
        self.server = server
        self.user = principal.user
        self.ctx: TurnContext | None = None  # opened at the first turn: idle sockets stay cheap
        self.turn: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()
        self.ahead: TypingAhead | None = None  # the next message's reply, prepared as it is typed
        self._preparing: asyncio.Task[None] | None = None
        self._typed_during_turn = False

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._send_lock:
            try:  # a timeout scope, not wait_for: no task per frame
                async with asyncio.timeout(self.server.settings.send_timeout_s):
                    await self.ws.send_text(encode(frame))
            except TimeoutError:
                raise ClientTooSlow from None

    async def error(self, message: str, code: str, **extra: Any) -> None:
        await self.send({"type": "error", "message": message, "code": code, **extra})

    async def context(self) -> TurnContext:
        if self.ctx is None:
            self.ctx = await self.server.open_context(self.user, "web")
        return self.ctx

    async def serve(self) -> None:
        identity = await off_loop(lambda: self.server.accounts.open_store(self.user).get_identity())
        await self.send(
            {
                "type": "ready",
                "user": {"id": self.user.id, "name": self.user.name},
                "identity": {
                    "os_name": identity.os_name,
                    "voice": identity.voice,
                    "onboarded": identity.onboarded,
                },
            }
        )
        limit = self.server.settings.max_frame_bytes
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            if raw is None:
                data = message.get("bytes") or b""
                if len(data) > limit:
                    await self.ws.close(CLOSE_TOO_BIG, "That message is too large.")
                    return
                await self.error("This socket takes JSON text frames only.", "bad_frame")
                continue
            if len(raw.encode("utf-8", "surrogatepass")) > limit:
                await self.ws.close(CLOSE_TOO_BIG, "That message is too large.")
                return
            try:
                frame = _frames.validate_json(raw)
            except ValidationError:
                await self.error(
                    'That frame is not one I understand; send JSON like {"type": "say", '
                    '"text": "hello"}.',
                    "bad_frame",
                )
                continue
            await self.handle(frame)

    async def handle(self, frame: Say | Start | Stop | Ping | Typing) -> None:
        if isinstance(frame, Ping):
            await self.send({"type": "pong"})
            return
        if isinstance(frame, Typing):
            if self.turn is not None and not self.turn.done():
                self._typed_during_turn = True  # prepared from the reply, once it is there
            else:
                await self.prepare()
            return
        await self.interrupt()
        if isinstance(frame, Stop):
            return
        if isinstance(frame, Say) and frame.client_id is not None:
            seen = self.server.seen_messages.get(self.user.id, frame.client_id)
            if seen is not None:
                await self.send(
                    {
                        "type": "message_stored",
                        "message_id": seen,
                        "client_id": frame.client_id,
                        "duplicate": True,
                    }
                )
                await self.send({"type": "idle"})
                return
        try:
            self.server.message_limits.check(f"user:{self.user.id}")
        except RateLimited as e:
            await self.error(e.sentence, "rate_limited", retry_after=e.retry_after)
            return
        text = frame.text if isinstance(frame, Say) else None
        client_id = frame.client_id if isinstance(frame, Say) else None
        self.turn = asyncio.create_task(self.run(text, client_id))

    async def interrupt(self) -> None:
        turn, self.turn = self.turn, None
        if turn is not None and not turn.done():
            turn.cancel()
            with contextlib.suppress(asyncio.CancelledError, ClientTooSlow):
                await turn

    async def prepare(self) -> None:
        """The user is typing: prepare the next turn (os1.typing_ahead), once per message."""
        if self.ahead is None:
            self.ahead = TypingAhead(await self.context())
        task = self.ahead.start_task()
        if task is not None:
            self._preparing = task

    async def close(self) -> None:
        await self.interrupt()
        if self._preparing is not None:
            self._preparing.cancel()
            with contextlib.suppress(BaseException):
                await self._preparing

    async def run(self, text: str | None, client_id: str | None) -> None:
        started: int | None = None
        parts: list[str] = []
        try:
            ctx = await self.context()
            notes = await self.ahead.finish(text) if self.ahead and text is not None else None
            async with aclosing(run_turn(ctx, text, notes=notes)) as events:
                async for event in events:
                    extra: dict[str, Any] = {}
                    if isinstance(event, TurnStarted):
                        started, parts = event.message_id, []
                    elif isinstance(event, TextDelta):
                        parts.append(event.text)
                    elif isinstance(event, TurnEnded):
                        started = None
                    elif isinstance(event, MessageStored) and client_id is not None:
                        self.server.seen_messages.add(self.user.id, client_id, event.message_id)
                        extra["client_id"] = client_id
                    await self.send(event_frame(event, **extra))
            await self.send({"type": "idle"})
            if self._typed_during_turn:
                self._typed_during_turn = False
                await self.prepare()
        except asyncio.CancelledError:
            if started is not None:  # the reply was cut short; tell the client what was kept
                with contextlib.suppress(Exception):
                    await self.send(
                        {
                            "type": "turn_ended",
                            "message_id": started,
                            "status": "interrupted",
                            "text": "".join(parts).rstrip(),
                        }
                    )
            raise
        except WebSocketDisconnect:
            return  # the client vanished mid-turn: the reply is stored as interrupted
        except ClientTooSlow:
            with contextlib.suppress(Exception):
                await self.ws.close(CLOSE_TOO_SLOW, "The connection was too slow.")
        except UserError as e:
            with contextlib.suppress(ClientTooSlow):
                await self.error(e.sentence, "turn", **_retry(e))
                await self.send({"type": "idle"})
        except Exception:
            log.exception("conversation turn failed for user %s", self.user.id)
            with contextlib.suppress(Exception):
                await self.error(
                    "Something went wrong on my side; what you said is kept. Please try again.",
                    "server",
                )
                await self.ws.close(CLOSE_BUG)


def _retry(e: UserError) -> dict[str, Any]:
    retry_after = getattr(e, "retry_after", None)
    return {"retry_after": retry_after} if isinstance(retry_after, int | float) else {}


async def admit(ws: WebSocket) -> Principal | None:
    """The shared handshake of every socket: same origin, signed in, not rate limited.
    Returns the principal with the socket accepted, or None with it already closed."""
    server = server_of(ws)
    if not same_origin(ws):
        await ws.close(1008, "Cross-site connections are not allowed.")  # before accept: 403
        return None
    try:
        principal = await off_loop(authenticate, ws)
        if principal is not None:
            server.request_limits.check(f"user:{principal.user.id}")
    except (HTTPException, RateLimited) as e:
        await ws.accept()
        if isinstance(e, RateLimited):
            await ws.close(CLOSE_RATE_LIMITED, e.sentence)
        else:
            await ws.close(CLOSE_UNAUTHORIZED, str(e.detail))
        return None
    await ws.accept()
    if principal is None:
        await ws.close(CLOSE_UNAUTHORIZED, "Please sign in.")
    return principal


@router.websocket("/api/conversation")
async def conversation(ws: WebSocket) -> None:
    principal = await admit(ws)
    if principal is None:
        return
    server = server_of(ws)
    chat = Conversation(ws, server, principal)
    try:
        await chat.serve()
    except (WebSocketDisconnect, ClientTooSlow):
        pass
    finally:
        await chat.close()
        if ws.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await ws.close(1000)


__all__ = ["Conversation", "router"]
