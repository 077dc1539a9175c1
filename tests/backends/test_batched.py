"""The batched engine: several generations share each decoding step of the real tiny model."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

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
