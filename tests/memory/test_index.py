"""Unit tests of the in-memory index: tokens, BM25 postings, neighbours, vectors at scale."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from os1.context import TurnContext
from os1.memory import LongTermMemory, MemoryControl, NewMemory, retrieval
from os1.memory import vectors as vectors_module
from os1.memory.fakes import HashEmbedder
from os1.memory.index import Entry, MemoryIndex
from os1.memory.lexical import tokens
from os1.memory.vectors import VectorIndex

DAY = date(2026, 5, 1)
PLACES = [
    "bakery",
    "library",
    "harbour",
    "museum",
    "garden",
    "station",
    "market",
    "cinema",
    "theatre",
    "stadium",
    "chapel",
    "airport",
    "beach",
    "forest",
    "lake",
    "river",
    "bridge",
    "castle",
    "tower",
    "school",
    "office",
    "clinic",
    "gym",
    "pool",
    "park",
    "zoo",
    "farm",
    "mill",
]


def test_tokens_are_stemmed_content_words() -> None:
    assert tokens("What did she paint? She painted two sunsets!") == [
        "paint",
        "paint",
        "two",
        "sunset",
    ]


def make_index(texts: list[tuple[str, int | None]]) -> MemoryIndex:
    embedder = HashEmbedder()
    entries = [Entry(i + 1, "turn", text, session, DAY) for i, (text, session) in enumerate(texts)]
    vectors = embedder.embed([e.text for e in entries])

    def load() -> Iterator[tuple[Entry, np.ndarray]]:  # type: ignore[type-arg]
        return zip(entries, vectors, strict=True)

    return MemoryIndex(embedder.dim, load)


def test_bm25_ranks_by_rare_words_and_forgets_removed_rows() -> None:
    index = make_index(
        [
            ("Anna went to the pottery class", 1),
            ("Anna went to the market", 1),
            ("Ben painted the kitchen", 2),
        ]
    )
    scores = index.bm25("who went to pottery classes?")
    assert int(scores.argmax()) == 0 and scores[2] == 0.0
    assert scores[0] > scores[1] > 0.0
    index.remove([1])
    assert index.bm25("pottery")[0] == 0.0 and len(index) == 2
    index.invalidate()  # reloads from the loader: the database is the truth
    assert len(index) == 3


def test_neighbours_stay_inside_a_session() -> None:
    index = make_index([("a one", 1), ("b two", 1), ("c three", 2), ("d four", 1)])
    prev, nxt = index.neighbours
    assert prev.tolist() == [-1, 0, -1, 1]
    assert nxt.tolist() == [1, 3, -1, -1]


def test_large_vector_index_is_approximate_then_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors_module, "COARSE_FROM", 500)
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(2000, 384)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    index = VectorIndex(384)
    index.extend(rows[:300])
    assert not index.approximate
    index.extend(rows[300:])
    assert index.approximate and len(index) == 2000
    query = rows[1234] + 0.05 * rows[7]
    assert int(index.scores(query).argmax()) == 1234
    exact = index.exact(query, np.array([1234, 7]))
    expected = rows[[1234, 7]].astype(np.float16).astype(np.float32) @ query
    assert np.allclose(exact, expected, atol=1e-5)
    index.clear([1234])
    assert index.scores(query)[1234] == 0.0


async def say_lines(
    ctx: TurnContext,
    memory: LongTermMemory,
    sid: int,
    start: datetime,
    lines: list[tuple[str, str]],
) -> None:
    """Store and observe `(speaker, text)` turns of session `sid`, a minute apart from `start`."""
    for i, (speaker, text) in enumerate(lines):
        when = (start + timedelta(minutes=i)).isoformat()
        m = ctx.store.add_message(sid, "user", text, meta={"speaker": speaker}, created_at=when)
        await memory.observe([m])


async def test_an_answer_is_found_through_the_question_before_it(
    ctx: TurnContext, memory: LongTermMemory
) -> None:
    start = datetime(2026, 3, 2, 18, tzinfo=UTC)
    lines = [
        ("Jo", "Did you ever make it to Lisbon in the end?"),
        ("Alice", "Yes! Last spring, and we ate custard tarts every single day."),
        ("Jo", "My cat knocked over a plant this morning."),
        ("Alice", "Cats will be cats. Was it the big fern?"),
        ("Jo", "No, the little cactus, luckily it survived."),
    ]
    sid = ctx.store.start_session(started_at=start.isoformat())
    await say_lines(ctx, memory, sid, start, lines)
    hits = memory.recall("Lisbon trip", start + timedelta(days=1), k=2)
    assert [h.memory.text for h in hits] == [
        "Jo: Did you ever make it to Lisbon in the end?",
        "Alice: Yes! Last spring, and we ate custard tarts every single day.",
    ]
    assert memory.recall("Lisbon trip", k=2, neighbours=False)[1].memory.session_id == sid


async def test_context_reaches_the_neighbours_of_the_candidates(
    ctx: TurnContext, memory: LongTermMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Context is computed for the best CANDIDATES memories only, plus their neighbours: an
    answer that shares no word with the query still comes with the question before it."""
    monkeypatch.setattr(retrieval, "CANDIDATES", 1)
    start = datetime(2026, 3, 2, 18, tzinfo=UTC)
    sid = ctx.store.start_session(started_at=start.isoformat())
    lines = [
        ("Jo", "Did you ever make it to Lisbon in the end?"),
        ("Alice", "Yes! Last spring, and we ate custard tarts every single day."),
        ("Jo", "My cat knocked over a plant this morning."),
    ]
    await say_lines(ctx, memory, sid, start, lines)
    hits = memory.recall("Lisbon trip", start + timedelta(days=1), k=5)
    assert [h.memory.text for h in hits] == [
        "Jo: Did you ever make it to Lisbon in the end?",
        "Alice: Yes! Last spring, and we ate custard tarts every single day.",
    ]
    assert memory.recall("Lisbon trip", k=5, exclude_session=sid) == []


