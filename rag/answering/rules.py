"""The hand-written rules answerer (the default before the trained reader): no model.

From the retrieved passages it scores every sentence against the question,
keeps only evidence that mentions the question's names and numbers and holds
an answer of the expected type, and proposes claims (a quote plus, for
factoid questions, the answer span in it). When nothing qualifies it abstains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..citations import Claim
from ..dates import is_point_in_time, names_a_time, resolve
from ..evidence import EvidenceIndex, ScoredSentence, joined_with_previous
from ..nlp import Sentence
from ..question import AMOUNT, DATE, ENTITY_LABELS, NAME, NUMBER, OTHER, PLACE, AnalysedQuestion
from ..retrieve import Hit, Query
from ..terms import rank_phrases, terms
from .draft import Draft

# Evidence must be about the question: similarity plus key-term coverage.
MIN_SUPPORT = 0.75
# A sentence that shares none of the question's own words must be a close paraphrase.
MIN_PARAPHRASE_SIMILARITY = 0.68
# The sentence that names what "what record" or "which sector" asks for.
ANSWER_NOUN_BONUS = 0.15
# Further claims must score nearly as well as the best one.
CLAIM_MARGIN = 0.12
MAX_CLAIMS = {DATE: 3}
DEFAULT_MAX_CLAIMS = 2


@dataclass(frozen=True)
class Span:
    start: int  # offsets in the sentence text
    end: int
    label: str

    def text(self, sentence: Sentence) -> str:
        return sentence.text[self.start : self.end]


PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
NAME_LABELS = frozenset({"PERSON", "ORG"})
_COMPANY = re.compile(
    r"\b(Ltd|Limited|Inc|Corp|Corporation|LLC|PLC|GmbH|Technologies|Electronics|Industries)\b"
)
_LIST_GLUE = re.compile(r"^(\s*,\s*(and\s+)?|\s+and\s+|\s*&\s*)$")
_LOCATIVE = re.compile(r"\b(in|at|near|across|from|into|outside|inside)\s+(the\s+)?$", re.I)
_NUMBER = re.compile(
    r"(?<![\w.])[$₹€£]?\d[\d,.]*\+?(?:\s?(?:%|percent|million|billion|lakh|crore))?"
)


def candidate_spans(
    sentence: Sentence,
    kind: str,
    question_stems: set[str],
    uninformative: frozenset[str] = frozenset(),
    proper_nouns: frozenset[str] | None = None,
) -> list[Span]:
    """Spans of ``sentence`` that could answer a question of type ``kind``.

    A span made only of the question's own words, or of words nearly every
    article sentence uses ("India" in a corpus about India), answers nothing.
    """
    labels = ENTITY_LABELS.get(kind, set())
    spans = [
        Span(e.start - sentence.start, e.end - sentence.start, e.label)
        for e in sentence.entities
        if e.label in labels
    ]
    if kind in (NUMBER, AMOUNT):  # spaCy misses some bare numbers; a digit run is one.
        taken = [(e.start - sentence.start, e.end - sentence.start) for e in sentence.entities]
        for match in _NUMBER.finditer(sentence.text):
            if not any(a <= match.start() < b for a, b in taken):
                spans.append(Span(match.start(), match.end(), "CARDINAL"))
    kept = []
    # "number three" in a ranking is a position, not a count
    in_rank = (
        [range(a, b) for a, b, _ in rank_phrases(sentence.text)] if kind in (NUMBER, AMOUNT) else []
    )
    for span in spans:
        text = span.text(sentence)
        if any(span.start in r for r in in_rank):
            continue
        span_terms = set(terms(text))
        if span_terms and span_terms <= question_stems | uninformative:
            continue
        # spaCy's small model mixes up names of places, firms and people, so the
        # sentence decides: "in China" is a place, "like Dixon and Foxconn" a name.
        if kind == PLACE and span.label in NAME_LABELS and not used_as_place(sentence, span):
            continue
        if kind == NAME and span.label in PLACE_LABELS and used_as_place(sentence, span):
            continue
        if kind in (PLACE, NAME) and proper_nouns is not None and not span_terms & proper_nouns:
            continue  # "Time will tell": a capitalised common word is not a name
        if not re.match(r"[\w$₹€£]", text) or not re.search(r"[A-Za-z0-9]{2,}", text):
            continue  # punctuation fragments such as "& MD"
        informative = span_terms - uninformative
        if (
            kind not in (DATE, NUMBER, AMOUNT)
            and informative
            and (2 * len(informative & question_stems) >= len(informative))
        ):
            continue  # mostly the question's own name: "Optiemus Electronics" for "Optiemus"
        if kind == DATE and not (is_point_in_time(text) and names_a_time(text)):
            continue
        kept.append(span)
    return kept


def used_as_place(sentence: Sentence, span: Span) -> bool:
    """True where the sentence uses the span as a place ("in Pune", "Noida-based")."""
    return bool(
        _LOCATIVE.search(sentence.text[: span.start])
        or re.match(r"-based\b", sentence.text[span.end :])
    )


def _term_positions(sentence: Sentence, question_stems: set[str]) -> list[tuple[int, int]]:
    """Character spans of the words in ``sentence`` that are question terms."""
    return [
        m.span()
        for m in re.finditer(r"[\w$%]+", sentence.text)
        if any(t in question_stems for t in terms(m.group(0)))
    ]


def best_span(
    sentence: Sentence,
    kind: str,
    question_stems: set[str],
    prefer: frozenset[str] = frozenset(),
    uninformative: frozenset[str] = frozenset(),
    proper_nouns: frozenset[str] | None = None,
) -> tuple[Span, int] | None:
    """The candidate span closest to the question's terms, and that distance in characters."""
    spans = candidate_spans(sentence, kind, question_stems, uninformative, proper_nouns)
    if not spans:
        return None
    anchors = _term_positions(sentence, question_stems)

    def gap(span: Span) -> int:
        if not anchors:
            return len(sentence.text)
        return min(max(0, span.start - end, start - span.end) for start, end in anchors)

    ranked = sorted(spans, key=lambda s: (s.label not in prefer, gap(s), s.start))
    if kind in (NAME, PLACE):
        # spaCy may label list members differently ("Chennai" as a person): any name counts.
        spans = spans + [
            Span(e.start - sentence.start, e.end - sentence.start, e.label)
            for e in sentence.entities
            if e.label in NAME_LABELS | PLACE_LABELS
        ]
        spans = list({(s.start, s.end): s for s in spans}.values())
    for span in ranked:
        grown = _with_listed_neighbours(sentence, span, spans)
        if kind == PLACE and _COMPANY.search(grown.text(sentence)):
            continue  # "companies like Optiemus, Lava International Ltd." are not places
        return grown, gap(span)
    return None


