"""Hybrid recall: BM25 and dense vectors fused by score, then context: neighbours, sessions, time.

    query ─┬─ BM25 over stemmed words (in-memory postings) ── / best ──────────┐
           └─ cosine over the vector matrix ── (s − mean) / (best − mean) ───┤ LEXICAL + DENSE·s
                                                                              │
    + NEIGHBOUR × the better of the previous / next turn's score (answers span two turns)
    + ANSWER × the previous turn's score when that turn asked something: "How long have you
                 had them?" matches the question, "Three years now!" is the answer
    + SESSION  × the best score in the memory's session / the best overall (conversations
                 are about something: a turn in the session that matches best is worth more;
                 computed over the SESSION_POOL best slots)
    + SESSION_DOC × BM25 of the memory's whole session as one document / the best session's
                 (the words of a question are often spread over the conversation that answers it)
    + SPEAKER  for turns spoken by a person the query names ("what did Anna say about…"); in
                 the BM25 query a speaker's name weighs only NAME (every turn they said carries
                 it, so short turns that merely name them would otherwise crowd out the answer)
    + SPAN × min(1, SPAN_DAYS / width) when the memory's day falls in the query's time
                 expression: a day ("last Tuesday") counts fully, a year or "after the wedding"
                 (open-ended) barely
    then a second pass (pseudo-relevance feedback, RM3-style): the FEEDBACK_TERMS words that
    weigh most in the first pass's FEEDBACK_DOCS best memories (share of the memory × its
    score × idf; not the query's own words) become a weighted BM25 query, added as
    FEEDBACK_LEXICAL × its normalised score, and the context terms are recomputed. It links a
    question to evidence that shares no word with it but shares words with the best hit
    ("the puppy" → "Biscuit"); the dense leg is computed once and reused.

The lexical leg is divided by its best score and the dense leg normalised around its mean, then
they are added (score fusion beat reciprocal rank
fusion by ~0.1 turn recall@10 on LoCoMo conversations 0–2, see docs/benchmarks.md); the
weights below were tuned on those three conversations only. Everything runs on the user's
in-memory `MemoryIndex` over all slots with numpy, then only the top k rows are read from
SQLite. For large indexes the dense scores are approximate (os1.memory.vectors) and the best
`RESCORE` candidates are rescored exactly. Time boosts rather than filters, so a wrong reading
of a date cannot hide the answer. Superseded facts are never in the index (history stays
reachable through `show`). Measured on LoCoMo and left out: the session's centroid embedding as
a session score, embedding each turn together with the one before it (no gain once ANSWER is
in, at twice the ingest cost), and MMR-like diversity across sessions in the top k (it cost
single-hop questions more than it gained multi-hop ones).
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime

import numpy as np

from os1.memory.embedder import Vectors
from os1.memory.index import MemoryIndex, Slots
from os1.memory.lexical import STOPWORDS, tokens
from os1.memory.records import Hit
from os1.memory.store import MemoryStore
from os1.memory.temporal import Span, resolve
from os1.memory.vectors import Scores

DENSE = 0.8
NEIGHBOUR = 0.4
ANSWER = 0.3
SESSION = 0.3
SPAN = 1.5
SPEAKER = 0.5
SPAN_DAYS = 7
RESCORE = 400
SESSION_POOL = 1000
SESSION_DOC = 0.3
NAME = 0.2
FEEDBACK_DOCS = 10
FEEDBACK_TERMS = 20
FEEDBACK_LEXICAL = 0.5
FEEDBACK_FLOOR = 0.1
# The query is embedded on this thread while the lexical and time legs run on the caller's: the
# model (~6 ms) and numpy both release the GIL, so on two cores the legs overlap.
_EMBED = ThreadPoolExecutor(max_workers=1, thread_name_prefix="os1-query-embedding")


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
        if k <= 0 or len(index) == 0:
            return []
        embedding = _EMBED.submit(self.store.embedder.embed, [query])  # meanwhile, the rest
        speakers = index.speaker_names
        words = tokens(query)
        lexical = index.bm25_terms({t: NAME if t in speakers else 1.0 for t in words})
        boost = SPEAKER * index.spoken_by_named(query).astype(np.float32)
        span = self.span(query, now)
        if span is not None:
            days = index.days
            width = (span.end - span.start).days + 1  # a day is telling; "after X" is not
            weight = SPAN * min(1.0, SPAN_DAYS / width)
            boost += weight * ((days >= span.start.toordinal()) & (days <= span.end.toordinal()))
        hidden = ~index.alive
        if exclude_session is not None:
            hidden |= index.sessions == exclude_session
        base = boost + self._sessions(words)
        base += self._dense(embedding.result()[0], _unit(lexical))
        scores = self._context(_unit(lexical) + base, neighbours)
        if FEEDBACK_DOCS:  # second pass: the query plus the words of the first pass's best
            top = _top(np.where(hidden, -np.inf, scores), FEEDBACK_DOCS)
            top = top[~hidden[top]]
            terms = self._feedback_terms(top, scores[top], query)
            if terms:
                feedback = FEEDBACK_LEXICAL * _unit(index.bm25_terms(terms))
                scores = self._context(_unit(lexical) + feedback + base, neighbours)
        scores[hidden] = -np.inf
        chosen = [int(s) for s in _top(scores, k) if np.isfinite(scores[s])]
        ids = index.ids(np.array(chosen, dtype=np.int64))
        records = self.store.get_many(ids)
        hits = []
        for slot, memory_id in zip(chosen, ids, strict=True):
            record = records.get(memory_id)
            if record is not None and record.superseded_by is None:
                hits.append(Hit(record, float(scores[slot])))
        return hits

    def _dense(self, vector: Vectors, lexical: Scores) -> Scores:
        """DENSE × the cosine score of every slot, normalised around the mean score."""
        index = self.index
        dense = index.dense(vector)
        if index.vectors.approximate:  # rescore the best approximate candidates exactly
            best = _top(DENSE * dense + lexical, RESCORE)
            dense[best] = index.vectors.exact(vector, best)
        mean = index.vectors.mean_score(vector)
        top = float(dense.max())
        return DENSE * (dense - mean) / max(top - mean, 1e-6)

    def _sessions(self, words: list[str]) -> Scores:
        """SESSION_DOC × how well each memory's whole session matches (BM25 with the session as
        one document, over the best session's)."""
        index = self.index
        by_row = np.append(_unit(index.session_bm25(words)), np.float32(0))  # row -1 reads 0
        boost: Scores = SESSION_DOC * by_row[index.session_rows]
        return boost

    def _context(self, scores: Scores, neighbours: bool) -> Scores:
        """Add the neighbouring turns' and the session's scores to each memory's own."""
        index = self.index
        if neighbours:
            prev, nxt = index.neighbours
            padded = np.append(scores, np.float32(0))  # slot -1 reads the 0 at the end
            answer = ANSWER * padded[index.after_question]  # of a turn that asked something
            scores = scores + NEIGHBOUR * np.maximum(padded[prev], padded[nxt]) + answer
        sessions = index.sessions
        pool = _top(scores, SESSION_POOL)
        pool = pool[sessions[pool] >= 0]
        if len(pool):
            keys, where = np.unique(sessions[pool], return_inverse=True)
            best_in = np.zeros(len(keys))
            np.maximum.at(best_in, where, scores[pool])
            scores[pool] += SESSION * best_in[where] / max(float(best_in.max()), 1e-6)
        return scores

    def _feedback_terms(self, slots: Slots, weights: Scores, query: str) -> dict[str, float]:
        """RM3-style expansion: the words that weigh most in the first pass's best memories
        (term share of each memory × its score × idf), less the query's own words."""
        index = self.index
        records = self.store.get_many(index.ids(slots))
        seen = set(tokens(query))
        mass: dict[str, float] = {}
        low = float(weights.min()) if len(weights) else 0.0
        for memory_id, weight in zip(index.ids(slots), weights, strict=True):
            record = records.get(memory_id)
            if record is None:
                continue
            words = tokens(record.text)
            for term, count in Counter(words).items():
                if term not in seen and not term.isdigit():
                    share = (float(weight) - low + FEEDBACK_FLOOR) * count / len(words)
                    mass[term] = mass.get(term, 0.0) + share
        for term in mass:
            mass[term] *= index.idf(term)
        best = sorted(mass.items(), key=lambda item: -item[1])[:FEEDBACK_TERMS]
        top = best[0][1] if best else 0.0
        return {term: value / top for term, value in best if value > 0}


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
