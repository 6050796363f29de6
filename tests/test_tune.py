"""scripts/reader/tune.py: the threshold sweep, with and without its floor on abstaining."""

from __future__ import annotations

import pytest

from rag.squad import SquadQuestion

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def tune(reader_script):
    return reader_script("tune")


def question(n: int, answer: str | None) -> SquadQuestion:
    return SquadQuestion(f"q{n}", "?", (answer,) if answer else (), "t", "")


# Two answerable questions read right; three unanswerable ones answered with margins 1, 2 and 5.
QUESTIONS = [question(0, "Paris"), question(1, "1990"), *(question(n, None) for n in (2, 3, 4))]
READ = [("Paris", 4.0), ("1990", 6.0), ("Lyon", 1.0), ("Nice", 2.0), ("Rome", 5.0)]


def test_the_mix_chooses_the_threshold_without_a_floor(tune):
    threshold, summary = tune.sweep(QUESTIONS, READ, mix=0.8)
    assert 2.0 < threshold <= 4.0  # both right answers kept, two of three traps refused
    assert summary["unanswerable_accuracy"] == pytest.approx(100 * 2 / 3, abs=0.1)


@pytest.mark.parametrize(
    ("floor", "lowest", "refused"),
    [(0.6, 2.0, 2 / 3), (0.7, 5.0, 1.0), (1.0, 5.0, 1.0)],
)
def test_the_floor_raises_the_threshold_until_enough_traps_are_refused(
    tune, floor, lowest, refused
):
    threshold, summary = tune.sweep(QUESTIONS, READ, mix=0.8, min_unanswerable=floor)
    assert threshold > lowest
    assert summary["unanswerable_accuracy"] == pytest.approx(100 * refused, abs=0.1)
