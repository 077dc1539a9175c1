"""The parts of a batched generation: a job (one request) and a slot (one llama.cpp sequence).

A `Job` is built on the caller's side, before the engine sees it: its prompt tokens, stop
strings, grammar and sampling parameters come from llama-cpp-python's own chat handler, run
exactly as `LlamaCppBackend` runs it (`Llama.create_chat_completion` with
`chat_completion_kwargs`), except that the completion call it ends in is recorded instead of
made (`_Recorder`). Its sampler is `Llama._init_sampler` with those parameters, so
temperature, top-p, repeat penalty and the JSON-schema grammar match the single-sequence path.
Both are llama-cpp-python internals, pinned by the exact version in pyproject.toml.

A `Slot` is a sequence id in the shared context plus the tokens its KV cache holds (`cached`),
kept after a job ends so that the next job whose prompt starts the same way (the same user's
next turn) evaluates only the new suffix.

`Job.take(piece)` turns sampled token bytes into text deltas: UTF-8 is decoded incrementally
(a character may span tokens), and text that could be the start of a stop string is held back
until it is known not to be one; a stop string ends the job and is never emitted.
"""

from __future__ import annotations

import codecs
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from os1.backends.base import GenerationOptions
from os1.backends.llamacpp import chat_completion_kwargs
from os1.events import BackendEvent, GenerationDone, TextDelta
from os1.messages import Message

Send = Callable[[BackendEvent | BaseException], None]


class _Recorder:
    """Stands in for a `Llama` while its chat handler runs: everything is the real model's,
    except `create_completion`, which records its arguments instead of generating."""

    def __init__(self, llm: Any, seed: int = 0) -> None:
        self._llm = llm
        self._seed = seed  # read by Llama._init_sampler (the dist sampler's seed)
        self.call: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llm, name)

    def create_completion(self, **kwargs: Any) -> Any:
        self.call = kwargs
        return iter(())


@dataclass
class Job:
    tokens: list[int]  # the whole prompt
    stop: tuple[str, ...]
    sampler: Any  # llama_cpp._internals.LlamaSampler, owned by this job
    max_tokens: int
    send: Send
    cancelled: threading.Event = field(default_factory=threading.Event)
    todo: list[int] = field(default_factory=list)  # prompt tokens not yet evaluated
    next_token: int | None = None  # sampled, to be evaluated in the next step
    produced: int = 0
    _text: str = ""  # decoded, not yet emitted (it may begin a stop string)
    _decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )

    def take(self, piece: bytes) -> tuple[str, bool]:
        """Text that may be emitted now, and whether a stop string ended the job."""
        self._text += self._decoder.decode(piece)
        hits = [i for i in (self._text.find(s) for s in self.stop) if i >= 0]
        if hits:
            out, self._text = self._text[: min(hits)], ""
            self._decoder.reset()
            return out, True
        hold = max((_overlap(self._text, s) for s in self.stop), default=0)
        out, self._text = self._text[: len(self._text) - hold], self._text[len(self._text) - hold :]
        return out, False

    def finish(self, reason: str) -> None:
        """Emit what was held back and the final event."""
        rest = self._text + self._decoder.decode(b"", final=True)
        if rest and reason != "cancelled":
            self.send(TextDelta(rest))
        self._text = ""
        self.send(GenerationDone(reason, completion_tokens=self.produced))  # type: ignore[arg-type]


def _overlap(text: str, stop: str) -> int:
    """The length of the longest end of `text` that is a proper start of `stop`."""
    for n in range(min(len(text), len(stop) - 1), 0, -1):
        if text.endswith(stop[:n]):
            return n
    return 0


@dataclass
class Slot:
    seq_id: int
    cached: list[int] = field(default_factory=list)  # the tokens this sequence's KV cache holds
    job: Job | None = None
    used: int = -1  # when it last took a job (an admission count); -1: never


def choose_slot(free: Sequence[Slot], tokens: Sequence[int]) -> Slot:
    """The free slot whose cache the prompt reuses best, as llama-server chooses: the longest
    common prefix, if it covers at least half of what that slot holds (so a shared template
    opening does not evict another user's conversation); otherwise the least recently used."""
    best = max(free, key=lambda slot: common_prefix(slot.cached, tokens))
    if 2 * common_prefix(best.cached, tokens) >= len(best.cached) > 0:
        return best
    return min(free, key=lambda slot: slot.used)


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def prepare_job(
    llm: Any, messages: Sequence[Message], options: GenerationOptions, send: Send
) -> Job:
    """Format, tokenise and set up sampling for one request, as llama-cpp-python would."""
    from llama_cpp import Llama

    # Llama's own methods, run on a stand-in (`_Recorder`), hence untyped here.
    format_chat: Any = Llama.create_chat_completion
    init_sampler: Any = Llama._init_sampler
    recorder = _Recorder(llm)
    format_chat(recorder, **chat_completion_kwargs(messages, options))
    call = recorder.call
    seed = call["seed"] if call.get("seed") is not None else random.randrange(2**32)
    sampler = init_sampler(
        _Recorder(llm, seed),
        top_k=call["top_k"],
        top_p=call["top_p"],
        min_p=call["min_p"],
        typical_p=call["typical_p"],
        temp=call["temperature"],
        repeat_penalty=call["repeat_penalty"],
        frequency_penalty=call["frequency_penalty"],
        presence_penalty=call["presence_penalty"],
        grammar=call.get("grammar"),
    )
    stop = call.get("stop") or []
    return Job(
        tokens=list(call["prompt"]),
        stop=tuple([stop] if isinstance(stop, str) else stop),
        sampler=sampler,
        max_tokens=call.get("max_tokens") or options.max_tokens,
        send=send,
    )


__all__ = ["Job", "Slot", "choose_slot", "common_prefix", "prepare_job"]
