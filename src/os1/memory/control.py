"""The user's control over what os1 remembers: the library API behind `os1 memory` and the
server. Bound to one UserStore (one user), so no call can reach another user's memories.

    list · search · show · forget(id) · forget_about(text) · export · erase_everything

Forgetting is exact by lineage: a forgotten memory takes its source messages with it, and
everything derived from those messages (facts, summaries, reflections, vectors, full-text rows)
goes too. Then the file is purged (FTS merge, VACUUM, WAL truncate; secure_delete is on), so the
forgotten text is not left in free pages or the log.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from os1.errors import InputError, NotFound
from os1.memory.embedder import Embedder, LazyMiniLM
from os1.memory.records import Hit, MemoryRecord
from os1.memory.retrieval import Retriever
from os1.memory.store import MemoryStore
from os1.messages import StoredMessage
from os1.storage.user_store import UserStore


@dataclass(frozen=True, slots=True)
class MemoryView:
    record: MemoryRecord
    sources: builtins.list[StoredMessage]
    history: builtins.list[MemoryRecord]  # every version on the same topic, oldest first


def record_json(record: MemoryRecord) -> dict[str, object]:
    return {
        "id": record.id,
        "kind": record.kind,
        "text": record.text,
        "topic": record.topic,
        "session_id": record.session_id,
        "occurred_at": record.occurred_at.isoformat(),
        "event_date": record.event_date.isoformat() if record.event_date else None,
        "importance": record.importance,
        "origin": record.origin,
        "superseded_by": record.superseded_by,
        "sources": list(record.sources),
        "derived": record.derived,
    }


class MemoryControl:
    def __init__(self, store: UserStore, embedder: Embedder | None = None) -> None:
        self.store = store
        self.memories = MemoryStore(store.db, store.user_id, embedder or LazyMiniLM())

    def list(
        self, kind: str | None = None, *, include_superseded: bool = False
    ) -> builtins.list[MemoryRecord]:
        kinds = (kind,) if kind else ("fact", "summary", "reflection", "turn")
        return self.memories.listing(kinds, current_only=not include_superseded)

    def search(self, query: str, k: int = 10, now: datetime | None = None) -> builtins.list[Hit]:
        if not query.strip():
            raise InputError("Say what to search for, e.g. `os1 memory search sister`.")
        return Retriever(self.memories).search(query, now or datetime.now(UTC), k)

    def show(self, memory_id: int) -> MemoryView:
        record = self._get(memory_id)
        sources = [m for m in map(self.store.get_message, record.sources) if m is not None]
        history = self.memories.history(record)
        return MemoryView(record, sources, history)

    def forget(self, memory_id: int) -> int:
        """Forget one memory, its source messages and all derived from them; return how many
        memories went."""
        self._get(memory_id)
        count = self.memories.delete_closure([memory_id], [])
        self.memories.purge()
        return count

    def forget_about(self, text: str) -> int:
        """Forget every message and memory mentioning `text` (case-insensitive), with all that
        was derived from them."""
        text = text.strip()
        if len(text) < 3:
            raise InputError("Say what to forget in at least three characters.")
        count = self.memories.delete_closure(
            self.memories.memories_mentioning(text), self.memories.messages_mentioning(text)
        )
        self.memories.purge()
        return count

    def export(self) -> Iterator[str]:
        """JSON Lines: every message (derived: false), then every memory with its provenance."""
        for m in self.store.messages():
            yield json.dumps(
                {
                    "type": "message",
                    "id": m.id,
                    "session_id": m.session_id,
                    "role": m.role,
                    "content": m.content,
                    "status": m.status,
                    "created_at": m.created_at.isoformat(),
                    "derived": False,
                },
                ensure_ascii=False,
            )
        for record in self.memories.listing(current_only=False):
            yield json.dumps({"type": "memory", **record_json(record)}, ensure_ascii=False)

    def erase_everything(self) -> None:
        """Every message and memory of this user, purged from disk."""
        self.memories.erase_all()
        self.memories.purge()

    def _get(self, memory_id: int) -> MemoryRecord:
        record = self.memories.get(memory_id)
        if record is None:
            raise NotFound(f"There is no memory #{memory_id}.")
        return record


__all__ = ["MemoryControl", "MemoryView", "record_json"]
