"""Small helpers for tests: drain an event stream, wait for a condition."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from os1.events import Event, TextDelta


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
