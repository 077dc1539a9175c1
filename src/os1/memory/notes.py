"""What memory puts in the prompt: compact dated notes, and the "about you" profile.

Notes are short lines, newest facts first, each dated (the day it happened or was said) so the
model can reason about time. A question like "what do you know about me?" gets the whole
profile instead, with each line's sources (message ids), so the answer can cite them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from os1.memory.records import Hit, MemoryRecord
from os1.prompts import render

ABOUT_ME = re.compile(
    r"\bwhat (?:do|did|else do) you (?:know|remember|recall) about me\b"
    r"|\bwhat have you (?:learn(?:ed|t)|remembered) about me\b"
    r"|\bwhat do you know of me\b|\btell me what you (?:know|remember) about me\b"
    r"|\bwhat'?s in your memory\b",
    re.I,
)
NOTE_CHARS = 160
PROFILE_FACTS = 6
NOTES_BUDGET = 1400
RELATED = "Related memories:"


def asks_about_me(text: str) -> bool:
    return bool(ABOUT_ME.search(text))


def _clip(text: str, limit: int = NOTE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def note_line(record: MemoryRecord, with_sources: bool = False) -> str:
    where = ""
    if with_sources and record.sources:
        shown = ", ".join(f"#{m}" for m in record.sources[:4])
        more = f" +{len(record.sources) - 4}" if len(record.sources) > 4 else ""
        where = f" [messages {shown}{more}]"
    return f"- {record.day.isoformat()}: {_clip(record.text)}{where}"


def profile_facts(facts: Sequence[MemoryRecord], limit: int) -> list[MemoryRecord]:
    """The facts most worth knowing: important first, then recent."""
    return sorted(facts, key=lambda f: (-f.importance, -f.occurred_at.timestamp()))[:limit]


def render_notes(facts: Sequence[MemoryRecord], hits: Sequence[Hit]) -> str:
    lines: list[str] = []
    chosen = profile_facts(facts, PROFILE_FACTS)
    if chosen:
        lines.append("About them:")
        lines.extend(note_line(f) for f in chosen)
    shown = {f.id for f in chosen}
    recalled = [h.memory for h in hits if h.memory.id not in shown]
    if recalled:
        lines.append(RELATED)
        lines.extend(note_line(r) for r in recalled)
    text = ""
    for line in lines:  # keep whole lines within the budget
        if len(text) + len(line) + 1 > NOTES_BUDGET:
            break
        text += line + "\n"
    return text.rstrip()


def more_notes(notes: str, hits: Sequence[Hit], limit: int) -> str:
    """`notes` with at most `limit` recalled memories it does not show yet, appended at its
    end (what a prompt cache holds of `notes` stays valid)."""
    shown = set(notes.splitlines())
    new = [line for h in hits if (line := note_line(h.memory)) not in shown][:limit]
    if not new:
        return notes
    if RELATED not in shown:
        new.insert(0, RELATED)
    return "\n".join([notes, *new]) if notes else "\n".join(new)


def render_profile(
    user_name: str, facts: Sequence[MemoryRecord], extra: Sequence[MemoryRecord]
) -> str:
    lines = [note_line(f, with_sources=True) for f in profile_facts(facts, 30)]
    lines += [note_line(r, with_sources=True) for r in extra]
    if not lines:
        lines = ["- (nothing remembered yet)"]
    return render("memory_profile", user_name=user_name, profile="\n".join(lines))


__all__ = [
    "asks_about_me",
    "more_notes",
    "note_line",
    "profile_facts",
    "render_notes",
    "render_profile",
]
