import math

import pytest

from rag import metrics

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "text,expected",
    [
        ("The Last Quarter of 2022!", "last quarter of 2022"),
        ("  an  apple, a day ", "apple day"),
        ("Xiaomi’s $2 billion.", "xiaomis 2 billion"),
    ],
)
def test_normalize_answer(text, expected):
    assert metrics.normalize_answer(text) == expected


def test_answer_matches_only_after_normalisation():
    assert metrics.answer_correct(
        "It was in THE last quarter of 2022 [1].", ["last quarter of 2022"]
    )
    assert not metrics.answer_correct("It was in 2021.", ["last quarter of 2022"])


def test_answer_matches_whole_words_only():
    assert not metrics.contains_answer("about 300 stores", ["30"])
    assert metrics.contains_answer("about 30 stores", ["30"])


def test_long_answers_are_wrong_even_when_they_contain_the_answer():
    long_answer = "2022 " + "x" * 400
    assert not metrics.answer_correct(long_answer, ["2022"])


def test_empty_gold_list_never_matches():
    assert not metrics.contains_answer("anything at all", [])
    assert metrics.best_f1("anything", []) == 0.0


@pytest.mark.parametrize(
    "prediction,truth,expected",
    [
        ("Manu Jain", "Manu Jain", 1.0),
        ("the Manu Jain", "Manu Jain", 1.0),
        ("Jain", "Manu Jain", 2 * (1.0 * 0.5) / 1.5),
        ("Lei Jun", "Manu Jain", 0.0),
        ("", "", 1.0),
        ("", "Manu Jain", 0.0),
    ],
)
def test_token_f1_matches_squad(prediction, truth, expected):
    assert metrics.token_f1(prediction, truth) == pytest.approx(expected)


def test_retrieval_metrics_on_known_ranking():
    ranked = ["b", "a", "a", "c", "d"]  # duplicates (two chunks of one doc) count once
    relevant = {"a", "d"}
    assert metrics.recall_at_k(ranked, relevant, 2) == 0.5
    assert metrics.recall_at_k(ranked, relevant, 4) == 1.0
    assert metrics.reciprocal_rank(ranked, relevant, 5) == 0.5
    assert metrics.reciprocal_rank(ranked, {"z"}, 5) == 0.0
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 / math.log2(2) + 1 / math.log2(3)
    assert metrics.ndcg_at_k(ranked, relevant, 10) == pytest.approx(dcg / ideal)
    assert metrics.ndcg_at_k(ranked, set(), 10) == 0.0


def test_percentile_matches_numpy():
    numpy = pytest.importorskip("numpy")
    values = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0]
    for q in (50, 95):
        assert metrics.percentile(values, q) == pytest.approx(numpy.percentile(values, q))
    assert metrics.percentile([], 50) == 0.0
