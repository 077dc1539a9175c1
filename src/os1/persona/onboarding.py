"""The first meeting, as a small persisted state machine driven one user message at a time.

    start ─► name ─► voice ─► days ─► people ─► hopes ─► done

The OS says plainly that it is an AI, learns the user's name, offers its voices, asks three
questions, then chooses its own name (os1.persona.naming) and tells the user. Every step's
wording comes from code; the model only adds a short reflection on each answer (validated,
with a fixed fallback) and proposes the name, so the meeting completes on any model. The step
is saved after each answer, so a meeting interrupted halfway resumes where it stopped.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import replace

from pydantic import BaseModel, Field

from os1.backends.base import GenerationOptions, collect_text
from os1.backends.structured import generate_json
from os1.context import TurnContext
from os1.errors import ModelOutputError, UserError
from os1.events import ErrorEvent, Event, IdentityChanged, MessageStored
from os1.inputs import clean_user_text
from os1.messages import Message
from os1.persona.identity import ONBOARDED, Identity
from os1.persona.naming import choose_name, clean_reason
from os1.prompts import render
from os1.replies import say
from os1.voices import DEFAULT_VOICE, VOICES

GREETING = (
    "Hello. I'm an AI — an operating system that lives here on your computer, and what we say "
    "stays here. I'd like to get to know you a little, and then I'll choose a name for myself. "
    "First: what should I call you?"
)
QUESTIONS = {
    "days": "What fills your days right now — work, study, something else?",
    "people": "Who are the people who matter most to you at the moment?",
    "hopes": "And what would you like from me — what could I help you with?",
}
NEXT = {"days": "people", "people": "hopes", "hopes": "naming"}
_NAME_PATTERNS = (
    r"\bmy name(?:'s| is)\s+([A-Za-zÀ-ÿ'-]+)",
    r"\bcall me\s+([A-Za-zÀ-ÿ'-]+)",
    r"\bi(?:'m| am)\s+([A-Za-zÀ-ÿ'-]+)",
    r"\bit(?:'s| is)\s+([A-Za-zÀ-ÿ'-]+)",
    r"\bname:?\s+([A-Za-zÀ-ÿ'-]+)",
)
_NOT_NAMES = {"a", "an", "the", "not", "just", "so", "very", "fine", "good", "here", "called"}


class _UserName(BaseModel):
    name: str = Field(min_length=1, max_length=40)


def voice_menu() -> str:
    lines = [f"{i}. {v.name} — {v.description}" for i, v in enumerate(VOICES, 1)]
    return (
        "I can speak aloud in one of these voices:\n"
        + "\n".join(lines)
        + ("\nWhich would you like? (A number or a name is fine; you can change it later.)")
    )


def parse_name(text: str) -> str | None:
    """The user's name from their answer, by rule; None if no rule applies."""
    for pattern in _NAME_PATTERNS:
        m = re.search(pattern, text, re.IGNORECASE)
        if m and m.group(1).lower() not in _NOT_NAMES:
            return str(m.group(1)).strip("'-").capitalize()
    words: list[str] = re.findall(r"[A-Za-zÀ-ÿ'-]+", text)
    if 1 <= len(words) <= 3 and words[0].lower() not in _NOT_NAMES:
        return words[0].strip("'-").capitalize()
    return None


def parse_voice(text: str) -> str | None:
    t = text.strip().lower()
    ordinals = {
        "1": 0,
        "one": 0,
        "first": 0,
        "2": 1,
        "two": 1,
        "second": 1,
        "3": 2,
        "three": 2,
        "third": 2,
    }
    for word in re.findall(r"[a-z0-9]+", t):
        for v in VOICES:
            if word == v.id or word == v.name.lower():
                return v.id
        if word in ordinals and ordinals[word] < len(VOICES):
            return VOICES[ordinals[word]].id
    if any(p in t for p in ("any", "you choose", "don't mind", "dont mind", "whatever", "default")):
        return DEFAULT_VOICE
    return None


async def _model_name(ctx: TurnContext, text: str) -> str | None:
    try:
        got = await generate_json(
            ctx.backend,
            [
                Message(
                    "user",
                    f'Someone was asked their name and answered: "{text}". '
                    'What is their first name? Answer as JSON: {"name": "..."}',
                )
            ],
            _UserName,
            GenerationOptions(max_tokens=30, temperature=0.0),
            attempts=1,
        )
    except ModelOutputError:
        return None
    name = got.name.strip().split()[0] if got.name.strip() else ""
    # Only accept a name the user actually wrote: the model must not invent one.
    return name.capitalize() if name and name.lower() in text.lower() else None


