"""Model-based extraction: the embedded model lists facts under a JSON grammar.

Bounded so it can never run away: one attempt, at most `MAX_TOKENS` tokens, at most five facts
of 200 characters. Output is validated (pydantic, a trust boundary: the model wrote it); any
failure is a ModelOutputError, which the caller answers by keeping only the deterministic
extractors' facts.
"""

from __future__ import annotations

import re
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from os1.backends.base import Backend, GenerationOptions
from os1.backends.structured import generate_json
from os1.memory.extraction import Finding
from os1.messages import Message
from os1.prompts import render

MAX_TOKENS = 192


class ExtractedFact(BaseModel):
    model_config = ConfigDict(extra="ignore")

    fact: str = Field(min_length=3, max_length=200)
    topic: str = Field(default="", max_length=60)
    correction: bool = False
    date: str | None = Field(default=None, max_length=10)


class Extraction(BaseModel):
    model_config = ConfigDict(extra="ignore")

    facts: list[ExtractedFact] = Field(default_factory=list, max_length=5)


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


async def extract_with_model(
    backend: Backend, text: str, speaker: str, today: date
) -> list[Finding]:
    prompt = render("memory_extract", speaker=speaker, text=text[:1500], today=today.isoformat())
    result = await generate_json(
        backend,
        [Message("user", prompt)],
        Extraction,
        GenerationOptions(max_tokens=MAX_TOKENS, temperature=0.0, background=True),
        attempts=1,
    )
    findings = []
    for f in result.facts:
        topic = re.sub(r"[^a-z0-9]+", "-", f.topic.lower()).strip("-")
        findings.append(
            Finding(
                f.fact.strip(),
                f"model:{topic}" if topic else None,
                f.correction and bool(topic),
                0.75,
                _day(f.date),
            )
        )
    return findings


__all__ = ["MAX_TOKENS", "ExtractedFact", "Extraction", "extract_with_model"]
