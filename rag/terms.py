"""Lexical normalisation shared by BM25 and question analysis.

One function decides what a "term" is, so the keyword index and the answerer
always agree: lower case, thousands separators joined, number words and
ordinals mapped to digits ("third" and "three" both become "3"), stop words
dropped, Snowball-stemmed.
"""

from __future__ import annotations

import importlib.util
import re
import runpy
from functools import lru_cache
from pathlib import Path

import Stemmer

_NUMBER_WORDS = {
    "one": "1",
    "first": "1",
    "two": "2",
    "second": "2",
    "three": "3",
    "third": "3",
    "four": "4",
    "fourth": "4",
    "five": "5",
    "fifth": "5",
    "six": "6",
    "sixth": "6",
    "seven": "7",
    "seventh": "7",
    "eight": "8",
    "eighth": "8",
    "nine": "9",
    "ninth": "9",
    "ten": "10",
    "tenth": "10",
    "twice": "2",
    "double": "2",
    "half": "half",
}


def _spacy_stop_words() -> frozenset[str]:
    """spaCy's English stop-word list, read from its own file: importing the spacy package
    for it would cost a second of every start, and the file imports nothing."""
    spec = importlib.util.find_spec("spacy")
    if spec is None or spec.origin is None:
        raise ImportError("spaCy is not installed (pip install -e .)")
    path = Path(spec.origin).parent / "lang" / "en" / "stop_words.py"
    return frozenset(w for w in runpy.run_path(str(path))["STOP_WORDS"] if w.isalpha())


# Words of spaCy's list that carry meaning in a question about news: numbers, ranks and
# order ("third", "top", "last"), time ("may", "since", "before"), negation, and content
# words ("made in India", "market share", "the front camera").
MEANINGFUL = frozenset(
    """
    one two three four five six eight nine ten eleven twelve fifteen twenty forty fifty sixty
    hundred first third last next top bottom former latter least less several whole
    may since before after not no nor never none neither nobody nothing
    amount back became become becomes becoming call due empty front full give go keep made
    make move name part put see serious show side take used using various together well
    enough even every except alone behind across along around
    """.split()
)
# Words a question leans on that spaCy's list lacks ("according to", "tell me", "said").
EXTRA_STOP_WORDS = frozenset("according got having know let said says tell theirs".split())
STOP_WORDS = (_spacy_stop_words() - MEANINGFUL) | EXTRA_STOP_WORDS

