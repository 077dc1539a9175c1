"""The fair queue: round-robin across users, bounded, and never a hang."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing

import pytest

from os1.backends.base import GenerationOptions, collect_text
from os1.backends.fair import Busy, FairBackend
from os1.config import Config
from os1.conversation import run_turn
from os1.events import BackendEvent, ErrorEvent, GenerationDone, TextDelta
from os1.messages import Message
from os1.runtime import Runtime
from os1.testing import ScriptedBackend
from tests.conftest import make_context
from tests.helpers import drain, until

OPTS = GenerationOptions()


class GatedBackend:
    """Each generation yields its label, then waits until the test opens its gate."""

    name = "gated"
    context_window = 4096
    supports_schema = True

    def __init__(self) -> None:
        self.started: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}

    def count_tokens(self, text: str) -> int:
        return len(text)

    async def stream(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncIterator[BackendEvent]:
        label = messages[-1].content
        self.started.append(label)
        gate = self.gates.setdefault(label, asyncio.Event())
        yield TextDelta(label)
        await gate.wait()
        yield GenerationDone("stop")

    def finish(self, label: str) -> None:
        self.gates.setdefault(label, asyncio.Event()).set()


def ask(view: object, label: str) -> asyncio.Task[str]:
    return asyncio.create_task(collect_text(view, [Message("user", label)], OPTS))  # type: ignore[arg-type]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_users_are_served_round_robin_not_fifo():
    inner = GatedBackend()
    fair = FairBackend(inner, slots=1, per_user=5)
    a, b, c = fair.for_user("a"), fair.for_user("b"), fair.for_user("c")
    tasks = [ask(a, "a1")]
    await settle()
    tasks += [ask(a, "a2"), ask(a, "a3")]
    await settle()
    tasks += [ask(b, "b1"), ask(c, "c1")]
    await settle()
    assert (fair.running, fair.waiting) == (1, 4)
    for label in ["a1", "b1", "c1", "a2", "a3"]:
        assert inner.started[-1] == label
        inner.finish(label)
        await settle()
    assert inner.started == ["a1", "b1", "c1", "a2", "a3"]  # FIFO would be a1 a2 a3 b1 c1
    assert [await t for t in tasks] == ["a1", "a2", "a3", "b1", "c1"]
    assert (fair.running, fair.waiting) == (0, 0)


async def test_two_slots_run_two_users_at_once():
    inner = GatedBackend()
    fair = FairBackend(inner, slots=2)
    t1, t2 = ask(fair.for_user("a"), "a1"), ask(fair.for_user("b"), "b1")
    await settle()
    assert sorted(inner.started) == ["a1", "b1"] and fair.running == 2
    inner.finish("a1"), inner.finish("b1")
    assert (await t1, await t2) == ("a1", "b1")


async def test_the_model_is_one_users_only_while_no_one_else_came_since():
    inner = GatedBackend()
    fair = FairBackend(inner, slots=1)
    assert fair.only("a") and fair.only("b")  # nobody served yet
    a1 = ask(fair.for_user("a"), "a1")
    await settle()
    assert fair.only("a") and not fair.only("b")
    b1 = ask(fair.for_user("b"), "b1")  # waits behind a
    await settle()
    assert not fair.only("a")
    inner.finish("a1")
    await settle()
    assert not fair.only("a") and fair.only("b")  # b's turn runs
    inner.finish("b1")
    assert (await a1, await b1) == ("a1", "b1")
    assert fair.only("b") and not fair.only("a")  # the model last served b


async def test_past_the_per_user_bound_a_clear_busy_at_once():
    inner = GatedBackend()
    fair = FairBackend(inner, slots=1, per_user=2, typical_seconds=7.0)
    a = fair.for_user("a")
    first, second = ask(a, "a1"), ask(a, "a2")
    await settle()
    with pytest.raises(Busy) as e:
        await asyncio.wait_for(collect_text(a, [Message("user", "a3")], OPTS), 1.0)
    # Two requests ahead (one running, one waiting) at ~7 s each, one slot: 14 s.
    assert str(e.value) == "I'm busy with other people right now; try again in 14 s."
    assert e.value.retry_after == 14
    ask_b = ask(fair.for_user("b"), "b1")  # another user is not refused
    inner.finish("a1"), inner.finish("b1"), inner.finish("a2")
    assert [await t for t in (first, second, ask_b)] == ["a1", "a2", "b1"]


async def test_past_the_total_bound_busy_for_everyone():
    inner = GatedBackend()
    fair = FairBackend(inner, slots=1, total=2)
    tasks = [ask(fair.for_user(u), u) for u in ("u1", "u2", "u3")]
    await settle()
    assert (fair.running, fair.waiting) == (1, 2)
    with pytest.raises(Busy, match=r"try again in \d+ s\."):
        await asyncio.wait_for(collect_text(fair.for_user("u4"), [Message("user", "x")], OPTS), 1)
    for u in ("u1", "u2", "u3"):
        inner.finish(u)
    assert [await t for t in tasks] == ["u1", "u2", "u3"]


async def test_a_long_wait_ends_in_busy_not_a_hang():
    inner = GatedBackend()
    fair = FairBackend(inner, slots=1, max_wait=0.05)
    holder = ask(fair.for_user("a"), "a1")
    await settle()
    with pytest.raises(Busy):
        await collect_text(fair.for_user("b"), [Message("user", "b1")], OPTS)
    assert fair.waiting == 0
    inner.finish("a1")
    assert await holder == "a1"


async def test_a_cancelled_waiter_leaves_the_queue():
    inner = GatedBackend()
    fair = FairBackend(inner, slots=1)
    holder = ask(fair.for_user("a"), "a1")
    await settle()
    gone = ask(fair.for_user("b"), "b1")
    await settle()
    assert fair.waiting == 1
    gone.cancel()
    await settle()
    assert fair.waiting == 0
    late = ask(fair.for_user("c"), "c1")
    inner.finish("a1"), inner.finish("c1")
    assert (await holder, await late) == ("a1", "c1")
    assert inner.started == ["a1", "c1"] and fair.running == 0


async def test_a_consumer_that_stops_early_frees_its_slot():
    inner = GatedBackend()
    fair = FairBackend(inner, slots=1)
    async with aclosing(fair.for_user("a").stream([Message("user", "a1")], OPTS)) as events:
        async for _ in events:
            break  # barge-in: stop after the first delta
    assert fair.running == 0
    nxt = ask(fair.for_user("b"), "b1")
    await settle()
    inner.finish("b1")
    assert await nxt == "b1"


async def test_in_a_turn_busy_is_one_sentence_and_the_message_is_kept(config: Config):
    inner = ScriptedBackend(["Hello."])
    fair = FairBackend(inner, slots=1, per_user=1)
    runtime = Runtime(config, backend=fair, memory_factory=None)
    try:
        ctx = make_context(runtime, "alice")
        assert ctx.backend is not fair  # the runtime handed this turn alice's view
        gate = asyncio.Event()
        inner_stream = inner.stream

        async def slow(messages: Sequence[Message], options: GenerationOptions):  # type: ignore[no-untyped-def]
            await gate.wait()
            async for e in inner_stream(messages, options):
                yield e

        inner.stream = slow  # type: ignore[method-assign]
        first = asyncio.create_task(drain(run_turn(ctx, "first")))
        await until(lambda: fair.running == 1)  # the first turn holds the only slot
        second = await drain(run_turn(ctx, "second"))
        errors = [e for e in second if isinstance(e, ErrorEvent)]
        assert [e.message for e in errors] == [
            "I'm busy with other people right now; try again in 8 s."
        ]
        gate.set()
        await first
        stored = [(m.role, m.content, m.status) for m in ctx.store.messages()]
        assert ("user", "second", "complete") in stored  # nothing the user said is lost
        assert ("assistant", "Hello.", "complete") in stored
    finally:
        runtime.close()
