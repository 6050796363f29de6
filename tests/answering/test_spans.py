"""Span decoding: the best valid span of a window, and the no-answer score."""

from __future__ import annotations

import numpy as np
import pytest

from rag.answering.spans import best_spans, null_score

pytestmark = pytest.mark.unit


def logits(n: int, peaks: dict[int, float]) -> np.ndarray:
    values = np.zeros(n, dtype=np.float32)
    for at, value in peaks.items():
        values[at] = value
    return values


def test_best_span_is_the_highest_start_plus_end():
    start = logits(10, {0: 1.0, 3: 5.0, 6: 2.0})
    end = logits(10, {0: 1.0, 4: 4.0, 7: 3.0})
    context = np.array([False] * 2 + [True] * 8)
    spans = best_spans(start, end, context)
    assert (spans[0].start, spans[0].end, spans[0].score) == (3, 4, 9.0)
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)


def test_a_span_never_ends_before_it_starts():
    start = logits(8, {5: 9.0, 2: 0.5})
    end = logits(8, {3: 9.0, 6: 1.0})
    spans = best_spans(start, end, np.ones(8, dtype=bool))
    assert all(s.end >= s.start for s in spans)
    assert (spans[0].start, spans[0].end) == (5, 6)  # 9 + 1 beats the invalid 5 -> 3


def test_length_limit():
    start = logits(40, {1: 9.0, 30: 1.0})
    end = logits(40, {35: 9.0, 31: 1.0})
    spans = best_spans(start, end, np.ones(40, dtype=bool), max_tokens=10)
    assert all(s.end - s.start < 10 for s in spans)
    assert (spans[0].start, spans[0].end) == (30, 35)


def test_spans_stay_inside_the_passage():
    start = logits(6, {0: 20.0, 1: 15.0, 4: 1.0})
    end = logits(6, {0: 20.0, 1: 15.0, 5: 1.0})
    context = np.array([False, False, False, True, True, True])  # [CLS] question [SEP]
    spans = best_spans(start, end, context)
    assert spans and all(s.start >= 3 and s.end >= 3 for s in spans)


def test_no_passage_tokens_no_spans():
    assert best_spans(np.ones(4), np.ones(4), np.zeros(4, dtype=bool)) == []


def test_null_score_is_cls_start_plus_end():
    assert null_score(logits(5, {0: 2.5}), logits(5, {0: -1.0})) == pytest.approx(1.5)
