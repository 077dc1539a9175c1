"""Time words to date ranges: "last Tuesday", "in May", "3 days ago", "before the wedding".

`resolve(text, today)` finds the first time expression in a query and returns the inclusive
range of days it means (a `Span`), or None; one that names a year wins over relative ones
("what did she finish last Friday, on 23 January 2022?" means the dated day, not a Friday
before today). Past is preferred for queries ("in May" in March means last May). Words around
an expression qualify it: "the second week of November", "the first weekend of August 2023",
"between August 11 and August 15", "the week (or weekend, or day) before 16 November" or
"before the wedding" mean those days; "as of May 2023" means everything up to the end of May
(open-ended, so it hardly narrows). Event anchors ("before/after the X") need the memory: the
caller passes `anchor(words) -> date | None`, which finds when X happened. `event_day(text,
said_on)` does the same for statements ("we met yesterday", "the party is next Friday"): the
day a sentence refers to, relative to when it was said, future allowed.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
MONTHS.pop("may", None)
MONTHS["may"] = 5
WEEKDAYS = {d.lower(): i for i, d in enumerate(calendar.day_name)}
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_WEEKDAY = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3}
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}

EARLIEST = date(1900, 1, 1)
LATEST = date(2999, 12, 31)


@dataclass(frozen=True, slots=True)
class Span:
    start: date
    end: date
    words: str  # the expression it came from

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


Anchor = Callable[[str], date | None]


def _month_span(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _day(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _rules(
    today: date, future: bool
) -> list[tuple[re.Pattern[str], Callable[[re.Match[str]], tuple[date, date] | None]]]:
    def weekday(m: re.Match[str]) -> tuple[date, date]:
        target = WEEKDAYS[m.group(2)]
        which = m.group(1) or ""
        if which.startswith("next") or (which == "this" and future):
            ahead = (target - today.weekday()) % 7 or 7
            d = today + timedelta(days=ahead)
        else:
            back = (today.weekday() - target) % 7 or 7
            d = today - timedelta(days=back)
        return d, d

    def relative_period(m: re.Match[str]) -> tuple[date, date]:
        which, unit = m.group(1), m.group(2)
        sign = {"last": -1, "past": -1, "previous": -1, "this": 0, "next": 1}[which]
        if unit == "week":
            monday = today - timedelta(days=today.weekday()) + timedelta(weeks=sign)
            return monday, monday + timedelta(days=6)
        if unit == "month":
            month = today.month + sign
            year = today.year + (month - 1) // 12
            return _month_span(year, (month - 1) % 12 + 1)
        if unit == "weekend":
            saturday = (
                today - timedelta(days=(today.weekday() - 5) % 7) + timedelta(weeks=max(sign, 0))
            )
            return saturday, saturday + timedelta(days=1)
        return date(today.year + sign, 1, 1), date(today.year + sign, 12, 31)

    def ago(m: re.Match[str]) -> tuple[date, date]:
        n = _NUMBERS.get(m.group(1)) or int(m.group(1))
        days = n * _UNIT_DAYS[m.group(2)]
        d = today - timedelta(days=days)
        slack = max(0, days // 7) if m.group(2) != "day" else 0
        return d - timedelta(days=slack), d + timedelta(days=slack)

    def day_month(m: re.Match[str]) -> tuple[date, date] | None:
        groups = m.groupdict()
        month = MONTHS[groups["month"][:3] if groups["month"][:3] != "may" else "may"]
        day = int(groups["day"])
        if groups.get("year"):
            d = _day(int(groups["year"]), month, day)
        else:
            d = _day(today.year, month, day)
            if d is not None and d > today and not future:
                d = _day(today.year - 1, month, day)
        return (d, d) if d else None

    def month(m: re.Match[str]) -> tuple[date, date]:
        mon = MONTHS[m.group(1)[:3]]
        if m.group(2):
            return _month_span(int(m.group(2)), mon)
        year = today.year if (mon <= today.month or future) else today.year - 1
        return _month_span(year, mon)

    def week_of(m: re.Match[str]) -> tuple[date, date]:
        mon = MONTHS[m.group(3)[:3]]
        if m.group(4):
            year = int(m.group(4))
        else:
            year = today.year if (mon <= today.month or future) else today.year - 1
        first, last = _month_span(year, mon)
        if m.group(2) == "week":
            if m.group(1) == "last":
                return last - timedelta(days=6), last
            start = first + timedelta(weeks=_ORDINALS[m.group(1)])
            return start, min(start + timedelta(days=6), last)
        saturday = first + timedelta(days=(5 - first.weekday()) % 7)
        if m.group(1) == "last":
            saturday += timedelta(weeks=(last - saturday).days // 7)
        else:
            saturday += timedelta(weeks=_ORDINALS[m.group(1)])
        return saturday, saturday + timedelta(days=1)

    def iso(m: re.Match[str]) -> tuple[date, date] | None:
        d = _day(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return (d, d) if d else None

    def fixed(offset: int) -> Callable[[re.Match[str]], tuple[date, date]]:
        return lambda m: (today + timedelta(days=offset), today + timedelta(days=offset))

    return [
        (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), iso),
        (re.compile(r"\b(today|tonight|this morning|this evening)\b"), fixed(0)),
        (re.compile(r"\b(yesterday|last night)\b"), fixed(-1)),
        (re.compile(r"\b(tomorrow)\b"), fixed(1)),
        (re.compile(r"\b(?:the )?day before yesterday\b"), fixed(-2)),
        (
            re.compile(r"\b(a|an|one|two|three|four|five|six|\d+) (day|week|month|year)s? ago\b"),
            ago,
        ),
        (
            re.compile(r"\b(last|past|previous|this|next) (week|month|year|weekend)\b"),
            relative_period,
        ),
        (re.compile(rf"\b(last |next |this |on )?{_WEEKDAY}\b"), weekday),
        (
            re.compile(
                rf"\b(first|second|third|fourth|last) (week|weekend) of {_MONTH}(?:,? (\d{{4}}))?\b"
            ),
            week_of,
        ),
        (
            re.compile(
                rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)? (?:of )?(?P<month>{_MONTH})"
                r",? ?(?P<year>\d{4})?\b"
            ),
            day_month,
        ),
        (
            re.compile(
                rf"\b(?P<month>{_MONTH}) (?P<day>\d{{1,2}})(?:st|nd|rd|th)?"
                r"(?:,? (?P<year>\d{4}))?\b"
            ),
            day_month,
        ),
        (re.compile(rf"\b{_MONTH},? (\d{{4}})\b"), month),
        (re.compile(rf"\b(?:in|during|since|last|this) {_MONTH}()\b"), month),
        (
            re.compile(r"\b(?:in|during) (\d{4})\b"),
            lambda m: (date(int(m.group(1)), 1, 1), date(int(m.group(1)), 12, 31)),
        ),
        (
            re.compile(r"\b(recently|lately|these days)\b"),
            lambda m: (today - timedelta(days=14), today),
        ),
    ]


_YEAR = re.compile(r"\b\d{4}\b")
_ANCHOR = re.compile(
    r"\b(before|after|since|until) (?:the |my |our |his |her |their )?"
    r"([a-z][\w' -]{2,40}?)(?=[?.!,]|$| and | or | when )"
)


_BETWEEN = re.compile(r"\bbetween (.+?) and (.+?)(?=[?.!]|$)")
_NEAR = re.compile(r"\b(?:the )?(day|week|weekend) $")  # "the week" before "before/after X"
_NEXT_TO = re.compile(r"\b(?:the |last )?(day|week|weekend) (before|after) (?:the )?$")


def resolve(text: str, today: date, anchor: Anchor | None = None) -> Span | None:
    """The days a query's first time expression means, or None."""
    lowered = text.lower()
    found: list[tuple[int, Span]] = []
    for pattern, rule in _rules(today, future=False):
        m = pattern.search(lowered)
        if m:
            days = rule(m)
            if days:
                found.append(_qualified(lowered, m.start(), Span(days[0], days[1], m.group(0))))
    m = _BETWEEN.search(lowered)
    if m:
        last = resolve(m.group(2), today)
        first = resolve(m.group(1), last.end) if last else None
        if last and first and first.start <= last.end:
            found.append((m.start(), Span(first.start, last.end, m.group(0))))
    if anchor is not None:
        m = _ANCHOR.search(lowered)
        if m:
            when = anchor(m.group(2))
            if when is not None:
                near = _NEAR.search(lowered[: m.start()])
                if near:
                    days = _next_to(near.group(1), m.group(1) in ("before", "until"), when, when)
                    span = Span(days[0], days[1], near.group(0) + m.group(0))
                elif m.group(1) in ("before", "until"):
                    span = Span(EARLIEST, when - timedelta(days=1), m.group(0))
                else:
                    span = Span(when + timedelta(days=1), LATEST, m.group(0))
                found.append((m.start(), span))
    dated = [f for f in found if _YEAR.search(f[1].words)]
    return min(dated or found, key=lambda f: f[0])[1] if found else None


