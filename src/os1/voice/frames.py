"""What the voice pipeline emits: typed frames, pipecat-style but few.

Interruption semantics are decided by the frame's type. `SystemFrame`s (speech started/ended,
transcripts, barge-in, reply ended, notices) always reach the consumer. `DataFrame`s (reply
text being spoken, audio chunks) are dropped on barge-in if they have not been handed out yet:
after a `BargeIn` no audio of the interrupted reply follows.
"""

from __future__ import annotations

from dataclasses import dataclass

from os1.messages import MessageStatus
from os1.voice.prosody import Prosody


class SystemFrame:
    """Survives interruption."""

    __slots__ = ()


class DataFrame:
    """Dropped when the reply it belongs to is interrupted."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class SpeechStarted(SystemFrame):
    """The user started speaking, `at` seconds into the input stream."""

    at: float


@dataclass(frozen=True, slots=True)
class SpeechEnded(SystemFrame):
    """The endpoint fired: the user's last voiced sample was `at` seconds into the input."""

    at: float


@dataclass(frozen=True, slots=True)
class Transcript(SystemFrame):
    """What the user said ('' when nothing intelligible) and how they said it."""

    text: str
    prosody: Prosody


@dataclass(frozen=True, slots=True)
class ReplyText(DataFrame):
    """A clause of the reply, sent just before its audio (message_id None: not stored)."""

    message_id: int | None
    text: str


@dataclass(frozen=True, slots=True)
class AudioChunk(DataFrame):
    """Reply audio: mono PCM16 little-endian at `rate` Hz."""

    message_id: int | None
    pcm16: bytes
    rate: int


@dataclass(frozen=True, slots=True)
class BargeIn(SystemFrame):
    """The user spoke over the reply: stop playback now; `played_text` is what was heard."""

    message_id: int | None
    played_text: str
    at: float


@dataclass(frozen=True, slots=True)
class ReplyEnded(SystemFrame):
    """The reply is over; `text` is what is stored for it, with its status."""

    message_id: int | None
    status: MessageStatus
    text: str


@dataclass(frozen=True, slots=True)
class Notice(SystemFrame):
    """One sentence for the user (a problem, or "I didn't catch that")."""

    message: str


Frame = (
    SpeechStarted
    | SpeechEnded
    | Transcript
    | ReplyText
    | AudioChunk
    | BargeIn
    | ReplyEnded
    | Notice
)

__all__ = [
    "AudioChunk",
    "BargeIn",
    "DataFrame",
    "Frame",
    "Notice",
    "ReplyEnded",
    "ReplyText",
    "SpeechEnded",
    "SpeechStarted",
    "SystemFrame",
    "Transcript",
]
