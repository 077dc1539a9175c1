"""Conversation values: what a message is, in the model's terms and in storage.

Plain frozen dataclasses; this module imports nothing from os1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Role = Literal["system", "user", "assistant"]

# A stored reply is `streaming` while the model writes it, then `complete`, `interrupted`
# (Ctrl-C, barge-in, or a crash found at the next start) or `failed` (the backend broke).
MessageStatus = Literal["complete", "streaming", "interrupted", "failed"]


@dataclass(frozen=True, slots=True)
class Message:
    """One message as a model sees it."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message as os1 keeps it: always one user's, in one session."""

    id: int
    session_id: int
    role: Role
    content: str
    status: MessageStatus
    created_at: datetime
    meta: dict[str, object] = field(default_factory=dict)

    def as_message(self) -> Message:
        return Message(self.role, self.content)
