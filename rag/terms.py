"""Lexical normalisation shared by BM25 and question analysis.

One function decides what a "term" is, so the keyword index and the answerer
always agree: lower case, thousands separators joined, number words and
ordinals mapped to digits ("third" and "three" both become "3"), stop words
dropped, Snowball-stemmed.
"""

from __future__ import annotations

import re
from functools import lru_cache

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

STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "done",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "let",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "tell",
        "know",
        "please",
        "according",
        "said",
        "say",
        "says",
        "get",
        "got",
        "us",
        "many",
        "much",
        "ever",
        "still",
        "per",
        "via",
        "within",
        "without",
        "among",
        "upon",
        "onto",
    ]
)

_WORD = re.compile(r"\d+(?:\.\d+)+|[a-z0-9]+")  # "10.3" stays one number
_THOUSANDS = re.compile(r"(?<=\d)[,](?=\d{3}\b)")
_stemmer = Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased word tokens with number words mapped to digits (no stemming)."""
    text = _THOUSANDS.sub("", text.lower().replace("’", "'"))
    text = re.sub(r"'s\b", "", text)
    return [_NUMBER_WORDS.get(w, w) for w in _WORD.findall(text)]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return _stemmer.stemWord(word)


def terms(text: str) -> list[str]:
    """Stemmed content terms of ``text``, in order, duplicates kept."""
    return [stem(w) for w in words(text) if w not in STOP_WORDS]
