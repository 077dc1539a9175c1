"""Many people, one model: a bounded queue that is fair across users, as a Backend wrapper.

`FairBackend(inner, slots=1)` lets `slots` generations run at once (1 for the in-process
llama.cpp engine, which serialises anyway; N for the batched engine or a server with N
slots). Everyone else waits in a queue that is fair across *users*, not requests: when a slot
frees it goes to the waiting user who was served least recently (a user never served goes
first), so one person sending ten requests cannot starve another who sends one — round-robin
between users.

Identity arrives without a global: `fair.for_user(user_id)` returns a per-user view, itself a
`Backend`, which the runtime puts in that user's TurnContext (os1.runtime.Runtime.context).
`fair.stream(...)` directly queues as an anonymous user.

The queue is bounded and never hangs: a user may have at most `per_user` requests running or
waiting, at most `total` requests wait overall, and nobody waits longer than `max_wait` seconds.
Past any of these the request fails at once with `Busy`, a UserError that says "I'm busy with
other people right now; try again in N s." with N estimated from the queue ahead and the
recent average generation time. A waiter that is cancelled (a vanished client) leaves the
queue; a consumer that stops iterating frees its slot at once.

All of this runs on one asyncio event loop (the server's); it is not thread-safe.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field

from os1.backends.base import Backend, GenerationOptions
from os1.errors import BackendUnavailable
from os1.events import BackendEvent
from os1.messages import Message

ANONYMOUS = ""


class Busy(BackendUnavailable):
    """The shared model is at capacity; `retry_after` is the estimated wait in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"I'm busy with other people right now; try again in {retry_after} s.")
        self.retry_after = retry_after


@dataclass
class _Waiter:
    user_id: str
    seq: int
    future: asyncio.Future[None]


@dataclass
class _Lane:
    """One user's share: requests running now, and those waiting in arrival order."""

    running: int = 0
    waiting: deque[_Waiter] = field(default_factory=deque)
    last_served: int = -1  # the grant number of this user's latest grant; -1 = never


class FairBackend:
    def __init__(
        self,
        inner: Backend,
        *,
        slots: int = 1,
        per_user: int = 4,
        total: int = 64,
        max_wait: float = 120.0,
        typical_seconds: float = 8.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if slots < 1 or per_user < 1 or total < 0:
            raise ValueError("slots and per_user must be at least 1, total at least 0")
        self.inner = inner
        self.name = inner.name
        self.context_window = inner.context_window
        self.supports_schema = inner.supports_schema
        self.slots, self.per_user, self.total, self.max_wait = slots, per_user, total, max_wait
        self.average_seconds = typical_seconds  # an EWMA of recent generation times
        self._clock = clock
        self._lanes: dict[str, _Lane] = {}
        self._running = 0
        self._waiting = 0
        self._grants = itertools.count()
        self._arrivals = itertools.count()
        self.last_user: str | None = None  # whose generation was granted last

    # --- the Backend surface ------------------------------------------------------------------

    def for_user(self, user_id: str) -> Backend:
        """A Backend whose generations queue as `user_id`'s."""
        return _UserView(self, user_id)

    def stream(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncGenerator[BackendEvent, None]:
        return self.stream_as(ANONYMOUS, messages, options)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

    async def stream_as(
        self, user_id: str, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncGenerator[BackendEvent, None]:
        await self._acquire(user_id)
        started = self._clock()
        try:
            async with aclosing(self.inner.stream(messages, options)) as events:
                async for event in events:
                    yield event
        finally:
            self._release(user_id, self._clock() - started)

    # --- the queue ----------------------------------------------------------------------------

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return self._waiting

    def only(self, user_id: str) -> bool:
        """The latest generation was `user_id`'s (or none has run) and no one else's is running
        or waiting: the prompt the model keeps is theirs, and evaluating one ahead for them
        would take it from nobody (os1.typing_ahead)."""
        return self.last_user in (None, user_id) and all(u == user_id for u in self._lanes)

    def retry_after(self) -> int:
        """Whole seconds until a new request would likely start: the queue ahead, drained
        `slots` at a time, at the recent average generation time."""
        rounds = (self._waiting + self._running) / self.slots
        return max(1, math.ceil(rounds * self.average_seconds))

    async def _acquire(self, user_id: str) -> None:
        lane = self._lanes.setdefault(user_id, _Lane())
        if lane.running + len(lane.waiting) >= self.per_user:
            raise Busy(self.retry_after())
        if self._running < self.slots and self._waiting == 0:
            self._grant(user_id, lane)
            return
        if self._waiting >= self.total:
            raise Busy(self.retry_after())
        waiter = _Waiter(user_id, next(self._arrivals), asyncio.get_running_loop().create_future())
        lane.waiting.append(waiter)
        self._waiting += 1
        try:
            await asyncio.wait_for(asyncio.shield(waiter.future), self.max_wait)
        except (TimeoutError, asyncio.CancelledError) as e:
            if waiter.future.done() and not waiter.future.cancelled():
                self._release(user_id, None)  # granted in the same instant: give it back
            else:
                waiter.future.cancel()
                lane.waiting.remove(waiter)
                self._waiting -= 1
                self._forget(user_id)
            if isinstance(e, TimeoutError):
                raise Busy(self.retry_after()) from None
            raise

    def _grant(self, user_id: str, lane: _Lane) -> None:
        self.last_user = user_id
        lane.running += 1
        lane.last_served = next(self._grants)
        self._running += 1

    def _release(self, user_id: str, seconds: float | None) -> None:
        lane = self._lanes[user_id]
        lane.running -= 1
        self._running -= 1
        if seconds is not None:
            self.average_seconds = 0.8 * self.average_seconds + 0.2 * seconds
        self._forget(user_id)
        self._dispatch()

    def _dispatch(self) -> None:
        """Give free slots to the waiting users served least recently (ties: who came first)."""
        while self._running < self.slots and self._waiting:
            user_id, lane = min(
                ((u, lane) for u, lane in self._lanes.items() if lane.waiting),
                key=lambda item: (item[1].last_served, item[1].waiting[0].seq),
            )
            waiter = lane.waiting.popleft()
            self._waiting -= 1
            self._grant(user_id, lane)
            waiter.future.set_result(None)

    def _forget(self, user_id: str) -> None:
        """Drop an idle lane (its fairness history too: an idle user counts as never served)."""
        lane = self._lanes.get(user_id)
        if lane is not None and lane.running == 0 and not lane.waiting:
            del self._lanes[user_id]


class _UserView:
    """`FairBackend` as seen by one user: a Backend whose requests queue under their id."""

    def __init__(self, fair: FairBackend, user_id: str) -> None:
        self.fair = fair
        self.user_id = user_id
        self.name = fair.name
        self.context_window = fair.context_window
        self.supports_schema = fair.supports_schema

    def stream(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncGenerator[BackendEvent, None]:
        return self.fair.stream_as(self.user_id, messages, options)

    def count_tokens(self, text: str) -> int:
        return self.fair.count_tokens(text)


__all__ = ["Busy", "FairBackend"]