async def test_index_follows_inserts_after_it_is_loaded(memory: LongTermMemory) -> None:
    now = datetime(2026, 1, 5, tzinfo=UTC)
    item = NewMemory("fact", "Alice keeps bees on the roof.", (), now, "rule")
    memory.memories.add([item])
    assert memory.recall("bees", now, k=1)[0].memory.text == item.text  # loads the index
    later = NewMemory("fact", "Alice sold the honey at the market.", (), now, "rule")
    memory.memories.add([later])
    assert memory.recall("honey market", now, k=1)[0].memory.text == later.text


async def test_forgetting_through_the_control_api_empties_the_chat_index(
    ctx: TurnContext, memory: LongTermMemory
) -> None:
    now = datetime(2026, 1, 5, tzinfo=UTC)
    (kept, gone) = memory.memories.add(
        [
            NewMemory("fact", "Alice likes tea.", (), now, "rule"),
            NewMemory("fact", "Alice's code word is plumtree.", (), now, "rule"),
        ]
    )
    assert memory.recall("plumtree", now, k=1)[0].memory.id == gone  # the index is loaded
    control = MemoryControl(ctx.store, HashEmbedder())
    assert control.memories.index is memory.memories.index  # one index per user and database
    control.forget(gone)
    assert len(memory.memories.index) == 1
    assert [h.memory.id for h in memory.recall("plumtree code word", now, k=5)] == [kept]
    assert memory.memories.index.bm25("plumtree").max() == 0.0


def test_large_memories_are_loaded_in_the_background(memory: LongTermMemory) -> None:
    now = datetime(2026, 1, 5, tzinfo=UTC)
    memory.memories.add([NewMemory("fact", "Alice rows on Sundays.", (), now, "rule")])
    memory.warm_in_background(min_memories=2)
    assert not memory.memories.index.loaded  # too few: the first search will load it
    memory.warm_in_background(min_memories=1)
    for thread in threading.enumerate():
        if thread.name == "os1-memory-warm":
            thread.join(timeout=10)
    assert memory.memories.index.loaded and len(memory.memories.index) == 1


