"""The per-turn context: who is talking, and the parts a turn may use.

Identity travels here, never in a global. A context is made for one user by the runtime
(`os1.runtime.Runtime.context`) and its store can reach only that user's data. `Memory` is the
seam long-term memory plugs into; without it the OS still talks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from os1.backends.base import Backend
from os1.config import Config
from os1.messages import StoredMessage
from os1.storage.user_store import UserStore


class Memory(Protocol):
    async def notes_for(
        self, query: str, now: datetime, keep: str | None = None, more: int = 0
    ) -> str:
        """Dated notes relevant to `query`, ready for the prompt ('' when there are none).
        With `keep` (notes chosen ahead for this turn, see `notes_ahead`): `keep` itself with
        at most `more` lines relevant to `query` that it lacks, appended at its end, so a
        prompt cache that already holds `keep` stays valid (but the whole profile if `query`
        asks what the OS knows about the user). A turn is starting: background work on the
        model waits."""
        ...

    async def notes_ahead(self, query: str, now: datetime) -> str:
        """Notes chosen before the next message is known (voice: from the last exchange,
        while the reply plays), to be evaluated ahead; background work goes on."""
        ...

    def shown(self) -> Mapping[int, str]:
        """The notes this conversation's earlier prompts showed, by the id of the message
        each preceded (lines of memories forgotten since left out): os1.prompting keeps them
        in place and shows a turn only the lines they lack."""
        ...

    def show(self, message_id: int, notes: str) -> None:
        """The prompt for message `message_id` showed `notes` before it."""
        ...

    async def observe(self, messages: Sequence[StoredMessage]) -> None:
        """Learn from a finished exchange. Runs after the reply, never before it."""
        ...

    def hold(self, held: bool) -> None:
        """Hold back background work on the model (True) or let it run again (False): a live
        voice call spends the model's time between turns on evaluating the next prompt."""
        ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class TurnContext:
    user_id: str
    user_name: str
    store: UserStore
    backend: Backend
    config: Config
    session_id: int = 0  # 0 until the first message starts the session (see `session`)
    memory: Memory | None = None
    clock: Callable[[], datetime] = field(default=_utcnow)
    channel: str = "text"

    def session(self) -> int:
        """This context's session id, started by the first write that needs one: opening a
        context writes nothing, and a session begins in its first message's transaction. It
        may commit, so call it where the store call runs (a store thread)."""
        if not self.session_id:
            self.session_id = self.store.start_session(self.channel)
        return self.session_id
