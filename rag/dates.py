"""Resolve date expressions against the article's own date.

"this year" in a 2017-07-19 article is 2017, "last year" in a 2023 article is
2022, "on Tuesday" in an article of Wednesday 2023-05-31 is 2023-05-30. An
article without a date gets nothing resolved: relative expressions stay as
written and are never given a year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

# The one month table: full names, and every name or abbreviation (lower case) -> number.
MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
MONTHS = {
    **{name[:3]: number for number, name in enumerate(MONTH_NAMES, start=1)},
    "sept": 9,
    **{name: number for number, name in enumerate(MONTH_NAMES, start=1)},
}
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_ORDINAL_PART = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": 4, "final": 4}
_MONTH_RE = r"(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = re.compile(r"\b(19[5-9]\d|20\d{2})\b")
# "the last year of his term", "the previous week", "the last week of March": a date relative
# to something in the story, or part of a longer name, so left as written.
_NOT_AFTER_THE = r"(?<!\bthe\s)"
_NOT_OF = r"(?!\s+of\b)"
_YEAR_WORDS = _NOT_AFTER_THE + r"(this|last|next|previous|current)\s+year\b" + _NOT_OF
_MONTH_WORDS = _NOT_AFTER_THE + r"(this|last|next)\s+month\b" + _NOT_OF
_QUARTER_WORDS = r"(this|last|next|current)\s+quarter\b" + _NOT_OF
# Weeks start on Monday (ISO): "last week" in an article of Sunday 12 March is 27 Feb - 5 Mar.
_WEEK_WORDS = _NOT_AFTER_THE + r"(last|next|previous)\s+week\b" + _NOT_OF
_RELATIVE_YEAR = re.compile(r"\b((?:earlier|later)\s+)?" + _YEAR_WORDS, re.IGNORECASE)
_RELATIVE_MONTH = re.compile(r"\b" + _MONTH_WORDS, re.IGNORECASE)
_RELATIVE_QUARTER = re.compile(r"\b" + _QUARTER_WORDS, re.IGNORECASE)
_RELATIVE_WEEK = re.compile(r"\b" + _WEEK_WORDS, re.IGNORECASE)
_COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_COUNTS |= {"seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
# "two years ago", "3 days ago"; not the "5 years" of "1.5 years ago".
_AGO_WORDS = r"(?<!\d[.,])(" + "|".join(_COUNTS) + r"|\d{1,2})\s+(day|week|month|year)s?\s+ago"
_AGO = re.compile(r"\b" + _AGO_WORDS + r"\b", re.IGNORECASE)


@dataclass(frozen=True)
class ResolvedDate:
    text: str  # as written in the article
    display: str  # relative parts replaced by absolute ones, when the article date allows
    sort_key: tuple[int, int, int] | None  # (year, month, day) of the start; None if unknown

    @property
    def changed(self) -> bool:
        return self.display != self.text

    @property
    def shown(self) -> str:
        """The article's words with the absolute date beside them: "Monday (6 March 2023)"."""
        if not self.changed or self.display.startswith(self.text):
            return self.display
        return f"{self.text} ({self.display})"


