"""The batched engine: several generations share each decoding step of the real tiny model."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from os1.backends.base import GenerationOptions, collect_text
from os1.backends.batched import BatchedLlamaBackend
from os1.backends.fair import FairBackend
from os1.backends.llamacpp import LlamaCppBackend
from os1.backends.slots import Job, Slot, choose_slot
from os1.backends.structured import generate_json
from os1.config import load_config
from os1.errors import BackendUnavailable, ConfigError
from os1.events import BackendEvent, GenerationDone, TextDelta
from os1.messages import Message
from os1.runtime import build_backend
from tests.models import TINY

GREEDY = GenerationOptions(max_tokens=20, temperature=0.0)
QUESTIONS = ["Tell me about cats.", "What is bread?", "Describe the sea.", "Why do birds sing?"]
PETS = ["cat", "dog", "horse"]
STORIES = [[Message("user", f"Write a long story about a {pet}.")] for pet in PETS]


@pytest.fixture(scope="module")
def engine() -> Iterator[BatchedLlamaBackend]:
    model = BatchedLlamaBackend(TINY, slots=4, n_ctx=1024, n_threads=2)
    yield model
    model.close()


@pytest.mark.model
async def test_concurrent_streams_match_sequential_ones_and_the_serial_backend(
    engine: BatchedLlamaBackend,
):
    async def ask(backend: BatchedLlamaBackend | LlamaCppBackend, q: str) -> str:
        return await collect_text(backend, [Message("user", q)], GREEDY)

    sequential = [await ask(engine, q) for q in QUESTIONS]
    concurrent = await asyncio.wait_for(asyncio.gather(*(ask(engine, q) for q in QUESTIONS)), 120)
    assert concurrent == sequential and all(t.strip() for t in sequential)
    serial = LlamaCppBackend(TINY, n_ctx=1024, n_threads=2)
    try:  # the same chat template, grammar and sampler as the single-sequence backend
        assert await ask(serial, QUESTIONS[0]) == sequential[0]
    finally:
        serial.close()


@pytest.mark.model
async def test_a_cancelled_consumer_frees_its_slot(engine: BatchedLlamaBackend):
    long = GenerationOptions(max_tokens=400, temperature=0.8)
    agen = engine.stream([Message("user", "Write a very long story.")], long)
    got = 0
    async for event in agen:
        if isinstance(event, TextDelta):
            got += 1
            if got == 3:
                break
    await agen.aclose()
    for _ in range(100):  # within a step (tens of ms), however loaded the machine
        if engine.active == 0:
            break
        await asyncio.sleep(0.05)
    assert engine.active == 0


@pytest.mark.model
async def test_json_schema_output_is_valid_under_concurrency(engine: BatchedLlamaBackend):
    class Pet(BaseModel):
        name: str
        legs: int

    options = GenerationOptions(max_tokens=60, temperature=0.0)
    pets = generate_json(engine, [Message("user", "Describe a dog as JSON.")], Pet, options)
    birds = generate_json(engine, [Message("user", "Describe a bird as JSON.")], Pet, options)
    prose = collect_text(engine, [Message("user", "Say hello.")], GREEDY)
    pet, bird, text = await asyncio.wait_for(asyncio.gather(pets, birds, prose), 120)
    assert isinstance(pet.legs, int) and isinstance(bird.name, str) and text.strip()


@pytest.mark.model
async def test_a_users_next_turn_reuses_their_slots_cache():
    model = BatchedLlamaBackend(TINY, slots=2, n_ctx=1024, n_threads=2)
    try:
        alice = [Message("system", "You are Alice's patient gardening tutor. " * 8)]
        bob = [Message("system", "You are Bob's terse chess coach. " * 8)]
        options = GenerationOptions(max_tokens=8, temperature=0.0)
        reply = await collect_text(model, [*alice, Message("user", "Hi")], options)
        await collect_text(model, [*bob, Message("user", "Hi")], options)  # the other slot
        before = model.reused_tokens
        turn = [*alice, Message("user", "Hi"), Message("assistant", reply), Message("user", "?")]
        await collect_text(model, turn, options)
        assert model.reused_tokens - before >= model.count_tokens(alice[0].content)
    finally:
        model.close()


class _DecodeSpy:
    """Stands in for the engine's llama_cpp module, recording each batch as (seq id, logits)
    pairs before it is decoded."""

    def __init__(self, lib: Any) -> None:
        self._lib = lib
        self.batches: list[list[tuple[int, bool]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lib, name)

    def llama_decode(self, ctx: Any, batch: Any) -> int:
        rows = [(batch.seq_id[i][0], bool(batch.logits[i])) for i in range(batch.n_tokens)]
        self.batches.append(rows)
        return int(self._lib.llama_decode(ctx, batch))


async def _spied_stories(
    model: BatchedLlamaBackend, options: GenerationOptions
) -> tuple[_DecodeSpy, list[tuple[AsyncGenerator[BackendEvent, None], list[BackendEvent]]]]:
    """A decode spy on the engine, then the three stories started one after another, each
    holding its slot (up to its first words) before the next."""
    spy = _DecodeSpy(model._lib)
    model._lib = spy
    streams = []
    for messages in STORIES:
        agen = model.stream(messages, options)
        streams.append((agen, await _first_delta(agen)))
    return spy, streams


async def _first_delta(agen: AsyncGenerator[BackendEvent, None]) -> list[BackendEvent]:
    """Events up to the first text: the request holds a slot once this returns."""
    async with asyncio.timeout(120):
        events = [await anext(agen)]
        while not isinstance(events[-1], TextDelta):
            events.append(await anext(agen))
    return events


async def _rest_text(agen: AsyncGenerator[BackendEvent, None], got: list[BackendEvent]) -> str:
    events = got + [e async for e in agen]
    return "".join(e.text for e in events if isinstance(e, TextDelta))


@pytest.mark.model
async def test_a_shared_system_prompt_is_copied_from_a_busy_slot():
    persona = "You are a patient tutor who explains things simply and kindly. " * 6
    alice = [Message("system", persona + "You teach Alice."), Message("user", "Tell a story.")]
    bob = [Message("system", persona + "You teach Bob."), Message("user", "What is rain?")]
    longer = GenerationOptions(max_tokens=60, temperature=0.0)
    model = BatchedLlamaBackend(TINY, slots=2, n_ctx=1024, n_threads=2)
    serial = LlamaCppBackend(TINY, n_ctx=1024, n_threads=2)
    try:
        spy = _DecodeSpy(model._lib)
        model._lib = spy
        first = model.stream(alice, longer)
        got = await _first_delta(first)  # Alice holds one slot; Bob gets the other
        bobs, alices = await asyncio.wait_for(
            asyncio.gather(collect_text(model, bob, GREEDY), _rest_text(first, got)), 120
        )
        assert model.copied_tokens >= model.count_tokens(persona) - 2
        assert any({(0, True), (1, True)} <= set(rows) for rows in spy.batches)  # side by side
        # The copy is as good as Bob's own prompt, and copying left Alice's cache intact.
        assert bobs == await collect_text(serial, bob, GREEDY)
        assert alices == await collect_text(serial, alice, longer)
    finally:
        model.close()
        serial.close()


@pytest.mark.model
async def test_an_idle_slot_between_generating_ones_is_padded_not_split():
    model = BatchedLlamaBackend(TINY, slots=3, n_ctx=1024, n_threads=2)
    try:
        longer = GenerationOptions(max_tokens=120, temperature=0.0)
        alone = [await collect_text(model, messages, longer) for messages in STORIES]
        spy, streams = await _spied_stories(model, longer)  # into slots 0, 1 and 2, in turn
        await streams[1][0].aclose()  # the middle one stops early and frees its slot
        texts = await asyncio.wait_for(
            asyncio.gather(_rest_text(*streams[0]), _rest_text(*streams[2])), 120
        )
        assert texts == [alone[0], alone[2]]  # greedy output does not depend on neighbours
        # Each batch is one prompt's chunk, or one token for each of a run of consecutive
        # sequences (a single pass over the weights): the free middle slot was padded.
        for rows in spy.batches:
            seqs = [seq for seq, _ in rows]
            assert len(set(seqs)) == 1 or seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        assert [(0, True), (1, False), (2, True)] in spy.batches
        # The padding token left no trace in that slot's cache.
        middle = model._slots[1]
        assert model._lib.llama_memory_seq_pos_max(model._ctx.memory, 1) == len(middle.cached) - 1
    finally:
        model.close()


@pytest.mark.model
async def test_three_generating_slots_get_a_fourth_row_of_padding():
    model = BatchedLlamaBackend(TINY, slots=4, n_ctx=1024, n_threads=2)
    try:
        greedy = GenerationOptions(max_tokens=60, temperature=0.0)
        spy, streams = await _spied_stories(model, greedy)
        texts = await asyncio.wait_for(asyncio.gather(*(_rest_text(*s) for s in streams)), 120)
        assert all(len(text.split()) > 20 for text in texts)
        free = next(s for s in model._slots if s.used == -1)  # the slot no story took
        padded = [rows for rows in spy.batches if (free.seq_id, False) in rows]
        assert padded and all(len(rows) == 4 for rows in padded)
        assert sorted(seq for seq, out in padded[0] if out) == sorted(
            s.seq_id for s in model._slots if s is not free
        )
        # Never a pass of three rows (two are left alone).
        assert not [rows for rows in spy.batches if len(rows) == 3 and all(o for _, o in rows)]
        assert model._lib.llama_memory_seq_pos_max(model._ctx.memory, free.seq_id) == -1
    finally:
        model.close()


@pytest.mark.model
async def test_four_users_share_it_through_the_fair_queue(engine: BatchedLlamaBackend):
    fair = FairBackend(engine, slots=4)
    replies = await asyncio.wait_for(
        asyncio.gather(
            *(
                collect_text(fair.for_user(f"u{i}"), [Message("user", q)], GREEDY)
                for i, q in enumerate(QUESTIONS * 2)
            )
        ),
        120,
    )
    assert all(r.strip() for r in replies) and (fair.running, fair.waiting) == (0, 0)


@pytest.mark.model
async def test_close_ends_generations_and_joins_the_thread():
    before = set(threading.enumerate())
    model = BatchedLlamaBackend(TINY, slots=2, n_ctx=512, n_threads=2)
    [thread] = [t for t in threading.enumerate() if t not in before and t.name == "os1-batched"]
    agen = model.stream([Message("user", "Write a long story.")], GenerationOptions(400))
    first = await anext(agen)
    assert isinstance(first, TextDelta)
    await asyncio.to_thread(model.close)
    events: list[BackendEvent] = [e async for e in agen]
    assert isinstance(events[-1], GenerationDone) and events[-1].finish_reason == "cancelled"
    assert not thread.is_alive()
    with pytest.raises(BackendUnavailable):
        await collect_text(model, [Message("user", "Hi")], GREEDY)


def test_stop_strings_are_held_back_and_never_emitted():
    sent: list[BackendEvent | BaseException] = []
    job = Job(tokens=[1], stop=("END",), sampler=None, max_tokens=9, send=sent.append)
    assert job.take(b"one E") == ("one ", False)  # "E" may start the stop string
    assert job.take(b"x") == ("Ex", False)
    assert job.take(b" caf\xc3") == (" caf", False)  # half a UTF-8 character waits
    assert job.take(b"\xa9 EN") == ("\u00e9 ", False)
    assert job.take(b"D more") == ("", True)
    job.finish("stop")
    assert sent == [GenerationDone("stop")]


def test_a_slot_is_reused_only_when_the_prompt_covers_most_of_it():
    mine, other, empty = Slot(0, [1, 2, 3, 4], used=2), Slot(1, [1, 9, 9, 9], used=1), Slot(2)
    assert choose_slot([mine, other, empty], [1, 2, 3, 4, 5]) is mine
    assert choose_slot([other, empty], [1, 2, 3, 4, 5]) is empty  # a shared opening is not enough
    assert choose_slot([mine, other], [7]) is other  # least recently used


@pytest.mark.model
def test_parallel_config_builds_the_engine_behind_a_fair_queue(
    home: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("OS1_PARALLEL", "2")
    fair = build_backend(load_config(model="tiny", n_ctx=512))
    try:
        assert isinstance(fair, FairBackend) and fair.slots == 2
        assert isinstance(fair.inner, BatchedLlamaBackend) and fair.inner.context_window >= 512
    finally:
        fair.close()
    monkeypatch.setenv("OS1_PARALLEL", "lots")
    with pytest.raises(ConfigError):
        load_config()
