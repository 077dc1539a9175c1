"""Where memories live: rows in the user's own database, their full text, their vectors.

Invariants:
- Every memory carries its lineage (memory_sources: the ids of the messages it came from).
- A fact that corrects another (same topic, `corrects=True`) supersedes it: the old row stays,
  marked `superseded_by`, so history is kept; only forgetting deletes.
- `memories`, `memory_fts` and the in-memory index (os1.memory.index: BM25 postings, vectors,
  sessions, neighbours) change together: rows and full text in one transaction, the index
  right after it commits. Forgetting and erasing drop the index; the next search reloads it
  from what is left, so nothing forgotten survives in memory either. FTS5 is the durable
  full-text index (`full_text`); the hot path reads the in-memory one.
- `delete_closure` removes what is forgotten and everything derived from it, including the
  source messages themselves, and `purge` then rewrites the file so no trace stays on disk.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from os1.memory.embedder import Embedder, Vectors
from os1.memory.index import Entry, MemoryIndex
from os1.memory.records import MemoryRecord, NewMemory
from os1.memory.vectors import from_blob, to_blob
from os1.storage.database import Database, utcnow

_FTS_WORD = re.compile(r"\w+", re.UNICODE)
_COLUMNS = (
    "id, kind, text, topic, session_id, message_id, occurred_at, event_date, importance, origin,"
    " superseded_by"
)


def _record(row: dict[str, Any], sources: tuple[int, ...]) -> MemoryRecord:
    return MemoryRecord(
        id=int(row["id"]),
        kind=row["kind"],
        text=row["text"],
        topic=row["topic"],
        session_id=row["session_id"],
        message_id=row["message_id"],
        occurred_at=datetime.fromisoformat(row["occurred_at"]),
        event_date=date.fromisoformat(row["event_date"]) if row["event_date"] else None,
        importance=float(row["importance"]),
        origin=row["origin"],
        superseded_by=row["superseded_by"],
        sources=sources,
    )


def fts_query(text: str, stopwords: frozenset[str]) -> str:
    """An FTS5 OR-query of the words in `text` (each quoted, so no syntax leaks through)."""
    words = [w for w in _FTS_WORD.findall(text.lower()) if w not in stopwords and len(w) > 1]
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(words))


# One in-memory index per (database, user, dimension): every MemoryStore on the same connection
# (the chat's memory, the control API) shares it, so forgetting through one is seen by all.
_INDEXES: weakref.WeakKeyDictionary[Database, dict[tuple[str, int], MemoryIndex]] = (
    weakref.WeakKeyDictionary()
)
_INDEXES_LOCK = threading.Lock()


def _entry(row: dict[str, Any]) -> Entry:
    day = row["event_date"] or str(row["occurred_at"])[:10]
    return Entry(
        int(row["id"]), row["kind"], row["text"], row["session_id"], date.fromisoformat(day)
    )


class MemoryStore:
    def __init__(self, db: Database, user_id: str, embedder: Embedder) -> None:
        self.db = db
        self.user_id = user_id
        self.embedder = embedder
        # SQLite keeps an FTS5 mirror as the durable full-text index; PostgreSQL has none yet
        # (search reads the in-memory index on both engines).
        self._fts = db.dialect == "sqlite"
        with _INDEXES_LOCK:
            shared = _INDEXES.setdefault(db, {})
            key = (user_id, embedder.dim)
            if key not in shared:
                shared[key] = MemoryIndex(embedder.dim, self._load_index)
            self.index = shared[key]

    def _load_index(self) -> Iterator[tuple[Entry, Vectors]]:
        rows = self.db.query(
            "SELECT id, kind, text, session_id, occurred_at, event_date, embedding FROM memories"
            " WHERE user_id = ? AND superseded_by IS NULL ORDER BY id",
            (self.user_id,),
        )
        zero = np.zeros(self.embedder.dim, dtype=np.float32)
        for r in rows:
            vector = from_blob(bytes(r["embedding"])) if r["embedding"] is not None else zero
            yield _entry(r), vector if vector.shape == zero.shape else zero

    def count(self) -> int:
        rows = self.db.query(
            "SELECT count(*) AS n FROM memories WHERE user_id = ?", (self.user_id,)
        )
        return int(rows[0]["n"])

    # --- writing ---------------------------------------------------------------------------

    def add(
        self, items: Sequence[NewMemory], vectors: npt.NDArray[np.float32] | None = None
    ) -> list[int]:
        """Store memories (embedding them unless `vectors` are given); return their ids."""
        if not items:
            return []
        if vectors is None:
            vectors = self.embedder.embed([m.text for m in items])
        ids: list[int] = []
        added: list[tuple[Entry, npt.NDArray[np.float32]]] = []
        superseded: list[int] = []
        now = utcnow()
        with self.db.transaction():
            for item, vector in zip(items, vectors, strict=True):
                existing = self._duplicate(item)
                if existing is not None:
                    self._link(existing, item.sources)
                    ids.append(existing)
                    continue
                old = self._to_supersede(item)
                memory_id = self.db.execute(
                    "INSERT INTO memories (user_id, kind, text, topic, session_id, message_id,"
                    " occurred_at, event_date, importance, origin, created_at, embedding)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        self.user_id,
                        item.kind,
                        item.text,
                        item.topic,
                        item.session_id,
                        item.message_id,
                        item.occurred_at.isoformat(),
                        item.event_date.isoformat() if item.event_date else None,
                        item.importance,
                        item.origin,
                        now,
                        to_blob(vector),
                    ),
                )
                if self._fts:
                    self.db.execute(
                        "INSERT INTO memory_fts (rowid, text) VALUES (?, ?)",
                        (memory_id, item.text),
                    )
                self._link(memory_id, item.sources)
                for old_id in old:
                    self.db.execute(
                        "UPDATE memories SET superseded_by = ?, superseded_at = ? WHERE id = ?",
                        (memory_id, now, old_id),
                    )
                superseded.extend(old)
                ids.append(memory_id)
                day = item.event_date or item.occurred_at.date()
                entry = Entry(memory_id, item.kind, item.text, item.session_id, day)
                added.append((entry, vector))
        self.index.remove(superseded)
        if added:
            self.index.add([e for e, _ in added], np.stack([v for _, v in added]))
        return ids

    def _link(self, memory_id: int, sources: Iterable[int]) -> None:
        for message_id in sources:
            self.db.execute(
                "INSERT INTO memory_sources (memory_id, message_id) VALUES (?, ?)"
                " ON CONFLICT DO NOTHING",
                (memory_id, message_id),
            )

    def _duplicate(self, item: NewMemory) -> int | None:
        if item.kind == "turn":
            return None
        rows = self.db.query(
            "SELECT id FROM memories WHERE user_id = ? AND kind = ? AND text = ?"
            " AND superseded_by IS NULL",
            (self.user_id, item.kind, item.text),
        )
        return int(rows[0]["id"]) if rows else None

    def _to_supersede(self, item: NewMemory) -> list[int]:
        if not (item.corrects and item.topic):
            return []
        rows = self.db.query(
            "SELECT id FROM memories WHERE user_id = ? AND superseded_by IS NULL"
            " AND (topic = ? OR substr(topic, 1, ?) = ?)",
            (self.user_id, item.topic, len(item.topic) + 1, item.topic + ":"),
        )
        return [int(r["id"]) for r in rows]

    # --- reading ---------------------------------------------------------------------------

    def _sources(self, ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
        found: dict[int, list[int]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.db.query(
                f"SELECT memory_id, message_id FROM memory_sources WHERE memory_id IN ({marks})"
                " ORDER BY message_id",
                chunk,
            ):
                found[int(r["memory_id"])].append(int(r["message_id"]))
        return {k: tuple(v) for k, v in found.items()}

    def _records(
        self, where: str, params: Sequence[Any], user: str = "user_id"
    ) -> list[MemoryRecord]:
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM memories WHERE {user} = ? AND {where}",
            (self.user_id, *params),
        )
        sources = self._sources([int(r["id"]) for r in rows])
        return [_record(r, sources[int(r["id"])]) for r in rows]

    def get_many(self, ids: Sequence[int]) -> dict[int, MemoryRecord]:
        found: dict[int, MemoryRecord] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            # `+user_id`: look rows up by primary key, not by scanning the user's index.
            user = "+user_id" if self._fts else "user_id"  # `+` is SQLite's index hint
            for rec in self._records(f"id IN ({marks})", chunk, user=user):
                found[rec.id] = rec
        return found

    def get(self, memory_id: int) -> MemoryRecord | None:
        return self.get_many([memory_id]).get(memory_id)

    def listing(
        self, kinds: Sequence[str] = (), *, current_only: bool = True, limit: int = 1_000_000
    ) -> list[MemoryRecord]:
        where = "1 = 1"
        params: list[Any] = []
        if kinds:
            where += f" AND kind IN ({','.join('?' * len(kinds))})"
            params.extend(kinds)
        if current_only:
            where += " AND superseded_by IS NULL"
        return self._records(f"{where} ORDER BY id LIMIT ?", [*params, limit])

    def history(self, record: MemoryRecord) -> list[MemoryRecord]:
        """Every version of a fact, oldest first: those on its topic and those it corrected."""
        ids = {record.id}
        frontier = [record.id]
        while frontier:
            marks = ",".join("?" * len(frontier))
            rows = self.db.query(
                f"SELECT id FROM memories WHERE user_id = ? AND superseded_by IN ({marks})",
                [self.user_id, *frontier],
            )
            frontier = [int(r["id"]) for r in rows if int(r["id"]) not in ids]
            ids.update(frontier)
        if record.topic:
            ids.update(r.id for r in self._records("topic = ?", [record.topic]))
        return sorted(self.get_many(sorted(ids)).values(), key=lambda r: r.id)

    def session_turns(self, session_id: int) -> list[MemoryRecord]:
        return self._records("kind = 'turn' AND session_id = ? ORDER BY id", [session_id])

    def neighbours(self, turn: MemoryRecord, span: int = 1) -> list[MemoryRecord]:
        """The turns just before and after `turn` in its session."""
        if turn.kind != "turn" or turn.session_id is None:
            return []
        before = self._records(
            "kind = 'turn' AND session_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
            [turn.session_id, turn.id, span],
        )
        after = self._records(
            "kind = 'turn' AND session_id = ? AND id > ? ORDER BY id LIMIT ?",
            [turn.session_id, turn.id, span],
        )
        return [*before, *after]

    def full_text(self, query: str, k: int) -> list[int]:
        """Ids of the best `k` current memories for an FTS5 query (BM25), best first."""
        if not query:
            return []
        rows = self.db.query(
            "SELECT f.rowid AS id FROM memory_fts AS f JOIN memories AS m ON m.id = f.rowid"
            " WHERE memory_fts MATCH ? AND m.user_id = ? AND m.superseded_by IS NULL"
            " ORDER BY f.rank LIMIT ?",
            (query, self.user_id, k),
        )
        return [int(r["id"]) for r in rows]

    def between(self, start: date, end: date, k: int) -> list[int]:
        """Current memories whose day falls in [start, end], newest first."""
        rows = self.db.query(
            "SELECT id FROM memories WHERE user_id = ? AND superseded_by IS NULL AND"
            " COALESCE(event_date, substr(occurred_at, 1, 10)) BETWEEN ? AND ?"
            " ORDER BY occurred_at DESC LIMIT ?",
            (self.user_id, start.isoformat(), end.isoformat(), k),
        )
        return [int(r["id"]) for r in rows]

    def _contains(self, column: str) -> str:
        find = "instr" if self._fts else "strpos"  # same meaning: 1-based position, 0 = absent
        return f"{find}(lower({column}), lower(?)) > 0"

    def messages_mentioning(self, text: str) -> list[int]:
        rows = self.db.query(
            f"SELECT id FROM messages WHERE user_id = ? AND {self._contains('content')}",
            (self.user_id, text),
        )
        return [int(r["id"]) for r in rows]

    def memories_mentioning(self, text: str) -> list[int]:
        rows = self.db.query(
            f"SELECT id FROM memories WHERE user_id = ? AND {self._contains('text')}",
            (self.user_id, text),
        )
        return [int(r["id"]) for r in rows]

    # --- forgetting ------------------------------------------------------------------------

    def delete_closure(self, memory_ids: Iterable[int], message_ids: Iterable[int]) -> int:
        """Forget memories and messages and everything derived from them; return the number
        of memories deleted. A memory's source messages are forgotten with it."""
        seeds = set(memory_ids)
        messages = set(message_ids)
        for sources in self._sources(sorted(seeds)).values():
            messages.update(sources)
        doomed = set(seeds)
        msg_list = sorted(messages)
        for start in range(0, len(msg_list), 500):
            chunk = msg_list[start : start + 500]
            marks = ",".join("?" * len(chunk))
            doomed.update(
                int(r["memory_id"])
                for r in self.db.query(
                    f"SELECT memory_id FROM memory_sources WHERE message_id IN ({marks})", chunk
                )
            )
            doomed.update(
                int(r["id"])
                for r in self.db.query(
                    f"SELECT id FROM memories WHERE message_id IN ({marks})", chunk
                )
            )
        gone = sorted(doomed)
        with self.db.transaction():
            for start in range(0, len(gone), 500):
                chunk = gone[start : start + 500]
                marks = ",".join("?" * len(chunk))
                if self._fts:
                    self.db.execute(f"DELETE FROM memory_fts WHERE rowid IN ({marks})", chunk)
                self.db.execute(
                    f"UPDATE memories SET superseded_by = NULL, superseded_at = NULL"
                    f" WHERE superseded_by IN ({marks})",
                    chunk,
                )
                self.db.execute(
                    f"DELETE FROM memories WHERE user_id = ? AND id IN ({marks})",
                    [self.user_id, *chunk],
                )
            for start in range(0, len(msg_list), 500):
                chunk = msg_list[start : start + 500]
                marks = ",".join("?" * len(chunk))
                self.db.execute(
                    f"DELETE FROM messages WHERE user_id = ? AND id IN ({marks})",
                    [self.user_id, *chunk],
                )
        # Facts whose correction was forgotten are current again: reload the index.
        self.index.invalidate()
        return len(gone)

    def erase_all(self) -> None:
        """Every memory and every message of this user (sessions and identity stay)."""
        with self.db.transaction():
            if self._fts:
                self.db.execute("DELETE FROM memory_fts")
            self.db.execute("DELETE FROM memory_sources")
            self.db.execute("DELETE FROM memories WHERE user_id = ?", (self.user_id,))
            self.db.execute("DELETE FROM messages WHERE user_id = ?", (self.user_id,))
        self.index.invalidate()

    def purge(self) -> None:
        """Leave no trace of deleted rows on disk: merge the full-text index (its segments
        keep deleted terms until merged), rewrite the file, and empty the write-ahead log.
        secure_delete (set on every connection) zeroes the freed pages. On PostgreSQL the rows
        are gone for every query at once; autovacuum reclaims their space."""
        if not self._fts:
            return
        self.db.execute("INSERT INTO memory_fts (memory_fts) VALUES ('optimize')")
        self.db.execute("VACUUM")
        self.db.query("PRAGMA wal_checkpoint(TRUNCATE)")


__all__ = ["MemoryStore", "fts_query"]
