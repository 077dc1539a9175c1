"""The embedded backend on the real tiny GGUF through llama-cpp-python."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from os1.backends.base import GenerationOptions, collect_text
from os1.backends.llamacpp import PREFILL_CHUNK, RELAXED_CHUNK, LlamaCppBackend
from os1.backends.structured import generate_json
from os1.errors import BackendUnavailable, ModelFileError
from os1.events import GenerationDone, TextDelta
from os1.messages import Message
from tests.models import TINY

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def tiny() -> LlamaCppBackend:
    return LlamaCppBackend(TINY, n_ctx=2048, n_threads=2)


async def test_streams_text_then_done(tiny: LlamaCppBackend):
    events = [
        e
        async for e in tiny.stream(
            [Message("user", "Say hello.")], GenerationOptions(max_tokens=16, temperature=0.0)
        )
    ]
    assert isinstance(events[-1], GenerationDone)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert deltas and "".join(d.text for d in deltas).strip()
    assert tiny.count_tokens("hello world") >= 2


async def test_json_schema_output_is_valid(tiny: LlamaCppBackend):
    class Pet(BaseModel):
        name: str
        legs: int

    pet = await generate_json(
        tiny,
        [Message("user", "Describe a dog as JSON.")],
        Pet,
        GenerationOptions(max_tokens=60, temperature=0.0),
    )
    assert isinstance(pet.legs, int) and isinstance(pet.name, str)


async def test_stopping_the_consumer_stops_generation(tiny: LlamaCppBackend):
    opts = GenerationOptions(max_tokens=400, temperature=0.8)
    agen = tiny.stream([Message("user", "Write a very long story.")], opts)
    got = 0
    async for event in agen:
        if isinstance(event, TextDelta):
            got += 1
            if got == 3:
                break
    await agen.aclose()
    # the lock is released promptly: a new generation starts at once
    start = time.monotonic()
    text = await asyncio.wait_for(
        collect_text(tiny, [Message("user", "Hi")], GenerationOptions(max_tokens=4)), 20
    )
    assert time.monotonic() - start < 10 and isinstance(text, str)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "does not exist"),
        (b"not a model at all", "not a GGUF"),
        (b"GGUF" + b"\x00" * 64, "could not be loaded"),
    ],
)
def test_bad_model_files_are_one_sentence(tmp_path: Path, content: bytes | None, needle: str):
    path = tmp_path / "model.gguf"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelFileError) as e:
        LlamaCppBackend(path)
    assert needle in str(e.value) and "\n" not in str(e.value)


class EvalSpy:
    """Counts the tokens llama.cpp evaluates per call (the prompt cache's effect)."""

    def __init__(self, backend: LlamaCppBackend) -> None:
        self.llm = backend._llm
        self.plain = self.llm.eval
        self.calls: list[int] = []
        self.threads: list[str] = []

    def __enter__(self) -> EvalSpy:
        def spy(tokens: list[int]) -> None:
            self.calls.append(len(tokens))
            self.threads.append(threading.current_thread().name)
            self.plain(tokens)

        self.llm.eval = spy
        return self

    def __exit__(self, *_: object) -> None:
        del self.llm.eval


def long_prompt(topic: str) -> list[Message]:
    return [
        Message("system", f"You are a patient companion who likes {topic}. " * 30),
        Message("user", f"Tell me about {topic}."),
    ]


async def test_a_prefilled_prompt_is_not_evaluated_again(tiny: LlamaCppBackend):
    prompt = long_prompt("boats")
    await tiny.prefill(prompt)
    with EvalSpy(tiny) as spy:
        await collect_text(tiny, prompt, GenerationOptions(max_tokens=1, temperature=0.0))
    assert sum(spy.calls) <= 1  # at most the last token again, for fresh logits
    longer = [*prompt[:-1], Message("user", "Tell me about boats and the sea, please.")]
    with EvalSpy(tiny) as spy:
        await collect_text(tiny, longer, GenerationOptions(max_tokens=1, temperature=0.0))
    assert 0 < sum(spy.calls) < 20  # only what follows the shared prefix


async def test_a_background_generation_keeps_the_conversations_cache(tiny: LlamaCppBackend):
    greedy = GenerationOptions(max_tokens=8, temperature=0.0)
    prompt = long_prompt("lighthouses")
    alone = await collect_text(tiny, prompt, greedy)
    other = [Message("user", "List three colours of the rainbow, please.")]
    background = GenerationOptions(max_tokens=8, temperature=0.0, background=True)
    assert await collect_text(tiny, other, background)  # it runs, on the same context
    with EvalSpy(tiny) as spy:
        again = await collect_text(tiny, prompt, greedy)
    assert max(spy.calls) == 1  # token by token: the conversation's prompt was still there
    assert again == alone
    await collect_text(tiny, other, GenerationOptions(max_tokens=8, temperature=0.0))
    with EvalSpy(tiny) as spy:  # a foreground generation does replace it
        await collect_text(tiny, prompt, greedy)
    assert max(spy.calls) > 100


async def started_prefill(tiny: LlamaCppBackend, spy: EvalSpy, topic: str) -> asyncio.Task[None]:
    """A prefill of a long prompt, once it has evaluated its first chunk."""
    prefill = asyncio.create_task(tiny.prefill(long_prompt(topic)))
    async with asyncio.timeout(30):
        while not spy.calls:
            await asyncio.sleep(0.001)
    return prefill


async def test_a_prefill_gives_way_to_a_generation_within_a_chunk(tiny: LlamaCppBackend):
    with EvalSpy(tiny) as spy:
        prefill = await started_prefill(tiny, spy, "mountains")
        reply = await collect_text(
            tiny, [Message("user", "Hi")], GenerationOptions(max_tokens=2, temperature=0.0)
        )
        await asyncio.wait_for(prefill, 5)
    assert isinstance(reply, str)
    prefilled = [n for n, t in zip(spy.calls, spy.threads, strict=True) if t == "os1-llama-prefill"]
    assert all(n <= PREFILL_CHUNK for n in prefilled)
    assert sum(prefilled) < tiny.count_tokens(long_prompt("mountains")[0].content)
    generation = spy.threads.index("os1-llama")
    assert "os1-llama-prefill" not in spy.threads[generation:]  # it gave the model up


async def test_a_relaxed_prefill_takes_larger_chunks_until_someone_talks(
    tiny: LlamaCppBackend,
):
    prompt = long_prompt("harbours")
    with EvalSpy(tiny) as spy:
        await tiny.prefill(prompt, relaxed=lambda: len(spy.calls) < 3)  # talking from the 4th
    assert spy.calls[:3] == [RELAXED_CHUNK] * 3
    assert max(spy.calls[3:]) <= PREFILL_CHUNK
    assert sum(spy.calls) >= tiny.count_tokens(prompt[0].content)  # all of it, and no more
    with EvalSpy(tiny) as spy:
        await collect_text(tiny, prompt, GenerationOptions(max_tokens=1, temperature=0.0))
    assert sum(spy.calls) <= 1


async def test_a_cancelled_prefill_stops(tiny: LlamaCppBackend):
    with EvalSpy(tiny) as spy:
        prefill = await started_prefill(tiny, spy, "rivers")
        prefill.cancel()
        with pytest.raises(asyncio.CancelledError):
            await prefill
        async with asyncio.timeout(30):  # the worker stops at the next chunk
            while any(t.name == "os1-llama-prefill" for t in threading.enumerate()):
                await asyncio.sleep(0.01)
        evaluated = sum(spy.calls)
    assert evaluated < tiny.count_tokens(long_prompt("rivers")[0].content)


async def test_generation_waits_while_it_yields_the_cores(tiny: LlamaCppBackend):
    deltas: list[str] = []

    async def consume() -> None:
        opts = GenerationOptions(max_tokens=12, temperature=0.0)
        async for event in tiny.stream([Message("user", "Count to ten.")], opts):
            if isinstance(event, TextDelta):
                deltas.append(event.text)

    with tiny.yield_cores():
        task = asyncio.create_task(consume())
        async with asyncio.timeout(30):
            while not deltas:
                await asyncio.sleep(0.001)
        await asyncio.sleep(0.3)
        assert len(deltas) == 1  # the next token waits
    await asyncio.wait_for(task, 30)
    assert len(deltas) > 1


async def test_a_prefill_that_waited_for_a_newer_generation_is_dropped(tiny: LlamaCppBackend):
    opts = GenerationOptions(max_tokens=8, temperature=0.0)
    with EvalSpy(tiny) as spy:
        first = tiny.stream([Message("user", "Count to ten.")], opts)
        await anext(first)  # a generation holds the model
        prefill = asyncio.create_task(tiny.prefill(long_prompt("clouds")))
        await asyncio.sleep(0.01)  # asked for now; it waits for the model
        second = asyncio.create_task(collect_text(tiny, [Message("user", "Hi")], opts))
        await asyncio.sleep(0.01)
        async for _ in first:
            pass
        await asyncio.wait_for(asyncio.gather(prefill, second), 60)
    assert "os1-llama-prefill" not in spy.threads  # its guess predates the newer turn


async def test_a_closed_model_refuses_new_work_in_one_sentence():
    # memory's extraction may ask for a generation while the runtime shuts down: it must get a
    # clear error, never a worker thread inside a freed model (or a join of an unstarted one)
    model = LlamaCppBackend(TINY, n_ctx=512, n_threads=1)
    model.close()
    with pytest.raises(BackendUnavailable, match="shut down"):
        await collect_text(model, [Message("user", "Hi")], GenerationOptions(max_tokens=2))
    with pytest.raises(BackendUnavailable, match="shut down"):
        await model.prefill([Message("user", "Hi")])
    assert not any(t.name.startswith("os1-llama") for t in threading.enumerate())


async def test_a_prompt_whose_history_was_cut_shifts_the_cache(tiny: LlamaCppBackend):
    """The window is full, the oldest exchanges are cut: only what follows the kept history
    is evaluated (os1.backends.shift), not the whole kept history again."""
    system = Message("system", "You are a patient companion who likes the sea. " * 8)
    history = []
    for i, topic in enumerate(["boats", "gulls", "tides", "shells", "storms", "harbours"]):
        history.append(Message("user", f"Tell me one thing about {topic}, please ({i})."))
        history.append(Message("assistant", f"Gladly: {topic} are part of the sea's life ({i})."))
    greedy = GenerationOptions(max_tokens=4, temperature=0.0)
    cut = GenerationOptions(max_tokens=4, temperature=0.0, cut_history=True)
    kept = history[6:]
    await collect_text(tiny, [system, *history, Message("user", "And the wind?")], greedy)
    with EvalSpy(tiny) as spy:
        text = await collect_text(tiny, [system, *kept, Message("user", "And the sun?")], cut)
    assert text.strip()
    assert sum(tiny.count_tokens(m.content) for m in kept) > 60
    assert spy.calls[0] < 20  # the new message and the template around it, nothing more
    # Not said to be a cut (e.g. a forgotten note left the middle): evaluated from the change.
    await collect_text(tiny, [system, *history, Message("user", "And the wind?")], greedy)
    with EvalSpy(tiny) as spy:
        await collect_text(tiny, [system, *kept, Message("user", "And the sun?")], greedy)
    assert spy.calls[0] > 60
