"""The process-wide extraction runner: one thread for every user, fair to pauses."""

from __future__ import annotations

import asyncio
import threading

from os1.memory.deferred import Deferred, shared


def test_one_runner_per_process():
    assert shared() is shared()


async def test_a_paused_owner_holds_the_queue_and_discard_drops_its_jobs():
    runner = Deferred()
    ran: list[str] = []
    started = threading.Event()

    def job(name: str):
        async def run() -> None:
            started.set()
            ran.append(name)

        return run

    alice, bob = object(), object()
    runner.pause(alice)  # alice's turn is generating: nobody's extraction runs
    runner.submit(bob, job("bob-1"))
    runner.submit(alice, job("alice-1"))
    await asyncio.sleep(0.1)
    assert ran == []
    runner.discard(bob)  # bob hung up: his queued work goes
    runner.resume(alice)
    await runner.drain(alice, timeout=5)
    assert ran == ["alice-1"]


async def test_pausing_cancels_the_job_in_flight_and_it_runs_again():
    runner = Deferred()
    attempts: list[int] = []
    gate = asyncio.Event()

    async def slow() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            await asyncio.sleep(10)  # cancelled by the pause below

    owner = object()
    runner.submit(owner, slow)
    for _ in range(50):
        if attempts:
            break
        await asyncio.sleep(0.02)
    runner.pause(owner)
    runner.resume(owner)
    await runner.drain(owner, timeout=5)
    assert len(attempts) == 2
    gate.set()
