"""SQuAD 2.0 scoring against hand-computed values, and `rag eval --squad` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag import metrics, squad
from rag.cli import cli
from rag.errors import RagError

SAMPLE = Path(__file__).parent / "data" / "squad_sample.json"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("The Eiffel Tower!", "eiffel tower"),
        ("  a   cat, an  owl ", "cat owl"),
        ("Noida-based", "noidabased"),  # the official script glues hyphenated words
    ],
)
def test_normalize(text, normalised):
    assert metrics.normalize_answer(text, official=True) == normalised


@pytest.mark.unit
@pytest.mark.parametrize(
    ("prediction", "gold", "f1", "em"),
    [
        ("the cat sat", "cat sat", 1.0, 1.0),
        ("cat sat on mat", "cat sat", 2 * 0.5 * 1.0 / 1.5, 0.0),  # P 2/4, R 2/2
        ("in the 10th century", "10th century", 2 * (2 / 3) * 1.0 / (2 / 3 + 1), 0.0),
        ("dog", "cat", 0.0, 0.0),
        ("", "", 1.0, 1.0),  # abstaining on an unanswerable question
        ("something", "", 0.0, 0.0),  # answering one
    ],
)
def test_f1_and_exact(prediction, gold, f1, em):
    assert metrics.token_f1(prediction, gold, official=True) == pytest.approx(f1)
    assert metrics.exact_match(prediction, gold, official=True) == em


def question(qid: str, answers: tuple[str, ...]) -> squad.SquadQuestion:
    return squad.SquadQuestion(qid, "q?", answers, "T", "context")


@pytest.mark.unit
def test_summary_by_hand():
    questions = [
        question("a", ("Rollo",)),  # answered exactly: 1
        question("b", ("10th century",)),  # "in the 10th century": P 2/3 R 1 -> 0.8
        question("c", ("Paris",)),  # abstained: 0
        question("d", ()),  # abstained on unanswerable: 1
        question("e", ()),  # answered an unanswerable one: 0
    ]
    predictions = {"a": "Rollo", "b": "in the 10th century", "c": "", "d": "", "e": "x"}
    summary = squad.summarise(questions, predictions)
    assert summary["f1"] == pytest.approx(100 * (1 + 0.8 + 0 + 1 + 0) / 5)
    assert summary["exact"] == pytest.approx(100 * 2 / 5)
    assert summary["answerable_f1"] == pytest.approx(100 * 1.8 / 3)
    assert summary["unanswerable_accuracy"] == 50.0
    assert summary["answered"] == 3
    assert summary["answered_precision_f1"] == pytest.approx(100 * 1.8 / 3)


@pytest.mark.unit
def test_load_squad_counts_questions():
    articles, questions = squad.load_squad(SAMPLE)
    assert len(articles) == 2 and len(questions) == 30
    assert sum(not q.answerable for q in questions) == 15


@pytest.mark.unit
@pytest.mark.parametrize("content", ["[]", "{}", "not json", '{"data": []}'])
def test_load_squad_rejects_other_files(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(RagError):
        squad.load_squad(path)


@pytest.mark.unit
def test_write_corpus_one_document_per_article(tmp_path):
    articles, _ = squad.load_squad(SAMPLE)
    squad.write_corpus(articles, tmp_path)
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["000_Oxygen.txt", "001_Steam_engine.txt"]
    assert files[1].read_text().startswith("Steam engine\n\n")


@pytest.mark.parametrize("flags", [["--paragraph-given"], []])
def test_rag_eval_squad_end_to_end(tmp_path, monkeypatch, tiny_reader_dir, flags):
    """The whole path on a committed sample, with a tiny untrained reader (plumbing only)."""
    monkeypatch.setenv("RAG_ANSWERER", "reader")
    monkeypatch.setenv("RAG_READER_DIR", str(tiny_reader_dir))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["eval", "--squad", str(SAMPLE), "--out", str(out), *flags])
    assert result.exit_code == 0, result.output
    assert "questions 30 (15 answerable)" in result.output
    report = json.loads((out / "squad_report.json").read_text())
    rows = [json.loads(line) for line in (out / "squad_predictions.jsonl").open()]
    assert len(rows) == 30 and report["questions"] == 30
    assert {r["id"] for r in rows} == {q.id for q in squad.load_squad(SAMPLE)[1]}
    # Scored by the same definition as the unit tests above.
    predictions = {r["id"]: r["prediction"] for r in rows}
    assert report["f1"] == squad.summarise(squad.load_squad(SAMPLE)[1], predictions)["f1"]


@pytest.mark.unit
def test_paragraph_given_needs_squad():
    result = CliRunner().invoke(cli, ["eval", "--paragraph-given"])
    assert result.exit_code != 0 and "needs --squad" in result.output
