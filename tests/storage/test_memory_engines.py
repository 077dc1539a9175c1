"""Long-term memory on both engines: turns and facts are remembered, recalled into the prompt,
searched, exported and forgotten — on SQLite files and on PostgreSQL with row-level security,
where user B sees none of user A's memories."""

from __future__ import annotations

import json

from os1.config import Config
from os1.conversation import run_turn
from os1.memory import LongTermMemory, MemoryControl
from os1.memory.fakes import HashEmbedder
from os1.runtime import Runtime
from os1.testing import ScriptedBackend
from tests.conftest import make_context
from tests.helpers import drain


async def test_memory_round_trip(engine_config: Config) -> None:
    backend = ScriptedBackend(script=["Lisbon sounds lovely.", "Maria, your sister.", "Hi."])
    runtime = Runtime(engine_config, backend=backend, memory_factory=None)
    try:
        ctx = make_context(runtime, "alice")
        memory = LongTermMemory(ctx.store, HashEmbedder(), backend, model_extraction="off")
        ctx.memory = memory
        await drain(run_turn(ctx, "My sister is called Maria and I live in Lisbon."))
        await drain(run_turn(ctx, "Who is my sister?"))
        notes_prompt = backend.calls[-1].messages[-2].content
        assert "Maria" in notes_prompt

        control = MemoryControl(ctx.store, HashEmbedder())
        hits = control.search("sister Maria")
        assert hits and any("Maria" in h.memory.text for h in hits)
        exported = [json.loads(line) for line in control.export()]
        assert any(row.get("derived") for row in exported)
        assert control.forget_about("Maria") > 0
        assert not any("Maria" in h.memory.text for h in control.search("sister Maria"))

        bob = make_context(runtime, "bob")
        bob_memory = LongTermMemory(bob.store, HashEmbedder(), backend, model_extraction="off")
        bob.memory = bob_memory
        await drain(run_turn(bob, "I live in Lisbon too."))
        bob_texts = [r.text for r in bob_memory.memories.listing()]
        assert bob_texts and all("Alice" not in t for t in bob_texts)
        memory.close()
        bob_memory.close()
    finally:
        runtime.close()
