"""How an answer is chosen.

1. The retriever hands over the best passages (hybrid dense + BM25, see rag/retrieve.py).
2. The trained reader (reader.py) reads the question against each of them and scores every
   short span, and "no answer", with raw logits that compare across passages.
3. The best-scoring span is the answer when it beats "no answer" in its own window by the
   threshold tuned on held-out articles (models/reader/reader.json); otherwise the articles
   don't say, and the reply says so.
4. A second (third, for "when") answer is added only from another article, only when it also
   clears the threshold and scores close to the best: two articles dating one event differently
   are both worth showing, in time order.
5. Each answer is quoted with the whole sentence that holds it, and pipeline.py verifies every
   quote and span against the passage before anything is shown.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..citations import Claim
from ..dates import resolve
from ..evidence import EvidenceIndex
from ..question import DATE, AnalysedQuestion
from ..retrieve import Hit, Query
from .draft import Draft
from .reader import Candidate, Reader

# Passages the reader reads: more costs latency, fewer misses answers ranked lower.
PASSAGES_READ = 8
# A further answer from another article must score within this many logits of the best.
EXTRA_ANSWER_GAP = 1.0
MAX_ANSWERS = {DATE: 3}
DEFAULT_MAX_ANSWERS = 2
# Punctuation a span may pick up at its edges; never part of a short answer.
_EDGE = " \t\n,;:.!?\"'“”‘’"


class ReaderAnswerer:
    """The default answerer: the trained reader, with citations to whole sentences."""

    def __init__(
        self,
        reader: Reader,
        evidence: EvidenceIndex,
        *,
        passages: int = PASSAGES_READ,
        threshold: float | None = None,
        extra_answers: bool = True,
        require_names: bool | None = None,
        with_title: bool | None = None,
    ) -> None:
        self.reader = reader
        self.evidence = evidence
        self.passages = passages
        self.threshold = reader.threshold if threshold is None else threshold
        self.extra_answers = extra_answers
        # Veto spans whose sentence lacks the question's names and numbers (_names_present),
        # where tuning showed it pays (reader.json says).
        self.require_names = reader.card.require_names if require_names is None else require_names
        self.with_title = reader.card.with_title if with_title is None else with_title

    def draft(self, question: AnalysedQuestion, query: Query, hits: list[Hit]) -> Draft:
        hits = hits[: self.passages]
        if not hits:
            return Draft(abstained=True, reason="nothing relevant was retrieved")
        candidates = self._read(query.text, hits)
        if self.require_names:
            candidates = self._naming_the_question(candidates, hits, question, query)
        answers = self.choose(candidates, hits, question.kind)
        margin = candidates[0].margin if candidates else None
        if not answers:
            shown = "none" if margin is None else f"{margin:.2f}"
            return Draft(
                abstained=True,
                reason=f"the reader found no answer (best margin {shown}, "
                f"threshold {self.threshold:.2f})",
                margin=margin,
            )
        claims = [claim for c in answers if (claim := self.claim(c, hits[c.passage])) is not None]
        if question.kind == DATE:
            claims.sort(key=lambda c: (c.sort_key is None, c.sort_key or ()))
        return Draft(claims=claims, margin=margin)

    def _read(self, question: str, hits: list[Hit]) -> list[Candidate]:
        """Reader candidates with offsets in each chunk's own text.

        With ``with_title`` the article title leads each passage, so "the Chinese phone giant"
        can be read as the company the title names; spans inside the title are never answers,
        since a citation must quote the passage.
        """
        if not self.with_title:
            return self.reader.read(question, [h.chunk.text for h in hits])
        prefixes = [f"{h.chunk.title}.\n" if h.chunk.title else "" for h in hits]
        candidates = self.reader.read(
            question, [p + h.chunk.text for p, h in zip(prefixes, hits, strict=True)]
        )
        shifted = []
        for c in candidates:
            shift = len(prefixes[c.passage])
            if c.start >= shift:
                shifted.append(replace(c, start=c.start - shift, end=c.end - shift))
        return shifted

    def choose(self, candidates: list[Candidate], hits: list[Hit], kind: str) -> list[Candidate]:
        """The best span if it clears the threshold, plus close answers from other articles."""
        if not candidates or candidates[0].margin < self.threshold:
            return []
        best = candidates[0]
        chosen = [best]
        if not self.extra_answers:
            return chosen
        texts = {_clean(hits[best.passage].chunk.text[best.start : best.end]).lower()}
        articles = {hits[best.passage].chunk.doc_id}
        for candidate in candidates[1:]:
            if len(chosen) >= MAX_ANSWERS.get(kind, DEFAULT_MAX_ANSWERS):
                break
            if candidate.score < best.score - EXTRA_ANSWER_GAP:
                break
            chunk = hits[candidate.passage].chunk
            text = _clean(chunk.text[candidate.start : candidate.end]).lower()
            if candidate.margin < self.threshold or chunk.doc_id in articles or text in texts:
                continue
            chosen.append(candidate)
            texts.add(text)
            articles.add(chunk.doc_id)
        return chosen

    def _naming_the_question(
        self,
        candidates: list[Candidate],
        hits: list[Hit],
        question: AnalysedQuestion,
        query: Query,
    ) -> list[Candidate]:
        """Spans whose sentence has the question's names and numbers (or its article's topic).

        A span about another company, country or year answers a different question. The
        passages' sentences are scored once, however many candidates there are.
        """
        scored = self.evidence.score_sentences(
            question, query.vector, [h.chunk for h in hits], similarity=False
        )
        lacking = [
            (s.sentence.doc_id, s.sentence.start, s.sentence.end)
            for s in scored
            if s.missing_required
        ]

        def names_it(candidate: Candidate) -> bool:
            chunk = hits[candidate.passage].chunk
            at = chunk.start + candidate.start
            return not any(d == chunk.doc_id and a <= at < b for d, a, b in lacking)

        return [c for c in candidates if names_it(c)]

    def claim(self, candidate: Candidate, hit: Hit) -> Claim | None:
        """The span with the sentence (or sentences) of the passage that hold it."""
        chunk = hit.chunk
        raw = chunk.text[candidate.start : candidate.end]
        span = _clean(raw)
        if not span:
            return None
        start = candidate.start + raw.find(span)
        quote = self._quote(chunk, start, start + len(span))
        display, sort_key = span, None
        if _is_date(span):
            resolved = resolve(span, chunk.date)
            display, sort_key = resolved.display, resolved.sort_key
        return Claim(chunk=chunk, quote=quote, span=span, display=display, sort_key=sort_key)

    def _quote(self, chunk, start: int, end: int) -> str:
        """Whole sentences of the passage covering [start, end) (offsets in the passage)."""
        sentences = self.evidence.index.sentences.get(chunk.doc_id, [])
        covering = [
            s
            for s in sentences[chunk.first_sentence : chunk.last_sentence + 1]
            if s.start - chunk.start < end and s.end - chunk.start > start
        ]
        if not covering:
            return chunk.text
        first = max(0, covering[0].start - chunk.start)
        last = min(len(chunk.text), covering[-1].end - chunk.start)
        return chunk.text[first:last].strip()


def _clean(span: str) -> str:
    span = span.strip(_EDGE)
    # An unmatched bracket at either end belongs to the text around the answer.
    if span.endswith(")") and "(" not in span:
        span = span[:-1].rstrip(_EDGE)
    if span.startswith("(") and ")" not in span:
        span = span[1:].lstrip(_EDGE)
    return span


_DATE_WORDS = re.compile(
    r"\b(1[89]\d\d|20\d\d|Q[1-4]|quarter|year|month|today|yesterday|January|February|March|"
    r"April|May|June|July|August|September|October|November|December)\b",
    re.I,
)


def _is_date(span: str) -> bool:
    """A span to date-resolve and time-order: it names a year, month, quarter or day."""
    return bool(_DATE_WORDS.search(span))
