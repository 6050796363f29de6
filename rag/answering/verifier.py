"""Answer or abstain: a small logistic verifier over more signals than the reader's margin.

The reader's margin (best span minus "no answer" in its window) alone tells a right answer
from a wrong one imperfectly. The verifier adds what the rest of the pipeline knows about
the best span: whether other passages agree on it, how far it leads the best different
answer, how high the retriever ranked its passage, and how much of the question its
sentence covers. Its weights are fitted on the tuning articles by scripts/reader/tune.py
(``fit``) and stored in reader.json with the probability threshold chosen there; with no
verifier in the card, the margin threshold decides alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FEATURES = (
    "margin",  # best span score minus the no-answer score of its window
    "null",  # that no-answer score: how sure the reader is the window holds nothing
    "agreement",  # other passages whose best spans read the same (at most 3)
    "lead",  # best span's score minus the best score of a different answer (at most 10)
    "rank",  # log of the retrieval rank of the span's passage
    "coverage",  # share of the question's (idf-weighted) terms in the span's sentence
    "missing",  # the sentence lacks a name or number the question asks about (the names rule)
    "words",  # log of the span's length in words
    "in_title",  # the span is in the article's headline
)


@dataclass(frozen=True)
class Verifier:
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float  # answer when the probability of a right answer is at least this

    @classmethod
    def from_card(cls, data: dict | None) -> Verifier | None:
        if not data:
            return None
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"verifier features {data['features']} are not {list(FEATURES)}")
        verifier = cls(
            mean=tuple(float(x) for x in data["mean"]),
            scale=tuple(float(x) for x in data["scale"]),
            coef=tuple(float(x) for x in data["coef"]),
            intercept=float(data["intercept"]),
            threshold=float(data["threshold"]),
        )
        if not len(verifier.mean) == len(verifier.scale) == len(verifier.coef) == len(FEATURES):
            raise ValueError("verifier weights do not match its features")
        return verifier

    def to_card(self) -> dict:
        return {
            "features": list(FEATURES),
            "mean": [round(x, 6) for x in self.mean],
            "scale": [round(x, 6) for x in self.scale],
            "coef": [round(x, 6) for x in self.coef],
            "intercept": round(self.intercept, 6),
            "threshold": round(self.threshold, 4),
        }

    def probability(self, signals: dict[str, float]) -> float:
        z = self.intercept + sum(
            c * (signals[name] - m) / s
            for name, m, s, c in zip(FEATURES, self.mean, self.scale, self.coef, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def accepts(self, signals: dict[str, float]) -> bool:
        return self.probability(signals) >= self.threshold


def signals(
    *,
    margin: float,
    null: float,
    agreeing_passages: int,
    lead: float,
    passage_rank: int,
    coverage: float,
    missing: bool,
    words: int,
    in_title: bool,
) -> dict[str, float]:
    """The verifier's inputs for one answer, bounded so no single one can run away."""
    return {
        "margin": margin,
        "null": null,
        "agreement": float(min(agreeing_passages, 3)),
        "lead": min(max(lead, 0.0), 10.0),
        "rank": math.log(passage_rank),
        "coverage": max(0.0, min(coverage, 1.0)),
        "missing": float(missing),
        "words": math.log(max(words, 1)),
        "in_title": float(in_title),
    }


def fit(
    rows: list[dict[str, float]], labels: list[int], weights: list[float], *, l2: float = 1.0
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...], float]:
    """Weighted, L2-regularised logistic regression by Newton's method.

    Returns (mean, scale, coef, intercept) over standardised features.
    """
    x = np.array([[row[name] for name in FEATURES] for row in rows], dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    w = w * len(w) / w.sum()
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    design = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    beta = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0  # the intercept is not shrunk
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ beta, -60, 60)))
        gradient = design.T @ (w * (p - y)) + penalty * beta
        hessian = (design * (w * p * (1 - p))[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return tuple(mean), tuple(scale), tuple(beta[1:]), float(beta[0])
