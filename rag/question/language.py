"""Is a question written in the articles' language? Checked before anything is retrieved.

A question in another language cannot match the articles' sentences, so instead
of an abstention that looks like "the articles don't say" it gets the same
polite notice as input with no words at all. How it is measured:

1. Script: when fewer than half of the question's letters are Latin letters
   (Hindi, Chinese, Arabic ...), it is not in the articles' language.
2. Words: otherwise each word (a run of three or more letters) is known when
   the articles use it, when it is an English word (the embedding model's own
   English vocabulary: some 22,000 whole words, plus function and question
   words), or when it is within a typo of an article word ("Xiamoi"). When at
   least two words and more than half of them are unknown ("¿Quién fundó
   Xiaomi?"), it is not in the articles' language. Capitalised words after the
   first are names and do not count, and one unknown word is never enough: a
   question about something the articles never mention ("Does Xiaomi sell
   refrigerators?", "Who is Sundar Pichai?") still gets an honest abstention.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from ..embedding import model_dir
from ..errors import RagError
from ..terms import STOP_WORDS
from .analysis import QUESTION_WORDS, closest_word
from .checks import MAX_QUESTION_CHARS, normalise_question

# What a question in another language is told (input with no words at all is asked for words,
# rag.question.checks.normalise_question).
LANGUAGE_NOTICE = "The articles are in English; please ask in English."
MIN_UNKNOWN_WORDS = 2
MIN_WORD_LETTERS = 3  # "el", "de", "x": too short to tell one language from another
_LETTERS = re.compile(r"[^\W\d_]+")


def letter_words(text: str) -> list[str]:
    """Lower-cased runs of letters in any script ("quién", "शाओमी", "xiaomi")."""
    return [w.lower() for w in _LETTERS.findall(text)]


def _is_latin(letter: str) -> bool:
    return unicodedata.name(letter, "").startswith("LATIN")


def english_words() -> frozenset[str]:
    """Whole words of the embedding model's (English, uncased) WordPiece vocabulary."""
    try:
        lines = (model_dir() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    except (OSError, RagError):
        return frozenset()  # another model: the articles' own words must do
    return frozenset(w for w in lines if w.isalpha() and w.islower())


class LanguageCheck:
    """The articles' own words, and the test of whether a question is in their language."""

    def __init__(self, words: frozenset[str], *, lexicon: frozenset[str] = frozenset()) -> None:
        """``words``: the articles' own (``letter_words`` of their passages and titles)."""
        self.vocabulary = frozenset(words)
        self._known = self.vocabulary | lexicon | STOP_WORDS | QUESTION_WORDS
        # Bounded: a server sees an endless stream of new words.
        self._near_miss = lru_cache(maxsize=65_536)(self._near_miss_uncached)

    @classmethod
    def from_texts(cls, texts: Iterable[str], *, lexicon: frozenset[str] = frozenset()):
        return cls(frozenset(w for text in texts for w in letter_words(text)), lexicon=lexicon)

    @classmethod
    def from_index(cls, index) -> LanguageCheck:
        """The check for an index: its passages' and titles' words, which the build stored."""
        return cls(index.stats.letter_words, lexicon=english_words())

    def _near_miss_uncached(self, word: str) -> bool:
        """A typo of an article word: within one edit (two for words of 8+ letters)."""
        return closest_word(word, self.vocabulary) is not None

    def words(self, question: str) -> list[str]:
        """The words that count: runs of MIN_WORD_LETTERS or more letters, names left out.

        A capitalised word after the first is most likely a name ("Sundar Pichai"),
        and a name says nothing about the language around it.
        """
        runs = _LETTERS.findall(question)
        return [
            word.lower()
            for position, word in enumerate(runs)
            if len(word) >= MIN_WORD_LETTERS and (position == 0 or not word[0].isupper())
        ]

    def unknown_words(self, question: str) -> list[str]:
        return [w for w in self.words(question) if w not in self._known and not self._near_miss(w)]

    def is_foreign(self, question: str) -> bool:
        letters = [ch for ch in question if ch.isalpha()]
        if not letters:
            return False  # no words at all: normalise_question says so
        if sum(_is_latin(ch) for ch in letters) * 2 < len(letters):
            return True
        found = self.words(question)
        unknown, undecided = 0, [w for w in found if w not in self._known]
        # The typo test is the slow part: stop as soon as the outcome is certain.
        for position, word in enumerate(undecided):
            unknown += not self._near_miss(word)
            at_most = unknown + len(undecided) - position - 1
            if unknown >= MIN_UNKNOWN_WORDS and unknown * 2 > len(found):
                return True
            if at_most < MIN_UNKNOWN_WORDS or at_most * 2 <= len(found):
                return False
        return False

    def check(self, question: str, *, max_chars: int = MAX_QUESTION_CHARS) -> str:
        """``question`` normalised, or RagError: the language notice when it is not in the
        articles' language.

        It is normalised first, so that an empty or oversized question gets its own message
        (and a huge one is never scanned word by word); the one normalisation of an ask.
        """
        text = normalise_question(question, max_chars=max_chars)
        if self.is_foreign(text):
            raise RagError(LANGUAGE_NOTICE)
        return text
