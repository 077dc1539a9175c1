"""The conversation engine: one turn as an async generator of events.

    run_turn(ctx, text) -> MessageStored, TurnStarted, TextDelta…, TurnEnded   (or ErrorEvent)

Invariants: the user's message is committed before the model is called (MessageStored is its
acknowledgement); the prompt always fits the model's window; the reply is stored as it streams
and marked interrupted if the consumer stops. Until the first meeting is complete, turns are
handled by the onboarding state machine. `text=None` means the OS speaks first (the opening
of the first meeting); after onboarding it yields nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from os1.backends.base import Backend, GenerationOptions, collect_text
from os1.backends.fair import FairBackend
from os1.context import TurnContext
from os1.errors import UserError
from os1.events import ErrorEvent, Event, MessageStored, TurnEnded
from os1.inputs import clean_user_text
from os1.messages import Message, StoredMessage
from os1.persona import onboarding
from os1.persona.identity import Identity
from os1.prompting import Prompt, build_prompt, check_fits, system_prompt
from os1.replies import stream_reply
from os1.storage.offload import off_loop


@runtime_checkable
class PromptCache(Protocol):
    """A backend that keeps the last prompt evaluated and can evaluate one ahead of its turn
    (the embedded model); `prefill` gives the model up to any real generation. `relaxed()`
    true: no turn can come soon (nobody is talking), so the prefill may evaluate in larger
    chunks, faster per token but slower to give the model up. `cut_history`: see
    GenerationOptions."""

    async def prefill(
        self,
        messages: Sequence[Message],
        *,
        relaxed: Callable[[], bool] | None = None,
        cut_history: bool = False,
    ) -> None: ...


def prompt_cache(backend: Backend) -> PromptCache | None:
    """The model that can evaluate a prompt ahead, seen through the fair queue's per-user view
    (a prefill takes no place in that queue: it gives way to any generation), if any."""
    fair = getattr(backend, "fair", backend)
    inner = fair.inner if isinstance(fair, FairBackend) else backend
    return inner if isinstance(inner, PromptCache) else None


def reply_options(ctx: TurnContext, prompt: Prompt | None = None) -> GenerationOptions:
    """How a turn's reply to `prompt` is generated (voice asks for the same when it
    speculates, so the two must not drift apart)."""
    return GenerationOptions(
        max_tokens=ctx.config.max_reply_tokens,
        temperature=ctx.config.temperature,
        cut_history=prompt is not None and prompt.dropped > 0,
    )


def prompt_for(
    ctx: TurnContext,
    text: str,
    *,
    history: Sequence[StoredMessage],
    notes: str = "",
    identity: Identity | None = None,
) -> Prompt:
    """The prompt a turn sends for `text` after `history` (also used to prewarm and to bench),
    with the notes earlier turns showed kept in place (os1.prompting)."""
    identity = identity if identity is not None else ctx.store.get_identity()
    return build_prompt(
        system=system_prompt(identity, ctx.user_name),
        history=history,
        user_text=text,
        notes=notes,
        user_name=identity.user_name or ctx.user_name,
        context_window=ctx.backend.context_window,
        reply_tokens=ctx.config.max_reply_tokens,
        count=ctx.backend.count_tokens,
        shown=ctx.memory.shown() if ctx.memory is not None else None,
        gist=ctx.memory is None,  # (memory recalls what the cut history said)
    )


async def prewarm(
    ctx: TurnContext,
    text: str | None = None,
    notes: str = "",
    relaxed: Callable[[], bool] | None = None,
) -> None:
    """Evaluate the persona prompt ahead of the first turn (e.g. while the user types), so the
    backend's prompt cache already holds it; the first reply then starts as fast as later ones.
    With `text` (what the user is probably saying; voice guesses it during a pause), evaluate
    the prompt run_turn would send for it, history and `notes` included ('' = the history
    only), as a speculative prefill where the backend offers one (`PromptCache`). Nothing is
    stored. `relaxed`: see PromptCache."""
    # (on the caller's thread: in the terminal chat a daemon thread of its own, which must not
    # become an executor thread that the interpreter waits for at exit while the model closes)
    warm = _warm_prompt(ctx, text, notes)
    if warm is None:
        return
    messages, cut = warm
    cache = prompt_cache(ctx.backend) if text is not None else None
    with contextlib.suppress(UserError):  # the real turn will report it
        if cache is not None:  # a guess: evaluated in chunks, it gives way to a real turn
            await cache.prefill(messages, relaxed=relaxed, cut_history=cut)
        else:
            await collect_text(ctx.backend, messages, GenerationOptions(max_tokens=1))


def _warm_prompt(
    ctx: TurnContext, text: str | None, notes: str
) -> tuple[list[Message], bool] | None:
    """The messages `prewarm` evaluates and whether history was cut (None: nothing to do)."""
    if text is None:
        identity = ctx.store.get_identity()
        system = Message("system", system_prompt(identity, ctx.user_name))
        return ([system, Message("user", "")], False) if identity.onboarded else None
    identity, history = ctx.store.turn_state(limit=400)
    if not identity.onboarded:
        return None
    try:
        user_text = clean_user_text(text, ctx.config.max_input_chars) if text else ""
        prompt = prompt_for(ctx, user_text, history=history, notes=notes, identity=identity)
    except UserError:  # the real turn will report it
        return None
    return list(prompt.messages), prompt.dropped > 0


@dataclass(frozen=True)
class _Begun:
    """A turn's start: the user's words (cleaned), the history before them, their stored
    message, and the reply's empty `streaming` row, committed with it."""

    text: str
    history: list[StoredMessage]
    said: StoredMessage
    row: StoredMessage


