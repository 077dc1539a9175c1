"""The terminal chat's next turn, prepared while the user reads the reply and types.

`input()` blocks the main thread, so the preparation runs on a thread of its own with its own
event loop: the notes for the next turn are chosen from the last exchange (os1.notes_ahead)
and, on the embedded model, evaluated with the history in large chunks (a prefill, which
gives the model up to the turn within a chunk). When the line comes, `finish(line)` waits for
the notes to be chosen (they take milliseconds; the evaluation is not waited for), adds at
most two lines recalled for the line itself, and returns them for run_turn(notes=...). Without
memory, or with a remote model, there is nothing to prepare: the turn recalls for its message.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from os1.context import TurnContext
from os1.conversation import prewarm, prompt_cache
from os1.notes_ahead import NotesAhead

CHOOSING_WAIT = 2.0  # s a turn waits for its notes at most (then it recalls for itself)


class TypingAhead:
    def __init__(self, ctx: TurnContext) -> None:
        self.ctx = ctx
        self.notes = NotesAhead(ctx)
        self._useful = ctx.memory is not None and prompt_cache(ctx.backend) is not None
        self._chosen = threading.Event()
        self._typing = threading.Event()  # the user is typing (no turn yet): large chunks
        self._started = False

    def start(self) -> None:
        """Prepare the next turn (after a reply, and before the first; once per turn)."""
        if not self._useful or self._started:
            return
        self._started = True
        self._chosen.clear()
        self._typing.set()
        threading.Thread(
            target=asyncio.run, args=(self._prepare(),), name="os1-typing-ahead", daemon=True
        ).start()

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
