"""End to end: several users share the real tiny embedded model through the fair queue."""

from __future__ import annotations

import asyncio

import pytest

from os1.backends.base import GenerationOptions, collect_text
from os1.backends.fair import Busy, FairBackend
from os1.backends.llamacpp import LlamaCppBackend
from os1.messages import Message
from tests.models import TINY

pytestmark = pytest.mark.model


async def test_three_users_share_one_real_model_fairly():
    model = LlamaCppBackend(TINY, n_ctx=1024, n_threads=2)
    fair = FairBackend(model, slots=1, per_user=2, total=3)
    options = GenerationOptions(max_tokens=8, temperature=0.0, seed=1)
    order: list[str] = []

    async def ask(user: str, n: int) -> str:
        text = await collect_text(
            fair.for_user(user), [Message("user", f"Say a word about {user} {n}.")], options
        )
        order.append(user)
        return text

    tasks = [asyncio.create_task(ask(u, n)) for u, n in (("a", 1), ("a", 2), ("b", 1), ("c", 1))]
    await asyncio.sleep(0)
    with pytest.raises(Busy):  # a third request of a's is past the per-user bound at once
        await asyncio.wait_for(ask("a", 3), 5)
    replies = await asyncio.wait_for(asyncio.gather(*tasks), 120)
    assert all(r.strip() for r in replies)
    assert order == ["a", "b", "c", "a"]  # round-robin between users, not arrival order
    assert (fair.running, fair.waiting) == (0, 0)
