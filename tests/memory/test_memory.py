"""Pipeline tests: turns go through run_turn with memory attached; what comes out is checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from os1.context import TurnContext
from os1.conversation import run_turn
from os1.memory import LongTermMemory, MemoryControl
from os1.memory.fakes import HashEmbedder
from os1.runtime import Runtime
from os1.testing import ScriptedBackend
from tests.conftest import make_context
from tests.helpers import drain


async def chat(
    ctx: TurnContext, backend: ScriptedBackend, text: str, reply: str = "I see."
) -> None:
    backend.script.append(reply)
    await drain(run_turn(ctx, text))


def new_session(ctx: TurnContext) -> None:
    ctx.session_id = ctx.store.start_session()


async def test_turns_and_facts_are_stored_with_provenance(
    ctx: TurnContext, backend: ScriptedBackend, memory: LongTermMemory
) -> None:
    await chat(ctx, backend, "My sister is called Maria and I live in Lisbon.")
    user_msg = ctx.store.messages()[-2]
    records = memory.memories.listing()
    turns = [r for r in records if r.kind == "turn"]
    facts = {r.text: r for r in records if r.kind == "fact"}
    assert [t.text for t in turns] == [
        "Alice: My sister is called Maria and I live in Lisbon.",
        "Samantha: I see.",
    ]
    assert facts["Alice's sister is called Maria."].sources == (user_msg.id,)
    assert facts["Alice lives in Lisbon."].sources == (user_msg.id,)


async def test_correction_supersedes_but_keeps_history(
    ctx: TurnContext, backend: ScriptedBackend, memory: LongTermMemory
) -> None:
    await chat(ctx, backend, "My sister is called Maria.")
    await chat(ctx, backend, "Actually my sister is called Anna.")
    current = [r.text for r in memory.memories.listing(["fact"])]
    assert "Alice's sister is called Anna." in current
    assert "Alice's sister is called Maria." not in current
    (old,) = [r for r in memory.memories.listing(["fact"], current_only=False) if "Maria" in r.text]
    assert old.superseded_by is not None
    view = MemoryControl(ctx.store, HashEmbedder()).show(old.superseded_by)
    assert [r.text for r in view.history] == [
        "Alice's sister is called Maria.",
        "Alice's sister is called Anna.",
    ]
    # Recall never offers the corrected fact as current.
    hits = memory.recall("what is my sister called", k=20)
    assert all("Maria." not in h.memory.text or h.memory.kind == "turn" for h in hits)


async def test_notes_reach_the_prompt_dated_and_recall_earlier_sessions(
    ctx: TurnContext, backend: ScriptedBackend, memory: LongTermMemory
) -> None:
    await chat(ctx, backend, "I adopted a greyhound called Biscuit at the shelter.")
    new_session(ctx)
    await chat(ctx, backend, "What was the name of the dog I adopted?")
    prompt = backend.calls[-1].messages
    notes = prompt[-2]
    assert notes.role == "system" and "Biscuit" in notes.content
    assert datetime.now(UTC).date().isoformat() in notes.content
    # The first session got a summary when the second began.
    assert any(r.kind == "summary" for r in memory.memories.listing(["summary"]))


async def test_what_do_you_know_about_me_answers_from_memory_with_sources(
    ctx: TurnContext, backend: ScriptedBackend, memory: LongTermMemory
) -> None:
    await chat(ctx, backend, "I work as a nurse and I love jazz.")
    source = ctx.store.messages()[-2].id
    await chat(ctx, backend, "What do you know about me?")
    notes = backend.calls[-1].messages[-2].content
    assert "Alice works as a nurse." in notes and "Alice loves jazz." in notes
    assert f"#{source}" in notes


async def test_time_aware_recall(ctx: TurnContext, memory: LongTermMemory) -> None:
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)  # a Tuesday
    for days_ago, text in [(7, "I baked bread with grandma"), (1, "I baked a cake for Jo")]:
        when = (now - timedelta(days=days_ago)).isoformat()
        sid = ctx.store.start_session(started_at=when)
        m = ctx.store.add_message(sid, "user", text, created_at=when)
        await memory.observe([m])
    hits = memory.recall("what did I bake last Tuesday?", now, k=1, neighbours=False)
    assert "grandma" in hits[0].memory.text
    hits = memory.recall("what did I bake yesterday?", now, k=1, neighbours=False)
    assert "cake" in hits[0].memory.text


async def test_model_extraction_adds_facts_rules_miss(
    ctx: TurnContext, backend: ScriptedBackend
) -> None:
    memory = LongTermMemory(ctx.store, HashEmbedder(), backend, model_extraction="inline")
    ctx.memory = memory
    backend.script += [
        "How lovely.",
        {"facts": [{"fact": "Alice's cat Miso is three.", "topic": "cat age"}]},
    ]
    await drain(run_turn(ctx, "Miso turned three today, can you believe it"))
    facts = [r for r in memory.memories.listing(["fact"])]
    assert any(f.text == "Alice's cat Miso is three." and f.origin == "model" for f in facts)


async def test_bad_model_output_falls_back_to_rules(
    ctx: TurnContext, backend: ScriptedBackend
) -> None:
    memory = LongTermMemory(ctx.store, HashEmbedder(), backend, model_extraction="inline")
    ctx.memory = memory
    backend.script += ["Lovely.", "sorry, no json here"]
    await drain(run_turn(ctx, "My brother is called Tom and he visits often"))
    assert [r.text for r in memory.memories.listing(["fact"])] == ["Alice's brother is called Tom."]


async def test_deferred_extraction_runs_in_the_background(
    ctx: TurnContext, backend: ScriptedBackend
) -> None:
    memory = LongTermMemory(ctx.store, HashEmbedder(), backend, model_extraction="deferred")
    ctx.memory = memory
    try:
        backend.script += ["Lovely.", {"facts": [{"fact": "Alice plays the cello."}]}]
        await drain(run_turn(ctx, "Cello practice went well this morning"))
        await memory.settle()
        assert any(r.text == "Alice plays the cello." for r in memory.memories.listing(["fact"]))
    finally:
        memory.close()


async def test_user_isolation(runtime: Runtime, backend: ScriptedBackend) -> None:
    a, b = make_context(runtime, "alice"), make_context(runtime, "bob")
    mem_a = LongTermMemory(a.store, HashEmbedder(), backend, model_extraction="off")
    mem_b = LongTermMemory(b.store, HashEmbedder(), backend, model_extraction="off")
    a.memory, b.memory = mem_a, mem_b
    await chat(a, backend, "My secret word is zanzibar-quokka and my sister is called Ida.")
    await chat(b, backend, "Tell me about zanzibar-quokka and Ida.")
    bob_notes = backend.calls[-1].messages[-2].content
    assert "zanzibar" not in bob_notes.replace("Tell me about zanzibar-quokka", "")
    assert all(
        "quokka" not in h.memory.text or h.memory.text.startswith("Bob")
        for h in mem_b.recall("zanzibar quokka Ida sister", k=50)
    )
    assert not any("Alice" in h.memory.text for h in mem_b.recall("sister Ida", k=50))
    assert MemoryControl(b.store, HashEmbedder()).forget_about("Ida") >= 1
    assert any("Ida" in h.memory.text for h in mem_a.recall("sister Ida", k=5))


async def test_memories_survive_a_restart(config, backend: ScriptedBackend) -> None:  # type: ignore[no-untyped-def]
    rt = Runtime(config, backend=backend, memory_factory=None)
    ctx = make_context(rt)
    ctx.memory = LongTermMemory(ctx.store, HashEmbedder(), backend, model_extraction="off")
    await chat(ctx, backend, "My best friend Kofi lives in Accra.")
    rt.close()
    rt = Runtime(config, backend=backend, memory_factory=None)
    try:
        ctx = make_context(rt)
        memory = LongTermMemory(ctx.store, HashEmbedder(), None)
        assert "Alice's best friend is called Kofi." in [
            r.text for r in memory.memories.listing(["fact"])
        ]
        assert "Kofi" in memory.recall("friend Kofi", k=1)[0].memory.text
    finally:
        rt.close()


async def test_notes_chosen_ahead_are_kept_and_only_appended_to(
    ctx: TurnContext, backend: ScriptedBackend, memory: LongTermMemory
) -> None:
    await chat(ctx, backend, "I adopted a greyhound called Biscuit at the shelter.")
    for topic in ["trains", "tea", "maps", "chess", "rain", "jazz", "knitting", "stars"]:
        new_session(ctx)
        await chat(ctx, backend, f"Today I read about {topic} for an hour.")
    await chat(ctx, backend, "My sister is called Anna and she plays the cello.")
    new_session(ctx)
    await chat(ctx, backend, "Good morning!")
    now = datetime.now(UTC)
    ahead = await memory.notes_ahead("the dog I adopted from the shelter", now)
    assert "Biscuit" in ahead and "Alice's sister is called Anna." in ahead  # recall + profile
    assert await memory.notes_for("does Anna still play the cello?", now, keep=ahead) == ahead
    more = await memory.notes_for("does Anna still play the cello?", now, keep=ahead, more=2)
    added = more[len(ahead) :].strip().splitlines()
    assert more.startswith(ahead) and 1 <= len(added) <= 2  # a prompt cache holding it holds
    assert all(line not in ahead.splitlines() for line in added)
    assert "works as" not in await memory.notes_for("what do you know about me?", now, keep=ahead)
    profile = await memory.notes_for("What do you know about me?", now, keep=ahead)
    assert profile != ahead and "#" in profile  # the whole profile, with its sources


async def test_notes_stay_where_they_were_shown_and_a_turn_adds_only_new_lines(
    ctx: TurnContext, backend: ScriptedBackend, memory: LongTermMemory
) -> None:
    """Each turn's notes stay before its message, so the next prompt extends the last one
    (a model's prompt cache holds all but the new lines); a forgotten memory leaves them."""
    await chat(ctx, backend, "I adopted a greyhound called Biscuit at the shelter.")
    new_session(ctx)
    await chat(ctx, backend, "My sister is called Anna and she plays the cello.")
    await chat(ctx, backend, "Biscuit and Anna went to the beach with me.")
    second, third = backend.calls[-2].messages, backend.calls[-1].messages
    shown = second[-2].content
    assert second[-2].role == "system" and "Biscuit" in shown
    assert third[: len(second)] == second  # the whole earlier prompt, notes in place
    new = third[-2].content if third[-2].role == "system" else ""
    assert "Anna" in new  # what the second message taught, and only what is new
    lines = [line for line in shown.splitlines() if line.startswith("- ")]
    assert lines and not any(line in new.splitlines() for line in lines)

    MemoryControl(ctx.store, HashEmbedder()).forget_about("greyhound")
    await chat(ctx, backend, "What a day.")
    after = backend.calls[-1].messages
    assert all("greyhound" not in m.content for m in after)
    assert second[-1] in after  # the second message stays, its notes emptied of the dog