_WORD = re.compile(r"\d+(?:\.\d+)+|[a-z0-9]+")  # "10.3" stays one number
_THOUSANDS = re.compile(r"(?<=\d)[,](?=\d{3}\b)")
_stemmer = Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased word tokens with number words mapped to digits (no stemming)."""
    text = _THOUSANDS.sub("", text.lower().replace("’", "'"))
    text = re.sub(r"'s\b", "", text)
    text = re.sub(r"\bone of\b", "of", text)  # "one of the key tasks" counts nothing
    return [_NUMBER_WORDS.get(w, w) for w in _WORD.findall(text)]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return _stemmer.stemWord(word)


def terms(text: str) -> list[str]:
    """Stemmed content terms of ``text``, in order, duplicates kept, then its ranks.

    The number inside a ranking phrase is part of the rank ("third place" gives
    "place" and "rank3", not "3"), so it is not mistaken for a count.
    """
    plain = [stem(w) for w in words(without_rank_positions(text)) if w not in STOP_WORDS]
    return plain + sorted(ranks(text))


# Positions in a ranking, however they are phrased: "top spot", "first place",
# "number one", "No. 1", "market leader" are all rank 1; "third place",
# "number three", "second largest" are ranks 3 and 2.
_RANK_WORD = r"one|two|three|four|five|first|second|third|fourth|fifth|[1-5](?:st|nd|rd|th)?"
_RANK = re.compile(
    r"\b(?:"
    r"(?P<ordinal>first|second|third|fourth|fifth|[1-5](?:st|nd|rd|th))[\s-]+"
    r"(?:place|position|spot|slot|rank|ranked|largest|biggest)"
    # "No. 1" or "no 1", but "no one knows" is not a ranking
    r"|(?:number\s+|no\.\s*|no\s+(?=\d))(?P<number>" + _RANK_WORD + r")\b"
    r"(?![\s-]*(?:million|billion|lakh|%))"
    r"|(?P<top>top)[\s-]+(?:spot|position|place|slot|rank|brand|vendor|player|seller)"
    r"|(?:to|ranked|ranks|ranking)\s+(?P<after>first|second|third|fourth|fifth)\b"
    r"(?!\s+(?:time|half|quarter|phase|day|week|month|year|batch|plant|unit|factory))"
    r"|(?P<leader>market[\s-]+leader(?:ship)?|leadership position|pole position)"
    r")",
    re.IGNORECASE,
)


def rank_phrases(text: str) -> list[tuple[int, int, str]]:
    """Each ranking phrase of ``text``: its character span and its rank ("rank1")."""
    found = []
    for match in _RANK.finditer(text):
        position = match.group("ordinal") or match.group("number") or match.group("after")
        if position:
            rank = "rank" + words(re.sub(r"(?<=\d)(st|nd|rd|th)$", "", position))[0]
        else:
            rank = "rank1"  # "top spot", "market leader"
        found.append((match.start(), match.end(), rank))
    return found


def ranks(text: str) -> frozenset[str]:
    """Ranking positions ``text`` names, as terms: {"rank1"} for "top spot" or "No. 1"."""
    return frozenset(rank for _, _, rank in rank_phrases(text))


def is_rank(term: str) -> bool:
    return re.fullmatch(r"rank\d+", term) is not None


def without_rank_positions(text: str) -> str:
    """``text`` with the position word of each ranking phrase blanked out (same length)."""

    def blank(match: re.Match) -> str:
        phrase, start = match.group(0), match.start()
        for group in ("ordinal", "number", "after"):
            if match.group(group):
                a, b = match.start(group) - start, match.end(group) - start
                return phrase[:a] + " " * (b - a) + phrase[b:]
        return phrase

    return _RANK.sub(blank, text)


# "Indian" is about India: a nationality word stands for its country.
_DEMONYMS = {
    "indian": "india",
    "chinese": "china",
    "korean": "korea",
    "japanese": "japan",
    "american": "america",
    "taiwanese": "taiwan",
    "vietnamese": "vietnam",
    "indonesian": "indonesia",
    "british": "britain",
    "european": "europe",
    "german": "germany",
    "french": "france",
    "african": "africa",
    "asian": "asia",
    "pakistani": "pakistan",
    "bangladeshi": "bangladesh",
    "russian": "russia",
    "brazilian": "brazil",
}


def country_stem(word: str) -> str:
    """The stem of the country a nationality word names, or of the word itself."""
    return stem(_DEMONYMS.get(word, word))


def countries(text: str) -> frozenset[str]:
    """Stems of the countries ``text`` names through nationality words ("Indian")."""
    return frozenset(stem(_DEMONYMS[w]) for w in words(text) if w in _DEMONYMS)


_RUN_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")


def initialisms(text: str, *, capitalised_only: bool = False) -> dict[str, tuple[str, ...]]:
    """Initialisms of runs of two to four content words, with the stems they stand for.

    "managing director" gives {"md": ("manag", "director")}, so a sentence that
    writes "MD" is found for it; with ``capitalised_only`` only runs written as
    names count ("Chief Executive Officer"), which is how articles spell them out.
    """
    runs: list[list[str]] = [[]]
    previous_end = 0
    for match in _RUN_WORD.finditer(text):
        word, lower = match.group(0), match.group(0).lower()
        joins = not (
            lower in STOP_WORDS
            or word.isupper()  # "MD" is an initialism already, not a word of one
            or (capitalised_only and not word[:1].isupper())
        )
        if not joins or text[previous_end : match.start()].strip():  # punctuation ends a run
            runs.append([])
        if joins:
            runs[-1].append(lower)
        previous_end = match.end()
    found: dict[str, tuple[str, ...]] = {}
    for run in runs:
        for size in range(2, 5):
            for start in range(len(run) - size + 1):
                part = run[start : start + size]
                found["".join(w[0] for w in part)] = tuple(stem(w) for w in part)
    return found