def test_bm25_terms_weighs_each_term() -> None:
    index = MemoryIndex(8, lambda: [])
    texts = ["the red kite flew", "a blue kite", "green grass"]
    entries = [Entry(i + 1, "fact", t, None, DAY) for i, t in enumerate(texts)]
    index.add(entries, np.zeros((3, 8), dtype=np.float32))  # not loaded yet: ignored
    index = MemoryIndex(8, lambda: zip(entries, np.zeros((3, 8), dtype=np.float32), strict=True))
    once = index.bm25_terms({"red": 1.0})
    twice = index.bm25_terms({"red": 2.0})
    assert once[0] > 0 and np.allclose(twice, 2 * once)
    assert np.allclose(index.bm25("red kite"), index.bm25_terms({"red": 1.0, "kite": 1.0}))
    assert index.idf("grass") > index.idf("kite") > 0 == index.idf("unknown")


async def test_feedback_finds_a_memory_through_the_words_of_the_best_one(
    memory: LongTermMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime(2026, 4, 1, tzinfo=UTC)
    biscuit = "Biscuit chewed through the sofa cushions overnight."
    texts = [
        "Alice adopted a puppy called Biscuit from the shelter.",
        biscuit,
        *(f"Alice went to the {place} today." for place in PLACES),
    ]
    memory.memories.add([NewMemory("fact", t, (), now, "rule") for t in texts])

    def found() -> list[str]:
        return [h.memory.text for h in memory.recall("How is the puppy?", now, k=4)]

    assert found()[0] == texts[0]
    assert biscuit in found()  # no "puppy" in it: found through "Biscuit"
    monkeypatch.setattr(retrieval, "FEEDBACK_DOCS", 0)
    assert biscuit not in found()


def test_sessions_are_scored_as_whole_documents() -> None:
    index = make_index(
        [
            ("Jo: I signed up for pottery", 1),
            ("Al: Nice, where?", 1),
            ("Jo: At the studio on Elm street", 1),
            ("Jo: The studio called again", 2),
            ("Al: Pottery is fun", 3),
        ]
    )
    scores = index.session_bm25(tokens("pottery studio"))
    rows = index.session_rows
    assert rows.tolist() == [0, 0, 0, 1, 2]  # one row per session, turns only
    assert scores[0] > scores[2] > 0 and scores[0] > scores[1] > 0  # both words: session 1


def test_turns_that_ask_are_marked_and_speakers_known() -> None:
    index = make_index(
        [("Jo: How long have you had them?", 1), ("Nate: Three years.", 1), ("Jo: Wow.", 1)]
    )
    assert index.after_question.tolist() == [-1, 0, -1]
    assert index.speaker_names == {"jo", "nate"}


async def test_the_answer_to_a_matching_question_outranks_a_reply_to_a_statement(
    ctx: TurnContext, memory: LongTermMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = datetime(2026, 3, 2, 18, tzinfo=UTC)
    sessions = [
        [("Jo", "Do you still keep the turtles?"), ("Nate", "Yes, for three years now.")],
        [("Jo", "I saw turtles at the zoo."), ("Nate", "Cool, sounds like a fun day.")],
    ]
    for n, lines in enumerate(sessions):
        sid = ctx.store.start_session(started_at=(start + timedelta(days=n)).isoformat())
        await say_lines(ctx, memory, sid, start + timedelta(days=n), lines)

    def rank(text: str) -> int:
        hits = memory.recall("turtles", start + timedelta(days=5), k=10)
        return [h.memory.text for h in hits if h.memory.kind == "turn"].index(text)

    answer, reply = "Nate: Yes, for three years now.", "Nate: Cool, sounds like a fun day."
    assert rank(answer) < rank(reply)
    monkeypatch.setattr(retrieval, "ANSWER", 0.0)
    assert rank(answer) > rank(reply)
