"""Memory fixtures: a LongTermMemory on the test user's store with the hashing embedder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from os1.context import TurnContext
from os1.memory import LongTermMemory
from os1.memory.fakes import HashEmbedder
from os1.testing import ScriptedBackend


@pytest.fixture
def memory(ctx: TurnContext, backend: ScriptedBackend) -> Iterator[LongTermMemory]:
    mem = LongTermMemory(ctx.store, HashEmbedder(), backend, model_extraction="off")
    ctx.memory = mem
    yield mem
    mem.close()
