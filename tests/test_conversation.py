from __future__ import annotations

import asyncio
import contextlib
import sqlite3

from os1.context import TurnContext
from os1.conversation import run_turn
from os1.errors import BackendUnavailable
from os1.events import ErrorEvent, MessageStored, TextDelta, TurnEnded, TurnStarted
from os1.testing import ScriptedBackend
from tests.helpers import drain, text_of


async def test_turn_streams_and_stores_both_messages(ctx: TurnContext, backend: ScriptedBackend):
    backend.script = ["Hello Alice, how was your day?"]
    events = await drain(run_turn(ctx, "hi there"))
    kinds = [type(e) for e in events]
    assert kinds[0] is MessageStored and kinds[1] is TurnStarted and kinds[-1] is TurnEnded
    assert text_of(events) == "Hello Alice, how was your day?"
    stored = ctx.store.messages()
    assert [(m.role, m.content, m.status) for m in stored] == [
        ("user", "hi there", "complete"),
        ("assistant", "Hello Alice, how was your day?", "complete"),
    ]


async def test_user_message_is_committed_before_the_model_is_called(
    ctx: TurnContext, backend: ScriptedBackend
):
    seen: list[list[tuple[str, str]]] = []
    db_path = ctx.store.db.path  # type: ignore[attr-defined]

    class Spy(ScriptedBackend):
        def stream(self, messages, options):  # type: ignore[override]
            # read through a separate connection: only committed rows are visible there
            with sqlite3.connect(db_path) as other:
                seen.append(list(other.execute("SELECT role, content FROM messages")))
            return super().stream(messages, options)

    spy = Spy(script=["ok"])
    ctx.backend = spy
    await drain(run_turn(ctx, "remember this"))
    assert seen[0][0] == ("user", "remember this")


async def test_system_prompt_is_identical_across_turns(ctx: TurnContext, backend: ScriptedBackend):
    backend.script = ["one", "two"]
    await drain(run_turn(ctx, "first"))
    await drain(run_turn(ctx, "second"))
    first, second = backend.calls
    assert first.messages[0] == second.messages[0]
    assert first.messages[0].role == "system" and "Samantha" in first.messages[0].content
    # the second prompt extends the first: same prefix, then the new exchange
    assert second.messages[: len(first.messages)] == first.messages
    assert [m.content for m in second.messages[-3:]] == ["first", "one", "second"]


async def test_consumer_stopping_marks_reply_interrupted_with_partial_text(ctx: TurnContext):
    ctx.backend = ScriptedBackend(script=["a b c d e f g h i j"], delay=0.01)
    agen = run_turn(ctx, "tell me a story")
    got = []
    async for event in agen:
        if isinstance(event, TextDelta):
            got.append(event.text)
            if len(got) == 3:
                break
    await agen.aclose()
    reply = ctx.store.messages()[-1]
    assert reply.status == "interrupted"
    assert reply.content == "a b c"


async def test_stopping_at_the_acknowledgement_leaves_no_reply_streaming(ctx: TurnContext):
    # the reply's row is committed with the user's message; a consumer that stops right after
    # the acknowledgement (a barge-in, a closed socket) must not leave it `streaming`
    ctx.backend = ScriptedBackend(script=["never said"])
    agen = run_turn(ctx, "hold on")
    assert isinstance(await anext(agen), MessageStored)
    await agen.aclose()
    assert [(m.role, m.content, m.status) for m in ctx.store.messages()] == [
        ("user", "hold on", "complete"),
        ("assistant", "", "interrupted"),
    ]
    assert ctx.backend.calls == []


async def test_cancellation_marks_reply_interrupted(ctx: TurnContext):
    ctx.backend = ScriptedBackend(script=["x " * 200], delay=0.01)

    async def consume() -> None:
        async for _ in run_turn(ctx, "go on"):
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.1)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    reply = ctx.store.messages()[-1]
    assert reply.role == "assistant" and reply.status == "interrupted"
    assert 0 < len(reply.content) < 400
    assert ctx.store.messages()[0].content == "go on"


