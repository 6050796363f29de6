"""Sentence-level evidence: every sentence's terms, vector and context, scored against a question.

Built once per loaded index from the statistics the build stored with it (no spaCy, no
model calls, no pass over every sentence); a sentence's terms are worked out when first
read. Sentence vectors are not in the index: a build embeds each article once, for its
chunks, and a sentence's vector is made the first time an answerer reads it
(``SentenceVectors``), exactly as it was once made at build time, and kept.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass

import numpy as np

from .chunking import Chunk, embedding_text
from .corpus_stats import sentence_terms
from .embedding import Embedder
from .index import Index
from .nlp import Sentence
from .question import AnalysedQuestion
from .terms import initialisms, without_rank_positions

# A term found only in the previous sentence or among the article's topic terms counts half.
CONTEXT_WEIGHT = 0.5
COMMON_SHARE = 0.2


@dataclass(frozen=True)
class ScoredSentence:
    sentence: Sentence
    chunk: Chunk  # a retrieved chunk that contains the sentence
    dense: float  # cosine similarity to the question
    coverage: float  # idf-weighted share of the question's key terms found
    missing_required: tuple[str, ...]  # required key terms found neither here nor in context
    terms: frozenset[str] = frozenset()  # the sentence's own terms (stems and lemma stems)

    @property
    def score(self) -> float:
        return self.dense + self.coverage


class SentenceVectors:
    """Each sentence's vector (under its article's title), embedded when first asked for."""

    def __init__(self, index: Index, embedder: Embedder, *, keep: int = 200_000) -> None:
        self.index = index
        self.embedder = embedder
        self.keep = keep
        self._vectors: dict[tuple[str, int], np.ndarray] = {}
        self._lock = threading.Lock()

    def of(self, doc_id: str, rows: range) -> dict[int, np.ndarray]:
        with self._lock:
            found = {i: v for i in rows if (v := self._vectors.get((doc_id, i))) is not None}
        missing = [i for i in rows if i not in found]
        if missing:
            # The title gives "the company took third place" the company it means.
            title = self.index.articles[doc_id].title
            sentences = self.index.sentences[doc_id]
            made = self.embedder.encode([embedding_text(title, sentences[i].text) for i in missing])
            fresh = dict(zip(missing, made, strict=True))
            with self._lock:
                if len(self._vectors) + len(fresh) > self.keep:
                    self._vectors.clear()
                self._vectors.update({(doc_id, i): v for i, v in fresh.items()})
            found.update(fresh)
        # From what this call found and made, not the shared cache: another thread may have
        # cleared it meanwhile.
        return {i: found[i] for i in rows}


class EvidenceIndex:
    """The index's sentences as evidence: scored against a question, their terms weighed by
    the corpus statistics the build stored (``index.stats``, rag/corpus_stats.py)."""

    def __init__(self, index: Index, embedder: Embedder) -> None:
        self.index = index
        self.vectors = SentenceVectors(index, embedder)
        stats = index.stats
        self.sentence_count = stats.sentence_count
        self.idf = {
            t: math.log(1 + self.sentence_count / n) for t, n in stats.document_frequency.items()
        }
        self.unseen_idf = math.log(1 + self.sentence_count)
        self.proper_nouns = stats.proper_nouns
        self.vocabulary = stats.vocabulary
        # Words in more than a fifth of all sentences: too common to be an answer.
        self.common_terms = frozenset(
            t for t, n in stats.document_frequency.items() if n > COMMON_SHARE * self.sentence_count
        )
        self.topic_terms = stats.topic_terms
        # Each article's sentences' terms and initialisms, worked out when first read.
        self._terms: dict[str, list[frozenset[str]]] = {}
        self._initialisms: dict[str, list[frozenset[str]]] = {}
        self._lock = threading.Lock()

    def sentence_terms(self, doc_id: str) -> list[frozenset[str]]:
        """The terms of each sentence of article ``doc_id`` (rag/corpus_stats.py)."""
        with self._lock:
            known = self._terms.get(doc_id)
        if known is None:
            date = self.index.articles[doc_id].date
            known = [sentence_terms(s, date) for s in self.index.sentences[doc_id]]
            with self._lock:
                self._terms[doc_id] = known
        return known

    def sentence_initialisms(self, doc_id: str) -> list[frozenset[str]]:
        """Initialisms each sentence writes or spells out: "MD", "Chief Executive Officer"."""
        with self._lock:
            known = self._initialisms.get(doc_id)
        if known is None:
            known = [_initialisms_written(s.text) for s in self.index.sentences[doc_id]]
            with self._lock:
                self._initialisms[doc_id] = known
        return known

    def weight(self, term: str) -> float:
        return self.idf.get(term, self.unseen_idf)

    def score_sentences(
        self,
        question: AnalysedQuestion,
        query_vector: np.ndarray,
        chunks: list[Chunk],
        *,
        similarity: bool = True,
    ) -> list[ScoredSentence]:
        """Every sentence of the retrieved chunks, scored; best first.

        ``similarity=False`` leaves ``dense`` at 0 and embeds nothing, for a caller that
        reads only the term checks (``missing_required``).
        """
        seen: set[tuple[str, int]] = set()
        scored: list[ScoredSentence] = []
        total = sum(self.weight(t.stem) for t in question.terms) or 1.0
        # The last word of a multi-word name stands for it ("Lall" for "Atul Lall"),
        # unless that word is common ("India" does not stand for "Samsung India").
        surname = {t.name: t.stem for t in question.terms if t.name}
        question_ordinals = _ordinals(question.text)
        for chunk in chunks:
            doc_id = chunk.doc_id
            sentences = self.index.sentences[doc_id]
            rows = range(chunk.first_sentence, chunk.last_sentence + 1)
            vectors = self.vectors.of(doc_id, rows) if similarity else {}
            topic = self.topic_terms[doc_id]
            doc_terms = self.sentence_terms(doc_id)
            doc_initialisms = self.sentence_initialisms(doc_id)
            for i in range(chunk.first_sentence, chunk.last_sentence + 1):
                if (doc_id, i) in seen:
                    continue
                seen.add((doc_id, i))
                own = doc_terms[i]
                # "MD" in the sentence stands for the question's "managing director".
                written = doc_initialisms[i]
                spelled = {
                    t for short, full in question.initialisms if short in written for t in full
                }
                own = own | spelled if spelled else own
                previous = doc_terms[i - 1] if i > 0 else frozenset()
                gained, missing = 0.0, []
                for term in question.terms:
                    if term.stem in own:
                        gained += self.weight(term.stem)
                    elif term.stem in topic:
                        gained += CONTEXT_WEIGHT * self.weight(term.stem)
                    elif term.stem in previous and not term.required:
                        # A neighbour helps relevance, but a required name or number must
                        # be in the sentence or be what the whole article is about.
                        gained += CONTEXT_WEIGHT * self.weight(term.stem)
                    elif term.required:
                        last = surname.get(term.name)
                        stands_in = (
                            term.name
                            and last != term.stem
                            and last not in self.common_terms
                            and last in self.proper_nouns
                            and (last in own or last in topic)
                        )
                        if not stands_in:
                            missing.append(term.word)
                ordinals = _ordinals(sentences[i].text)
                if question_ordinals and ordinals and not question_ordinals & ordinals:
                    # "the first plant" is not answered by a sentence about the second one
                    missing.extend(sorted(question_ordinals))
                scored.append(
                    ScoredSentence(
                        sentence=sentences[i],
                        chunk=chunk,
                        dense=float(vectors[i] @ query_vector) if similarity else 0.0,
                        coverage=gained / total,
                        terms=own,
                        missing_required=tuple(missing),
                    )
                )
        scored.sort(key=lambda s: -s.score)
        return scored

    def best_sentence(self, chunk: Chunk, query_vector: np.ndarray) -> Sentence:
        """The sentence of ``chunk`` most similar to the question (for related reading)."""
        sentences = self.index.sentences[chunk.doc_id]
        rows = range(chunk.first_sentence, chunk.last_sentence + 1)
        vectors = self.vectors.of(chunk.doc_id, rows)
        return sentences[max(rows, key=lambda i: float(vectors[i] @ query_vector))]


def _initialisms_written(text: str) -> frozenset[str]:
    """Initialisms in ``text``: upper-case words ("MD") and capitalised runs spelled out."""
    upper = {w.lower() for w in re.findall(r"\b[A-Z]{2,5}\b", text)}
    return frozenset(upper) | frozenset(initialisms(text, capitalised_only=True))


_ORDINAL = re.compile(
    r"\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last)\b", re.I
)


_PERIOD = re.compile(r"\s+(half|quarter)\b", re.I)


def _ordinals(text: str) -> frozenset[str]:
    """Ordinal words of ``text`` other than ranks ("the second plant", not "second place").

    One that names a period counts with it ("first half"): the first half of a year says
    nothing about a first plant, and a second half is not a first half.
    """
    text = without_rank_positions(text)
    found = set()
    for match in _ORDINAL.finditer(text):
        period = _PERIOD.match(text, match.end())
        found.add(match.group(1).lower() + (f" {period.group(1).lower()}" if period else ""))
    return frozenset(found)
