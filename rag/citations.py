"""Claims, their verification, and the numbered citations shown with an answer.

Whatever produced a claim (the embedded extractive answerer or an LLM), it is
only shown when it verifies: its quote occurs verbatim in the cited passage and
its answer span occurs in the quote.
"""

from __future__ import annotations

from dataclasses import dataclass

from .chunking import Chunk


@dataclass(frozen=True)
class Claim:
    chunk: Chunk  # the passage cited
    quote: str  # the sentence that says it, verbatim from the passage
    span: str | None = None  # the short answer inside the quote, if the question wants one
    display: str | None = None  # how to show the span (dates resolved), defaults to the span
    sort_key: tuple | None = None  # time order for dated claims
    focus: str | None = None  # where to centre an excerpt of a long quote

    @property
    def shown_span(self) -> str | None:
        return self.display or self.span


def verify(claim: Claim) -> bool:
    """True when the quote is in the cited passage (or is its article's headline, stored
    with the passage) and the span is in the quote."""
    quote = claim.quote.strip()
    if not quote or (quote not in claim.chunk.text and quote != (claim.chunk.title or "").strip()):
        return False
    return claim.span is None or (bool(claim.span.strip()) and claim.span in quote)


@dataclass(frozen=True)
class Citation:
    n: int
    chunk: Chunk
    quote: str

    def to_json(self, *, numbered: bool = True) -> dict:
        data = {
            "doc": self.chunk.doc_id,
            "title": self.chunk.title,
            "date": self.chunk.date,
            "page": self.chunk.page,
            "chunk_id": self.chunk.chunk_id,
            "text": self.chunk.text,
            "quote": self.quote,
        }
        return {"n": self.n, **data} if numbered else data


def number_citations(claims: list[Claim]) -> tuple[list[int], list[Citation]]:
    """Marker number of each claim (in order of first use) and the distinct citations."""
    numbers: list[int] = []
    citations: list[Citation] = []
    seen: dict[tuple[str, str], int] = {}
    for claim in claims:
        key = (claim.chunk.chunk_id, claim.quote)
        if key not in seen:
            seen[key] = len(citations) + 1
            citations.append(Citation(seen[key], claim.chunk, claim.quote))
        numbers.append(seen[key])
    return numbers, citations
