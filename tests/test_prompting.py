"""The prompt's layout: notes shown by earlier turns stay in place; a turn adds what is new."""

from __future__ import annotations

from datetime import UTC, datetime

from os1.messages import StoredMessage
from os1.prompting import Prompt, build_prompt, unseen

NOTES = (
    "About them:\n- 2026-11-01: Alice's sister is Anna.\nRelated memories:\n- 2026-11-02: a walk"
)


def history(n: int) -> list[StoredMessage]:
    now = datetime.now(UTC)
    return [
        StoredMessage(i, 1, "user" if i % 2 else "assistant", f"message {i} " * 5, "complete", now)
        for i in range(1, n + 1)
    ]


def prompt(
    n: int, notes: str, shown: dict[int, str], window: int = 4096, gist: bool = True
) -> Prompt:
    return build_prompt(
        system="You are Samantha.",
        history=history(n),
        user_text="hello again",
        notes=notes,
        user_name="Alice",
        context_window=window,
        reply_tokens=64,
        count=lambda text: len(text.split()),
        shown=shown,
        gist=gist,
    )


def test_unseen_drops_shown_lines_and_headings_left_bare() -> None:
    assert unseen(NOTES, ["- 2026-11-01: Alice's sister is Anna."]) == (
        "Related memories:\n- 2026-11-02: a walk"
    )
    assert unseen(NOTES, [line for line in NOTES.splitlines()]) == ""


def test_shown_notes_stay_before_their_message_and_only_new_lines_are_added() -> None:
    built = prompt(4, NOTES + "\n- 2026-11-03: tea", {3: NOTES})
    contents = [m.content for m in built.messages]
    at = contents.index("message 3 " * 5)
    assert "sister is Anna" in contents[at - 1] and built.messages[at - 1].role == "system"
    assert built.notes == "Related memories:\n- 2026-11-03: tea"  # only the new line
    assert "2026-11-03: tea" in contents[-2] and "Anna" not in contents[-2]


def test_notes_of_a_message_cut_from_the_history_are_shown_again() -> None:
    built = prompt(80, NOTES, {3: NOTES}, window=300)
    assert all(m.content != "message 3 " * 5 for m in built.messages)  # cut off
    assert built.notes == NOTES
    assert sum("sister is Anna" in m.content for m in built.messages) == 1


def test_with_memory_on_a_cut_history_leaves_no_gist_so_the_cache_can_shift() -> None:
    """The prompt after a cut is the earlier one with a block removed after the system prompt
    (os1.backends.shift moves the cache); memory recalls what the cut turns said."""
    assert any(m.content.startswith("Earlier,") for m in prompt(80, "", {}, 300).messages)
    without = prompt(80, "", {}, 300, gist=False).messages
    assert [m.role for m in without[:2]] == ["system", "user"]
