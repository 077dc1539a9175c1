"""Structured generation that small models can survive.

`generate_json` asks the backend for output constrained by a JSON schema (a grammar, for the
embedded model), validates it with pydantic, and retries once. Backends without schema support
get the schema in words and their text is searched for the first JSON object. Callers always
hold a deterministic fallback for when this raises `ModelOutputError`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from os1.backends.base import Backend, GenerationOptions, collect_text
from os1.errors import ModelOutputError
from os1.messages import Message

T = TypeVar("T", bound=BaseModel)


def first_json_object(text: str) -> object:
    """The first decodable JSON object in `text` (models wrap JSON in prose and fences)."""
    decoder = json.JSONDecoder(strict=False)
    for start, ch in enumerate(text):
        if ch == "{":
            try:
                value, _ = decoder.raw_decode(text, start)
            except json.JSONDecodeError:
                continue
            return value
    raise ModelOutputError("no JSON object in the model's output")


async def generate_json(
    backend: Backend,
    messages: Sequence[Message],
    model: type[T],
    options: GenerationOptions | None = None,
    attempts: int = 2,
) -> T:
    schema = model.model_json_schema()
    options = replace(options or GenerationOptions(temperature=0.2), json_schema=schema)
    last_error = "no attempt made"
    for _ in range(attempts):
        msgs = list(messages)
        opts = options
        if not backend.supports_schema:
            opts = replace(options, json_schema=None)
            msgs.append(
                Message(
                    "user",
                    "Answer with only one JSON object that matches this JSON schema, "
                    f"and nothing else:\n{json.dumps(schema)}",
                )
            )
        try:
            text = await collect_text(backend, msgs, opts)
            return model.model_validate(first_json_object(text))
        except (ModelOutputError, ValidationError) as e:
            last_error = str(e).splitlines()[0]
    raise ModelOutputError(f"the model gave no valid {model.__name__}: {last_error}")
