"""Forgetting is exact: plant canaries, forget them, purge, then scan every byte on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from os1.context import TurnContext
from os1.errors import InputError, NotFound
from os1.memory import LongTermMemory, MemoryControl
from os1.memory.fakes import HashEmbedder
from os1.testing import ScriptedBackend
from tests.memory.test_memory import chat, new_session

CANARIES = ("qxcanary7741", "Zorblefinch")


def raw_hits(home: Path, needle: str) -> list[str]:
    found = []
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes().lower()
            if needle.lower().encode() in data:
                found.append(str(path))
    return found


async def plant(ctx: TurnContext, backend: ScriptedBackend) -> None:
    await chat(
        ctx,
        backend,
        "My cousin is called Zorblefinch and I love qxcanary7741 tea.",
        "Zorblefinch and qxcanary7741 tea, noted.",
    )
    await chat(ctx, backend, "I went to the library yesterday.")
    new_session(ctx)  # the first session is summarised: a derived copy of the canaries
    await chat(ctx, backend, "I moved to Porto.")


async def test_forget_about_leaves_no_byte_on_disk(
    home: Path, ctx: TurnContext, backend: ScriptedBackend, memory: LongTermMemory
) -> None:
    await plant(ctx, backend)
    assert any(
        r.kind == "summary" and "Zorblefinch" in r.text
        for r in memory.memories.listing(["summary"])
    )
    control = MemoryControl(ctx.store, HashEmbedder())
    assert control.forget_about("zorblefinch") >= 4  # turns, facts, summary
    for canary in CANARIES:
        assert raw_hits(home, canary) == []
    # What was unrelated is still remembered, and recall never returns the forgotten.
    assert "Alice lives in Porto." in [r.text for r in control.list("fact")]
    assert not any("qxcanary" in h.memory.text for h in memory.recall("tea cousin", k=50))
    assert not any("qxcanary" in m.content for m in ctx.store.messages())


async def test_forget_by_id_takes_the_source_and_everything_derived(
    home: Path, ctx: TurnContext, backend: ScriptedBackend, memory: LongTermMemory
) -> None:
    await plant(ctx, backend)
    control = MemoryControl(ctx.store, HashEmbedder())
    (fact,) = [r for r in control.list("fact") if "Zorblefinch" in r.text]
    control.forget(fact.id)
    # The user's message is gone, so the other fact from it is too; the echo in the reply
    # is a different message: forget --about catches that one.
    assert not any("qxcanary7741 tea" in r.text for r in control.list("fact"))
    with pytest.raises(NotFound):
        control.show(fact.id)
    control.forget_about("qxcanary7741")
    assert raw_hits(home, "qxcanary7741") == []


async def test_export_has_provenance_and_erase_removes_everything(
    home: Path, ctx: TurnContext, backend: ScriptedBackend, memory: LongTermMemory
) -> None:
    await plant(ctx, backend)
    control = MemoryControl(ctx.store, HashEmbedder())
    rows = [json.loads(line) for line in control.export()]
    messages = [r for r in rows if r["type"] == "message"]
    facts = [r for r in rows if r["type"] == "memory" and r["kind"] == "fact"]
    assert messages and all(r["derived"] is False for r in messages)
    assert facts and all(r["derived"] is True and r["sources"] for r in facts)
    ids = {m["id"] for m in messages}
    assert all(set(f["sources"]) <= ids for f in facts)
    control.erase_everything()
    assert list(control.export()) == []
    for canary in CANARIES:
        assert raw_hits(home, canary) == []


def test_bad_requests_are_one_sentence(ctx: TurnContext) -> None:
    control = MemoryControl(ctx.store, HashEmbedder())
    with pytest.raises(NotFound):
        control.forget(999)
    with pytest.raises(InputError):
        control.forget_about("  a ")
    with pytest.raises(InputError):
        control.search("   ")
