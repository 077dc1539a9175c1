"""What counts as usable user text, and the one sentence that says why not."""

from __future__ import annotations

import re
import unicodedata

from os1.errors import InputError

_KEEP = {"\n", "\t"}
_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_user_text(text: str, max_chars: int) -> str:
    """Normalise `text` or raise InputError; never silently truncates."""
    if len(text) > max_chars:
        raise InputError(
            f"That message is {len(text):,} characters long and the most I take at once is "
            f"{max_chars:,}; nothing was saved, so please send it in smaller pieces."
        )
    text = _SURROGATES.sub("\ufffd", text)  # undecodable bytes arrive as lone surrogates
    text = unicodedata.normalize("NFC", text)
    junk = sum(
        1
        for c in text
        if c == "\ufffd" or (unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") and c not in _KEEP)
    )
    cleaned = "".join(
        c
        for c in text
        if c in _KEEP or (c != "\ufffd" and unicodedata.category(c) not in ("Cc", "Cs", "Co", "Cn"))
    ).strip()
    if not cleaned:
        if text.strip():
            raise InputError("That message has no readable text in it; nothing was saved.")
        raise InputError("That message was empty; type something to talk.")
    if junk > 0.3 * len(text):
        raise InputError("That looks like binary data rather than text; nothing was saved.")
    return cleaned
