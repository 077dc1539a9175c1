"""A one-at-a-time background runner for model-based extraction.

The CLI's event loop sleeps while the user types, so work scheduled on it would run only during
the next turn — the worst moment. Jobs therefore run on a private thread with its own event
loop. The model is one shared resource: `pause()` (called when a turn starts) cancels the job
in flight — the embedded backend stops at the next token — and holds the queue; `resume()`
(called after the turn is observed) lets it go on. A cancelled job goes back to the front of
the queue, at most twice, then is dropped (the deterministic facts were stored already).
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
        self._paused = False
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()

    def submit(self, job: Job) -> None:
        with self._lock:
            self._queue.append(_Entry(job))
            self._idle.clear()
        self._kick()

    def pause(self) -> None:
        with self._lock:
            self._paused = True
            current = self._current
        if current is not None:
            current[1].cancel()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
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

    async def drain(self, timeout: float = 600.0) -> None:
        """Wait until every queued job has run (for tests, benchmarks and shutdown)."""
        self.resume()
        await asyncio.to_thread(self._idle.wait, timeout)

    def close(self) -> None:
        self.pause()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._loop.is_running():
            self._loop.close()


async def _run(job: Job) -> None:
    await job()


__all__ = ["Deferred", "Job"]
