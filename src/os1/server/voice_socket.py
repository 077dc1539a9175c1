"""Voice over a WebSocket: `WS /api/voice`, one os1.voice.VoiceSession per connection.

Sign-in exactly as on `/api/conversation`: the `os1_session` cookie from this site's origin, or
`Authorization: Bearer <token>`. Another origin is refused (HTTP 403); missing, invalid or
expired credentials close with 4401. The speech engines are loaded once per process, on the
first voice connection, in a worker thread; until they are ready the socket stays silent.

Server → client, first: one JSON text frame

    {"type": "ready", "input_rate": 16000, "output_rate": 24000, "max_seconds": 1800}

Client → server:

    binary frames                       the microphone: mono PCM16 little-endian at
                                        `input_rate` (any chunking, in real time)
    {"type": "hello", "sample_rate": 48000}   optional, before any audio: the rate the
                                        binary frames come at (8000–192000); resampled here
    {"type": "start"}                   let the OS speak first (the first meeting's opening);
                                        nothing happens once onboarded
    {"type": "end"}                     the input is over: the reply in progress finishes,
                                        then the server sends `ended` and closes (1000)
    {"type": "stop"}                    hang up now: a reply in progress stops and is stored
                                        as what was played, `interrupted`; then `ended`, 1000
    {"type": "ping"}                    → {"type": "pong"}

Server → client: the frames of os1.voice.frames, one JSON text frame each with a snake_case
`type` and the dataclass's fields, except the audio, which comes as binary frames:

    {"type": "speech_started", "at": 1.28}            seconds into the input stream
    {"type": "speech_ended", "at": 2.9}
    {"type": "transcript", "text": "…", "prosody": {…}}      what was heard ('' = nothing)
    {"type": "reply_text", "message_id": 8, "text": "…"}     a clause, just before its audio
    binary frame                                       its audio: mono PCM16 LE, output_rate
    {"type": "barge_in", "message_id": 8, "played_text": "…", "at": 5.1}
                                                       stop playback NOW, drop queued audio:
                                                       no audio of that reply follows
    {"type": "reply_ended", "message_id": 8, "status": "complete", "text": "…"}   as stored
    {"type": "notice", "message": "one sentence"}
    {"type": "error", "message": "one sentence", "code": "…"}
    {"type": "ended"}                                  the session is over; the socket closes
    {"type": "pong"}

Error codes: `bad_frame` (not JSON, not one of the shapes above, or `hello` after audio; the
socket stays open), `too_fast` (audio arriving faster than real time; that audio is dropped),
`too_long` (the session reached `max_seconds`; it ends), `unavailable` (the speech engines
could not be loaded; closes with 1013), `server` (a bug; closes with 1011).

Close codes: 1000 normal, 1009 a frame over the size limit, 1013 voice is unavailable, 4401
not signed in, 4429 too many voice connections for this user (or too many requests), 4408 the
client did not take frames for `send_timeout_s`, 1011 a bug. A vanished client hangs up the
session: what was said stays stored, a reply in progress is kept as what was played.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, WebSocket
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from os1.config import Config
from os1.errors import UserError
from os1.server.deps import Principal, server_of
from os1.server.state import Server
from os1.server.websocket import (
    CLOSE_BUG,
    CLOSE_RATE_LIMITED,
    CLOSE_TOO_BIG,
    CLOSE_TOO_SLOW,
    ClientTooSlow,
    admit,
)
from os1.server.wire import encode
from os1.voice.catalog import VoiceEngines, load_engines
from os1.voice.frames import (
    AudioChunk,
    BargeIn,
    Frame,
    Notice,
    ReplyEnded,
    ReplyText,
    SpeechEnded,
    SpeechStarted,
    Transcript,
)
from os1.voice.session import VoiceSession

log = logging.getLogger(__name__)
router = APIRouter()

CLOSE_UNAVAILABLE = 1013
INPUT_RATE = 16_000
OUTPUT_RATE = 24_000

FRAME_TYPES: dict[type, str] = {
    SpeechStarted: "speech_started",
    SpeechEnded: "speech_ended",
    Transcript: "transcript",
    ReplyText: "reply_text",
    BargeIn: "barge_in",
    ReplyEnded: "reply_ended",
    Notice: "notice",
}


@dataclass(frozen=True, slots=True)
class VoiceLimits:
    per_user: int = 2  # voice sockets one user may hold at once
    max_seconds: float = 30 * 60  # one session's length (wall clock)
    burst_seconds: float = 30.0  # how far audio may run ahead of real time before it is dropped


class VoiceHub:
    """Per app: the shared speech engines (loaded once, lazily, off the event loop) and who
    holds how many voice sockets."""

    def __init__(self, load: Callable[[], VoiceEngines], limits: VoiceLimits | None = None):
        self._load = load
        self.limits = limits or VoiceLimits()
        self._engines: VoiceEngines | None = None
        self._loading = asyncio.Lock()
        self._open: Counter[str] = Counter()

    async def engines(self) -> VoiceEngines:
        async with self._loading:
            if self._engines is None:
                self._engines = await asyncio.to_thread(self._load)
            return self._engines

    @contextlib.contextmanager
    def slot(self, user_id: str) -> Iterator[bool]:
        """Hold one of the user's voice sockets; yields False when they hold too many."""
        if self._open[user_id] >= self.limits.per_user:
            yield False
            return
        self._open[user_id] += 1
        try:
            yield True
        finally:
            self._open[user_id] -= 1
            if self._open[user_id] <= 0:
                del self._open[user_id]


