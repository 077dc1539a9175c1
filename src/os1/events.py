"""The one event vocabulary.

A conversation turn (`os1.conversation.run_turn`) is an async generator of `Event`s; the CLI,
the server and the voice pipeline all consume this same stream, and none of them is rendered
here. A backend streams the smaller `BackendEvent` vocabulary.

Interruption semantics: consumers may stop iterating at any time (Ctrl-C, barge-in); the
producer then records the reply as interrupted with the text actually produced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from os1.messages import MessageStatus


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the reply text, in order."""

    text: str


@dataclass(frozen=True, slots=True)
class GenerationDone:
    """A backend finished a generation."""

    finish_reason: Literal["stop", "length", "cancelled"]
    prompt_tokens: int = 0
    completion_tokens: int = 0


BackendEvent = TextDelta | GenerationDone


@dataclass(frozen=True, slots=True)
class MessageStored:
    """The user's message is durably committed: this is its acknowledgement."""

    message_id: int


@dataclass(frozen=True, slots=True)
class TurnStarted:
    """The OS starts a reply, stored as message `message_id` (status `streaming`)."""

    message_id: int


@dataclass(frozen=True, slots=True)
class TurnEnded:
    """The reply is over; `text` is what was stored, with its final status."""

    message_id: int
    status: MessageStatus
    text: str


@dataclass(frozen=True, slots=True)
class IdentityChanged:
    """The OS's identity changed (a name was chosen, a voice picked, onboarding finished)."""

    os_name: str | None
    voice: str | None
    onboarded: bool


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """Something the user should read: one clear sentence. Nothing was lost."""

    message: str


Event = MessageStored | TurnStarted | TextDelta | TurnEnded | IdentityChanged | ErrorEvent

__all__ = [
    "BackendEvent",
    "ErrorEvent",
    "Event",
    "GenerationDone",
    "IdentityChanged",
    "MessageStored",
    "TextDelta",
    "TurnEnded",
    "TurnStarted",
]
