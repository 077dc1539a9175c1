"""The terminal chat prepares the next turn's notes while the user types (os1.typing_ahead)."""

from __future__ import annotations

import asyncio

from os1.context import TurnContext
from os1.conversation import run_turn
from os1.memory import LongTermMemory
from os1.typing_ahead import TypingAhead
from tests.helpers import PrefillingBackend, drain


async def test_notes_are_chosen_and_evaluated_while_the_user_types(
    ctx: TurnContext, memory: LongTermMemory
) -> None:
    backend = ctx.backend = PrefillingBackend(script=["Lovely.", "Anna, of course."])
    ahead = TypingAhead(ctx)
    ahead.start()  # nothing known yet: nothing to note
    await drain(
        run_turn(
            ctx,
            "My sister is called Anna and I adopted a dog called Biscuit.",
            notes=await ahead.finish("My sister is called Anna"),
        )
    )
    ahead.start()  # the reply is there; the user reads it and types
    async with asyncio.timeout(10):
        while len(backend.prefilled) < 2:
            await asyncio.sleep(0.01)
    notes, message, relaxed = backend.prefilled[-1]
    assert "Anna" in notes and message == "" and relaxed is True  # large chunks while typing
    planned = ahead.notes.text
    chosen = await ahead.finish("What is my sister called?")
    assert planned and chosen is not None and chosen.startswith(planned)  # (appended to)
    await drain(run_turn(ctx, "What is my sister called?", notes=chosen))
    sent = backend.calls[-1].messages
    assert sent[-1].content == "What is my sister called?"
    assert sent[-2].role == "system" and notes.splitlines()[-1] in sent[-2].content
    assert await ahead.finish("again") is None  # once per start


async def test_without_a_model_that_prefills_nothing_is_prepared(
    ctx: TurnContext, memory: LongTermMemory
) -> None:
    ahead = TypingAhead(ctx)  # the scripted backend keeps no prompt cache
    ahead.start()
    assert await ahead.finish("hello") is None
