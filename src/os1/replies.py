"""How the OS's words are produced and kept: streamed, stored as they grow, never lost.

A reply row is inserted as `streaming` before the first token, its text is flushed to disk at
most every FLUSH_SECONDS, and it ends `complete`, `interrupted` (the consumer stopped: Ctrl-C,
barge-in) or `failed` (the backend broke; the user reads one sentence). A crash leaves it
`streaming`, which the next start turns into `interrupted` (UserStore.recover).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import Any

from os1.backends.base import GenerationOptions
from os1.context import TurnContext
from os1.errors import UserError
from os1.events import ErrorEvent, Event, TextDelta, TurnEnded, TurnStarted
from os1.messages import Message, MessageStatus, StoredMessage
from os1.storage.offload import off_loop

FLUSH_SECONDS = 0.5


def _add_reply(
    ctx: TurnContext, text: str, status: MessageStatus, meta: dict[str, Any] | None
) -> StoredMessage:
    return ctx.store.add_message(ctx.session(), "assistant", text, status, meta)


async def say(
    ctx: TurnContext, text: str, meta: dict[str, Any] | None = None
) -> AsyncGenerator[Event, None]:
    """A reply whose words are decided by code (onboarding, safety): stored, then streamed."""
    message = await off_loop(_add_reply, ctx, text, "complete", meta)
    yield TurnStarted(message.id)
    yield TextDelta(text)
    yield TurnEnded(message.id, "complete", text)


async def stream_reply(
    ctx: TurnContext,
    messages: Sequence[Message],
    options: GenerationOptions,
    *,
    prefix: str = "",
    suffix: str = "",
    meta: dict[str, Any] | None = None,
    row: StoredMessage | None = None,
) -> AsyncGenerator[Event, None]:
    """Stream a model reply (with optional fixed text around it) and keep it durably. `row` is
    the reply's `streaming` row when the caller stored it already (with the user's message)."""
    store = ctx.store
    message = row
    if message is None:
        message = await off_loop(_add_reply, ctx, prefix, "streaming", meta)
    yield TurnStarted(message.id)
    parts = [prefix] if prefix else []
    if prefix:
        yield TextDelta(prefix)
    last_flush = time.monotonic()
    spoken = bool(prefix.strip())
    status = "interrupted"
    try:
        async with aclosing(ctx.backend.stream(messages, options)) as model_events:
            async for event in model_events:
                if not isinstance(event, TextDelta) or not event.text:
                    continue
                text = event.text
                if not spoken:
                    text = text.lstrip()  # no leading blank lines from the model
                    if not text:
                        continue
                    spoken = True
                parts.append(text)
                yield TextDelta(text)
                if time.monotonic() - last_flush >= FLUSH_SECONDS:
                    await off_loop(store.update_message, message.id, "".join(parts), "streaming")
                    last_flush = time.monotonic()
        if suffix:
            parts.append(suffix)
            yield TextDelta(suffix)
        status = "complete"
    except UserError as e:
        status = "failed"
        store.update_message(message.id, "".join(parts), "failed")
        yield ErrorEvent(e.sentence)
        return
    finally:
        if status == "interrupted":  # the consumer stopped early, or we were cancelled
            store.update_message(message.id, "".join(parts).rstrip(), "interrupted")
    text = "".join(parts).strip()
    await off_loop(store.update_message, message.id, text, "complete")
    yield TurnEnded(message.id, "complete", text)
