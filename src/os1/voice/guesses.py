"""What a voice session knows before an utterance has ended: the transcript guessed at a pause,
whether it sounds finished, how two heard parts join, and a reply begun ahead for a guess
(`Ahead`: the speculation and its first piece being voiced) that the endpoint takes over or
drops. The session (os1.voice.session) decides when; these are the pieces it keeps.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from os1.voice.audio import Audio
from os1.voice.engines import TextToSpeech
from os1.voice.speculation import Speculation

_UNFINISHED = re.compile(
    r"(?:[,;:\-–—…]|\b(?:and|but|or|so|because|um+|uh+|er|erm|hmm|the|a|an|to|of|with|"
    r"if|that|like|my|your|for|in|on|at|is|was)[.,]?)\s*$",
    re.IGNORECASE,
)


def sounds_finished(text: str) -> bool | None:
    """True for a question or exclamation, False for a trailing "and"/"um"/comma or a full
    stop (Whisper ends a phrase cut at a comma pause with one too), None when it cannot tell."""
    text = text.strip()
    if not text:
        return None
    if _UNFINISHED.search(text) or text[-1] == ".":
        return False
    return True if text[-1] in "?!" else None


def trails_off(text: str) -> bool:
    """The text ends in "and", "um", a comma and the like: more follows."""
    return _UNFINISHED.search(text) is not None


def join_heard(first: str, rest: str) -> str:
    """The text of an utterance heard in two parts, around a pause."""
    first, rest = first.strip(), rest.strip()
    if not first or not rest:
        return first or rest
    if first[-1] == ".":  # Whisper's full stop where the phrase was cut
        first = first[:-1] + ","
        if not re.match(r"I\b", rest):
            rest = rest[0].lower() + rest[1:]
    return f"{first} {rest}"


@dataclass
class Guess:
    """A speculative transcript of the utterance so far, taken at a pause."""

    last_voiced: int  # identifies the pause
    cut: int  # samples of the utterance it covers
    prefix: str  # what earlier parts of the utterance said
    words: asyncio.Future[str]  # the transcript of the part after the prefix

    @property
    def text(self) -> str | None:
        if not self.words.done() or self.words.cancelled() or self.words.exception():
            return None
        return join_heard(self.prefix, self.words.result())


@dataclass
class FirstPiece:
    """The first piece of a speculative reply, synthesised while the endpoint waits."""

    tts: TextToSpeech
    text: str
    audio: asyncio.Task[Audio]


@dataclass
class Ahead:
    """A reply being generated for a guess (the speculation once its prompt is built), and
    its first piece being voiced (once the speculation has written it)."""

    last_voiced: int  # the pause it was guessed at
    started: asyncio.Task[Speculation | None]
    voicing: asyncio.Task[FirstPiece | None] | None = None

    def drop(self) -> None:
        """Cancel it, whether or not the generation has started yet."""
        self.started.cancel()
        self.started.add_done_callback(_cancel_speculation)
        self.drop_voice()

    def drop_voice(self) -> None:
        """Cancel voicing the first piece (the turn's own first piece is another)."""
        if self.voicing is not None:
            self.voicing.cancel()
            self.voicing.add_done_callback(_cancel_first_piece)

    def first_piece(self) -> FirstPiece | None:
        """The first piece if its synthesis has begun (else the turn voices its own)."""
        voicing = self.voicing
        if voicing is None or not voicing.done() or voicing.cancelled():
            return None
        return None if voicing.exception() is not None else voicing.result()


def _cancel_speculation(started: asyncio.Task[Speculation | None]) -> None:
    if not started.cancelled() and started.exception() is None:
        speculation = started.result()
        if speculation is not None:
            speculation.cancel()


def _cancel_first_piece(voicing: asyncio.Task[FirstPiece | None]) -> None:
    if not voicing.cancelled() and voicing.exception() is None:
        piece = voicing.result()
        if piece is not None:
            piece.audio.cancel()


__all__ = ["Ahead", "FirstPiece", "Guess", "join_heard", "sounds_finished", "trails_off"]
