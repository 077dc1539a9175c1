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
        ("in the second week of November", date(2026, 11, 8), date(2026, 11, 14)),
        ("the last week of June 2023", date(2023, 6, 24), date(2023, 6, 30)),
        ("during the first weekend of August 2023", date(2023, 8, 5), date(2023, 8, 6)),
        (
            "where was he between August 11 and August 15 2023?",
            date(2023, 8, 11),
            date(2023, 8, 15),
        ),
        ("the week before 16 November 2023", date(2023, 11, 9), date(2023, 11, 15)),
        ("last weekend before April 10, 2023", date(2023, 4, 8), date(2023, 4, 9)),
        ("the day after 3 May 2023", date(2023, 5, 4), date(2023, 5, 4)),
        # "as of" is everything up to then: open-ended, so it barely narrows
        ("how many pets did he have, as of December 2023?", date(1900, 1, 1), date(2023, 12, 31)),
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
    week = resolve("what did we do the week before the wedding?", TUESDAY, anchor)
    weekend = resolve("the weekend after the wedding", TUESDAY, anchor)
    assert week is not None and (week.start, week.end) == (date(2026, 6, 6), date(2026, 6, 12))
    assert weekend is not None and (weekend.start, weekend.end) == (
        date(2026, 6, 20),
        date(2026, 6, 21),
    )


def test_no_time_words() -> None:
    assert resolve("tell me about my sister", TUESDAY) is None
    assert resolve("how many weeks passed between adopting Coco and Shadow?", TUESDAY) is None