def parse_iso(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


_DAY_WORDS = re.compile(
    r"^\W*(?:on\s+|last\s+|this\s+|next\s+)?(today|yesterday|tomorrow|"
    + "|".join(WEEKDAYS)
    + r")(?:\s+(?:morning|afternoon|evening|night))?"
    r"(?:,?\s+(?:of\s+)?(this|last|next|previous)\s+week)?\W*$",
    re.IGNORECASE,
)


def _day_named(text: str):
    """For a span that names one day ("on Monday", "yesterday afternoon", "next Tuesday",
    "Friday of last week"): a function from the article's date to the days to add; None for
    anything else.

    A bare weekday is the latest such day on or before the article's date (news reports what
    happened); "next Tuesday" is the first one after it; "Monday last week" is the Monday of
    the week (Monday to Sunday) before the article's.
    """
    if re.fullmatch(r"\W*this\s+week\W*", text, re.IGNORECASE):
        return lambda anchor: 0  # read as the article's own day, as it always was
    found = _DAY_WORDS.match(text)
    if not found:
        return None
    word = found.group(1).lower()
    fixed = {"today": 0, "yesterday": -1, "tomorrow": 1}
    if word in fixed:
        return lambda anchor: fixed[word]
    target = WEEKDAYS.index(word)
    if week := found.group(2):
        weeks = {"last": -1, "previous": -1, "next": 1}.get(week.lower(), 0)
        return lambda anchor: 7 * weeks + target - anchor.weekday()
    if re.match(r"\W*next\s", text, re.IGNORECASE):
        return lambda anchor: (target - anchor.weekday() - 1) % 7 + 1
    if re.match(r"\W*last\s", text, re.IGNORECASE):
        return lambda anchor: -((anchor.weekday() - target - 1) % 7 + 1)
    return lambda anchor: -((anchor.weekday() - target) % 7)


# Every expression that names a date only relative to the article's own (quotes show each
# resolved; a sentence's implied years come from them).
RELATIVE = re.compile(
    r"\b(?:"
    + "|".join(
        [
            _YEAR_WORDS,
            _MONTH_WORDS,
            _QUARTER_WORDS,
            _WEEK_WORDS,
            r"a\s+year\s+earlier",
            _AGO_WORDS,
            "yesterday|tomorrow|today",
        ]
    )
    + r")\b",
    re.IGNORECASE,
)


def implied_years(text: str, article_date: str | None) -> frozenset[str]:
    """Years a sentence names only relatively: "last year" in a 2023 article names 2022.

    Lets a question that asks about 2022 be matched by the sentence that says "last year".
    """
    anchor = parse_iso(article_date)
    if anchor is None:
        return frozenset()
    years = set()
    for found in RELATIVE.finditer(text):
        words = found.group(0).lower()
        if words.startswith("a year earlier"):
            years.add(anchor.year - 1)
        elif (key := resolve(found.group(0), article_date).sort_key) is not None:
            years.add(key[0])
    return frozenset(str(y) for y in years)


def resolve(text: str, article_date: str | None) -> ResolvedDate:
    """Absolute reading of a date expression taken from an article dated ``article_date``."""
    anchor = parse_iso(article_date)
    display = text
    year = month = day = None

    if anchor is not None:

        def year_for(match: re.Match) -> str:
            offset = {"last": -1, "previous": -1, "next": 1}.get(match.group(2).lower(), 0)
            prefix = f"{match.group(1).strip()} in " if match.group(1) else ""
            return f"{prefix}{anchor.year + offset}"

        display = _RELATIVE_YEAR.sub(year_for, display)

        def month_shifted(offset: int) -> str:
            absolute = anchor.year * 12 + anchor.month - 1 + offset
            return date(absolute // 12, absolute % 12 + 1, 1).strftime("%B %Y")

        def month_for(match: re.Match) -> str:
            return month_shifted({"last": -1, "next": 1}.get(match.group(1).lower(), 0))

        display = _RELATIVE_MONTH.sub(month_for, display)

        def quarter_for(match: re.Match) -> str:
            offset = {"last": -1, "next": 1}.get(match.group(1).lower(), 0)
            absolute = (anchor.month - 1) // 3 + offset
            return f"Q{absolute % 4 + 1} {anchor.year + absolute // 4}"

        display = _RELATIVE_QUARTER.sub(quarter_for, display)

        def week_for(match: re.Match) -> str:
            monday = anchor - timedelta(days=anchor.weekday())
            offset = 7 if match.group(1).lower() == "next" else -7
            return "the week of " + (monday + timedelta(days=offset)).strftime("%-d %B %Y")

        def ago(match: re.Match) -> str:
            word, unit = match.group(1).lower(), match.group(2).lower()
            count = int(word) if word.isdigit() else _COUNTS[word]
            if unit == "year":
                return str(anchor.year - count)
            if unit == "month":
                return month_shifted(-count)
            days = count * (7 if unit == "week" else 1)
            then = anchor - timedelta(days=days)
            return ("about " if unit == "week" else "") + then.strftime("%-d %B %Y")

        if day_shift := _day_named(display):
            display = (anchor + timedelta(days=day_shift(anchor))).strftime("%-d %B %Y")
        else:
            display = _AGO.sub(ago, _RELATIVE_WEEK.sub(week_for, display))

    if found := _YEAR.search(display):
        year = int(found.group(1))
    if found := re.search(r"\b(\d{1,2})\s+(" + _MONTH_RE + r")\b", display, re.I):
        day, month = int(found.group(1)), MONTHS[found.group(2).lower().rstrip(".")]
    elif found := re.search(r"\b(" + _MONTH_RE + r")\s+(\d{1,2})\b(?!\d)", display, re.I):
        month, day = MONTHS[found.group(1).lower().rstrip(".")], int(found.group(2))
    elif found := re.search(r"\b(" + _MONTH_RE + r")\b", display, re.I):
        month = MONTHS[found.group(1).lower().rstrip(".")]
    if month is None and (found := re.search(r"\bQ([1-4])\b", display, re.I)):
        month = (int(found.group(1)) - 1) * 3 + 1
    if month is None and (found := re.search(r"\b(\w+)\s+quarter\b", display, re.I)):
        part = _ORDINAL_PART.get(found.group(1).lower())
        month = (part - 1) * 3 + 1 if part else None
    if month is None and (found := re.search(r"\b(first|second)\s+half\b", display, re.I)):
        month = 1 if found.group(1).lower() == "first" else 7

    # A month and day with no year, in a dated article: the latest such day on or before it.
    if year is None and month is not None and anchor is not None and display == text:
        year = anchor.year if (month, day or 1) <= (anchor.month, anchor.day) else anchor.year - 1
        display = f"{text}, {year}"
    if year is None:
        return ResolvedDate(text, display, None)
    return ResolvedDate(text, display, (year, month or 1, day or 1))
