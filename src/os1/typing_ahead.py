"""A typed turn, prepared while the user reads the reply and types the next message.

The notes for the next turn are chosen from the last exchange (os1.notes_ahead) and, on the
embedded model, evaluated with the history in large chunks (a prefill, which gives the model
up to the turn within a chunk). When the line comes, `finish(line)` waits for the notes to be
chosen (they take milliseconds; the evaluation is not waited for), adds at most two lines
recalled for the line itself, and returns them for run_turn(notes=...). Without memory, or
with a model that keeps no prompt cache (a remote one, the batched engine), or while the model
serves someone else too, there is nothing to prepare: `finish` returns None and the turn
recalls for its message.

Two ways to start, once per turn: `start()` runs the preparation on a thread of its own with
its own event loop (the terminal chat, whose `input()` blocks the main thread); `start_task()`
runs it as a task on the caller's event loop (the web chat, when the browser says the user
began typing: os1.server.websocket).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from os1.backends.fair import FairBackend
from os1.context import TurnContext
from os1.conversation import prewarm, prompt_cache
from os1.notes_ahead import NotesAhead

CHOOSING_WAIT = 2.0  # s a turn waits for its notes at most (then it recalls for itself)


class TypingAhead:
    def __init__(self, ctx: TurnContext) -> None:
        self.ctx = ctx
        self.notes = NotesAhead(ctx)
        self.useful = ctx.memory is not None and prompt_cache(ctx.backend) is not None
        self._chosen = threading.Event()
        self._typing = threading.Event()  # the user is typing (no turn yet): large chunks
        self._started = False

    def _begin(self) -> bool:
        if not self.useful or self._started or not self._model_is_ours():
            return False
        self._started = True
        self._chosen.clear()
        self._typing.set()
        return True

    def _model_is_ours(self) -> bool:
        """The model keeps one prompt: with several people on it, a prefill for this user would
        replace the prompt of whoever it served last, who would then wait for their whole
        history to be evaluated again. Prepare only while the model is this user's alone."""
        fair = getattr(self.ctx.backend, "fair", None)
        return not isinstance(fair, FairBackend) or fair.only(self.ctx.user_id)

    def start(self) -> None:
        """Prepare the next turn on a thread of its own (no-op if started since the last
        `finish`)."""
        if self._begin():
            threading.Thread(
                target=asyncio.run, args=(self._prepare(),), name="os1-typing-ahead", daemon=True
            ).start()

    def start_task(self) -> asyncio.Task[None] | None:
        """Prepare the next turn as a task on the running event loop (None if started since
        the last `finish`); cancelling the task stops its prefill within a chunk."""
        return asyncio.get_running_loop().create_task(self._prepare()) if self._begin() else None

    async def _prepare(self) -> None:
        try:
            with contextlib.suppress(Exception):  # only an optimisation: the turn recalls
                await self.notes.plan()
        finally:
            self._chosen.set()
        with contextlib.suppress(Exception):
            await prewarm(self.ctx, "", self.notes.text or "", self._typing.is_set)

    async def finish(self, line: str) -> str | None:
        """The notes for the turn about to run for `line` (None: let it recall its own)."""
        if not self._started:
            return None
        self._started = False
        self._typing.clear()  # a prefill still running now gives way within a small chunk
        if not await asyncio.to_thread(self._chosen.wait, CHOOSING_WAIT):
            return None
        with contextlib.suppress(Exception):
            await self.notes.top_up(line)
        return self.notes.text


__all__ = ["TypingAhead"]
