"""What every answerer returns, and the one method an answerer has."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..citations import Claim
from ..question import AnalysedQuestion
from ..retrieve import Hit, Query

# What is said when no verified claim is left: by the pipeline, and read back from a history.
ABSTAIN_TEXT = "The articles don't say."


@dataclass
class Draft:
    """What an answerer proposes; citations are verified before anything is shown."""

    claims: list[Claim] = field(default_factory=list)
    abstained: bool = False
    reason: str = ""
    # The reader's best span score minus its no-answer score; None for other answerers.
    margin: float | None = None
    # What the verifier read about the best span (answering/verifier.py); None for others.
    signals: dict[str, float] | None = None


class Answerer(Protocol):
    def draft(self, question: AnalysedQuestion, query: Query, hits: list[Hit]) -> Draft: ...
