"""Store calls off the event loop: `await off_loop(store.add_message, ...)`.

A commit waits for the disk (SQLite's fsync under synchronous=FULL, PostgreSQL's WAL flush):
run on the event loop it stalls every other connection of the process, and no two commits can
overlap. `off_loop` runs the call on the loop's default executor (the server sizes that pool
at startup), so commits of different users overlap and PostgreSQL can group them.

A write that has started is seen through: cancelling the caller while the call runs on its
thread waits for the call, returns its result, and re-delivers the cancellation at the caller's
next await. So a caller always learns the id of what it wrote (the conversation acknowledges a
stored message even when the turn is interrupted right then) and never races its own write.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


async def off_loop(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` on a worker thread; cancellation waits for it (see above)."""
    loop = asyncio.get_running_loop()
    done = loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))
    cancelled = False
    while True:
        try:
            await asyncio.wait((done,))  # waiting is cancelled, never the call itself
            break
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        task = asyncio.current_task()
        if task is not None:  # one request, delivered at the caller's next await
            task.uncancel()
            task.cancel()
    return done.result()


__all__ = ["off_loop"]