_process_engines: dict[str, VoiceEngines] = {}
_process_lock = threading.Lock()


def process_engines(config: Config) -> VoiceEngines:
    """The real engines (Silero, Whisper tiny, the catalog's voices), once per process."""
    key = str(config.models_dir)
    with _process_lock:
        if key not in _process_engines:
            _process_engines[key] = load_engines("tiny", config.models_dir)
        return _process_engines[key]


def hub_of(ws: WebSocket) -> VoiceHub:
    state = ws.app.state
    hub = getattr(state, "voice", None)
    if not isinstance(hub, VoiceHub):
        config = server_of(ws).config
        hub = VoiceHub(lambda: process_engines(config))
        state.voice = hub
    return hub


# ---- client frames ------------------------------------------------------------------------


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Hello(_Frame):
    type: Literal["hello"]
    sample_rate: int = Field(ge=8000, le=192_000)


class Start(_Frame):
    type: Literal["start"]


class End(_Frame):
    type: Literal["end"]


class Stop(_Frame):
    type: Literal["stop"]


class Ping(_Frame):
    type: Literal["ping"]


Control = Hello | Start | End | Stop | Ping
_controls: TypeAdapter[Control] = TypeAdapter(Annotated[Control, Field(discriminator="type")])


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def voice_frame(frame: Frame) -> dict[str, Any]:
    """A non-audio frame as JSON-ready data (NaN and infinities become null)."""
    return {"type": FRAME_TYPES[type(frame)], **_finite(asdict(frame))}


