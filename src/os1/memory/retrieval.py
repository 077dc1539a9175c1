"""Hybrid recall: full text, dense vectors and time, fused by reciprocal rank fusion.

    query ─┬─ FTS5 BM25 over memory text          ─┐
           ├─ cosine over the vector index          ├─ RRF (k=60) + small importance/recency
           └─ time span ("last Tuesday", "in May") ─┘   terms ─ neighbouring turns ─ top k

Each list contributes 1/(60 + rank); a memory found by several lists rises. A time expression
in the query adds a list of the candidates whose day falls in its span (and the span's own
memories), so time boosts rather than filters: a wrong reading of a date cannot hide the answer.
The turns just before and after a strong turn are added just below it (answers often span two
turns). Superseded facts are never returned here (history stays reachable through `show`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime

from os1.memory.records import Hit, MemoryRecord
from os1.memory.store import MemoryStore, fts_query
from os1.memory.temporal import Span, resolve

RRF_K = 60
CANDIDATES = 50
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "s",
        "t",
        "don",
        "ll",
        "ve",
        "re",
        "m",
        "d",
        "tell",
        "know",
        "remember",
        "did",
        "does",
        "thing",
        "things",
    ]
)


class Retriever:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def anchor(self, words: str) -> date | None:
        """When the event named by `words` happened (its best full-text match)."""
        ids = self.store.full_text(fts_query(words, STOPWORDS), 1)
        record = self.store.get(ids[0]) if ids else None
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
        lists: list[list[int]] = [
            self.store.full_text(fts_query(query, STOPWORDS), CANDIDATES),
            [
                i
                for i, _ in self.store.vectors.search(
                    self.store.embedder.embed([query])[0], CANDIDATES
                )
            ],
        ]
        span = self.span(query, now)
        candidates = {i for lst in lists for i in lst}
        if span is not None:
            candidates.update(self.store.between(span.start, span.end, CANDIDATES))
        records = self.store.get_many(sorted(candidates))
        if span is not None:
            best = _fuse(lists)
            in_span = [i for i in records if records[i].day in span]
            lists.append(sorted(in_span, key=lambda i: -best.get(i, 0.0)))
        scores = _fuse(lists)
        today = now.date()
        for memory_id, record in records.items():
            age = max(0, (today - record.day).days)
            scores[memory_id] += 0.002 * record.importance + 0.002 * math.exp(-age / 180)
        ranked = [
            (records[i], s)
            for i, s in sorted(scores.items(), key=lambda kv: -kv[1])
            if i in records
            and records[i].superseded_by is None
            and (exclude_session is None or records[i].session_id != exclude_session)
        ]
        if neighbours:
            ranked = self._with_neighbours(ranked, k)
        return [Hit(record, score) for record, score in ranked[:k]]

    def _with_neighbours(
        self, ranked: list[tuple[MemoryRecord, float]], k: int
    ) -> list[tuple[MemoryRecord, float]]:
        best = {r.id: (r, s) for r, s in ranked}
        for record, score in ranked[: max(3, k // 2)]:
            for near in self.store.neighbours(record):
                near_score = score * 0.5
                if near.id not in best or best[near.id][1] < near_score:
                    best[near.id] = (near, near_score)
        return sorted(best.values(), key=lambda rs: -rs[1])


def _fuse(lists: list[list[int]]) -> dict[int, float]:
    scores: dict[int, float] = defaultdict(float)
    for lst in lists:
        for rank, memory_id in enumerate(lst):
            scores[memory_id] += 1.0 / (RRF_K + rank + 1)
    return scores


__all__ = ["STOPWORDS", "Retriever"]
