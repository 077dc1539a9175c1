"""off_loop: store calls on a worker thread; a cancelled caller still learns what was written."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from os1.storage.offload import off_loop


async def test_runs_on_another_thread_and_returns_its_result():
    here = threading.get_ident()
    assert await off_loop(threading.get_ident) != here
    assert await off_loop(lambda a, *, b: a + b, 2, b=3) == 5


async def test_errors_propagate():
    def boom() -> None:
        raise ValueError("disk on fire")

    with pytest.raises(ValueError, match="disk on fire"):
        await off_loop(boom)


async def test_other_coroutines_run_while_a_call_blocks():
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(ticker())
    await off_loop(time.sleep, 0.2)  # a slow fsync, say
    task.cancel()
    assert ticks >= 10


async def test_cancellation_waits_for_the_write_and_is_delivered_after():
    written: list[str] = []
    got: list[str] = []
    started = threading.Event()

    def write() -> str:
        started.set()
        time.sleep(0.1)
        written.append("row")
        return "row-id"

    async def turn() -> None:
        got.append(await off_loop(write))  # the caller learns the id of what was written
        await asyncio.sleep(10)  # … and the cancellation arrives at the next await

    task = asyncio.create_task(turn())
    await asyncio.to_thread(started.wait, 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert written == ["row"]
    assert got == ["row-id"]
    assert task.cancelled()
