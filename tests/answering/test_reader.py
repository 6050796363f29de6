"""The shipped reader: its card, the sha256 check, reading passages, choosing an answer."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from rag.answering.choose import ReaderAnswerer
from rag.answering.reader import DEFAULT_DIR, Candidate, Reader, ReaderCard
from rag.errors import RagError


@pytest.fixture(scope="session")
def reader() -> Reader:
    """The shipped reader (models/reader/): these tests fail, not skip, if it is missing."""
    return Reader()


@pytest.fixture(scope="session")
def tiny_reader(tiny_reader_dir) -> Reader:
    return Reader(tiny_reader_dir)


@pytest.fixture
def reader_copy(tmp_path, tiny_reader_dir) -> Path:
    target = tmp_path / "reader"
    shutil.copytree(tiny_reader_dir, target)
    return target


def test_threshold_comes_from_the_card(tiny_reader, tiny_reader_dir):
    card = json.loads((tiny_reader_dir / "reader.json").read_text())
    assert tiny_reader.threshold == pytest.approx(card["no_answer_threshold"])
    assert ReaderCard.load(tiny_reader_dir).sha256 == card["sha256"]


def test_offsets_point_into_the_passages(tiny_reader):
    passages = ["Short one.", "A second passage " * 40 + "that needs two windows."]
    candidates = tiny_reader.read("Which passage?", passages)
    assert {c.passage for c in candidates} == {0, 1}
    for c in candidates:
        assert 0 <= c.start < c.end <= len(passages[c.passage])
        assert c.margin == pytest.approx(c.score - c.null)


@pytest.mark.unit
def test_missing_card_is_one_clear_error(tmp_path):
    with pytest.raises(RagError, match="reader model not found"):
        Reader(tmp_path)


@pytest.mark.parametrize("card", ["not json", "[]", '{"weights": "model.onnx"}'])
def test_unreadable_card(reader_copy, card):
    (reader_copy / "reader.json").write_text(card)
    with pytest.raises(RagError, match="unreadable"):
        Reader(reader_copy)


def test_card_cannot_point_outside_its_folder(reader_copy):
    card = json.loads((reader_copy / "reader.json").read_text())
    card["weights"] = "../../etc/passwd"
    (reader_copy / "reader.json").write_text(json.dumps(card))
    with pytest.raises(RagError, match="outside"):
        Reader(reader_copy)


def test_corrupt_weights_fail_the_sha256_check(reader_copy):
    card = ReaderCard.load(reader_copy)
    weights = reader_copy / card.weights
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same length
    weights.write_bytes(bytes(data))
    with pytest.raises(RagError, match="sha256"):
        Reader(reader_copy)


def test_missing_weights(reader_copy):
    (reader_copy / ReaderCard.load(reader_copy).weights).unlink()
    with pytest.raises(RagError, match="weights not found"):
        Reader(reader_copy)


@pytest.mark.unit
def test_the_shipped_reader_is_the_one_its_card_describes():
    from rag.embedding import sha256_of

    card = json.loads((DEFAULT_DIR / "reader.json").read_text())
    assert sha256_of(DEFAULT_DIR / card["weights"]) == card["sha256"]
    # fp32 arithmetic: int8 kernels give other answers on CPUs without VNNI.
    assert card["quantization"] == "fp16 storage, fp32 compute"
    assert card["tuning"]["open"]["f1"] > 0  # the threshold was tuned, not left at 0
    model_card = (DEFAULT_DIR / "README.md").read_text()
    assert card["sha256"] in model_card and "CC BY-SA 4.0" in model_card


PASSAGES = [
    "The museum opened in 1852 and holds a large collection of decorative art.",
    "Rollo, a Viking leader, founded the duchy of Normandy in the 10th century.",
]


def test_reads_the_answer_from_the_right_passage(reader):
    candidates = reader.read("Who founded the duchy of Normandy?", PASSAGES)
    best = candidates[0]
    assert best.passage == 1
    assert PASSAGES[1][best.start : best.end] == "Rollo"
    assert best.margin > 0  # believed over "no answer" (the shown-answer bar is higher)
    assert [c.score for c in candidates] == sorted((c.score for c in candidates), reverse=True)


def test_says_no_answer_when_the_passages_do_not_hold_one(reader):
    candidates = reader.read("What is the population of Paris?", PASSAGES)
    assert candidates[0].margin < reader.threshold


def test_long_passage_and_long_question_are_read_in_windows(reader):
    filler = "The weather was mild that year. " * 80
    passage = filler + "The bridge was designed by Gustave Eiffel. " + filler
    question = "Who designed the bridge? " + "please tell me " * 60
    best = reader.read(question, [passage])[0]
    assert passage[best.start : best.end] == "Gustave Eiffel"


class FakeReader:
    threshold = 0.0
    card = ReaderCard("model.onnx", "0" * 64, 0.0)


def hits_for(*doc_ids):
    from rag.chunking import Chunk
    from rag.retrieve import Hit

    return [
        Hit(Chunk(f"{d}#{i}", d, "T", None, str(i) * 40, 0, 40, 0, 0), 1.0)
        for i, d in enumerate(doc_ids)
    ]


@pytest.mark.unit
def test_choose_abstains_below_the_threshold():
    answerer = ReaderAnswerer(FakeReader(), evidence=None)
    hits = hits_for("a")
    assert answerer.choose([Candidate(0, 0, 5, score=3.0, null=3.5)], hits, "other") == []


@pytest.mark.unit
def test_choose_adds_close_answers_only_from_other_articles():
    answerer = ReaderAnswerer(FakeReader(), evidence=None)
    hits = hits_for("a", "a", "b")
    candidates = [
        Candidate(0, 0, 5, score=6.0, null=1.0),
        Candidate(1, 10, 15, score=5.9, null=1.0),  # same article: left out
        Candidate(2, 20, 25, score=5.5, null=1.0),  # another article, close: kept
    ]
    chosen = answerer.choose(candidates, hits, "date")
    assert [c.passage for c in chosen] == [0, 2]
    far = [candidates[0], Candidate(2, 20, 25, score=2.0, null=1.0)]  # too far below the best
    assert answerer.choose(far, hits, "date") == [candidates[0]]


def test_windows_are_the_ones_the_transformers_tokenizer_makes(seed_settings):
    """The reader tokenizes with ``tokenizers`` alone; transformers would split the same way."""
    import numpy as np
    from transformers import AutoTokenizer

    from rag.answering.reader import WindowTokenizer
    from rag.ingest import read_corpus

    card = ReaderCard.load(DEFAULT_DIR)
    ours = WindowTokenizer(DEFAULT_DIR, card.max_length, card.stride)
    theirs = AutoTokenizer.from_pretrained(DEFAULT_DIR)
    bodies = [a.body for a in read_corpus(seed_settings.articles_dir).articles]
    # Whole articles: most are longer than one window, so the stride shows.
    for question in ["Who is Xiaomi's founder?", "How many stores — 1,000 or 2,000?"]:
        windows = ours.windows(question, bodies)
        expected = theirs(
            [question] * len(bodies),
            bodies,
            truncation="only_second",
            max_length=card.max_length,
            stride=card.stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=True,
            return_tensors="np",
        )
        assert len(windows.owners) > len(bodies)
        assert np.array_equal(windows.owners, expected["overflow_to_sample_mapping"])
        # token_type_ids only where the model takes them (BERT does, MPNet does not).
        for name in {"input_ids", "attention_mask", "token_type_ids"} & set(expected):
            assert np.array_equal(getattr(windows, name), expected[name]), name
        assert np.array_equal(windows.offsets, expected["offset_mapping"])
        context = [[s == 1 for s in expected.sequence_ids(i)] for i in range(len(windows.owners))]
        assert np.array_equal(windows.context, np.array(context))


@pytest.mark.unit
def test_choose_asks_the_verifier_when_the_card_has_one():
    from rag.answering.verifier import FEATURES, Verifier

    answerer = ReaderAnswerer(FakeReader(), evidence=None)
    # Only the margin counts, and a margin of 2 is where the verifier turns to "answer".
    coef = tuple(1.0 if name == "margin" else 0.0 for name in FEATURES)
    n = len(FEATURES)
    answerer.verifier = Verifier((2.0,) + (0.0,) * (n - 1), (1.0,) * n, coef, 0.0, threshold=0.5)
    hits = hits_for("a")
    sure = Candidate(0, 0, 5, score=6.0, null=3.0)  # margin 3
    unsure = Candidate(0, 0, 5, score=4.0, null=3.0)  # margin 1: above the margin threshold 0
    assert answerer.choose([sure], hits, "other", {**dict.fromkeys(FEATURES, 0.0), "margin": 3})
    assert not answerer.choose(
        [unsure], hits, "other", {**dict.fromkeys(FEATURES, 0.0), "margin": 1}
    )


@pytest.mark.unit
def test_a_headline_span_is_quoted_from_the_headline_and_verifies():
    from rag.citations import verify

    answerer = ReaderAnswerer(FakeReader(), evidence=None)
    (hit,) = hits_for("a")
    hit = replace(hit, chunk=replace(hit.chunk, title="Pune approves 150 electric buses"))
    claim = answerer.claim(Candidate(0, 14, 17, score=5.0, null=0.0, in_title=True), hit)
    assert claim.span == "150" and claim.quote == "Pune approves 150 electric buses"
    assert verify(claim)
    forged = replace(claim, quote="Pune approves 300 electric buses", span="300")
    assert not verify(forged)


def test_a_malformed_verifier_makes_the_card_unreadable(reader_copy):
    card = json.loads((reader_copy / "reader.json").read_text())
    card["verifier"] = {"features": ["margin"], "mean": [0], "scale": [1], "coef": [1]}
    (reader_copy / "reader.json").write_text(json.dumps(card))
    with pytest.raises(RagError, match="unreadable"):
        Reader(reader_copy)


@pytest.mark.unit
def test_a_second_answer_must_clear_the_stricter_extra_threshold():
    class StrictExtras(FakeReader):
        card = ReaderCard("model.onnx", "0" * 64, 0.0, extra_answer_threshold=4.0)

    answerer = ReaderAnswerer(StrictExtras(), evidence=None)
    hits = hits_for("a", "b", "c")
    best = Candidate(0, 0, 5, score=6.0, null=1.0)  # margin 5
    weak = Candidate(1, 10, 15, score=5.8, null=2.5)  # margin 3.3: answers alone, not as extra
    sure = Candidate(2, 20, 25, score=5.6, null=1.0)  # margin 4.6
    assert answerer.choose([best, weak, sure], hits, "date") == [best, sure]