async def test_backend_failure_is_one_sentence_and_keeps_user_message(ctx: TurnContext):
    ctx.backend = ScriptedBackend(script=[BackendUnavailable("The model server is unreachable.")])
    events = await drain(run_turn(ctx, "are you there?"))
    assert any(isinstance(e, MessageStored) for e in events)
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert [e.message for e in errors] == ["The model server is unreachable."]
    assert [m.status for m in ctx.store.messages()] == ["complete", "failed"]


async def test_bad_input_is_refused_without_storing(ctx: TurnContext):
    for bad in ["", "   ", "\x00\x01\x02\x03", "x" * 1_048_576]:
        events = await drain(run_turn(ctx, bad))
        assert len(events) == 1 and isinstance(events[0], ErrorEvent), bad[:10]
        assert events[0].message.endswith(".")
    assert ctx.store.messages() == []


async def test_long_history_never_overflows_the_window(ctx: TurnContext):
    small = ScriptedBackend(script=["fine, thanks " * 20], context_window=1024, repeat_last=True)
    ctx.backend = small
    for i in range(60):
        await drain(run_turn(ctx, f"message number {i} " + "blah " * 30))
    for call in small.calls:
        used = sum(small.count_tokens(m.content) + 6 for m in call.messages)
        assert used + ctx.config.max_reply_tokens <= small.context_window
    last = small.calls[-1].messages
    assert last[-1].content.startswith("message number 59")
    assert any(m.content.startswith("Earlier,") for m in last)
    # the backend learns which prompts had their history cut (it may shift its cache for them)
    assert not small.calls[0].options.cut_history and small.calls[-1].options.cut_history


async def test_memory_notes_are_placed_after_history(ctx: TurnContext, backend: ScriptedBackend):
    class Notes:
        def __init__(self) -> None:
            self.observed: list[int] = []

        async def notes_for(self, query, now):
            return "- 2026-05-01: Alice's sister is Anna"

        async def observe(self, messages):
            self.observed.extend(m.id for m in messages)

        def shown(self):
            return {}

        def show(self, message_id, notes):
            pass

    memory = Notes()
    ctx.memory = memory
    backend.script = ["Anna!"]
    await drain(run_turn(ctx, "who is my sister?"))
    msgs = backend.calls[0].messages
    assert msgs[-2].role == "system" and "Anna" in msgs[-2].content
    assert msgs[-1].content == "who is my sister?"
    assert len(memory.observed) == 2


async def test_prewarm_evaluates_the_same_system_prompt(ctx: TurnContext, backend: ScriptedBackend):
    from os1.conversation import prewarm

    backend.script = ["x", "Hello!"]
    await prewarm(ctx)
    await drain(run_turn(ctx, "hi"))
    warm, real = backend.calls
    assert warm.messages[0] == real.messages[0] and warm.options.max_tokens == 1


async def test_a_second_context_does_not_interrupt_a_live_reply(runtime, ctx: TurnContext):
    ctx.backend = ScriptedBackend(script=["a b c d e f"], delay=0.01)
    agen = run_turn(ctx, "hello")
    async for event in agen:
        if isinstance(event, TextDelta):
            break
    other = runtime.context(runtime.user("alice"))  # e.g. a second browser tab
    assert other.store.messages()[-1].status == "streaming"
    async for _ in agen:
        pass
    assert ctx.store.messages()[-1].status == "complete"


async def test_memory_observes_the_users_words_even_when_the_reply_fails(ctx: TurnContext):
    observed: list[list[str]] = []

    class Recorder:
        async def notes_for(self, query, now):
            return ""

        async def observe(self, messages):
            observed.append([m.role for m in messages])

        def shown(self):
            return {}

        def show(self, message_id, notes):
            pass

    ctx.memory = Recorder()
    ctx.backend = ScriptedBackend(script=[BackendUnavailable("The model is busy.")])
    await drain(run_turn(ctx, "my sister is called Anna"))
    assert observed == [["user"]]
