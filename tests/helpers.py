"""Small helpers for tests: drain an event stream, wait for a condition, a model that
records its prefills."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from os1.events import Event, TextDelta
from os1.messages import Message
from os1.testing import ScriptedBackend


async def drain(events: AsyncIterator[Event]) -> list[Event]:
    return [e async for e in events]


def text_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for a condition that other threads help bring about: a turn's store calls and the
    speech engines run off the event loop, so a fixed number of loop iterations is not enough."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


@dataclass
class PrefillingBackend(ScriptedBackend):
    """A scripted embedded model that records its prefills (the prompt's last two messages)
    and whether each was relaxed when it began."""

    prefilled: list[tuple[str, str, bool | None]] = field(default_factory=list)

    async def prefill(
        self,
        messages: Sequence[Message],
        *,
        relaxed: Callable[[], bool] | None = None,
        cut_history: bool = False,
    ) -> None:
        notes = messages[-2].content if messages[-2].role == "system" else ""
        self.prefilled.append((notes, messages[-1].content, relaxed() if relaxed else None))
