"""Evaluation metrics as pure functions (SQuAD-style answers, ranked retrieval, latency)."""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence

MAX_CORRECT_ANSWER_CHARS = 400
_OFFICIAL_PUNCTUATION = frozenset(string.punctuation)
_PUNCTUATION = _OFFICIAL_PUNCTUATION | {"“", "”"}
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text: str, *, official: bool = False) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces.

    ``official``: exactly the SQuAD 2.0 evaluation script's (``rag eval --squad``). Otherwise
    (the gold sets) hyphens and dashes separate words ("Noida-based" -> "noida based")
    instead of gluing them together, and curly quotes count as punctuation.
    """
    text = text.lower()
    if not official:
        text = re.sub(r"[-‐‑–—]", " ", text.replace("’", "'").replace("‘", "'"))
    punctuation = _OFFICIAL_PUNCTUATION if official else _PUNCTUATION
    text = "".join(ch for ch in text if ch not in punctuation)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, truth: str, *, official: bool = False) -> float:
    same = normalize_answer(prediction, official=official) == normalize_answer(
        truth, official=official
    )
    return float(same)


def contains_answer(text: str, accepted: Sequence[str]) -> bool:
    """Some accepted answer occurs in ``text`` as whole words, after normalisation."""
    haystack = f" {normalize_answer(text)} "
    return any(
        (needle := normalize_answer(answer)) and f" {needle} " in haystack for answer in accepted
    )


def answer_correct(answer: str, accepted: Sequence[str]) -> bool:
    return len(answer) <= MAX_CORRECT_ANSWER_CHARS and contains_answer(answer, accepted)


def token_f1(prediction: str, truth: str, *, official: bool = False) -> float:
    """SQuAD token F1 between two strings (both empty: 1, one empty: 0)."""
    predicted = normalize_answer(prediction, official=official).split()
    expected = normalize_answer(truth, official=official).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = Counter(predicted) & Counter(expected)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(predicted), overlap / len(expected)
    return 2 * precision * recall / (precision + recall)


def best_f1(prediction: str, accepted: Sequence[str]) -> float:
    return max((token_f1(prediction, answer) for answer in accepted), default=0.0)


def distinct(items: Sequence[str]) -> list[str]:
    """Items in first-seen order without repeats (a ranking of chunks -> of documents)."""
    return list(dict.fromkeys(items))


def recall_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    if not relevant:
        return 0.0
    return len(set(distinct(ranked)[:k]) & relevant) / len(relevant)


def reciprocal_rank(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    for rank, item in enumerate(distinct(ranked)[:k], start=1):
        if item in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: set[str], k: int = 10) -> float:
    """Binary-relevance nDCG: gain 1/log2(rank+1), normalised by the ideal ranking."""
    if not relevant:
        return 0.0
    dcg = sum(
        1.0 / math.log2(rank + 1)
        for rank, item in enumerate(distinct(ranked)[:k], start=1)
        if item in relevant
    )
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(relevant), k) + 1))
    return dcg / ideal


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), q in [0, 100]."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
