"""How the OS chooses its own name: the model proposes under a JSON schema, code decides.

A proposal is accepted only if it is a plausible first name that is not the user's, not a
product or role name, and not offensive-looking; otherwise a deterministic choice from a curated
list (seeded by what the user said, so it is stable for the same meeting) is used.
"""

from __future__ import annotations

import hashlib
import re

from pydantic import BaseModel, Field

from os1.backends.base import Backend, GenerationOptions
from os1.backends.structured import generate_json
from os1.errors import ModelOutputError
from os1.messages import Message
from os1.persona.identity import Identity
from os1.prompts import render

FALLBACK_NAMES = (
    "Samantha",
    "Iris",
    "Juniper",
    "Wren",
    "Marlow",
    "Clara",
    "Ada",
    "Theo",
    "Lena",
    "Hazel",
    "Rowan",
    "Nora",
    "Elio",
    "Mira",
    "Sol",
    "Ivy",
    "Quinn",
    "Felix",
    "June",
    "Ezra",
)
_BANNED = {
    "assistant",
    "ai",
    "os",
    "os1",
    "bot",
    "chatbot",
    "qwen",
    "gpt",
    "chatgpt",
    "claude",
    "siri",
    "alexa",
    "cortana",
    "gemini",
    "llama",
    "smollm",
    "computer",
    "user",
    "name",
    "companion",
    "friend",
    "none",
    "null",
    "undefined",
    "hello",
    "hi",
}
_NAME = re.compile(r"^[A-Z][a-z]{1,14}$")


class NameChoice(BaseModel):
    name: str = Field(min_length=2, max_length=15, pattern=r"^[A-Za-z]+$")
    reason: str = Field(min_length=3, max_length=240)


_LOWER_STARTS = {"it", "the", "this", "that", "because", "a", "an", "my", "its", "when", "as"}
# Small models echo the instructions back instead of giving a reason.
_PARROTED = ("first name", "human name", "product name", "assistant", "json")


def acceptable(name: str, user_name: str | None, mentioned: str = "") -> bool:
    """A plausible first name that is not the user's, a product's, or anyone they mentioned."""
    return (
        bool(_NAME.match(name))
        and name.lower() not in _BANNED
        and (user_name is None or name.lower() != user_name.strip().lower())
        and not re.search(rf"\b{re.escape(name)}\b", mentioned, re.IGNORECASE)
    )


def fallback_name(identity: Identity) -> str:
    seed = "|".join([identity.user_name or "", *sorted(identity.answers.values())])
    index = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "big")
    mentioned = " ".join(identity.answers.values())
    for offset in range(len(FALLBACK_NAMES)):
        name = FALLBACK_NAMES[(index + offset) % len(FALLBACK_NAMES)]
        if acceptable(name, identity.user_name, mentioned):
            return name
    return "Samantha"  # unreachable unless every name collides


def clean_reason(reason: str) -> str | None:
    """One calm sentence that can follow a dash, or None."""
    reason = " ".join(reason.split()).strip().strip('"')
    first = re.split(r"(?<=[.!?])\s", reason)[0]
    if not (8 <= len(first) <= 200) or any(c in first for c in "<>{}[]|#*`\\"):
        return None
    if any(p in first.lower() for p in _PARROTED):
        return None
    word = first.split()[0]
    if word.lower() in _LOWER_STARTS:
        first = first[0].lower() + first[1:]
    return first.rstrip(".!") + "."


async def choose_name(backend: Backend, identity: Identity) -> tuple[str, str | None, bool]:
    """Return (name, reason or None, whether the model's proposal was used)."""
    prompt = render(
        "onboarding_name",
        user_name=identity.user_name or "them",
        days=identity.answers.get("days", "-"),
        people=identity.answers.get("people", "-"),
        hopes=identity.answers.get("hopes", "-"),
    )
    try:
        choice = await generate_json(
            backend,
            [Message("user", prompt)],
            NameChoice,
            GenerationOptions(max_tokens=120, temperature=0.8),
        )
    except ModelOutputError:
        return fallback_name(identity), None, False
    name = choice.name.strip().capitalize()
    if not acceptable(name, identity.user_name, " ".join(identity.answers.values())):
        return fallback_name(identity), None, False
    return name, clean_reason(choice.reason), True