def _qualified(lowered: str, start: int, span: Span) -> tuple[int, Span]:
    """`span` as the words before it qualify it: "as of May 2023" is everything up to the end
    of May (open-ended, so it barely narrows); "the week before 16 November" is the seven
    days before it."""
    before = lowered[:start]
    if before.endswith("as of "):
        return start - 6, Span(EARLIEST, span.end, "as of " + span.words)
    m = _NEXT_TO.search(before)
    if m:
        days = _next_to(m.group(1), m.group(2) == "before", span.start, span.end)
        return m.start(), Span(days[0], days[1], m.group(0) + span.words)
    return start, span


def _next_to(unit: str, before: bool, start: date, end: date) -> tuple[date, date]:
    """The day, week (seven days) or weekend just before `start` or just after `end`."""
    if unit == "day":
        day = start - timedelta(days=1) if before else end + timedelta(days=1)
        return day, day
    if unit == "week":
        if before:
            return start - timedelta(days=7), start - timedelta(days=1)
        return end + timedelta(days=1), end + timedelta(days=7)
    if before:
        sunday = start - timedelta(days=(start.weekday() + 1) % 7 or 7)
        return sunday - timedelta(days=1), sunday
    saturday = end + timedelta(days=(5 - end.weekday()) % 7 or 7)
    return saturday, saturday + timedelta(days=1)


def event_day(text: str, said_on: date) -> date | None:
    """The single day a statement refers to, relative to when it was said, or None."""
    lowered = text.lower()
    for pattern, rule in _rules(said_on, future=True):
        m = pattern.search(lowered)
        if m:
            days = rule(m)
            if days and days[0] == days[1]:
                return days[0]
    return None


__all__ = ["Anchor", "Span", "event_day", "resolve"]
