"""Sessions as documents: each conversation's turns scored together, as one BM25 document.

A question is often about what a conversation was about ("when did Anna start pottery?") while
the turn that answers it says little ("Yes, last week! I loved it."). So `MemoryIndex` keeps,
per session (a row here), postings term → {row: count} over all the session's turns: BM25 with
the session as one document (its length is the words of all its turns). A dense leg (the
cosine of the session's centroid, or of its summary) was measured too and did not help on
LoCoMo. Only turns count (facts and summaries are derived from them). Rows are added as turns
arrive and never removed: forgetting reloads the whole index from the database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from os1.memory.lexical import K1, B, idf
from os1.memory.vectors import Scores

Slots = npt.NDArray[np.int64]


class SessionIndex:
    def __init__(self) -> None:
        self._row: dict[int, int] = {}
        self._lengths: list[int] = []
        self._postings: dict[str, dict[int, int]] = {}
        self._arrays: dict[str, tuple[Slots, Scores]] = {}  # postings as numpy, until changed

    def __len__(self) -> int:
        return len(self._lengths)

    def find(self, session_id: int | None) -> int:
        """The row of `session_id` (-1 when it has no turns yet)."""
        return -1 if session_id is None else self._row.get(session_id, -1)

    def add(self, session_id: int, words: Iterable[str]) -> int:
        """Count a turn of `session_id` in its session's document; return the session's row."""
        row = self._row.get(session_id)
        if row is None:
            row = self._row[session_id] = len(self._lengths)
            self._lengths.append(0)
        counts = Counter(words)
        for term, count in counts.items():
            posting = self._postings.setdefault(term, {})
            posting[row] = posting.get(row, 0) + count
            self._arrays.pop(term, None)
        self._lengths[row] += sum(counts.values())
        return row

    def bm25(self, terms: Iterable[str]) -> Scores:
        """BM25 of every session's document for the (stemmed) `terms`."""
        n = len(self._lengths)
        scores = np.zeros(n, dtype=np.float32)
        if n == 0:
            return scores
        lengths = np.asarray(self._lengths, dtype=np.float32)
        norm = K1 * (1.0 - B + B * lengths / max(float(lengths.mean()), 1.0))
        for term in set(terms):
            found = self._posting(term)
            if found is not None:
                rows, tf = found
                scores[rows] += idf(n, len(rows)) * tf * (K1 + 1.0) / (tf + norm[rows])
        return scores

    def _posting(self, term: str) -> tuple[Slots, Scores] | None:
        arrays = self._arrays.get(term)
        posting = self._postings.get(term)
        if arrays is None and posting:
            rows = np.fromiter(posting.keys(), dtype=np.int64, count=len(posting))
            tf = np.fromiter(posting.values(), dtype=np.float32, count=len(posting))
            arrays = self._arrays[term] = (rows, tf)
        return arrays


__all__ = ["SessionIndex"]
