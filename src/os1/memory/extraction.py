"""Deterministic extractors: facts a rule can find without a model.

They run inline on every user message (microseconds), so memory works even when the model
extracts badly or not at all: people ("my sister Anna", "actually my sister is called Anna"),
names, likes and dislikes, places (lives in, moved to, from, works at), jobs, and dated events
("yesterday I went to …" → a fact dated to that day). A correction marker ("actually", "no,",
"I meant") or a single-valued topic (where you live, your partner's name) makes the new fact
supersede the old one on the same topic.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from os1.memory.temporal import event_day

_NAME = r"([A-Z][a-zA-Z'-]+(?: [A-Z][a-zA-Z'-]+)?)"
_RELATIONS = (
    "sister|brother|wife|husband|partner|boyfriend|girlfriend|fiancée?|best friend|friend|"
    "mom|mum|mother|dad|father|son|daughter|boss|colleague|coworker|cousin|aunt|uncle|"
    "grandma|grandmother|grandpa|grandfather|niece|nephew|roommate|neighbou?r|therapist|"
    "dog|cat|kid|child|baby"
)
# One of these at a time: a new one replaces the old.
_SINGLE = {
    "wife",
    "husband",
    "partner",
    "boyfriend",
    "girlfriend",
    "fiance",
    "fiancee",
    "boss",
    "mom",
    "mum",
    "mother",
    "dad",
    "father",
    "therapist",
}
_CORRECTION = re.compile(r"\b(actually|no,|not \w+,|i meant|correction|sorry,|in fact)\b", re.I)

_RELATION = re.compile(
    rf"(?i:\bmy) ({_RELATIONS})(?:'s name)?(?: is called| is named| is| named| called|,)? {_NAME}"
)
_MY_NAME = re.compile(rf"\b(?:my name is|call me|i'm called|i am called) {_NAME}", re.I)
_PREFERENCE = re.compile(
    r"\bI (?:really |absolutely |truly |just )?(love|like|enjoy|adore|hate|dislike|can't stand|"
    r"don't like|do not like|prefer|am into|'m into)\s+([^.!?,;]{3,60})",
    re.I,
)
_PLACE = re.compile(
    r"\bI (?:now )?(live|moved|am moving|'m moving|grew up|was born|work|am from|'m from)"
    rf"(?: in| to| at)? {_NAME}"
)
_JOB = re.compile(r"\bI work as an? ([a-z]+(?: [a-z]+)?)(?= at| for| in| and| but|[.!?,;]|$)")
_LIKE_WORDS = {
    "love": "loves",
    "like": "likes",
    "enjoy": "enjoys",
    "adore": "adores",
    "prefer": "prefers",
    "am into": "is into",
    "'m into": "is into",
}
_DISLIKE_WORDS = {"hate", "dislike", "can't stand", "don't like", "do not like"}
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_STOP_OBJECT = re.compile(r"\b(to|that|when|because|and|but|so|if)\b.*$")


@dataclass(frozen=True, slots=True)
class Finding:
    text: str  # a sentence in the third person, about `subject`
    topic: str | None
    corrects: bool
    importance: float
    event_date: date | None = None


def _topic_word(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def extract(text: str, subject: str, said_on: date) -> list[Finding]:
    """Facts stated in one message by `subject` (the user's name, or the speaker's)."""
    found = list(_facts(text, subject, said_on))
    unique: dict[str, Finding] = {}
    for f in found:
        unique.setdefault(f.text, f)
    return list(unique.values())


def _facts(text: str, subject: str, said_on: date) -> Iterator[Finding]:
    correcting = bool(_CORRECTION.search(text))
    for m in _RELATION.finditer(text):
        relation, name = m.group(1).lower(), m.group(2)
        if name.split()[0] in {"I", "The", "A", "And", "But", "So"}:
            continue
        single = relation.replace("é", "e") in _SINGLE
        yield Finding(
            f"{subject}'s {relation} is called {name}.",
            f"person:{_topic_word(relation)}"
            + ("" if single or correcting else f":{name.lower()}"),
            single or correcting,
            0.9,
        )
    for m in _MY_NAME.finditer(text):
        yield Finding(f"{subject}'s name is {m.group(1)}.", "self:name", True, 0.9)
    for m in _PREFERENCE.finditer(text):
        verb = m.group(1).lower()
        thing = _STOP_OBJECT.sub("", m.group(2)).strip()
        if not thing or thing.lower() in {"it", "that", "this", "you", "them"}:
            continue
        liked = verb not in _DISLIKE_WORDS
        phrase = (
            f"likes {thing}"
            if liked and verb not in _LIKE_WORDS
            else (_LIKE_WORDS.get(verb, "likes") + f" {thing}" if liked else f"dislikes {thing}")
        )
        yield Finding(f"{subject} {phrase}.", f"preference:{_topic_word(thing)}", True, 0.7)
    for m in _PLACE.finditer(text):
        verb, place = m.group(1).lower(), m.group(2)
        if verb in ("live", "moved", "am moving", "'m moving"):
            yield Finding(f"{subject} lives in {place}.", "place:home", True, 0.8)
        elif verb in ("grew up", "was born", "am from", "'m from"):
            yield Finding(f"{subject} is from {place}.", "place:origin", True, 0.8)
        else:
            yield Finding(f"{subject} works at {place}.", "place:work", True, 0.8)
    for m in _JOB.finditer(text):
        yield Finding(f"{subject} works as a {m.group(1)}.", "self:job", True, 0.7)
    for sentence in _SENTENCE.findall(text):
        sentence = sentence.strip()
        day = event_day(sentence, said_on)
        if day is not None and len(sentence.split()) >= 3:
            yield Finding(
                f"{subject} said on {said_on.isoformat()}: {sentence}", None, False, 0.7, day
            )


__all__ = ["Finding", "extract"]
