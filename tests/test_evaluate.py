import json

import pytest

from rag.errors import RagError
from rag.evaluate import GoldItem, check_floors, judge, load_gold

pytestmark = pytest.mark.unit


def citation(doc, text):
    return {
        "n": 1,
        "doc": doc,
        "title": "",
        "date": None,
        "chunk_id": doc + "#0",
        "text": text,
        "quote": text,
    }


def test_judge_answerable_with_good_and_duplicate_citations():
    item = GoldItem("q1", "when?", ["Q4 2022", "last quarter of 2022"], ["a.txt"])
    prediction = {
        "answer": "The last quarter of 2022 [1].",
        "abstained": False,
        "short_answer": "the last quarter of 2022",
        "citations": [
            citation("a.txt", "In the last quarter of 2022, it fell."),
            citation("a.txt", "In the last quarter of 2022, it fell."),  # duplicate counts twice
            citation("b.txt", "In the last quarter of 2022, it fell."),  # not a gold source
        ],
    }
    correct, f1, good = judge(item, prediction)
    assert correct and f1 == pytest.approx(1.0) and good == 2


def test_judge_unanswerable_rewards_abstention_only():
    item = GoldItem("q2", "who is the ceo of samsung?", [], [])
    assert judge(item, {"answer": "x", "abstained": True, "citations": []}) == (True, 1.0, 0)
    assert judge(item, {"answer": "x", "abstained": False, "citations": []})[0] is False


def test_load_gold_reports_bad_lines(tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text(
        json.dumps({"id": "1", "question": "q", "answers": [], "sources": []}) + "\n{not json\n"
    )
    with pytest.raises(RagError, match=":2:"):
        load_gold(path)
    with pytest.raises(RagError, match="not found"):
        load_gold(tmp_path / "missing.jsonl")


def test_check_floors():
    summary = {"answerable_accuracy": 0.8, "false_abstain_rate": 0.2}
    assert check_floors(summary, {"answerable_accuracy": 0.75}) == []
    assert "below" in check_floors(summary, {"answerable_accuracy": 0.9})[0]
    assert "above" in check_floors(summary, {"false_abstain_rate": 0.1})[0]
    assert "unknown" in check_floors(summary, {"nope": 0.1})[0]
