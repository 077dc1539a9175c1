from __future__ import annotations

from datetime import date

import pytest

from os1.memory.temporal import resolve

TUESDAY = date(2026, 11, 24)


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        ("what did I do last Tuesday?", date(2026, 11, 17), date(2026, 11, 17)),
        ("yesterday", date(2026, 11, 23), date(2026, 11, 23)),
        ("what happened in May", date(2026, 5, 1), date(2026, 5, 31)),
        ("in December", date(2025, 12, 1), date(2025, 12, 31)),  # the past December
        ("last week", date(2026, 11, 16), date(2026, 11, 22)),
        ("last month", date(2026, 10, 1), date(2026, 10, 31)),
        ("3 days ago", date(2026, 11, 21), date(2026, 11, 21)),
        ("on 5 May, 2023", date(2023, 5, 5), date(2023, 5, 5)),
        ("in 2022", date(2022, 1, 1), date(2022, 12, 31)),
        # a dated expression wins over a relative one before it
        (
            "what did she finish last Friday on 23 January, 2022?",
            date(2022, 1, 23),
            date(2022, 1, 23),
        ),
    ],
)
def test_time_words_become_day_ranges(query: str, start: date, end: date) -> None:
    span = resolve(query, TUESDAY)
    assert span is not None and (span.start, span.end) == (start, end)


def test_events_anchor_before_and_after() -> None:
    def anchor(words: str) -> date | None:
        return date(2026, 6, 13) if "wedding" in words else None

    before = resolve("what did we plan before the wedding?", TUESDAY, anchor)
    after = resolve("where did we go after the wedding", TUESDAY, anchor)
    assert before is not None and before.end == date(2026, 6, 12)
    assert after is not None and after.start == date(2026, 6, 14)
    assert resolve("before the unknown thing?", TUESDAY, anchor) is None


def test_no_time_words() -> None:
    assert resolve("tell me about my sister", TUESDAY) is None
