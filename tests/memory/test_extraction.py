from __future__ import annotations

from datetime import date

import pytest

from os1.errors import ModelOutputError
from os1.memory.extraction import extract
from os1.memory.model_extraction import MAX_TOKENS, extract_with_model
from os1.testing import ScriptedBackend

TUESDAY = date(2026, 11, 24)


def texts(message: str) -> list[str]:
    return [f.text for f in extract(message, "Theo", TUESDAY)]


def test_people_places_preferences_and_jobs() -> None:
    found = texts(
        "My sister is called Maria. I moved to Lisbon and I love hiking in the mountains. "
        "I work as a nurse at the clinic. I can't stand cold coffee."
    )
    assert "Theo's sister is called Maria." in found
    assert "Theo lives in Lisbon." in found
    assert "Theo loves hiking in the mountains." in found
    assert "Theo works as a nurse." in found
    assert "Theo dislikes cold coffee." in found


def test_dated_events_resolve_relative_to_when_said() -> None:
    (event,) = [f for f in extract("Yesterday I went to a pottery class.", "Theo", TUESDAY)]
    assert event.event_date == date(2026, 11, 23)
    (party,) = [f for f in extract("The party is next Friday.", "Theo", TUESDAY)]
    assert party.event_date == date(2026, 11, 27)


def test_corrections_are_marked_and_plain_chat_yields_nothing() -> None:
    (fact,) = extract("Actually my sister is called Anna.", "Theo", TUESDAY)
    assert fact.corrects and fact.topic == "person:sister"
    assert extract("ok, sounds good to me", "Theo", TUESDAY) == []


async def test_model_path_parses_grammar_json_and_is_bounded() -> None:
    backend = ScriptedBackend(
        [
            {
                "facts": [
                    {
                        "fact": "Theo adopted a cat named Miso.",
                        "topic": "cat name",
                        "correction": False,
                        "date": "2026-11-20",
                    }
                ]
            }
        ]
    )
    found = await extract_with_model(backend, "We adopted Miso last week!", "Theo", TUESDAY)
    assert [(f.text, f.topic, f.event_date) for f in found] == [
        ("Theo adopted a cat named Miso.", "model:cat-name", date(2026, 11, 20))
    ]
    options = backend.calls[0].options
    assert options.max_tokens == MAX_TOKENS and options.json_schema is not None
    assert "We adopted Miso last week!" in backend.calls[0].messages[-1].content


async def test_model_path_rejects_garbage() -> None:
    backend = ScriptedBackend(["I think the user likes cats, maybe."])
    with pytest.raises(ModelOutputError):
        await extract_with_model(backend, "I like cats", "Theo", TUESDAY)
