"""Hybrid recall: BM25 and dense vectors fused by score, then context: neighbours, sessions, time.

    query ─┬─ BM25 over stemmed words (in-memory postings) ── / best ──────────┐
           └─ cosine over the vector matrix ── (s − mean) / (best − mean) ───┤ LEXICAL + DENSE·s
                                                                              │
    + NEIGHBOUR × the better of the previous / next turn's score (answers span two turns)
    + SESSION  × the best score in the memory's session / the best overall (conversations
                 are about something: a turn in the session that matches best is worth more;
                 computed over the SESSION_POOL best slots)
    + SPEAKER  for turns spoken by a person the query names ("what did Anna say about…")
    + SPAN × min(1, SPAN_DAYS / width) when the memory's day falls in the query's time
                 expression: a day ("last Tuesday") counts fully, a year or "after the wedding"
                 (open-ended) barely

The lexical leg is divided by its best score and the dense leg normalised around its mean, then
they are added (score fusion beat reciprocal rank
fusion by ~0.1 turn recall@10 on LoCoMo conversations 0–2, see docs/benchmarks.md); the
weights below were tuned on those three conversations only. Everything runs on the user's
in-memory `MemoryIndex` over all slots with numpy, then only the top k rows are read from
SQLite. For large indexes the dense scores are approximate (os1.memory.vectors) and the best
`RESCORE` candidates are rescored exactly. Time boosts rather than filters, so a wrong reading
of a date cannot hide the answer. Superseded facts are never in the index (history stays
reachable through `show`).
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np

from os1.memory.index import MemoryIndex, Slots
from os1.memory.lexical import STOPWORDS
from os1.memory.records import Hit
from os1.memory.store import MemoryStore
from os1.memory.temporal import Span, resolve
from os1.memory.vectors import Scores

DENSE = 0.5
NEIGHBOUR = 0.4
SESSION = 0.6
SPAN = 1.0
SPEAKER = 0.3
SPAN_DAYS = 7
RESCORE = 400
SESSION_POOL = 1000


class Retriever:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @property
    def index(self) -> MemoryIndex:
        return self.store.index

    def anchor(self, words: str) -> date | None:
        """When the event named by `words` happened (its best full-text match)."""
        scores = self.index.bm25(words)
        if not len(scores) or scores.max() <= 0:
            return None
        (memory_id,) = self.index.ids(np.array([int(scores.argmax())]))
        record = self.store.get(memory_id)
        return record.day if record else None

    def span(self, query: str, now: datetime) -> Span | None:
        return resolve(query, now.date(), self.anchor)

    def search(
        self,
        query: str,
        now: datetime,
        k: int = 10,
        *,
        exclude_session: int | None = None,
        neighbours: bool = True,
    ) -> list[Hit]:
        index = self.index
        lexical = index.bm25(query)
        n = len(lexical)
        if n == 0 or k <= 0:
            return []
        vector = self.store.embedder.embed([query])[0]
        dense = index.dense(vector)
        if index.vectors.approximate:  # rescore the best approximate candidates exactly
            best = _top(DENSE * dense + _unit(lexical), RESCORE)
            dense[best] = index.vectors.exact(vector, best)
        mean = index.vectors.mean_score(vector)
        top = float(dense.max())
        scores = _unit(lexical) + DENSE * (dense - mean) / max(top - mean, 1e-6)
        scores += SPEAKER * index.spoken_by_named(query)
        span = self.span(query, now)
        if span is not None:
            days = index.days
            width = (
                span.end - span.start
            ).days + 1  # a day or a month is telling; "after X" is not
            weight = SPAN * min(1.0, SPAN_DAYS / width)
            scores += weight * ((days >= span.start.toordinal()) & (days <= span.end.toordinal()))
        if neighbours:
            prev, nxt = index.neighbours
            padded = np.append(scores, 0.0)  # slot -1 reads the 0 at the end
            scores = scores + NEIGHBOUR * np.maximum(padded[prev], padded[nxt])
        sessions = index.sessions
        pool = _top(scores, SESSION_POOL)
        pool = pool[sessions[pool] >= 0]
        if len(pool):
            keys, where = np.unique(sessions[pool], return_inverse=True)
            best_in = np.zeros(len(keys))
            np.maximum.at(best_in, where, scores[pool])
            scores[pool] += SESSION * best_in[where] / max(float(best_in.max()), 1e-6)
        scores[~index.alive] = -np.inf
        if exclude_session is not None:
            scores[sessions == exclude_session] = -np.inf
        chosen = [int(s) for s in _top(scores, k) if np.isfinite(scores[s])]
        records = self.store.get_many(index.ids(np.array(chosen, dtype=np.int64)))
        hits = []
        for slot, memory_id in zip(
            chosen, index.ids(np.array(chosen, dtype=np.int64)), strict=True
        ):
            record = records.get(memory_id)
            if record is not None and record.superseded_by is None:
                hits.append(Hit(record, float(scores[slot])))
        return hits


def _unit(scores: Scores) -> Scores:
    top = float(scores.max()) if len(scores) else 0.0
    return scores / top if top > 0 else scores


def _top(scores: Scores, k: int) -> Slots:
    """Indexes of the k largest scores, best first."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")].astype(np.int64)


__all__ = ["STOPWORDS", "Retriever"]