async def _reflect(ctx: TurnContext, identity: Identity, key: str, answer: str) -> str:
    prompt = render(
        "onboarding_reflect",
        user_name=identity.user_name or "them",
        question=QUESTIONS[key],
        answer=answer[:600],
    )
    try:
        text = await collect_text(
            ctx.backend,
            [Message("user", prompt)],
            GenerationOptions(max_tokens=48, temperature=0.7, stop=("\n",)),
        )
    except UserError:
        text = ""
    sentence = clean_reason(text)
    if sentence is None or "?" in sentence:
        return "Thank you for telling me that."
    return sentence[0].upper() + sentence[1:]


async def step(
    ctx: TurnContext, identity: Identity, text: str | None
) -> AsyncGenerator[Event, None]:
    store = ctx.store
    if text is not None:
        try:
            text = clean_user_text(text, ctx.config.max_input_chars)
            message = store.add_message(ctx.session(), "user", text, meta={"onboarding": True})
        except UserError as e:
            yield ErrorEvent(e.sentence)
            return
        yield MessageStored(message.id)

    current = identity.onboarding_step
    if current == "start" or text is None:
        if current == "start":
            store.save_identity(replace(identity, onboarding_step="name"))
        async with aclosing(
            say(ctx, GREETING if current in ("start", "name") else _ask(current))
        ) as events:
            async for event in events:
                yield event
        return

    if current == "name":
        name = parse_name(text) or await _model_name(ctx, text)
        if name is None:
            async with aclosing(
                say(ctx, "Sorry, I didn't catch your name — what should I call you?")
            ) as events:
                async for event in events:
                    yield event
            return
        identity = replace(identity, user_name=name, onboarding_step="voice")
        store.save_identity(identity, reason="the user told me their name")
        async with aclosing(say(ctx, f"It's lovely to meet you, {name}. {voice_menu()}")) as events:
            async for event in events:
                yield event
        return

    if current in ("voice", "voice_again"):
        voice = parse_voice(text)
        if voice is None and current == "voice":
            store.save_identity(replace(identity, onboarding_step="voice_again"))
            async with aclosing(
                say(ctx, "I didn't quite catch which one. " + voice_menu())
            ) as events:
                async for event in events:
                    yield event
            return
        chosen = voice or DEFAULT_VOICE
        label = next(v.name for v in VOICES if v.id == chosen)
        identity = replace(identity, voice=chosen, onboarding_step="days")
        store.save_identity(identity, reason="the user chose a voice at our first meeting")
        yield IdentityChanged(identity.os_name, identity.voice, False)
        lead = f"{label} it is." if voice else f"I'll use {label} for now; you can change it."
        async with aclosing(
            say(
                ctx,
                f"{lead} Now a few questions, so I know who I'm talking with. {QUESTIONS['days']}",
            )
        ) as events:
            async for event in events:
                yield event
        return

    if current in QUESTIONS:
        answers = {**identity.answers, current: text[:1000]}
        identity = replace(identity, answers=answers, onboarding_step=NEXT[current])
        store.save_identity(identity)
        reflection = await _reflect(ctx, identity, current, text)
        if NEXT[current] in QUESTIONS:
            async with aclosing(say(ctx, f"{reflection} {QUESTIONS[NEXT[current]]}")) as events:
                async for event in events:
                    yield event
            return
        async with aclosing(_finish(ctx, identity, reflection)) as events:
            async for event in events:
                yield event
        return

    if current == "naming":  # a crash between the last answer and the name: finish now
        async with aclosing(_finish(ctx, identity, "")) as events:
            async for event in events:
                yield event


def _ask(current: str) -> str:
    if current in QUESTIONS:
        return QUESTIONS[current]
    if current in ("voice", "voice_again"):
        return voice_menu()
    return GREETING


async def _finish(
    ctx: TurnContext, identity: Identity, reflection: str
) -> AsyncGenerator[Event, None]:
    name, reason, _from_model = await choose_name(ctx.backend, identity)
    identity = replace(identity, os_name=name, onboarding_step=ONBOARDED)
    ctx.store.save_identity(identity, reason=reason or "the name I chose at our first meeting")
    yield IdentityChanged(name, identity.voice, True)
    why = (
        f"I'd like to be called {name} — {reason}"
        if reason
        else (f"I'd like to be called {name}. It feels right to me.")
    )
    text = (
        f"{reflection} I've been thinking about what I'd like to be called. {why} "
        f"I'm really glad to meet you, {identity.user_name or ctx.user_name}. "
        "Tell me anything — how is today going?"
    ).strip()
    async with aclosing(say(ctx, text, meta={"named": name})) as events:
        async for event in events:
            yield event
