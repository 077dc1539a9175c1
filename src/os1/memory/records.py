"""Memory values: what a memory is, and what a search returns. Plain frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

Kind = Literal["turn", "fact", "summary", "reflection"]
Origin = Literal["conversation", "rule", "model", "summary", "reflection"]


@dataclass(frozen=True, slots=True)
class MemoryRecord:
    id: int
    kind: Kind
    text: str
    topic: str | None
    session_id: int | None
    message_id: int | None
    occurred_at: datetime
    event_date: date | None
    importance: float
    origin: Origin
    superseded_by: int | None
    sources: tuple[int, ...]  # ids of the messages it came from

    @property
    def derived(self) -> bool:
        """True for what os1 concluded (facts, summaries, reflections); False for a message."""
        return self.kind != "turn"

    @property
    def day(self) -> date:
        return self.event_date or self.occurred_at.date()


@dataclass(frozen=True, slots=True)
class NewMemory:
    """A memory about to be stored (extractors produce these)."""

    kind: Kind
    text: str
    sources: tuple[int, ...]
    occurred_at: datetime
    origin: Origin
    topic: str | None = None
    session_id: int | None = None
    message_id: int | None = None
    event_date: date | None = None
    importance: float = 0.5
    corrects: bool = False  # supersede the active fact with the same topic even if multi-valued


@dataclass(frozen=True, slots=True)
class Hit:
    memory: MemoryRecord
    score: float


__all__ = ["Hit", "Kind", "MemoryRecord", "NewMemory", "Origin"]
