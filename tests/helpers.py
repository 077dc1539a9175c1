"""Small helpers for tests: drain an event stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

from os1.events import Event, TextDelta


async def drain(events: AsyncIterator[Event]) -> list[Event]:
    return [e async for e in events]


def text_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))
