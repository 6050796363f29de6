"""The shipped reader answers as its fp32 weights do, on whatever CPU runs the tests.

models/reader/reference.json holds, per question, the best span and its margin over "no
answer" of the fp32 export of the shipped weights (scripts/reader/reference.py, recorded on
the CPU it names). An int8 reader whose kernels change with the instruction set fails here:
the previous one moved margins by up to 2.4 logits.
"""

from __future__ import annotations

import json

import pytest

from rag.answering.reader import DEFAULT_DIR, Reader

# fp16 storage moves a margin by about 0.01 logit; summation order between CPUs by far less.
MARGIN_TOLERANCE = 0.05
# Questions whose answer/abstain decision may differ: margins within the tolerance of the
# threshold can fall either side of it.
DECISIONS_ALLOWED_TO_DIFFER = 1
SPANS_ALLOWED_TO_DIFFER = 1


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((DEFAULT_DIR / "reference.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def shipped(reference) -> list[tuple[dict, dict]]:
    reader = Reader()
    seeds = DEFAULT_DIR.parents[1] / "seeds"
    pairs = []
    for case in reference["questions"]:
        text = (seeds / case["doc"]).read_text(encoding="utf-8")
        top = reader.read(case["question"], [text])[0]
        pairs.append((case, {"start": top.start, "end": top.end, "margin": top.margin}))
    return pairs


@pytest.mark.unit
def test_reference_is_for_the_shipped_weights(reference):
    card = json.loads((DEFAULT_DIR / "reader.json").read_text(encoding="utf-8"))
    assert reference["weights_sha256"] == card["sha256"], (
        "models/reader/reference.json is stale: run scripts/reader/reference.py"
    )
    assert len(reference["questions"]) >= 50


def test_margins_match_fp32(shipped):
    worst = max(shipped, key=lambda pair: abs(pair[0]["margin"] - pair[1]["margin"]))
    drift = abs(worst[0]["margin"] - worst[1]["margin"])
    assert drift <= MARGIN_TOLERANCE, f"{worst[0]['id']} margin moved {drift:.3f} from fp32"


def test_spans_match_fp32(shipped):
    moved = [c["id"] for c, s in shipped if (c["start"], c["end"]) != (s["start"], s["end"])]
    assert len(moved) <= SPANS_ALLOWED_TO_DIFFER, moved


def test_decisions_match_fp32(shipped):
    threshold = Reader().threshold
    flipped = [
        c["id"] for c, s in shipped if (c["margin"] >= threshold) != (s["margin"] >= threshold)
    ]
    assert len(flipped) <= DECISIONS_ALLOWED_TO_DIFFER, flipped
