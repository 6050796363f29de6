"""What answering needs to know about the whole corpus, worked out when the index is built.

A question is weighed against every sentence of the corpus (how rare each of its terms
is, which words are names, which words the articles use at all). Working that out reads
every sentence: about 10 s for 1,000 articles, on every start. So the build does it once
and stores it with the index (``evidence.json``, checksummed like every other file), and a
start reads it back; the terms of a single sentence are worked out when a question first
reads that sentence (``sentence_terms``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from .dates import implied_years
from .nlp import Sentence
from .terms import STOP_WORDS, countries, stem, terms, words

STATS_FILE = "evidence.json"
# A name the article keeps repeating (this many sentences or more) is what it is about.
TOPIC_REPEATS = 3
# A word written capitalised mid-sentence at least this share of the time is a name.
PROPER_SHARE = 0.7


def sentence_terms(sentence: Sentence, article_date: str | None) -> frozenset[str]:
    """A sentence's terms: its words' and lemmas' stems, countries, and the years it names
    relatively ("last year" in a 2023 article is 2022, so a question about 2022 is not
    vetoed for want of the digits)."""
    return (
        frozenset(terms(sentence.text))
        | frozenset(terms(" ".join(sentence.lemmas)))
        | countries(sentence.text)
        | implied_years(sentence.text, article_date)
    )


@dataclass(frozen=True)
class CorpusStats:
    sentence_count: int
    # In how many sentences each term occurs (idf, and which terms are too common).
    document_frequency: dict[str, int]
    # Stems of words the articles (nearly) always write capitalised mid-sentence.
    proper_nouns: frozenset[str]
    # Every word of every sentence (typos in questions are read as the nearest of these).
    vocabulary: frozenset[str]
    # What each article is about: its title's terms, its year, the names it repeats.
    topic_terms: dict[str, frozenset[str]]
    # Every run of letters in the passages and titles (is a question in their language?).
    letter_words: frozenset[str]

    def to_json(self) -> dict:
        return {
            "sentence_count": self.sentence_count,
            "document_frequency": self.document_frequency,
            "proper_nouns": sorted(self.proper_nouns),
            "vocabulary": sorted(self.vocabulary),
            "topic_terms": {d: sorted(t) for d, t in sorted(self.topic_terms.items())},
            "letter_words": sorted(self.letter_words),
        }

    @classmethod
    def from_json(cls, data: dict) -> CorpusStats:
        """Read back what ``to_json`` wrote; KeyError, TypeError or ValueError otherwise."""
        frequency = {str(t): int(n) for t, n in data["document_frequency"].items()}
        if any(n < 1 for n in frequency.values()) or int(data["sentence_count"]) < 0:
            raise ValueError("sentence counts must be positive")
        return cls(
            sentence_count=int(data["sentence_count"]),
            document_frequency=frequency,
            proper_nouns=frozenset(map(str, data["proper_nouns"])),
            vocabulary=frozenset(map(str, data["vocabulary"])),
            topic_terms={str(d): frozenset(map(str, t)) for d, t in data["topic_terms"].items()},
            letter_words=frozenset(map(str, data["letter_words"])),
        )


def corpus_stats(
    titles: dict[str, str],
    dates: dict[str, str | None],
    sentences: dict[str, list[Sentence]],
    passages: Iterable[str],
) -> CorpusStats:
    """The statistics of a corpus: its articles' ``titles`` and ``dates`` and ``sentences``
    by document id, and the text of its passages."""
    from .question.language import letter_words

    frequency: Counter[str] = Counter()
    topic_terms: dict[str, frozenset[str]] = {}
    per_document: dict[str, Counter[str]] = {}
    for doc_id, doc_sentences in sentences.items():
        counts: Counter[str] = Counter()
        for sentence in doc_sentences:
            counts.update(sentence_terms(sentence, dates[doc_id]))
        per_document[doc_id] = counts
        frequency.update(counts)
    proper = proper_nouns(s for doc in sentences.values() for s in doc)
    for doc_id, counts in per_document.items():
        repeated = {t for t, n in counts.items() if n >= TOPIC_REPEATS and t in proper}
        # The article's own year covers "in 2017" for every sentence of a 2017 article.
        year = {dates[doc_id][:4]} if dates[doc_id] else set()
        title = titles[doc_id]
        topic_terms[doc_id] = frozenset(terms(title)) | countries(title) | repeated | year
    letters = {w for text in passages for w in letter_words(text)}
    letters.update(w for title in titles.values() for w in letter_words(title))
    return CorpusStats(
        sentence_count=sum(len(s) for s in sentences.values()),
        document_frequency=dict(frequency),
        proper_nouns=proper,
        vocabulary=frozenset(w for doc in sentences.values() for s in doc for w in words(s.text)),
        topic_terms=topic_terms,
        letter_words=frozenset(letters),
    )


def proper_nouns(sentences: Iterable[Sentence]) -> frozenset[str]:
    """Stems of words the articles (nearly) always write capitalised mid-sentence."""
    capitalised: Counter[str] = Counter()
    occurrences: Counter[str] = Counter()
    for sentence in sentences:
        for position, match in enumerate(re.finditer(r"[A-Za-z][\w'’]*", sentence.text)):
            for word in words(match.group(0)):
                if word in STOP_WORDS:
                    continue
                # Counted per stem: "Bank of China" does not make "banking" a name.
                occurrences[stem(word)] += 1
                if position > 0 and match.group(0)[:1].isupper():
                    capitalised[stem(word)] += 1
    return frozenset(s for s, n in occurrences.items() if capitalised[s] >= PROPER_SHARE * n)
