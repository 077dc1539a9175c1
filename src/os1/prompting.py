"""Turning a user's history into a prompt that fits the model's window.

Layout: [system: persona] [history…] [system: memory notes] [user: this message]. The persona
prompt changes only when the identity does, and history is cut on a coarse grid of message ids,
so consecutive turns share a long identical prefix and llama.cpp reuses its KV cache. Memory
notes vary per turn, so they sit after the history, next to the message they serve; the notes
an earlier turn showed stay in place before its message (`shown`, os1.memory.shown) and this
turn shows only the lines the kept history has not (`Prompt.notes`), so the cache holds all
but those.

The budget: window − reply allowance − system − notes − this message; older history is dropped
(never a crash) and replaced by a short condensed line of what was said — unless long-term
memory is on (`gist=False`): it recalls older turns by itself, and without a line that changes
at each cut, the new prompt is the cached one with a block removed after the system prompt, so
the embedded model shifts its cache instead of evaluating the history again
(os1.backends.shift).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from os1.errors import InputError
from os1.messages import Message, StoredMessage
from os1.persona.identity import Identity
from os1.prompts import render

# History is cut at ids that are multiples of this, so the prefix changes rarely.
CUT_GRID = 16
HISTORY_SCAN = 400  # messages considered at most


@dataclass(frozen=True, slots=True)
class Prompt:
    messages: list[Message]
    dropped: int  # history messages left out for lack of room
    notes: str = ""  # the notes this prompt shows before the message (the lines new to it)


def unseen(notes: str, seen: Iterable[str]) -> str:
    """`notes` without the lines ("- …") in `seen`, and without a heading left with no line
    under it."""
    seen = set(seen)
    lines = [line for line in notes.splitlines() if not (line.startswith("- ") and line in seen)]
    kept = [
        line
        for i, line in enumerate(lines)
        if line.startswith("- ") or (i + 1 < len(lines) and lines[i + 1].startswith("- "))
    ]
    return "\n".join(kept)


def system_prompt(identity: Identity, user_name: str) -> str:
    about = "\n".join(
        f"- {label}: {identity.answers[key]}"
        for key, label in (
            ("days", "Their days"),
            ("people", "Who matters to them"),
            ("hopes", "What they hope you can help with"),
        )
        if identity.answers.get(key)
    )
    return render(
        "system",
        os_name=identity.os_name or "os1",
        user_name=identity.user_name or user_name,
        about=about or "- (nothing yet)",
    )


def _as_history(m: StoredMessage) -> Message:
    content = m.content + (" …" if m.status == "interrupted" else "")
    return Message(m.role, content)


def condense(dropped: Sequence[StoredMessage], limit_chars: int = 400) -> str:
    """A deterministic one-line gist of what the user said in dropped turns (newest last)."""
    said = [m.content.split("\n")[0][:80] for m in dropped if m.role == "user"]
    text = " / ".join(said[-6:])
    return text[-limit_chars:]


def check_fits(
    *,
    system: str,
    user_text: str,
    context_window: int,
    reply_tokens: int,
    count: Callable[[str], int],
) -> None:
    """Refuse (before anything is stored) a message that cannot fit the window on its own."""
    room = context_window - reply_tokens - count(system) - 16
    need = count(user_text)
    if need > room:
        raise InputError(
            f"That message is about {need:,} tokens and this model's window leaves room for "
            f"{max(room, 0):,}; nothing was saved, so please send it in smaller pieces."
        )


def build_prompt(
    *,
    system: str,
    history: Sequence[StoredMessage],
    user_text: str,
    notes: str,
    user_name: str,
    context_window: int,
    reply_tokens: int,
    count: Callable[[str], int],
    shown: Mapping[int, str] | None = None,
    gist: bool = True,
) -> Prompt:
    """`shown`: the notes earlier prompts showed, by the id of the message each preceded.
    `gist`: a line of what the dropped history said (see the module docstring)."""
    usable = [m for m in history[-HISTORY_SCAN:] if m.content and m.status != "failed"]
    shown = shown or {}

    def noted(block: str) -> str:
        return render("notes", user_name=user_name, notes=block)

    fixed = count(system) + (count(noted(notes)) if notes else 0) + count(user_text) + 16
    budget = context_window - reply_tokens - fixed  # (as if all the notes were new)
    if budget < 0:
        # Even the essentials do not fit: drop notes, then shorten nothing further (the user
        # text was length-checked at the edge); the backend will answer briefly.
        notes = ""
        budget = context_window - reply_tokens - count(system) - count(user_text) - 16
    costs = [
        count(m.content) + 6 + (count(noted(shown[m.id])) + 6 if m.id in shown else 0)
        for m in usable
    ]
    start = len(usable)
    total = 0
    while start > 0 and total + costs[start - 1] <= budget:
        start -= 1
        total += costs[start]
    if start > 0:
        # Move the cut forward to the next grid id, keeping the prefix stable across turns,
        # and leave room for the condensed line.
        cut_id = usable[start].id
        grid_id = -(-cut_id // CUT_GRID) * CUT_GRID
        while start < len(usable) and (usable[start].id < grid_id or usable[start].role != "user"):
            start += 1
    kept, dropped = usable[start:], usable[:start]
    messages = [Message("system", system)]
    said = condense(dropped) if dropped and gist else ""
    if said and count(said) + 30 <= budget - sum(costs[start:]):
        messages.append(Message("system", f"Earlier, {user_name} said: {said}"))
    for m in kept:
        if m.id in shown:
            messages.append(Message("system", noted(shown[m.id])))
        messages.append(_as_history(m))
    seen = [line for m in kept if m.id in shown for line in shown[m.id].splitlines()]
    notes = unseen(notes, seen)
    if notes:
        messages.append(Message("system", noted(notes)))
    messages.append(Message("user", user_text))
    return Prompt(messages, len(dropped), notes)
