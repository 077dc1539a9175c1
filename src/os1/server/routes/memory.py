"""What the OS remembers: list, search, forget, export — over os1.memory's MemoryControl,
bound to the signed-in user's store (so no call can reach another user's memories)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from os1.memory import MemoryControl, MemoryRecord
from os1.server.deps import CurrentStore
from os1.server.schemas import AUTHED, problems
from os1.storage.user_store import UserStore

router = APIRouter(prefix="/api/memory", tags=["memory"])
SHOWN = ("fact", "summary", "reflection")


class MemoryOut(BaseModel):
    id: int
    kind: str
    text: str
    topic: str | None
    created_at: str
    event_date: str | None
    derived: bool
    score: float | None = None


class Forgotten(BaseModel):
    forgotten: int


def _out(record: MemoryRecord, score: float | None = None) -> MemoryOut:
    return MemoryOut(
        id=record.id,
        kind=record.kind,
        text=record.text,
        topic=record.topic,
        created_at=record.occurred_at.isoformat(),
        event_date=record.event_date.isoformat() if record.event_date else None,
        derived=record.derived,
        score=score,
    )


def _control(store: UserStore) -> MemoryControl:
    return MemoryControl(store)


@router.get("", response_model=list[MemoryOut], responses=AUTHED)
def list_memories(
    store: CurrentStore,
    kind: Literal["fact", "summary", "reflection", "turn"] | None = None,
) -> list[MemoryOut]:
    """What I remember about you (facts, summaries, reflections; or one kind), newest first."""
    control = _control(store)
    records = [r for k in ((kind,) if kind else SHOWN) for r in control.list(k)]
    records.sort(key=lambda r: (r.occurred_at, r.id), reverse=True)
    return [_out(r) for r in records]


@router.get("/search", response_model=list[MemoryOut], responses=AUTHED)
def search_memories(
    store: CurrentStore,
    q: str = Query(min_length=1, max_length=500, pattern=r"\S"),
    k: int = Query(10, ge=1, le=50),
) -> list[MemoryOut]:
    """Recall by meaning and by time ("my sister", "last May")."""
    return [_out(hit.memory, hit.score) for hit in _control(store).search(q, k)]


EXPORT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON Lines: messages, then memories",
        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
    }
}


@router.get("/export", response_class=StreamingResponse, responses=EXPORT | AUTHED)
def export_memories(store: CurrentStore) -> StreamingResponse:
    """Everything: every message, then every memory with its provenance (JSON Lines)."""
    lines: Iterator[str] = (line + "\n" for line in _control(store).export())
    return StreamingResponse(
        lines,
        media_type="application/x-ndjson",
        headers={"content-disposition": 'attachment; filename="os1-memory.jsonl"'},
    )


@router.delete("/{memory_id}", response_model=Forgotten, responses=problems(404) | AUTHED)
def forget_memory(store: CurrentStore, memory_id: int = Path(ge=1, le=2**63 - 1)) -> Forgotten:
    """Forget one memory, the messages it came from, and everything derived from them."""
    return Forgotten(forgotten=_control(store).forget(memory_id))


__all__ = ["router"]
