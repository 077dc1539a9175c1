"""Context shift: when a prompt drops the oldest part of the history, move the cache instead of
evaluating everything after the cut again.

Once a conversation fills the model's window, os1.prompting cuts its history on a grid: the
next prompt is [system][history from a later message]…, while the cache holds [system][older
messages][those same later messages]…. llama-cpp-python reuses only the common prefix (the
system prompt), so everything after it was evaluated again: ~3,500 tokens, ~35 s on the default
model on 2 cores, every eight exchanges once the window is full. Instead, as llama-server's
context shift does, the dropped cells are removed and the cells after them moved down
(llama.cpp rotates their keys to the new positions); the prefix match then covers them.

Their values were computed with the dropped messages in view, which the new prompt no longer
has: the approximation llama-server accepts too. It applies only to a prompt whose history
was cut (the backend's caller says so: a prompt changed in the middle for another reason, a
forgotten memory's note, is evaluated again from the change, so nothing computed from the old
text stays), and only where the new prompt is the cached one with one block removed right
after the shared prefix, keeping at least MIN_KEPT tokens in the same order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Tokens = Sequence[int] | npt.NDArray[Any]
MIN_KEPT = 64  # tokens a shift must keep to be worth it
PROBE = 16  # tokens of the new prompt looked for in the cache after the shared prefix


def common_prefix(a: Tokens, b: Tokens) -> int:
    n = min(len(a), len(b))
    x, y = np.asarray(a[:n]), np.asarray(b[:n])
    differ = np.flatnonzero(x != y)
    return int(differ[0]) if len(differ) else n


def find_drop(cached: Tokens, tokens: Tokens) -> tuple[int, int, int] | None:
    """(start, dropped, kept) when `tokens` begins with cached[:start] followed by
    cached[start + dropped : start + dropped + kept] (kept >= MIN_KEPT), else None."""
    start = common_prefix(cached, tokens)
    probe = np.asarray(tokens[start : start + PROBE])
    old = np.asarray(cached[start:])
    if len(probe) < PROBE or len(old) < PROBE + 1:
        return None
    for j in np.flatnonzero(old[1 : len(old) - PROBE + 1] == probe[0]) + 1:
        if np.array_equal(old[j : j + PROBE], probe):
            kept = common_prefix(old[j:], tokens[start:])
            if kept >= MIN_KEPT:
                return start, int(j), kept
    return None


def shift_cache(llm: Any, tokens: Sequence[int]) -> int:
    """Shift `llm`'s cache (a llama_cpp.Llama, sequence 0) so that its prefix match covers the
    kept block of `tokens`; the number of cached tokens it saves from evaluation (0: none)."""
    from llama_cpp import llama_cpp as low

    n = int(llm.n_tokens)
    found = find_drop(llm.input_ids[:n], tokens) if n else None
    if found is None:
        return 0
    start, dropped, kept = found
    memory = low.llama_get_memory(llm._ctx.ctx)
    if not low.llama_memory_can_shift(memory):
        return 0
    end = start + dropped + kept
    if not (
        low.llama_memory_seq_rm(memory, 0, end, -1)
        and low.llama_memory_seq_rm(memory, 0, start, start + dropped)
    ):  # (partial removal unsupported): nothing cached is trustworthy now
        low.llama_memory_seq_rm(memory, 0, -1, -1)
        llm.n_tokens = 0
        return 0
    low.llama_memory_seq_add(memory, 0, start + dropped, end, -dropped)
    llm.input_ids[start : start + kept] = llm.input_ids[start + dropped : end].copy()
    llm.n_tokens = start + kept
    llm._requires_eval = True  # the last logits are not this prompt's: evaluate a token
    return kept


@contextlib.contextmanager
def shifting(llm: Any) -> Iterator[None]:
    """While inside, every prompt `llm` generates from shifts the cache first if it can."""
    overridden = vars(llm).get("generate")
    generate = llm.generate

    def shifted(tokens: Sequence[int], *args: Any, **kwargs: Any) -> Any:
        with contextlib.suppress(AttributeError, OSError, ValueError):  # another llama.cpp
            shift_cache(llm, tokens)
        return generate(tokens, *args, **kwargs)

    llm.generate = shifted
    try:
        yield
    finally:
        if overridden is None:
            del llm.generate
        else:
            llm.generate = overridden


__all__ = ["MIN_KEPT", "find_drop", "shift_cache", "shifting"]
