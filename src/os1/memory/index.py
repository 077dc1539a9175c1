"""The in-memory index of one user's current memories: what retrieval reads on the hot path.

It mirrors the `memories` rows that are not superseded (the database stays the truth; the
index is loaded from it lazily on first use and kept in step by the store, which calls `add`
after inserting and `remove` after superseding; forgetting and erasing drop it, so the next
search reloads it from what is left). Each memory gets a slot; per slot it keeps:

    ids, kind, session, day        the few columns ranking needs (no SQL per query)
    after_question                 the previous turn, where it asked something (has a "?")
    speaker                        who said a turn (its "Name: " prefix), by first name
    prev, next                     the neighbouring turns in the same session (-1 if none)
    postings                       term → (slots, term counts): BM25 without scanning rows
    vectors                        the embedding matrix (os1.memory.vectors), row = slot
    session_docs, session_row      each session as one document (os1.memory.sessions), and
                                   the row of a memory's session there (-1 if none)

A BM25 query touches only the postings of its terms (numpy over a few thousand entries even
at 100,000 memories), where FTS5 ranked every row containing a frequent word. Document
frequencies count the slots added since the last load (a superseded fact stays counted until
the next reload): a slight, bounded approximation that does not change rankings in practice.
"""

from __future__ import annotations

import contextlib
import threading
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from os1.memory.embedder import Vectors
from os1.memory.lexical import K1, B, idf, tokens
from os1.memory.sessions import SessionIndex
from os1.memory.vectors import Scores, VectorIndex

Slots = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Entry:
    """What the index needs to know of one memory."""

    id: int
    kind: str
    text: str
    session_id: int | None
    day: date


class _Column:
    """A growable numpy column."""

    def __init__(self, dtype: type[np.generic], fill: int = 0) -> None:
        self._data = np.full(1024, fill, dtype=dtype)
        self._fill = fill
        self.size = 0

    def append(self, value: float) -> None:
        if self.size == len(self._data):
            grown = np.full(2 * len(self._data), self._fill, dtype=self._data.dtype)
            grown[: self.size] = self._data
            self._data = grown
        self._data[self.size] = value
        self.size += 1

    def __setitem__(self, slot: int, value: float) -> None:
        self._data[slot] = value

    @property
    def view(self) -> npt.NDArray[Any]:
        return self._data[: self.size]


