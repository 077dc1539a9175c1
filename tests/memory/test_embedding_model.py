"""End to end with the real embedding model (all-MiniLM-L6-v2 int8 ONNX)."""

from __future__ import annotations

import numpy as np
import pytest

from os1.context import TurnContext
from os1.memory import LongTermMemory, MiniLMEmbedder
from os1.memory.embedder import DIM, model_files
from os1.testing import ScriptedBackend
from tests.memory.test_memory import chat, new_session

pytestmark = pytest.mark.model


def test_files_are_verified_and_vectors_normalised() -> None:
    model, tokenizer = model_files()
    assert model.name == "model.onnx" and tokenizer.name == "tokenizer.json"
    vectors = MiniLMEmbedder().embed(["My sister is called Anna.", "Anna is my sister.", "Tax"])
    assert vectors.shape == (3, DIM)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert vectors[0] @ vectors[1] > 0.8 > vectors[0] @ vectors[2] + 0.5


async def test_recall_by_meaning_through_a_conversation(
    ctx: TurnContext, backend: ScriptedBackend
) -> None:
    memory = LongTermMemory(ctx.store, MiniLMEmbedder(), backend, model_extraction="off")
    ctx.memory = memory
    await chat(ctx, backend, "We finally adopted a puppy from the shelter!")
    await chat(ctx, backend, "The quarterly tax report is due soon.")
    new_session(ctx)
    # No word in common with the puppy turn: only the dense vectors can find it.
    await chat(ctx, backend, "How is my new dog settling in?")
    notes = backend.calls[-1].messages[-2].content
    assert "puppy" in notes
    hits = memory.recall("a young canine we took home", k=5, neighbours=False)
    assert any("puppy" in h.memory.text for h in hits[:2])
