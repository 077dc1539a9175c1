"""The embedded backend on the real tiny GGUF through llama-cpp-python."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from os1.backends.base import GenerationOptions, collect_text
from os1.backends.llamacpp import LlamaCppBackend
from os1.backends.structured import generate_json
from os1.errors import ModelFileError
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
