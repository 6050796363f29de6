"""The CI gate: the project's own gold set must stay above the floors in thresholds.toml."""

import tomllib
from pathlib import Path

import pytest

from rag.evaluate import HEADLINE, check_floors, load_gold, run_eval, write_reports

EVALS = Path(__file__).resolve().parent.parent / "evals"


def test_gold_set_meets_the_floors(engine, tmp_path):
    """The default answerer, the trained reader, against its floors."""
    assert engine.settings.answerer == "reader"
    gold = load_gold(EVALS / "gold.jsonl")
    floors = tomllib.loads((EVALS / "thresholds.toml").read_text())["floors"]["reader"]
    assert set(floors) >= set(HEADLINE)
    outcomes = run_eval(engine, gold, k=5)
    report = write_reports(outcomes, tmp_path, k=5, gold_path=EVALS / "gold.jsonl")
    for name in ("predictions.jsonl", "report.json", "report.md", "report.png"):
        assert (tmp_path / name).stat().st_size > 0
    problems = check_floors(report["overall"], floors)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", ["followups.jsonl", "followups-heldout.jsonl"])
def test_follow_up_conversations_meet_their_floor(name, engine):
    """The second turn of each conversation, its first asked and answered live."""
    gold = load_gold(EVALS / name)
    assert len(gold) >= 30 and all(item.history for item in gold)
    floor = tomllib.loads((EVALS / "thresholds.toml").read_text())["floors"]["followups"][name]
    outcomes = run_eval(engine, gold, k=5)
    accuracy = sum(o.correct for o in outcomes) / len(outcomes)
    assert accuracy >= floor, f"{name}: second turns right {accuracy:.3f} < floor {floor}"


@pytest.mark.unit
def test_gold_set_shape():
    gold = load_gold(EVALS / "gold.jsonl")
    assert len(gold) >= 40
    assert len({item.id for item in gold}) == len(gold)
    unanswerable = [g for g in gold if not g.answerable]
    assert len(unanswerable) >= 8 and all(not g.sources for g in unanswerable)
    assert sum(g.category == "when" for g in gold) >= 5
    assert sum(len(g.sources) >= 2 for g in gold) >= 4
    seeds = {p.name for p in (EVALS.parent / "seeds").iterdir()}
    assert {s for g in gold for s in g.sources} == seeds
