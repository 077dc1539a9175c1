"""Session summaries and the OS's reflections, made deterministically from stored turns.

A summary is extractive: for each speaker, the most informative sentences of the session (by
count of content words), dated by the session's first turn; its lineage is every message of the
session. A reflection is what the OS notices across conversations: the themes the user returns
to most; a newer reflection supersedes the older one, and its lineage is the messages it counted.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from os1.memory.lexical import STOPWORDS
from os1.memory.records import MemoryRecord, NewMemory

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_CHATTER = STOPWORDS | frozenset(
    [
        "yeah",
        "really",
        "thanks",
        "thank",
        "great",
        "good",
        "glad",
        "awesome",
        "sounds",
        "love",
        "like",
        "just",
        "also",
        "much",
        "well",
        "hope",
        "wow",
        "sure",
        "okay",
        "cool",
        "nice",
        "amazing",
        "totally",
        "feel",
        "think",
        "want",
        "going",
        "been",
        "time",
    ]
)


def _content_words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text) if w.lower() not in _CHATTER]


def _speaker_and_text(turn: MemoryRecord) -> tuple[str, str]:
    speaker, _, text = turn.text.partition(": ")
    return (speaker, text) if text else ("", turn.text)


def summarize_session(turns: Sequence[MemoryRecord], per_speaker: int = 2) -> NewMemory | None:
    if not turns:
        return None
    by_speaker: dict[str, list[str]] = {}
    for turn in turns:
        speaker, text = _speaker_and_text(turn)
        by_speaker.setdefault(speaker, []).extend(s.strip() for s in _SENTENCE.findall(text))
    parts = []
    for speaker, sentences in by_speaker.items():
        best = sorted(sentences, key=lambda s: -len(set(_content_words(s))))[:per_speaker]
        said = " ".join(s if len(s) <= 120 else s[:117] + "…" for s in best if s)
        if said:
            parts.append(f"{speaker} said: {said}" if speaker else said)
    if not parts:
        return None
    first = turns[0]
    return NewMemory(
        kind="summary",
        text=f"Conversation of {first.occurred_at.date().isoformat()}: " + " ".join(parts),
        sources=tuple(sorted({m for t in turns for m in t.sources})),
        occurred_at=first.occurred_at,
        origin="summary",
        session_id=first.session_id,
        importance=0.6,
    )


def reflect(turns: Sequence[MemoryRecord], speaker: str, top: int = 4) -> NewMemory | None:
    """The themes `speaker` returns to most across sessions (None until there are some)."""
    mine = [t for t in turns if _speaker_and_text(t)[0] == speaker]
    sessions: dict[str, set[int | None]] = {}
    for turn in mine:
        for word in set(_content_words(turn.text.partition(": ")[2])):
            sessions.setdefault(word, set()).add(turn.session_id)
    counts = Counter({w: len(s) for w, s in sessions.items() if len(s) >= 2})
    themes = [w for w, _ in counts.most_common(top)]
    if not themes:
        return None
    sources = sorted(
        {m for t in mine if set(_content_words(t.text)) & set(themes) for m in t.sources}
    )[-50:]
    last = mine[-1]
    return NewMemory(
        kind="reflection",
        text=f"I notice {speaker} keeps coming back to: {', '.join(themes)}.",
        sources=tuple(sources),
        occurred_at=last.occurred_at,
        origin="reflection",
        topic="reflection:themes",
        corrects=True,
        importance=0.5,
    )


__all__ = ["reflect", "summarize_session"]
