"""The answer/abstain verifier: its maths, its card, and its bounded signals."""

from __future__ import annotations

import random

import pytest

from rag.answering.verifier import FEATURES, Verifier, fit, signals

pytestmark = pytest.mark.unit


def row(margin: float, agreement: int = 0, coverage: float = 0.5) -> dict[str, float]:
    return signals(
        margin=margin,
        null=0.0,
        agreeing_passages=agreement,
        lead=2.0,
        passage_rank=1,
        coverage=coverage,
        missing=False,
        words=2,
        in_title=False,
    )


def test_fit_learns_which_way_a_signal_points():
    rng = random.Random(3)
    rows, labels = [], []
    for _ in range(400):
        margin = rng.uniform(-5, 10)
        rows.append(row(margin, agreement=rng.randint(0, 3)))
        labels.append(int(margin + rng.gauss(0, 1) > 3))
    mean, scale, coef, intercept = fit(rows, labels, [1.0] * len(rows))
    model = Verifier(mean, scale, coef, intercept, threshold=0.5)
    assert coef[FEATURES.index("margin")] > 0
    assert model.probability(row(9)) > 0.9 > 0.1 > model.probability(row(-4))
    accuracy = sum(model.accepts(r) == bool(y) for r, y in zip(rows, labels, strict=True))
    assert accuracy / len(rows) > 0.85


def test_weights_move_the_fit():
    rows = [row(m) for m in (0, 1, 2, 3, 4, 5)] * 10
    labels = [0, 1, 0, 1, 0, 1] * 10
    light = fit(rows, labels, [1.0] * len(rows))[3]
    heavy = fit(rows, labels, [3.0 if y else 1.0 for y in labels])[3]
    assert heavy > light  # weighting the positives raises the base rate


def test_card_round_trip():
    n = len(FEATURES)
    model = Verifier((0.0,) * n, (1.0,) * n, (0.5,) * n, -1.0, threshold=0.4)
    again = Verifier.from_card(model.to_card())
    assert again == model
    assert Verifier.from_card(None) is None


@pytest.mark.parametrize(
    "broken",
    [
        {
            "features": ["margin"],
            "mean": [0],
            "scale": [1],
            "coef": [1],
            "intercept": 0,
            "threshold": 0.5,
        },
        {
            "features": list(FEATURES),
            "mean": [0],
            "scale": [1],
            "coef": [1],
            "intercept": 0,
            "threshold": 0.5,
        },
    ],
)
def test_malformed_cards_are_refused(broken):
    with pytest.raises(ValueError):
        Verifier.from_card(broken)


def test_signals_are_bounded():
    wild = signals(
        margin=3.0,
        null=1.0,
        agreeing_passages=9,
        lead=-4.0,
        passage_rank=8,
        coverage=1.7,
        missing=True,
        words=0,
        in_title=True,
    )
    assert wild["agreement"] == 3 and wild["lead"] == 0 and wild["coverage"] == 1
    assert wild["words"] == 0 and wild["in_title"] == 1 and wild["missing"] == 1
