"""Span decoding for an extractive reader: pure functions over start and end logits.

A window is the token sequence `[CLS] question [SEP] passage [SEP]`. A span's score is its
start logit plus its end logit, raw, so spans from different windows compare directly (a
per-window softmax would make every window's best span look equally sure). "No answer" is
the span (0, 0) on [CLS], scored the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# SQuAD answers are short; 30 word pieces covers all but a handful.
MAX_ANSWER_TOKENS = 30
# Candidate starts and ends considered per window (the usual n-best of 20).
TOP_N = 20


@dataclass(frozen=True)
class TokenSpan:
    start: int  # token indices, inclusive
    end: int
    score: float


def null_score(start_logits: np.ndarray, end_logits: np.ndarray) -> float:
    return float(start_logits[0] + end_logits[0])


def best_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    context: np.ndarray,
    *,
    max_tokens: int = MAX_ANSWER_TOKENS,
    top_n: int = TOP_N,
    limit: int = 5,
) -> list[TokenSpan]:
    """The best valid spans of one window, best first.

    ``context`` is a boolean mask of the tokens that belong to the passage; a valid span starts
    and ends on passage tokens, ends at or after its start and is at most ``max_tokens`` long.
    """
    allowed = np.flatnonzero(context)
    if allowed.size == 0:
        return []
    starts = allowed[np.argsort(-start_logits[allowed], kind="stable")[:top_n]]
    ends = allowed[np.argsort(-end_logits[allowed], kind="stable")[:top_n]]
    spans = [
        TokenSpan(int(s), int(e), float(start_logits[s] + end_logits[e]))
        for s in starts
        for e in ends
        if s <= e < s + max_tokens
    ]
    spans.sort(key=lambda span: (-span.score, span.start, span.end))
    return spans[:limit]
