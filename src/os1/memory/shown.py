"""The notes each prompt of a conversation showed, so that later prompts keep them in place.

A turn's memory notes sit right before its message (os1.prompting). If every turn showed its
whole notes again there, after the previous exchange, the model would evaluate a few hundred
tokens of notes anew on every turn (~1 s on the default model, before the first word). So a
prompt keeps each earlier turn's notes before that turn's message, as they were shown, and a
new turn shows only the lines that the history it keeps has not shown yet (usually one or two:
the profile and most recalled memories carry over). The model's cache then holds everything
up to the new lines, and the model still sees every note it was given, where it was given.

The ledger is per conversation (one memory object) and lives in process memory, never on
disk: a new connection starts by showing whole notes again. Lines whose memory has been
forgotten since are left out of every later prompt; that is checked against the store on
each prompt, since the forgetting may have come through another connection or process.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from os1.memory.notes import note_line
from os1.memory.records import MemoryRecord
from os1.memory.store import MemoryStore
from os1.prompting import unseen

KEPT = 400  # blocks remembered at most (the prompt's history scans no further back)


class ShownNotes:
    def __init__(self, memories: MemoryStore) -> None:
        self.memories = memories
        self._blocks: OrderedDict[int, str] = OrderedDict()  # message id -> notes shown
        self._ids: dict[str, int] = {}  # a note line -> the memory it shows

    def learn(self, records: Iterable[MemoryRecord]) -> None:
        """These memories' lines may be shown (so forgetting them can be traced)."""
        for record in records:
            self._ids[note_line(record)] = record.id

    def record(self, message_id: int, notes: str) -> None:
        if not notes.strip():
            return
        self._blocks[message_id] = notes
        while len(self._blocks) > KEPT:
            self._blocks.popitem(last=False)

    def blocks(self) -> dict[int, str]:
        """The notes shown before each message, without the lines of memories forgotten since
        or not traced to one (nor a heading left with no line under it)."""
        lines = {line for block in self._blocks.values() for line in block.splitlines()}
        traced = {line: self._ids[line] for line in lines if line in self._ids}
        live = self.memories.get_many(sorted(set(traced.values()))) if traced else {}
        gone = [line for line in lines if line not in traced or traced[line] not in live]
        kept = {message_id: unseen(block, gone) for message_id, block in self._blocks.items()}
        return {message_id: block for message_id, block in kept.items() if block}


__all__ = ["ShownNotes"]
