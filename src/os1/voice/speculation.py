"""Speculative generation: the reply to a guessed transcript, begun before the turn is certain
and handed to the turn only if the turn asks the model for exactly that generation.

At a pause the session guesses what was said. A guess that sounds like a finished statement
still waits out a slightly longer silence before the endpoint (it may be a comma pause), but
the model need not wait: `Speculation(backend, messages, options)` starts generating what
run_turn would ask for that text. When the endpoint comes, run_turn runs against
`SpeculatingBackend(inner, speculation)`, whose first `stream(messages, options)` replays what
was generated and goes on live if it is identical to the speculative request, and otherwise
cancels the speculation and streams from the model as usual. `events()` lets others read
along without stopping it (the session voices the first piece ahead from it).

Invariants: the reply is always the model's own reply to the final prompt (nothing is
invented, and a different final text or history simply misses); nothing is stored or heard
ahead of the turn (run_turn stores as usual, and only what it yields is played); a
speculation that is not taken is cancelled, which stops the model within one token.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing

from os1.backends.base import Backend, GenerationOptions
from os1.events import BackendEvent
from os1.messages import Message


class Speculation:
    """One generation running ahead of its turn; its events are kept for the turn to replay."""

    def __init__(
        self, backend: Backend, messages: Sequence[Message], options: GenerationOptions
    ) -> None:
        self.messages = list(messages)
        self.options = options
        self._events: list[BackendEvent] = []
        self._changed = asyncio.Event()
        self._finished = False
        self._cancelled = False
        self._error: Exception | None = None
        self._task = asyncio.get_running_loop().create_task(self._run(backend))

    async def _run(self, backend: Backend) -> None:
        try:
            async with aclosing(backend.stream(self.messages, self.options)) as events:
                async for event in events:
                    self._events.append(event)
                    self._changed.set()
        except Exception as e:  # the turn that takes it over re-raises it as its own
            self._error = e
        finally:
            self._finished = True
            self._changed.set()

    @property
    def produced(self) -> int:
        """Events generated so far (for tests and diagnostics)."""
        return len(self._events)

    def matches(self, messages: Sequence[Message], options: GenerationOptions) -> bool:
        return not self._cancelled and list(messages) == self.messages and options == self.options

    def cancel(self) -> None:
        self._cancelled = True
        self._task.cancel()

    async def wait_cancelled(self) -> None:
        """Until the generation has stopped (after cancel())."""
        await asyncio.gather(self._task, return_exceptions=True)

    async def events(self) -> AsyncGenerator[BackendEvent, None]:
        """What was generated so far, then the rest as it comes (reading it stops nothing)."""
        i = 0
        while True:
            while i < len(self._events):
                yield self._events[i]
                i += 1
            if self._finished:
                if self._error is not None:
                    raise self._error
                return
            self._changed.clear()
            await self._changed.wait()

    async def replay(self) -> AsyncGenerator[BackendEvent, None]:
        """The turn's view: all its events; closing it (barge-in) stops the model."""
        try:
            async with aclosing(self.events()) as events:
                async for event in events:
                    yield event
        finally:
            self.cancel()  # a no-op once it has finished


class SpeculatingBackend:
    """`inner` for one turn, except that a first request identical to the speculation's is
    served from it."""

    def __init__(self, inner: Backend, speculation: Speculation) -> None:
        self.inner = inner
        self.name = inner.name
        self.context_window = inner.context_window
        self.supports_schema = inner.supports_schema
        self._speculation: Speculation | None = speculation

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def stream(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncGenerator[BackendEvent, None]:
        speculation, self._speculation = self._speculation, None
        if speculation is not None and speculation.matches(messages, options):
            return speculation.replay()
        if speculation is not None:
            speculation.cancel()
        return self.inner.stream(messages, options)


__all__ = ["SpeculatingBackend", "Speculation"]