def _begin(ctx: TurnContext, text: str | None) -> tuple[Identity, _Begun | None]:
    """On a store thread, one call per turn: the identity, and once the first meeting is over,
    the user's message checked and committed together with the reply's row (one disk flush).
    Refused input raises its UserError before anything is stored."""
    identity, history = ctx.store.turn_state(limit=400)
    if not identity.onboarded or text is None:
        return identity, None
    text = clean_user_text(text, ctx.config.max_input_chars)
    check_fits(
        system=system_prompt(identity, ctx.user_name),
        user_text=text,
        context_window=ctx.backend.context_window,
        reply_tokens=ctx.config.max_reply_tokens,
        count=ctx.backend.count_tokens,
    )
    with ctx.store.transaction() if not ctx.session_id else contextlib.nullcontext():
        # a new session's row is committed with its first message; a later turn's two rows
        # are one statement
        said, row = ctx.store.add_messages(
            ctx.session(), [("user", text, "complete"), ("assistant", "", "streaming")]
        )
    return identity, _Begun(text, history, said, row)


async def run_turn(
    ctx: TurnContext, text: str | None, *, notes: str | None = None
) -> AsyncGenerator[Event, None]:
    """One exchange (see the module docstring). `notes`: memory notes chosen ahead of the
    message (`Memory.notes_ahead`; voice evaluates them while the person speaks), which the
    turn uses as they are; without them the turn recalls for its message."""
    try:
        identity, begun = await off_loop(_begin, ctx, text)
    except UserError as e:
        yield ErrorEvent(e.sentence)
        return
    if not identity.onboarded:
        async with aclosing(onboarding.step(ctx, identity, text)) as steps:
            async for event in steps:
                yield event
        return
    if begun is None:
        return
    text, history, user_message, row = begun.text, begun.history, begun.said, begun.row
    ended: TurnEnded | None = None
    try:
        yield MessageStored(user_message.id)
        if ctx.memory is None:
            notes = ""
        elif notes is None:
            notes = await ctx.memory.notes_for(text, ctx.clock())
        else:
            notes = await ctx.memory.notes_for(text, ctx.clock(), keep=notes)
        prompt = prompt_for(ctx, text, history=history, notes=notes, identity=identity)
        options = reply_options(ctx, prompt)
        if ctx.memory is not None:
            ctx.memory.show(user_message.id, prompt.notes)
    except BaseException:  # stopped before the model (barge-in, a closed socket): the reply's
        # row ends empty and interrupted, not `streaming` until the next start recovers it
        ctx.store.update_message(row.id, "", "interrupted")
        raise
    replies = stream_reply(ctx, prompt.messages, options, row=row)
    async with aclosing(replies) as reply_events:
        async for event in reply_events:
            if isinstance(event, TurnEnded):
                ended = event
            yield event
    if ctx.memory is not None:  # after a failed reply too: the user's words count
        reply = await off_loop(ctx.store.get_message, row.id) if ended is not None else None
        await ctx.memory.observe([user_message] + ([reply] if reply else []))
