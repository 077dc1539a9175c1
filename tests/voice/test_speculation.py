"""A speculative generation is served to its turn only when the turn asks for the same thing."""

from __future__ import annotations

from contextlib import aclosing

import pytest

from os1.backends.base import GenerationOptions
from os1.events import GenerationDone, TextDelta
from os1.messages import Message
from os1.testing import ScriptedBackend
from os1.voice.speculation import SpeculatingBackend, Speculation
from tests.helpers import until

PROMPT = [Message("system", "You are kind."), Message("user", "I feel tired.")]
OPTIONS = GenerationOptions(max_tokens=80, temperature=0.7)


async def test_the_same_request_replays_the_speculative_reply() -> None:
    model = ScriptedBackend(script=["Rest a little."])
    speculation = Speculation(model, PROMPT, OPTIONS)
    await until(lambda: speculation.produced == 4)  # three words and the end
    backend = SpeculatingBackend(model, speculation)
    events = [e async for e in backend.stream(list(PROMPT), OPTIONS)]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Rest a little."
    assert isinstance(events[-1], GenerationDone)
    assert len(model.calls) == 1  # the model was asked once
    assert backend.count_tokens("two words") == model.count_tokens("two words")


async def test_a_different_request_cancels_it_and_asks_the_model() -> None:
    model = ScriptedBackend(script=["Rest a little.", "Go on, I'm listening."], delay=0.05)
    speculation = Speculation(model, PROMPT, OPTIONS)
    await until(lambda: len(model.calls) == 1)
    backend = SpeculatingBackend(model, speculation)
    final = [PROMPT[0], Message("user", "I feel tired, but happy.")]
    async with aclosing(backend.stream(final, OPTIONS)) as events:
        text = "".join([e.text async for e in events if isinstance(e, TextDelta)])
    assert text == "Go on, I'm listening."
    await speculation.wait_cancelled()
    assert speculation.produced < 4  # stopped mid-reply
    assert not speculation.matches(PROMPT, OPTIONS)
    # other options (a longer reply) are a different request too
    assert not Speculation(model, PROMPT, OPTIONS).matches(PROMPT, GenerationOptions())


async def test_a_turn_that_stops_listening_stops_the_model() -> None:
    model = ScriptedBackend(script=["One two three four five six seven eight."], delay=0.05)
    speculation = Speculation(model, PROMPT, OPTIONS)
    backend = SpeculatingBackend(model, speculation)
    async with aclosing(backend.stream(PROMPT, OPTIONS)) as events:
        async for _ in events:
            break  # barge-in after the first word
    await speculation.wait_cancelled()
    assert speculation.produced < 8


async def test_a_failed_speculative_generation_fails_the_turn_that_takes_it() -> None:
    model = ScriptedBackend(script=[RuntimeError("the model broke")])
    speculation = Speculation(model, PROMPT, OPTIONS)
    backend = SpeculatingBackend(model, speculation)
    with pytest.raises(RuntimeError, match="the model broke"):
        async with aclosing(backend.stream(PROMPT, OPTIONS)) as events:
            async for _ in events:
                pass
