from __future__ import annotations

from os1.context import TurnContext
from os1.conversation import run_turn
from os1.events import IdentityChanged, MessageStored, TurnEnded
from os1.persona.onboarding import GREETING, parse_name, parse_voice
from os1.runtime import Runtime
from os1.testing import ScriptedBackend
from tests.conftest import make_context
from tests.helpers import drain, text_of

ANSWERS = [
    "Hi, I'm Theodore",
    "2",
    "I write letters for other people",
    "My sister Anna and my friend Amy",
    "Keep me company, and help with email",
]


async def meet(ctx: TurnContext) -> list[str]:
    replies = [text_of(await drain(run_turn(ctx, None)))]
    for answer in ANSWERS:
        replies.append(text_of(await drain(run_turn(ctx, answer))))
    return replies


async def test_first_meeting_completes_with_model_name(runtime: Runtime):
    ctx = make_context(runtime, "theo", onboarded=False)
    ctx.backend = ScriptedBackend(
        script=[
            "That sounds like meaningful, tender work.",
            "They sound very dear to you.",
            "I would love to keep you company.",
            {
                "name": "Juniper",
                "reason": "I like how it sounds bright and green, like beginnings.",
            },
        ]
    )
    replies = await meet(ctx)
    assert replies[0] == GREETING and "I'm an AI" in replies[0]
    assert "Theodore" in replies[1] and "1. Joe" in replies[1]
    assert replies[2].startswith("Iris it is.")
    assert "meaningful" in replies[3] and "people who matter" in replies[3]
    assert "Juniper" in replies[5]
    ident = ctx.store.get_identity()
    assert (ident.os_name, ident.voice, ident.user_name, ident.onboarded) == (
        "Juniper",
        "iris",
        "Theodore",
        True,
    )
    assert ident.answers["people"] == "My sister Anna and my friend Amy"
    fields = [h["field"] for h in ctx.store.identity_history()]
    assert fields == ["user_name", "voice", "os_name"]
    ctx.backend.assert_done()  # type: ignore[attr-defined]


async def test_unusable_model_output_falls_back_deterministically(runtime: Runtime):
    ctx = make_context(runtime, "theo", onboarded=False)
    garbage = [
        "<|im_start|>{{{",
        "?",
        "not json at all",
        "{nope",
        {"name": "Theodore", "reason": "same"},
    ]
    ctx.backend = ScriptedBackend(script=garbage)
    replies = await meet(ctx)
    ident = ctx.store.get_identity()
    assert ident.onboarded and ident.os_name and ident.os_name != "Theodore"
    assert f"I'd like to be called {ident.os_name}." in replies[-1]
    assert "Thank you for telling me that." in replies[3]


async def test_a_second_run_does_not_onboard_again(runtime: Runtime):
    ctx = make_context(runtime, "theo", onboarded=False)
    ctx.backend = ScriptedBackend(
        script=["Nice.", "Lovely.", "Yes.", {"name": "Wren", "reason": "It feels like home."}]
    )
    await meet(ctx)
    ctx2 = runtime.context(runtime.user("theo"))
    ctx2.backend = ScriptedBackend(script=["Hello again, Theodore."])
    events = await drain(run_turn(ctx2, "hello"))
    assert text_of(events) == "Hello again, Theodore."
    assert "Wren" in ctx2.backend.calls[0].messages[0].content  # type: ignore[attr-defined]
    assert await drain(run_turn(ctx2, None)) == []


async def test_onboarding_resumes_after_interruption(runtime: Runtime):
    ctx = make_context(runtime, "theo", onboarded=False)
    await drain(run_turn(ctx, None))
    await drain(run_turn(ctx, "Theodore"))
    # a new process: the meeting picks up at the voice question
    ctx2 = runtime.context(runtime.user("theo"))
    replay = text_of(await drain(run_turn(ctx2, None)))
    assert "Which would you like?" in replay
    events = await drain(run_turn(ctx2, "joe please"))
    assert any(isinstance(e, IdentityChanged) and e.voice == "joe" for e in events)


async def test_every_answer_is_acknowledged_as_stored(runtime: Runtime):
    ctx = make_context(runtime, "theo", onboarded=False)
    await drain(run_turn(ctx, None))
    events = await drain(run_turn(ctx, "call me Ted"))
    assert isinstance(events[0], MessageStored) and isinstance(events[-1], TurnEnded)
    assert ctx.store.get_message(events[0].message_id).content == "call me Ted"  # type: ignore[union-attr]


async def test_unclear_name_asks_again_without_inventing(runtime: Runtime):
    ctx = make_context(runtime, "theo", onboarded=False)
    ctx.backend = ScriptedBackend(script=[{"name": "Bob"}])
    await drain(run_turn(ctx, None))
    reply = text_of(await drain(run_turn(ctx, "well that is a long story, let me think about it")))
    assert "didn't catch your name" in reply
    assert ctx.store.get_identity().user_name is None


def test_parse_name_rules():
    assert parse_name("I'm Theodore") == "Theodore"
    assert parse_name("my name is anna-lise") == "Anna-lise"
    assert parse_name("call me Ted.") == "Ted"
    assert parse_name("Sam") == "Sam"
    assert parse_name("well that is a long story, let me think about it") is None


def test_parse_voice_rules():
    assert parse_voice("2") == "iris"
    assert parse_voice("the first one") == "joe"
    assert parse_voice("Rowan") == "rowan"
    assert parse_voice("you choose") == "joe"
    assert parse_voice("hmm") is None