class MemoryIndex:
    def __init__(self, dim: int, load: Callable[[], Iterable[tuple[Entry, Vectors]]]) -> None:
        self._load = load
        self._dim = dim
        self._lock = threading.RLock()
        self._loaded = False
        self._reset()

    def _reset(self) -> None:
        self.vectors = VectorIndex(self._dim)
        self.session_docs = SessionIndex()
        self._session_row = _Column(np.int64, -1)
        self._ids = _Column(np.int64, -1)
        self._alive = _Column(np.bool_)
        self._turn = _Column(np.bool_)
        self._after_question = _Column(np.int64, -1)
        self._session = _Column(np.int64, -1)
        self._day = _Column(np.int64)
        self._length = _Column(np.float32)
        self._prev = _Column(np.int64, -1)
        self._next = _Column(np.int64, -1)
        self._speaker = _Column(np.int64, -1)
        self._speakers: dict[str, int] = {}  # a speaker's first name (stemmed) → its number
        self._slot_of: dict[int, int] = {}
        self._last_turn: dict[int, tuple[int, bool]] = {}  # session → its latest turn: slot, asks
        self._postings: dict[str, tuple[array[int], array[int]]] = {}
        self._total_length = 0.0

    # --- keeping in step with the store ------------------------------------------------------

    def _ensure(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            try:
                batch: list[tuple[Entry, Vectors]] = []
                for item in self._load():
                    batch.append(item)
                    if len(batch) == 2048:
                        self._append(batch)
                        batch = []
                self._append(batch)
            except BaseException:
                self._reset()  # never half-loaded: the next search starts over
                raise
            self._loaded = True

    @property
    def loaded(self) -> bool:
        return self._loaded

    def warm(self) -> None:
        """Load now (from a background thread at startup), so the first search need not.
        A failure here is not an error: the first search loads (and reports) it again."""
        with contextlib.suppress(Exception):
            self._ensure()

    def invalidate(self) -> None:
        """Forget everything held; the next search reloads from the database."""
        with self._lock:
            self._reset()
            self._loaded = False

    def add(self, entries: Sequence[Entry], vectors: Vectors) -> None:
        with self._lock:
            if self._loaded:  # else the first search loads them from the database
                self._append(list(zip(entries, vectors, strict=True)))

    def remove(self, memory_ids: Iterable[int]) -> None:
        with self._lock:
            if not self._loaded:
                return
            slots = [self._slot_of.pop(i) for i in memory_ids if i in self._slot_of]
            for slot in slots:
                self._alive[slot] = False
            self.vectors.clear(slots)

    def _append(self, items: Sequence[tuple[Entry, Vectors]]) -> None:
        if not items:
            return
        for entry, _ in items:
            slot = self._ids.size
            words = tokens(entry.text)
            self._ids.append(entry.id)
            self._alive.append(True)
            self._turn.append(entry.kind == "turn")
            self._after_question.append(-1)
            self._session.append(-1 if entry.session_id is None else entry.session_id)
            self._day.append(entry.day.toordinal())
            self._length.append(len(words))
            self._total_length += len(words)
            self._prev.append(-1)
            self._next.append(-1)
            self._speaker.append(self._speaker_of(entry))
            self._slot_of[entry.id] = slot
            self._session_row.append(self.session_docs.find(entry.session_id))
            if entry.kind == "turn" and entry.session_id is not None:
                self._session_row[slot] = self.session_docs.add(entry.session_id, words)
                before, asked = self._last_turn.get(entry.session_id, (-1, False))
                if before >= 0:
                    self._prev[slot] = before
                    self._next[before] = slot
                    if asked:
                        self._after_question[slot] = before
                self._last_turn[entry.session_id] = (slot, "?" in entry.text)
            for term, count in Counter(words).items():
                posting = self._postings.get(term)
                if posting is None:
                    posting = self._postings[term] = (array("q"), array("q"))
                posting[0].append(slot)
                posting[1].append(count)
        self.vectors.extend(np.stack([v for _, v in items]))

    def _speaker_of(self, entry: Entry) -> int:
        speaker, said, _ = entry.text.partition(": ")
        name = tokens(speaker)[:1] if said and entry.kind == "turn" else []
        return self._speakers.setdefault(name[0], len(self._speakers)) if name else -1

    # --- reading -----------------------------------------------------------------------------

    def __len__(self) -> int:
        self._ensure()
        return len(self._slot_of)

    def bm25(self, query: str) -> Scores:
        """BM25 score of every slot for `query` (0 where no query term occurs)."""
        return self.bm25_terms(dict.fromkeys(tokens(query), 1.0))

    def bm25_terms(self, terms: Mapping[str, float]) -> Scores:
        """BM25 for stemmed `terms`, each term's contribution multiplied by its weight."""
        self._ensure()
        with self._lock:
            n = self._ids.size
            scores = np.zeros(n, dtype=np.float32)
            if n == 0:
                return scores
            average = max(self._total_length / n, 1.0)
            lengths = self._length.view
            for term, weight in terms.items():
                posting = self._postings.get(term)
                if posting is None:
                    continue
                slots = np.array(posting[0], dtype=np.int64)
                tf = np.array(posting[1], dtype=np.float32)
                norm = K1 * (1.0 - B + B * lengths[slots] / average)
                scores[slots] += weight * idf(n, len(slots)) * tf * (K1 + 1.0) / (tf + norm)
            scores[~self._alive.view.astype(bool, copy=False)] = 0.0
            return scores

    def idf(self, term: str) -> float:
        """The inverse document frequency of a stemmed term (0 for a term no memory has)."""
        self._ensure()
        posting = self._postings.get(term)
        return idf(self._ids.size, len(posting[0])) if posting else 0.0

    def session_bm25(self, terms: Sequence[str]) -> Scores:
        """BM25 of every session's document (by `session_docs` row) for stemmed `terms`."""
        self._ensure()
        with self._lock:
            return self.session_docs.bm25(terms)

    @property
    def speaker_names(self) -> frozenset[str]:
        """The (stemmed) first names of everyone who spoke a turn."""
        self._ensure()
        return frozenset(self._speakers)

    def spoken_by_named(self, query: str) -> npt.NDArray[np.bool_]:
        """Which slots are turns spoken by someone the query names ("what did Anna say")."""
        self._ensure()
        with self._lock:
            named = [self._speakers[t] for t in set(tokens(query)) if t in self._speakers]
            return np.isin(self._speaker.view, named)

    def dense(self, query: Vectors) -> Scores:
        self._ensure()
        return self.vectors.scores(query)

    def ids(self, slots: Slots) -> list[int]:
        self._ensure()
        return [int(i) for i in self._ids.view[slots]]

    @property
    def alive(self) -> npt.NDArray[np.bool_]:
        self._ensure()
        return self._alive.view.astype(bool, copy=False)

    @property
    def sessions(self) -> Slots:
        self._ensure()
        return self._session.view.astype(np.int64, copy=False)

    @property
    def session_rows(self) -> Slots:
        """The row in `session_docs` of every slot's session (-1: none, or none with turns)."""
        self._ensure()
        return self._session_row.view.astype(np.int64, copy=False)

    @property
    def days(self) -> Slots:
        self._ensure()
        return self._day.view.astype(np.int64, copy=False)

    @property
    def neighbours(self) -> tuple[Slots, Slots]:
        """(previous, next) turn slot of every slot in its session, -1 where none."""
        self._ensure()
        return self._prev.view.astype(np.int64, copy=False), self._next.view.astype(
            np.int64, copy=False
        )

    @property
    def after_question(self) -> Slots:
        """The previous turn's slot where it asked something (this turn is likely the answer),
        else -1."""
        self._ensure()
        return self._after_question.view.astype(np.int64, copy=False)

    @property
    def turns(self) -> npt.NDArray[np.bool_]:
        self._ensure()
        return self._turn.view.astype(bool, copy=False)


__all__ = ["Entry", "MemoryIndex", "Slots"]