class EndCall(Exception):
    """The reader is done: the socket closes with `code` once the session has wound down."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


# ---- one connection -----------------------------------------------------------------------


class VoiceCall:
    """One signed-in voice socket: a reader feeding the session, a writer sending its frames."""

    def __init__(self, ws: WebSocket, server: Server, principal: Principal, hub: VoiceHub):
        self.ws = ws
        self.server = server
        self.user = principal.user
        self.hub = hub
        self.engines: VoiceEngines | None = None
        self.session: VoiceSession | None = None
        self.writer: asyncio.Task[None] | None = None
        self.input_rate = INPUT_RATE
        self.fed_seconds = 0.0
        self._send_lock = asyncio.Lock()
        self._opened = asyncio.Event()
        self._finishing: set[asyncio.Task[None]] = set()
        self._started = 0.0
        self._slow_warned = False

    # --- sending ----------------------------------------------------------------------------

    async def _send(self, message: str | bytes) -> None:
        async with self._send_lock:
            try:  # a timeout scope, not wait_for: no task per frame
                async with asyncio.timeout(self.server.settings.send_timeout_s):
                    if isinstance(message, bytes):
                        await self.ws.send_bytes(message)
                    else:
                        await self.ws.send_text(message)
            except TimeoutError:
                raise ClientTooSlow from None

    async def send(self, frame: dict[str, Any]) -> None:
        await self._send(encode(frame))

    async def error(self, message: str, code: str) -> None:
        await self.send({"type": "error", "message": message, "code": code})

    # --- the session ------------------------------------------------------------------------

    def open_session(self) -> VoiceSession:
        """The session, made at the first hello, audio or control frame (the rate is known)."""
        if self.session is None:
            assert self.engines is not None
            ctx = self.server.runtime.context(self.user, "voice")
            self.session = VoiceSession(
                ctx, self.engines, input_rate=self.input_rate, output_rate=OUTPUT_RATE
            )
            self._opened.set()
        return self.session

    async def write(self) -> None:
        """Send the session's frames until it ends, then `ended`."""
        await self._opened.wait()
        assert self.session is not None
        async for frame in self.session.frames():
            if isinstance(frame, AudioChunk):
                await self._send(frame.pcm16)
            else:
                await self.send(voice_frame(frame))
        await self.send({"type": "ended"})

    async def serve(self) -> None:
        try:
            self.engines = await self.hub.engines()
        except UserError as e:
            await self.error(e.sentence, "unavailable")
            raise EndCall(CLOSE_UNAVAILABLE, "Voice is not available.") from None
        limits = self.hub.limits
        self._started = asyncio.get_running_loop().time()
        await self.send(
            {
                "type": "ready",
                "input_rate": INPUT_RATE,
                "output_rate": OUTPUT_RATE,
                "max_seconds": limits.max_seconds,
            }
        )
        reader = asyncio.create_task(self.read())
        self.writer = asyncio.create_task(self.write())
        try:
            try:
                async with asyncio.timeout(limits.max_seconds):
                    done, _ = await asyncio.wait(
                        (reader, self.writer), return_when=asyncio.FIRST_COMPLETED
                    )
            except TimeoutError:
                minutes = max(1, round(limits.max_seconds / 60))
                await self.error(
                    f"A voice session lasts at most {minutes} minutes; start again to go on.",
                    "too_long",
                )
                await self.open_session().aclose()
                await _drained(self.writer, self.server.settings.send_timeout_s)
                return
            for task in done:
                task.result()  # how it ended: EndCall, WebSocketDisconnect, ClientTooSlow, a bug
        finally:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader

    async def read(self) -> None:
        limit = self.server.settings.max_frame_bytes
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            data = message.get("bytes")
            raw = message.get("text")
            size = len(data) if data is not None else len((raw or "").encode("utf-8", "replace"))
            if size > limit:
                raise EndCall(CLOSE_TOO_BIG, "That message is too large.")
            if data is not None:
                await self.audio(data)
                continue
            try:
                control = _controls.validate_json(raw or "")
            except ValidationError:
                await self.error(
                    "That frame is not one I understand; send microphone audio as binary "
                    'frames, or JSON like {"type": "end"}.',
                    "bad_frame",
                )
                continue
            await self.control(control)

    async def audio(self, data: bytes) -> None:
        seconds = len(data) / 2 / self.input_rate
        elapsed = asyncio.get_running_loop().time() - self._started
        if self.fed_seconds + seconds > elapsed + self.hub.limits.burst_seconds:
            if not self._slow_warned:
                self._slow_warned = True
                await self.error(
                    "Audio is arriving faster than real time; I dropped some of it.",
                    "too_fast",
                )
            return
        self.fed_seconds += seconds
        self.open_session().feed(data)

    async def control(self, frame: Control) -> None:
        if isinstance(frame, Ping):
            await self.send({"type": "pong"})
        elif isinstance(frame, Hello):
            if self.session is not None:
                await self.error("Say hello before sending any audio.", "bad_frame")
                return
            self.input_rate = frame.sample_rate
            self.open_session()
        elif isinstance(frame, Start):
            self.open_session().greet()
        elif isinstance(frame, End):
            task = asyncio.create_task(self.open_session().finish())  # the writer sees the end
            self._finishing.add(task)
            task.add_done_callback(self._finishing.discard)
        else:  # stop: hang up now; a reply in progress is kept as what was played
            await self.open_session().aclose()

    async def close(self) -> None:
        """Hang up whatever is left (the client vanished, or the socket is closing)."""
        if self.session is not None:
            await self.session.aclose()
        for task in list(self._finishing):
            with contextlib.suppress(BaseException):
                await task
        if self.writer is not None and not self.writer.done():
            self.writer.cancel()
        if self.writer is not None:
            with contextlib.suppress(BaseException):
                await self.writer


async def _drained(task: asyncio.Task[None], timeout: float) -> asyncio.Task[None]:
    """`task`, once it is done or given `timeout` seconds more (then cancelled)."""
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(task), timeout)
    if not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
    return task


async def _close(ws: WebSocket, code: int, reason: str = "") -> None:
    if ws.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await ws.close(code, reason)


@router.websocket("/api/voice")
async def voice(ws: WebSocket) -> None:
    principal = await admit(ws)
    if principal is None:
        return
    server = server_of(ws)
    hub = hub_of(ws)
    with hub.slot(principal.user.id) as admitted:
        if not admitted:
            await ws.close(CLOSE_RATE_LIMITED, "You have too many voice sessions open at once.")
            return
        await _call(ws, VoiceCall(ws, server, principal, hub))


async def _call(ws: WebSocket, call: VoiceCall) -> None:
    code, reason = 1000, ""
    try:
        await call.serve()
    except EndCall as e:
        code, reason = e.code, e.reason
    except WebSocketDisconnect:
        pass
    except ClientTooSlow:
        code, reason = CLOSE_TOO_SLOW, "The connection was too slow."
    except Exception:
        log.exception("voice session failed for user %s", call.user.id)
        code = CLOSE_BUG
        with contextlib.suppress(Exception):
            await call.error(
                "Something went wrong on my side; what you said is kept. Please try again.",
                "server",
            )
    finally:
        await call.close()
        await _close(ws, code, reason)


__all__ = ["VoiceCall", "VoiceHub", "VoiceLimits", "hub_of", "router", "voice_frame"]
