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
                 expression or up to SPAN_LAG days after it (people tell of a weekend on the
                 Monday): a day ("last Tuesday") counts fully, a year or "after the wedding"
                 (open-ended) barely
    then a second pass (pseudo-relevance feedback, RM3-style): the FEEDBACK_TERMS words that
    weigh most in the first pass's FEEDBACK_DOCS best memories (share of the memory × its
    score × idf; not the query's own words) become a weighted BM25 query, added as
    FEEDBACK_LEXICAL × its normalised score, and the context terms are recomputed. It links a
    question to evidence that shares no word with it but shares words with the best hit
    ("the puppy" → "Biscuit"); the dense leg is computed once and reused.

The lexical leg is divided by its best score and the dense leg normalised around its mean, then
they are added (score fusion beat reciprocal rank fusion by ~0.1 turn recall@10 on LoCoMo
conversations 0–2, see docs/benchmarks.md); the weights below were tuned on those three
conversations only. The legs run on the user's in-memory `MemoryIndex` over all slots with
numpy; context (neighbours, sessions) is added only for the CANDIDATES best slots and their
neighbours (over every slot it cost ~1 ms a pass at 100,000 memories; a memory outside them
would need a lift larger than the gap between the CANDIDATES-th score and the k-th: rankings on
LoCoMo and bench/memory_scale.py are unchanged), then only the top k rows are read from SQLite.
For large indexes the dense scores are approximate (os1.memory.vectors) and the best `RESCORE`
candidates are rescored exactly. Time boosts rather than filters, so a wrong reading of a date
cannot hide the answer. Superseded facts are never in the index (history stays reachable
through `show`). Measured on LoCoMo and left out: the session's centroid embedding as a session
score, embedding each turn together with the one before it (no gain once ANSWER is in, at twice
the ingest cost), and MMR-like diversity across sessions in the top k (it cost single-hop
questions more than it gained multi-hop ones). Measured again since and left out (turn
recall@10): a greedy top k that penalises a turn next to one already chosen or from a session
already chosen (multi-hop +0.04 on conversations 0–2 but +0.005 on 3–5; −0.01 overall), a dense
second hop (the query vector moved towards the first pass's best, Rocchio: −0.005 to −0.01),
ranking sessions by the mean of their best three turns as well as their best (no change),
feedback terms from a lexical-only first pass, to overlap the query embedding (−0.005), or from
the best turn of each of the best sessions (−0.005), other BM25 k1 / b (no gain), the query
rewritten for the embedder ("Anna: …" as turns are stored, or without its question words:
−0.008 / −0.010), and a vector per sentence of a turn, a slot scoring the best of its own and
its sentences' (dense alone 0.42 → 0.51, but fused +0.002 at a quarter of the gap and −0.014
at the full best, for twice the embedding work at ingest).
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime

import numpy as np
import numpy.typing as npt

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
SPAN_LAG = 2
RESCORE = 400
SESSION_POOL = 1000
SESSION_DOC = 0.3
NAME = 0.2
FEEDBACK_DOCS = 10
FEEDBACK_TERMS = 20
FEEDBACK_LEXICAL = 0.5
FEEDBACK_FLOOR = 0.1
CANDIDATES = 2000
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
        lexical = _unit(index.bm25_terms({t: NAME if t in speakers else 1.0 for t in words}))
        boost = SPEAKER * index.spoken_by_named(query).astype(np.float32)
        span = self.span(query, now)
        if span is not None:
            days = index.days
            width = (span.end - span.start).days + 1  # a day is telling; "after X" is not
            weight = SPAN * min(1.0, SPAN_DAYS / width)
            last = span.end.toordinal() + SPAN_LAG
            boost += weight * ((days >= span.start.toordinal()) & (days <= last))
        hidden = ~index.alive
        if exclude_session is not None:
            hidden |= index.sessions == exclude_session
        first = lexical + boost + self._sessions(words)  # all but the dense leg, meanwhile
        first += self._dense(embedding.result()[0], lexical)
        feedback = self._feedback(query, first, hidden, neighbours)
        pool, scores = self._context(first + feedback, neighbours)
        shown = ~hidden[pool]
        pool, scores = pool[shown], scores[shown]
        best = _top(scores, k)
        ids = index.ids(pool[best])
        records = self.store.get_many(ids)
        hits = []
        for score, memory_id in zip(scores[best], ids, strict=True):
            record = records.get(memory_id)
            if record is not None and record.superseded_by is None:
                hits.append(Hit(record, float(score)))
        return hits

    def _feedback(
        self, query: str, first: Scores, hidden: npt.NDArray[np.bool_], neighbours: bool
    ) -> Scores | float:
        """Second pass (see the module docstring): FEEDBACK_LEXICAL × the BM25 of the words
        that weigh most in the first pass's FEEDBACK_DOCS best memories."""
        if not FEEDBACK_DOCS:
            return 0.0
        pool, scores = self._context(first, neighbours)
        shown = ~hidden[pool]
        pool, scores = pool[shown], scores[shown]
        best = _top(scores, FEEDBACK_DOCS)
        terms = self._feedback_terms(pool[best], scores[best], query)
        if not terms:
            return 0.0
        return FEEDBACK_LEXICAL * _unit(self.index.bm25_terms(terms))

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

    def _context(self, scores: Scores, neighbours: bool) -> tuple[Slots, Scores]:
        """The CANDIDATES best slots and their neighbours, and their scores with the
        neighbouring turns' and the session's added to each memory's own."""
        index = self.index
        pool = _best(scores, CANDIDATES)
        prev, nxt = index.neighbours
        if neighbours:
            near = np.concatenate([pool, prev[pool], nxt[pool]])
            near = np.sort(near[near >= 0])  # np.unique is ~30× slower here
            pool = near[np.append(True, near[1:] != near[:-1])]
        own = scores[pool]
        if neighbours:
            asked = index.after_question[pool]
            around = np.maximum(_at(scores, prev[pool]), _at(scores, nxt[pool]))
            own = own + NEIGHBOUR * around + ANSWER * _at(scores, asked)
        sessions = index.sessions[pool]
        best = _top(own, SESSION_POOL)
        best = best[sessions[best] >= 0]
        if len(best):
            keys, where = np.unique(sessions[best], return_inverse=True)
            best_in = np.zeros(len(keys))
            np.maximum.at(best_in, where, own[best])
            own[best] += SESSION * best_in[where] / max(float(best_in.max()), 1e-6)
        return pool, own

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


def _at(scores: Scores, slots: Slots) -> Scores:
    """scores[slots], reading 0 where a slot is -1 (none)."""
    return np.where(slots >= 0, scores[slots], np.float32(0))


def _best(scores: Scores, k: int) -> Slots:
    """Indexes of the k largest scores, in no order."""
    if k >= len(scores):
        return np.arange(len(scores), dtype=np.int64)
    return np.argpartition(-scores, k - 1)[:k].astype(np.int64)


def _top(scores: Scores, k: int) -> Slots:
    """Indexes of the k largest scores, best first."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")].astype(np.int64)


__all__ = ["STOPWORDS", "Retriever"]