def _with_listed_neighbours(sentence: Sentence, span: Span, spans: list[Span]) -> Span:
    """Grow a span over a list it belongs to: "Mumbai, Delhi, Chennai, and Hyderabad"."""
    ordered = sorted(spans, key=lambda s: s.start)
    at = ordered.index(span)
    first = last = at
    while first > 0 and _LIST_GLUE.match(
        sentence.text[ordered[first - 1].end : ordered[first].start]
    ):
        first -= 1
    while last + 1 < len(ordered):
        glue = sentence.text[ordered[last].end : ordered[last + 1].start]
        if not _LIST_GLUE.match(glue):
            break
        last += 1
        if "and" in glue or "&" in glue:
            break  # "…, and Hyderabad" closes the list
    if first == last:
        return span
    return Span(ordered[first].start, ordered[last].end, span.label)


def proximity_bonus(gap: int) -> float:
    """Answers sit next to the words of the question: reward a span that does."""
    return 0.15 if gap <= 20 else 0.05 if gap <= 60 else 0.0


class ExtractiveAnswerer:
    """Answers from the articles' own sentences; needs no LLM and no network."""

    def __init__(self, evidence: EvidenceIndex) -> None:
        self.evidence = evidence

    def draft(self, question: AnalysedQuestion, query: Query, hits: list[Hit]) -> Draft:
        scored = self.evidence.score_sentences(question, query.vector, [h.chunk for h in hits])
        stems = {t.stem for t in question.terms}
        qualified: list[tuple[float, ScoredSentence, Span | None]] = []
        for candidate in scored:
            if candidate.missing_required or candidate.score < MIN_SUPPORT:
                continue
            if not candidate.states_predicate and candidate.dense < MIN_PARAPHRASE_SIMILARITY:
                continue
            span, bonus = None, 0.0
            if question.kind == OTHER:
                if question.answer_nouns & candidate.terms:
                    bonus = ANSWER_NOUN_BONUS  # "what record ...": the sentence naming a record
            else:
                found = self._span(candidate.sentence, question, stems)
                if found is None and question.kind == DATE and candidate.states_predicate:
                    # The date may sit in the sentence before: quote the two together.
                    joined = joined_with_previous(
                        self.evidence.index, candidate.chunk, candidate.sentence
                    )
                    if joined is not None:
                        candidate = replace(candidate, sentence=joined)
                        found = self._span(joined, question, stems)
                if found is None:
                    continue
                span, bonus = found[0], proximity_bonus(found[1])
            qualified.append((candidate.score + bonus, candidate, span))
        if not qualified:
            return Draft(abstained=True, reason=self._why_not(question, scored))

        qualified.sort(key=lambda item: -item[0])
        best_score = qualified[0][0]
        limit = MAX_CLAIMS.get(question.kind, DEFAULT_MAX_CLAIMS)
        claims: list[Claim] = []
        shown: set[str] = set()
        for score, candidate, span in qualified:
            if len(claims) >= limit or score < best_score - CLAIM_MARGIN:
                break
            claim = self._claim(candidate, span, question)
            key = (claim.shown_span or claim.quote).lower()
            if key in shown:
                continue
            if claims and question.kind != DATE and claim.chunk.doc_id == claims[0].chunk.doc_id:
                continue  # a second answer is worth showing only from another article
            shown.add(key)
            claims.append(claim)
        if question.kind == DATE:
            claims.sort(key=lambda c: (c.sort_key is None, c.sort_key or ()))
        return Draft(claims=claims)

    def _span(
        self, sentence: Sentence, question: AnalysedQuestion, stems: set[str]
    ) -> tuple[Span, int] | None:
        return best_span(
            self.evidence.entities.with_entities(sentence),
            question.kind,
            stems,
            question.prefer,
            self.evidence.common_terms,
            self.evidence.proper_nouns,
        )

    def _claim(
        self, candidate: ScoredSentence, span: Span | None, question: AnalysedQuestion
    ) -> Claim:
        sentence = candidate.sentence
        if span is None:
            # Show a long sentence around what the question asked for, or its words.
            anchors = _term_positions(sentence, set(question.answer_nouns)) or _term_positions(
                sentence, {t.stem for t in question.terms}
            )
            focus = sentence.text[anchors[0][0] : anchors[0][1]] if anchors else None
            return Claim(chunk=candidate.chunk, quote=sentence.text, focus=focus)
        text = span.text(sentence)
        display, sort_key = text, None
        if span.label == "DATE":
            resolved = resolve(text, candidate.chunk.date)
            display, sort_key = resolved.display, resolved.sort_key
        return Claim(candidate.chunk, sentence.text, text, display, sort_key)

    @staticmethod
    def _why_not(question: AnalysedQuestion, scored: list[ScoredSentence]) -> str:
        if not scored:
            return "nothing relevant was retrieved"
        missing = scored[0].missing_required
        if missing:
            return f"no passage mentions {', '.join(dict.fromkeys(missing))} in this context"
        if question.kind != OTHER:
            return f"no passage states a {question.kind} for this"
        return "no passage is close enough to the question"
