"""Long-term memory for one user: the `os1.context.Memory` the conversation calls.

    notes_for(query, now)  → dated notes: an "about you" profile + hybrid recall (or, for
                             "what do you know about me?", the whole profile with sources)
    notes_ahead(query, now), then notes_for(words, now, keep=those, more=n)
                           → notes chosen before the message is known (voice: from the last
                             exchange), topped up with at most n lines for its first words
    observe(messages)      → store each message as an episodic turn, extract facts
    shown(), show(id, notes) → the notes earlier prompts of this conversation showed, kept in
                             place by os1.prompting (os1.memory.shown)

Latency policy (observe runs after TurnEnded, before the next prompt is shown): everything
deterministic runs inline — turns, rule-based facts, session summaries, reflections, embedding
(~3 ms a sentence). Model-based extraction (one bounded JSON-grammar call per user message)
is `deferred` by default: it runs on a background thread while the user reads and types, and a
new turn pauses it (`notes_for` cancels the call in flight), so it never delays a first token.
`inline` (tests, benchmarks) awaits it; `off` skips it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from os1.backends.base import Backend
from os1.errors import ModelOutputError
from os1.memory.deferred import Deferred
from os1.memory.deferred import shared as shared_deferred
from os1.memory.embedder import Embedder
from os1.memory.extraction import Finding, extract
from os1.memory.model_extraction import extract_with_model
from os1.memory.notes import asks_about_me, more_notes, render_notes, render_profile
from os1.memory.records import Hit, NewMemory
from os1.memory.retrieval import Retriever
from os1.memory.shown import ShownNotes
from os1.memory.store import MemoryStore
from os1.memory.summaries import reflect, summarize_session
from os1.messages import StoredMessage
from os1.storage.user_store import UserStore

ModelExtraction = Literal["deferred", "inline", "off"]
RECALL_K = 6
MIN_WORDS_FOR_MODEL = 4


class LongTermMemory:
    def __init__(
        self,
        store: UserStore,
        embedder: Embedder,
        backend: Backend | None = None,
        *,
        model_extraction: ModelExtraction = "deferred",
    ) -> None:
        self.store = store
        self.memories = MemoryStore(store.db, store.user_id, embedder)
        self.retriever = Retriever(self.memories)
        self.backend = backend
        self.mode: ModelExtraction = model_extraction if backend is not None else "off"
        self._deferred: Deferred | None = None
        self._held = False  # a live voice call holds model extraction until it ends
        self._summarised_before: int | None = None
        self._shown = ShownNotes(self.memories)  # notes kept in place (os1.memory.shown)
        self._profile = ""  # the last "about you" profile given

    def warm_in_background(self, min_memories: int) -> None:
        """Load the in-memory index on a background thread when the user has `min_memories`
        or more (100,000 take a few seconds), so the first reply does not wait for it."""
        if self.memories.count() >= min_memories:
            threading.Thread(
                target=self.memories.index.warm, name="os1-memory-warm", daemon=True
            ).start()

    # --- the Memory protocol ----------------------------------------------------------------

    async def notes_for(
        self, query: str, now: datetime, keep: str | None = None, more: int = 0
    ) -> str:
        if self._deferred is not None:
            self._deferred.pause(self)  # the model is about to answer; extraction waits
        if asks_about_me(query):
            facts = self.memories.listing(["fact"])
            extra = self.memories.listing(["reflection"])
            summaries = self.memories.listing(["summary"])[-3:]
            self._profile = render_profile(self._names()[0], facts, [*extra, *summaries])
            return self._profile
        if keep is None:
            return await self.notes_ahead(query, now)
        if not more:
            return keep
        hits = self._recall_for_notes(query, now)
        self._shown.learn(h.memory for h in hits)
        return more_notes(keep, hits, more)

    async def notes_ahead(self, query: str, now: datetime) -> str:
        facts = self.memories.listing(["fact"])
        hits = self._recall_for_notes(query, now) if query.strip() else []
        self._shown.learn([*facts, *(h.memory for h in hits)])
        return render_notes(facts, hits)

    def shown(self) -> dict[int, str]:
        return self._shown.blocks()

    def show(self, message_id: int, notes: str) -> None:
        if notes != self._profile:  # (asked for again, the profile is shown whole again)
            self._shown.record(message_id, notes)

    def _recall_for_notes(self, query: str, now: datetime) -> list[Hit]:
        return self.recall(query, now, RECALL_K, exclude_session=self._current_session())

    async def observe(self, messages: Sequence[StoredMessage]) -> None:
        usable = [m for m in messages if m.content.strip() and m.status != "failed"]
        if usable:
            self._observe(usable)
            if self.mode != "off":
                for m in usable:
                    if m.role == "user" and len(m.content.split()) >= MIN_WORDS_FOR_MODEL:
                        await self._model_extract(m)
        if self._deferred is not None and not self._held:
            self._deferred.resume(self)

    def hold(self, held: bool) -> None:
        self._held = held
        if self._deferred is None:
            return
        if held:
            self._deferred.pause(self)
        else:
            self._deferred.resume(self)

    # --- recall and housekeeping -------------------------------------------------------------

    def recall(
        self, query: str, now: datetime | None = None, k: int = 10, **options: object
    ) -> list[Hit]:
        exclude = options.get("exclude_session")
        return self.retriever.search(
            query,
            now or datetime.now(UTC),
            k,
            exclude_session=exclude if isinstance(exclude, int) else None,
            neighbours=bool(options.get("neighbours", True)),
        )

    async def settle(self) -> None:
        """Wait for deferred model extraction to finish (tests, benchmarks, shutdown)."""
        if self._deferred is not None:
            await self._deferred.drain(self)

    def close(self) -> None:
        if self._deferred is not None:
            self._deferred.discard(self)
            self._deferred = None

    # --- inside -----------------------------------------------------------------------------

    def _names(self) -> tuple[str, str]:
        identity = self.store.get_identity()
        return identity.user_name or "the user", identity.os_name or "os1"

    def _speaker(self, m: StoredMessage) -> str:
        speaker = m.meta.get("speaker")
        if isinstance(speaker, str) and speaker:
            return speaker
        user, os_name = self._names()
        return user if m.role == "user" else os_name

    def _current_session(self) -> int | None:
        latest = self.store.messages(limit=1)
        return latest[0].session_id if latest else None

    def _observe(self, messages: Sequence[StoredMessage]) -> None:
        items: list[NewMemory] = []
        session = messages[0].session_id
        if self._summarised_before != session:
            items.extend(self._summaries_before(session))
            self._summarised_before = session
        for m in messages:
            speaker = self._speaker(m)
            items.append(
                NewMemory(
                    kind="turn",
                    text=f"{speaker}: {m.content}",
                    sources=(m.id,),
                    occurred_at=m.created_at,
                    origin="conversation",
                    session_id=m.session_id,
                    message_id=m.id,
                    importance=0.3 if m.role == "assistant" else 0.5,
                )
            )
            if m.role == "user":
                found = extract(m.content, speaker, m.created_at.date())
                items.extend(_as_facts(found, m))
        self.memories.add(items)

    def _summaries_before(self, session: int) -> list[NewMemory]:
        """Summaries of earlier sessions not yet summarised, and a fresh reflection."""
        rows = self.store.db.query(
            "SELECT DISTINCT session_id FROM memories WHERE user_id = ? AND kind = 'turn'"
            " AND session_id < ? AND session_id NOT IN (SELECT session_id FROM memories"
            " WHERE user_id = ? AND kind = 'summary' AND session_id IS NOT NULL)",
            (self.store.user_id, session, self.store.user_id),
        )
        made: list[NewMemory] = []
        for row in rows:
            summary = summarize_session(self.memories.session_turns(int(row["session_id"])))
            if summary is not None:
                made.append(summary)
        if made:
            turns = self.memories.listing(["turn"])[-2000:]
            reflection = reflect(turns, self._names()[0])
            if reflection is not None:
                made.append(reflection)
        return made

    async def _model_extract(self, m: StoredMessage) -> None:
        backend = self.backend
        if backend is None:
            return
        speaker = self._speaker(m)

        async def job() -> None:
            with contextlib.suppress(ModelOutputError):
                found = await extract_with_model(backend, m.content, speaker, m.created_at.date())
                self.memories.add(_as_facts(found, m, origin="model"))

        if self.mode == "inline":
            await job()
            return
        if self._deferred is None:
            self._deferred = shared_deferred()
            if self._held:
                self._deferred.pause(self)
        self._deferred.submit(self, job)


def _as_facts(
    found: Sequence[Finding], m: StoredMessage, origin: Literal["rule", "model"] = "rule"
) -> list[NewMemory]:
    return [
        NewMemory(
            kind="fact",
            text=f.text,
            sources=(m.id,),
            occurred_at=m.created_at,
            origin=origin,
            topic=f.topic,
            session_id=m.session_id,
            event_date=f.event_date,
            importance=f.importance,
            corrects=f.corrects,
        )
        for f in found
    ]


__all__ = ["LongTermMemory", "ModelExtraction"]
