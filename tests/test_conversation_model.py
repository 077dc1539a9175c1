"""run_turn on the real tiny model: a long conversation in a small window never overflows,
and a message too big for the window is refused before it is stored."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from os1.backends.llamacpp import LlamaCppBackend
from os1.config import Config
from os1.context import TurnContext
from os1.conversation import run_turn
from os1.events import ErrorEvent, TurnEnded
from os1.runtime import Runtime
from tests.conftest import make_context
from tests.helpers import drain
from tests.models import TINY

pytestmark = pytest.mark.model


@pytest.fixture
def tiny_ctx(config: Config) -> Iterator[TurnContext]:
    small = config.with_overrides(n_ctx=768, max_reply_tokens=48)
    runtime = Runtime(
        small, backend=LlamaCppBackend(TINY, n_ctx=768, n_threads=2), memory_factory=None
    )
    yield make_context(runtime, "alice")
    runtime.close()


async def test_long_conversation_in_a_small_window(tiny_ctx: TurnContext):
    for i in range(10):
        text = f"Turn {i}: " + "I walked by the river and watched the herons fish. " * 4
        events = await drain(run_turn(tiny_ctx, text))
        assert not [e for e in events if isinstance(e, ErrorEvent)], events
        assert isinstance(events[-1], TurnEnded) and events[-1].status == "complete"
    assert len(tiny_ctx.store.messages()) == 20


async def test_message_bigger_than_the_window_is_refused_unsaved(tiny_ctx: TurnContext):
    events = await drain(run_turn(tiny_ctx, "words and more words " * 400))
    assert len(events) == 1 and isinstance(events[0], ErrorEvent)
    assert "tokens" in events[0].message and "nothing was saved" in events[0].message
    assert tiny_ctx.store.messages() == []
