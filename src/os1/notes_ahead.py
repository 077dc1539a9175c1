"""Memory notes for a turn, chosen before its message is known.

A turn's memory notes sit just before its message in the prompt (os1.prompting); the lines the
conversation has not shown yet are evaluated after the message arrives: ~5 ms a token on the
fast model, ~10 on the default, ~30 tokens a line. So where there is time before the message
(a reply playing, the user reading and typing), the notes are chosen and evaluated ahead:

    plan()        after a reply (and at the start): the "about you" profile and the memories
                  recalled for the last exchange (`Memory.notes_ahead`): people mostly go on
                  with what was just said; the caller then evaluates them with the history
    top_up(text)  once per message: at most MORE lines recalled for `text` (voice: the first
                  transcript taken while the person talks; typed: the message itself),
                  appended (`Memory.notes_for(..., keep=..., more=MORE)`)
    text          what the turn passes to run_turn(notes=...), which uses them as they are
                  (the whole profile instead, if the message asks what the OS knows of them)

Appending keeps what the model holds of the notes valid: only the new lines are evaluated.
A voice call also holds memory's model extraction (a generation of its own, seconds long on
these cores) until it ends: `hold(True)` at the first audio, `hold(False)` at the end. Without
memory, or before the first plan, `text` is None and the turn recalls for its message.
Users: os1.voice.session (while the reply plays and the person talks) and os1.typing_ahead (the
terminal chat while the user reads and types; the web chat once the browser says they type).
"""

from __future__ import annotations

from os1.context import TurnContext
from os1.messages import StoredMessage
from os1.storage.offload import off_loop

MORE = 2  # lines a message (or its first words) may add


class NotesAhead:
    def __init__(self, ctx: TurnContext) -> None:
        self.ctx = ctx
        self.text: str | None = None  # the notes chosen for the utterance in progress
        self._topped = False

    def hold(self, held: bool) -> None:
        """While the call is live, memory's model extraction waits (os1.context.Memory.hold):
        the model's time between turns goes to evaluating these notes and the history."""
        if self.ctx.memory is not None:
            self.ctx.memory.hold(held)

    async def plan(self) -> None:
        """Choose the notes for the next utterance from the last exchange."""
        memory = self.ctx.memory
        if memory is None:
            return
        last = await off_loop(self.ctx.store.messages, limit=2)
        self.text = await memory.notes_ahead(_exchange(last), self.ctx.clock())
        self._topped = False

    async def top_up(self, heard: str) -> None:
        """Add what the person's first words recall (once per utterance)."""
        memory = self.ctx.memory
        if memory is None or self.text is None or self._topped or not heard.strip():
            return
        self._topped = True
        self.text = await memory.notes_for(heard, self.ctx.clock(), keep=self.text, more=MORE)


def _exchange(messages: list[StoredMessage]) -> str:
    """The words of the last exchange (a user message and the reply to it), as a query."""
    return " ".join(m.content for m in messages if m.role in ("user", "assistant"))


__all__ = ["NotesAhead"]
