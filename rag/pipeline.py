"""Ask: rewrite a follow-up, retrieve, draft an answer, verify citations, compose the reply."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from .answering import Answerer, Draft
from .answering.draft import ABSTAIN_TEXT
from .citations import Citation, Claim, number_citations, verify
from .dates import RELATIVE, resolve
from .evidence import EvidenceIndex
from .question import DATE, OTHER, analyse_question
from .question.followup import rewrite_with_history
from .retrieve import Hit, Query, Retriever
from .settings import Settings

MAX_ANSWER_CHARS = 400
MAX_QUOTE_CHARS = 220
RELATED_COUNT = 3


@dataclass
class AskResult:
    question: str
    answer: str
    abstained: bool
    rewritten_query: str
    citations: list[Citation] = field(default_factory=list)
    related: list[Citation] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    answer_type: str = OTHER
    short_answer: str | None = None
    reason: str = ""
    margin: float | None = None  # the reader's confidence: best span minus "no answer"
    signals: dict[str, float] | None = None  # what the verifier read (not in to_json)

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "rewritten_query": self.rewritten_query,
            "citations": [c.to_json() for c in self.citations],
            "related": [c.to_json(numbered=False) for c in self.related],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "answer_type": self.answer_type,
            "short_answer": self.short_answer,
            "margin": None if self.margin is None else round(self.margin, 3),
        }


def _excerpt(sentence: str, focus: str | None, limit: int = MAX_QUOTE_CHARS) -> str:
    """The sentence, or a window of it around ``focus`` when it is too long to show whole."""
    if len(sentence) <= limit:
        return sentence
    centre = sentence.find(focus) if focus else -1
    centre = centre if centre >= 0 else 0
    start = max(0, min(centre - limit // 3, len(sentence) - limit))
    start = sentence.rfind(" ", 0, start) + 1 if start else 0
    end = sentence.rfind(" ", 0, start + limit)
    end = end if end > start else start + limit
    piece = sentence[start:end].strip(" ,;:")
    return ("…" if start else "") + piece + "…"


# A relative date in a quote, with the possessive that may follow it ("last week's vote").
_QUOTED_DATE = re.compile(r"(?P<date>" + RELATIVE.pattern + r")(?P<possessive>['’]s\b)?", re.I)


def _with_resolved_dates(text: str, claim: Claim) -> str:
    """Show what each relative date in the quote means: "last year" -> "last year (2022)"."""

    def noted(match: re.Match) -> str:
        resolved = resolve(match.group("date"), claim.chunk.date)
        if not resolved.changed:
            return match.group(0)
        return f"{match.group(0)} ({resolved.display})"

    return _QUOTED_DATE.sub(noted, text)


def _lead(spans: list[str], kind: str) -> str:
    if not spans:
        return ""
    joined = (
        spans[0]
        if len(spans) == 1
        else (", then ".join(spans) if kind == DATE else " and ".join(spans))
    )
    return joined[:1].upper() + joined[1:].rstrip(".") + "."


def compose(claims: list[Claim], kind: str) -> tuple[str, list[Citation], str | None]:
    """Answer text with [n] markers, its citations, and the short answer (if any)."""
    while claims:
        numbers, citations = number_citations(claims)
        spans = list(dict.fromkeys(c.shown_span for c in claims if c.shown_span))
        parts = [_lead(spans, kind)] if spans else []
        for claim, n in zip(claims, numbers, strict=True):
            excerpt = _excerpt(claim.quote, claim.span or claim.focus)
            sentence = _with_resolved_dates(excerpt, claim)
            parts.append(f"{sentence.rstrip('. ')} [{n}].")
        text = " ".join(p for p in parts if p)
        if len(text) <= MAX_ANSWER_CHARS or len(claims) == 1:
            return text, citations, "; ".join(spans) or None
        claims = claims[:-1]  # keep the answer short: drop the weakest extra claim
    return ABSTAIN_TEXT, [], None


def _related(hits: list[Hit], cited: set[str], evidence: EvidenceIndex, query: Query) -> list:
    related: list[Citation] = []
    quoted = set(cited)
    for hit in hits:
        best = evidence.best_sentence(hit.chunk, query.vector)
        if hit.chunk.chunk_id in cited or best.text in quoted:
            continue
        quoted.add(best.text)
        related.append(Citation(0, hit.chunk, best.text))
        if len(related) == RELATED_COUNT:
            break
    return related


def _similarity(embedder):
    """Cosine similarity of a phrase to others, by the retrieval embeddings."""

    def similarity(phrase: str, others: list[str]) -> list[float]:
        vectors = embedder.encode([phrase, *others])
        return (vectors[1:] @ vectors[0]).tolist()

    return similarity


def ask(
    question: str,
    *,
    history=None,
    embedder,
    retriever: Retriever,
    answerer: Answerer,
    evidence: EvidenceIndex,
    k: int,
    read: int = Settings.passages_read,
) -> AskResult:
    """Answer ``question`` (as ``LanguageCheck.check`` returns it: normalised) from the
    indexed articles."""
    started = time.perf_counter()
    text = question
    rewrite = rewrite_with_history(text, history, similarity=_similarity(embedder))
    query = Query.embed(rewrite.standalone, embedder)
    # Read a few more passages than are shown: a second article that also answers
    # is often just below the top k.
    hits = retriever.search(query, k=max(k, read))
    retrieved = time.perf_counter()

    analysed = analyse_question(
        rewrite.focus,
        proper_nouns=evidence.proper_nouns,
        context=rewrite.context,
        vocabulary=evidence.vocabulary,
    )
    draft: Draft = answerer.draft(analysed, query, hits)
    claims = [claim for claim in draft.claims if verify(claim)]
    if claims:
        answer, citations, short = compose(claims, analysed.kind)
    else:
        answer, citations, short = ABSTAIN_TEXT, [], None
    abstained = not citations
    cited = {c.chunk.chunk_id for c in citations} | {c.quote for c in citations}
    related = _related(hits[:k], cited, evidence, query)
    if abstained:
        answer = ABSTAIN_TEXT + (
            " The closest passages are listed as related reading." if related else ""
        )
    finished = time.perf_counter()
    return AskResult(
        question=text,
        answer=answer,
        abstained=abstained,
        rewritten_query=rewrite.standalone,
        citations=citations,
        related=related,
        timings_ms={
            "retrieve": (retrieved - started) * 1000,
            "answer": (finished - retrieved) * 1000,
            "total": (finished - started) * 1000,
        },
        answer_type=analysed.kind,
        short_answer=short,
        reason=draft.reason,
        margin=draft.margin,
        signals=draft.signals,
    )
