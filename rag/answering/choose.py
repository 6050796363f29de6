"""How an answer is chosen.

1. The retriever hands over the best passages (hybrid dense + BM25, see rag/retrieve.py).
2. The trained reader (reader.py) reads the question against each of them and scores every
   short span, and "no answer", with raw logits that compare across passages.
3. The best-scoring span is the answer when it beats "no answer" in its own window by the
   threshold tuned on held-out articles (models/reader/reader.json); otherwise the articles
   don't say, and the reply says so.
4. A second (third, for "when") answer is added only from another article, only when it clears
   the stricter extra-answer threshold (tuned for the tuning articles' own mix, half of it
   written-to-mislead questions) and scores close to the best: two articles dating one event
   differently are both worth showing, in time order; a weak second answer is not.
5. Each answer is quoted with the whole sentence that holds it, and pipeline.py verifies every
   quote and span against the passage before anything is shown.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..chunking import Chunk
from ..citations import Claim
from ..dates import RELATIVE, resolve
from ..evidence import EvidenceIndex, ScoredSentence
from ..question import DATE, AnalysedQuestion
from ..retrieve import Hit, Query
from ..settings import Settings
from ..terms import terms
from .draft import Draft
from .reader import Candidate, Reader
from .verifier import Verifier
from .verifier import signals as verifier_signals

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
        passages: int = Settings.passages_read,
        threshold: float | None = None,
        extra_answers: bool = True,
        require_names: bool | None = None,
        with_title: bool | None = None,
    ) -> None:
        self.reader = reader
        self.evidence = evidence
        self.passages = passages
        self.threshold = reader.threshold if threshold is None else threshold
        # A second answer must clear the stricter threshold, when the card names one.
        extra = reader.card.extra_answer_threshold
        self.extra_threshold = self.threshold if extra is None else max(self.threshold, extra)
        self.extra_answers = extra_answers
        # Veto spans whose sentence lacks the question's names and numbers (_names_present),
        # where tuning showed it pays (reader.json says).
        self.require_names = reader.card.require_names if require_names is None else require_names
        self.with_title = reader.card.with_title if with_title is None else with_title
        # The card's verifier, if tuning kept one; else the margin threshold decides alone.
        self.verifier: Verifier | None = reader.card.verifier
        # Compute the verifier's signals even without a verifier (tune.py fits one on them).
        self.keep_signals = False

    def draft(self, question: AnalysedQuestion, query: Query, hits: list[Hit]) -> Draft:
        hits = hits[: self.passages]
        if not hits:
            return Draft(abstained=True, reason="nothing relevant was retrieved")
        candidates = self._read(query.text, hits)
        wants_signals = bool(candidates) and (self.verifier is not None or self.keep_signals)
        scored = (
            self.evidence.score_sentences(
                question, query.vector, [h.chunk for h in hits], similarity=False
            )
            if self.require_names or wants_signals
            else []
        )
        if self.require_names:
            candidates = self._naming_the_question(candidates, hits, scored)
        margin = candidates[0].margin if candidates else None
        # Only a verifier (or tune.py) reads these: not worked out on every question otherwise.
        signals = (
            self.signals(candidates, hits, question, scored)
            if wants_signals and candidates
            else None
        )
        answers = self.choose(candidates, hits, question.kind, signals)
        if not answers:
            shown = "none" if margin is None else f"{margin:.2f}"
            if self.verifier and signals:
                confidence = self.verifier.probability(signals)
                why = f"confidence {confidence:.2f}, threshold {self.verifier.threshold:.2f}"
            else:
                why = f"best margin {shown}, threshold {self.threshold:.2f}"
            return Draft(
                abstained=True,
                reason=f"the reader found no answer ({why})",
                margin=margin,
                signals=signals,
            )
        claims = [claim for c in answers if (claim := self.claim(c, hits[c.passage])) is not None]
        if question.kind == DATE:
            claims.sort(key=lambda c: (c.sort_key is None, c.sort_key or ()))
        return Draft(claims=claims, margin=margin, signals=signals)

    def signals(
        self,
        candidates: list[Candidate],
        hits: list[Hit],
        question: AnalysedQuestion,
        scored: list[ScoredSentence],
    ) -> dict[str, float]:
        """What the verifier reads about the best candidate (see verifier.py)."""
        best = candidates[0]
        text = self._text(best, hits)
        firsts: dict[int, Candidate] = {}
        for c in candidates:  # best first: the first seen per passage is its best
            firsts.setdefault(c.passage, c)
        agreeing = sum(
            1
            for passage, c in firsts.items()
            if passage != best.passage and c.margin > 0 and _same(self._text(c, hits), text)
        )
        rivals = [c.score for c in candidates if not _same(self._text(c, hits), text)]
        chunk = hits[best.passage].chunk
        coverage, missing = 0.0, False
        if best.in_title:
            own = set(terms(chunk.title or ""))
            total = sum(self.evidence.weight(t.stem) for t in question.terms) or 1.0
            coverage = sum(self.evidence.weight(t.stem) for t in question.terms if t.stem in own)
            coverage /= total
        else:
            at = chunk.start + best.start
            for s in scored:
                if s.sentence.doc_id == chunk.doc_id and s.sentence.start <= at < s.sentence.end:
                    coverage, missing = s.coverage, bool(s.missing_required)
                    break
        return verifier_signals(
            margin=best.margin,
            null=best.null,
            agreeing_passages=agreeing,
            lead=best.score - max(rivals) if rivals else 10.0,
            passage_rank=best.passage + 1,
            coverage=coverage,
            missing=missing,
            words=len(text.split()),
            in_title=best.in_title,
        )

    def _text(self, candidate: Candidate, hits: list[Hit]) -> str:
        chunk = hits[candidate.passage].chunk
        return _clean(_source(candidate, chunk)[candidate.start : candidate.end]).lower()

    def _accepts(self, candidate: Candidate, signals: dict[str, float] | None) -> bool:
        if self.verifier is not None and signals is not None:
            return self.verifier.accepts(signals)
        return candidate.margin >= self.threshold

    def _read(self, question: str, hits: list[Hit]) -> list[Candidate]:
        """Reader candidates with offsets in each chunk's own text.

        With ``with_title`` the article title leads each passage, so "the Chinese phone giant"
        can be read as the company the title names, and an answer only the headline gives
        ("Pune approves 150 electric buses") is found there: it is quoted from the title, which
        the index stores (and checksums) with every passage. A span running from the title
        into the passage is not an answer.
        """
        if not self.with_title:
            return self.reader.read(question, [h.chunk.text for h in hits])
        titles = [h.chunk.title or "" for h in hits]
        prefixes = [f"{t}.\n" if t else "" for t in titles]
        candidates = self.reader.read(
            question, [p + h.chunk.text for p, h in zip(prefixes, hits, strict=True)]
        )
        shifted = []
        for c in candidates:
            shift = len(prefixes[c.passage])
            if c.start >= shift:
                shifted.append(replace(c, start=c.start - shift, end=c.end - shift))
            elif c.end <= len(titles[c.passage]):
                shifted.append(replace(c, in_title=True))
        return shifted

    def choose(
        self,
        candidates: list[Candidate],
        hits: list[Hit],
        kind: str,
        signals: dict[str, float] | None = None,
    ) -> list[Candidate]:
        """The best span if the verifier (or the threshold) accepts it, plus close answers
        from other articles that clear the extra-answer threshold."""
        if not candidates or not self._accepts(candidates[0], signals):
            return []
        best = candidates[0]
        chosen = [best]
        if not self.extra_answers:
            return chosen
        texts = {self._text(best, hits)}
        articles = {hits[best.passage].chunk.doc_id}
        for candidate in candidates[1:]:
            if len(chosen) >= MAX_ANSWERS.get(kind, DEFAULT_MAX_ANSWERS):
                break
            if candidate.score < best.score - EXTRA_ANSWER_GAP:
                break
            chunk = hits[candidate.passage].chunk
            text = self._text(candidate, hits)
            if candidate.margin < self.extra_threshold or chunk.doc_id in articles or text in texts:
                continue
            chosen.append(candidate)
            texts.add(text)
            articles.add(chunk.doc_id)
        return chosen

    def _naming_the_question(
        self, candidates: list[Candidate], hits: list[Hit], scored: list[ScoredSentence]
    ) -> list[Candidate]:
        """Spans whose sentence has the question's names and numbers (or its article's topic).

        A span about another company, country or year answers a different question. The
        passages' sentences are scored once, however many candidates there are.
        """
        lacking = [
            (s.sentence.doc_id, s.sentence.start, s.sentence.end)
            for s in scored
            if s.missing_required
        ]

        def names_it(candidate: Candidate) -> bool:
            if candidate.in_title:  # the headline names what the whole article is about
                return True
            chunk = hits[candidate.passage].chunk
            at = chunk.start + candidate.start
            return not any(d == chunk.doc_id and a <= at < b for d, a, b in lacking)

        return [c for c in candidates if names_it(c)]

    def claim(self, candidate: Candidate, hit: Hit) -> Claim | None:
        """The span with the sentence (or sentences) of the passage that hold it.

        A span in the headline is quoted with the whole headline.
        """
        chunk = hit.chunk
        raw = _source(candidate, chunk)[candidate.start : candidate.end]
        span = _clean(raw)
        if not span:
            return None
        start = candidate.start + raw.find(span)
        end = start + len(span)
        quote = chunk.title if candidate.in_title else self._quote(chunk, start, end)
        display, sort_key = span, None
        if _is_date(span):
            resolved = resolve(span, chunk.date)
            display, sort_key = resolved.shown, resolved.sort_key
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


def _same(a: str, b: str) -> bool:
    """Two answers read the same: equal, or one inside the other ("Lei Jun", "jun")."""
    return bool(a) and bool(b) and (a in b or b in a)


def _source(candidate: Candidate, chunk: Chunk) -> str:
    """The text a candidate's offsets point into: its passage, or its article's title."""
    return (chunk.title or "") if candidate.in_title else chunk.text


def _clean(span: str) -> str:
    span = span.strip(_EDGE)
    # An unmatched bracket at either end belongs to the text around the answer.
    if span.endswith(")") and "(" not in span:
        span = span[:-1].rstrip(_EDGE)
    if span.startswith("(") and ")" not in span:
        span = span[1:].lstrip(_EDGE)
    return span


_DATE_WORDS = re.compile(
    r"\b(1[89]\d\d|20\d\d|Q[1-4]|quarter|year|month|today|yesterday|tomorrow|January|February|"
    r"March|April|May|June|July|August|September|October|November|December|Monday|Tuesday|"
    r"Wednesday|Thursday|Friday|Saturday|Sunday)\b",
    re.I,
)


def _is_date(span: str) -> bool:
    """A span to date-resolve and time-order: it names a year, month, quarter or day, or a
    date relative to the article's ("two years ago", "last week")."""
    return bool(_DATE_WORDS.search(span) or RELATIVE.search(span))
