"""Rendering the event stream in a terminal: the one place events become text on screen."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

from os1.events import ErrorEvent, Event, IdentityChanged, TextDelta, TurnEnded, TurnStarted


class TerminalRenderer:
    def __init__(self, os_name: str | None) -> None:
        self.os_name = os_name

    async def render(self, events: AsyncIterator[Event]) -> None:
        out = sys.stdout
        async for event in events:
            if isinstance(event, TurnStarted):
                out.write(f"\n{self.os_name or 'os1'} › ")
            elif isinstance(event, TextDelta):
                out.write(event.text)
                out.flush()
            elif isinstance(event, TurnEnded):
                out.write("\n\n")
                out.flush()
            elif isinstance(event, IdentityChanged):
                if event.os_name:
                    self.os_name = event.os_name
            elif isinstance(event, ErrorEvent):
                print(f"os1: {event.message}", file=sys.stderr, flush=True)
