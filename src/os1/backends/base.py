"""The backend contract: stream a reply to a list of messages as typed events.

A backend is one class with one `stream` method (plus `count_tokens` for context budgeting).
Structured output is part of the contract: `GenerationOptions.json_schema` asks the backend to
constrain its output to that JSON schema. A backend that cannot (`supports_schema = False`)
still streams text; `os1.backends.structured.generate_json` then asks in words and parses
leniently. Backends raise `BackendUnavailable` (one sentence for the user) when they cannot
serve; they stop promptly when the consumer stops iterating.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Protocol

from os1.events import BackendEvent, TextDelta
from os1.messages import Message


@dataclass(frozen=True, slots=True)
class GenerationOptions:
    max_tokens: int = 400
    temperature: float = 0.7
    json_schema: Mapping[str, Any] | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    # Work the user is not waiting for (memory's extraction): an embedded model keeps the
    # conversation's evaluated prompt for the next turn instead of replacing it with this one.
    background: bool = False
    # The prompt's history was cut for the window (os1.prompting): an embedded model may shift
    # its cached cells past the cut instead of evaluating them again (os1.backends.shift). Only
    # then: a prompt that changed in the middle for another reason (a forgotten memory's note)
    # is evaluated again from the change, so nothing computed from the old text stays.
    cut_history: bool = False


class Backend(Protocol):
    name: str
    context_window: int
    supports_schema: bool

    def stream(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncGenerator[BackendEvent, None]:
        """Yield TextDelta events, then exactly one GenerationDone."""
        ...

    def count_tokens(self, text: str) -> int:
        """How many tokens `text` takes in this model's context (an estimate is fine)."""
        ...


async def collect_text(
    backend: Backend, messages: Sequence[Message], options: GenerationOptions
) -> str:
    """Run a generation to the end and return its text."""
    parts: list[str] = []
    async with aclosing(backend.stream(messages, options)) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                parts.append(event.text)
    return "".join(parts)


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate (~3.5 characters per token for English with BPE)."""
    return max(1, (len(text) * 2 + 6) // 7)
