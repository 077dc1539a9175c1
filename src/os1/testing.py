"""Public fakes for os1's seams, for tests of os1 and of code built on it.

`ScriptedBackend` plays a script of replies and records every call. It fails loudly: a call
past the end of the script raises AssertionError, and `assert_done()` fails if replies are
left over — so a test cannot pass by accident when the code under test calls the model more
(or fewer) times than the test author thought.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field

from os1.backends.base import GenerationOptions, estimate_tokens
from os1.events import BackendEvent, GenerationDone, TextDelta
from os1.messages import Message

ScriptItem = str | dict[str, object] | BaseException


@dataclass
class Call:
    messages: list[Message]
    options: GenerationOptions


@dataclass
class ScriptedBackend:
    """Replies in order: a str is streamed word by word, a dict is sent as JSON text, an
    exception is raised. `delay` seconds pass between chunks (for interruption tests)."""

    script: list[ScriptItem] = field(default_factory=list)
    delay: float = 0.0
    context_window: int = 4096
    supports_schema: bool = True
    name: str = "scripted"
    calls: list[Call] = field(default_factory=list)
    repeat_last: bool = False

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    async def stream(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncGenerator[BackendEvent, None]:
        self.calls.append(Call(list(messages), options))
        if not self.script:
            raise AssertionError(
                f"ScriptedBackend: unexpected call #{len(self.calls)}; the script is exhausted. "
                f"Last message: {messages[-1].content[:200]!r}"
            )
        item = self.script[0] if self.repeat_last and len(self.script) == 1 else self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        text = json.dumps(item) if isinstance(item, dict) else item
        chunks = [w + " " for w in text.split(" ")]
        chunks[-1] = chunks[-1][:-1]
        for chunk in chunks:
            if self.delay:
                await asyncio.sleep(self.delay)
            yield TextDelta(chunk)
        yield GenerationDone("stop", completion_tokens=len(chunks))

    def assert_done(self) -> None:
        if self.script and not self.repeat_last:
            raise AssertionError(f"ScriptedBackend: {len(self.script)} scripted replies unused")


__all__ = ["Call", "ScriptedBackend"]
