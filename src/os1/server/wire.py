"""Events on the wire: each os1.events dataclass becomes one JSON object with a `type`.

The field names are the dataclasses' own, so a client reads exactly what `run_turn` yields.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from os1.events import (
    ErrorEvent,
    Event,
    IdentityChanged,
    MessageStored,
    TextDelta,
    TurnEnded,
    TurnStarted,
)

EVENT_TYPES: dict[type, str] = {
    MessageStored: "message_stored",
    TurnStarted: "turn_started",
    TextDelta: "text_delta",
    TurnEnded: "turn_ended",
    IdentityChanged: "identity_changed",
    ErrorEvent: "error",
}


def event_frame(event: Event, **extra: Any) -> dict[str, Any]:
    return {"type": EVENT_TYPES[type(event)], **asdict(event), **extra}


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


__all__ = ["EVENT_TYPES", "encode", "event_frame"]
