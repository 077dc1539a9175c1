"""One background runner per process for model-based extraction.

The CLI's event loop sleeps while the user types, so work scheduled on it would run only during
the next turn — the worst moment. Jobs therefore run on a private thread with its own event
loop. There is one such thread per process (`shared()`), however many users a server holds:
jobs carry their owner (one user's LongTermMemory), and run one at a time.

The model is one shared resource. `pause(owner)` (called when that owner's turn starts) cancels
the job in flight — the embedded backend stops at the next token — and holds the queue while
any owner is paused; `resume(owner)` (called after the turn is observed) lifts that owner's
pause. A cancelled job goes back to the front of the queue, at most twice, then is dropped (the
deterministic facts were stored already). `discard(owner)` drops an owner's jobs when its
memory closes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Job = Callable[[], Awaitable[None]]


@dataclass
class _Entry:
    owner: object
    job: Job
    tries: int = 0


class Deferred:
    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="os1-memory", daemon=True
        )
        self._thread.start()
        self._queue: deque[_Entry] = deque()
        self._current: tuple[_Entry, concurrent.futures.Future[None]] | None = None
        self._paused: set[int] = set()
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()

    def submit(self, owner: object, job: Job) -> None:
        with self._lock:
            self._queue.append(_Entry(owner, job))
            self._idle.clear()
        self._kick()

    def pause(self, owner: object) -> None:
        with self._lock:
            self._paused.add(id(owner))
            current = self._current
        if current is not None:
            current[1].cancel()

    def resume(self, owner: object) -> None:
        with self._lock:
            self._paused.discard(id(owner))
        self._kick()

    def discard(self, owner: object) -> None:
        """Forget `owner`: its pause, its queued jobs, and its job in flight."""
        with self._lock:
            self._paused.discard(id(owner))
            self._queue = deque(e for e in self._queue if e.owner is not owner)
            current = self._current
        if current is not None and current[0].owner is owner:
            current[0].tries = 3  # not re-queued
            current[1].cancel()
        self._kick()

    def _kick(self) -> None:
        with self._lock:
            if self._paused or self._current is not None:
                return
            if not self._queue:
                self._idle.set()
                return
            entry = self._queue.popleft()
            entry.tries += 1
            future = asyncio.run_coroutine_threadsafe(_run(entry.job), self._loop)
            self._current = (entry, future)
        future.add_done_callback(lambda f: self._done(entry, f))

    def _done(self, entry: _Entry, future: concurrent.futures.Future[None]) -> None:
        with self._lock:
            self._current = None
            if future.cancelled() and entry.tries < 3:
                self._queue.appendleft(entry)
        self._kick()

    async def drain(self, owner: object, timeout: float = 600.0) -> None:
        """Wait until every queued job has run (for tests, benchmarks and shutdown)."""
        self.resume(owner)
        await asyncio.to_thread(self._idle.wait, timeout)


async def _run(job: Job) -> None:
    await job()


_shared: Deferred | None = None
_shared_lock = threading.Lock()


def shared() -> Deferred:
    """The process's one background runner, started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Deferred()
        return _shared


__all__ = ["Deferred", "Job", "shared"]
