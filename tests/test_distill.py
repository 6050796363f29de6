"""scripts/reader/distill.py: teacher logits carried to the student's tokens by characters."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def distill(reader_script):
    return reader_script("distill")


def test_tokens_that_line_up_take_the_teachers_logits(distill):
    # "Lei Jun founded Xiaomi": the teacher splits "Xiaomi" in two, the student does not.
    teacher = [(0, 3), (4, 7), (8, 15), (16, 19), (19, 22)]
    logits = np.array([[1, 10], [2, 20], [3, 30], [4, 40], [5, 50]], dtype=np.float32)
    student = [(0, 3), (4, 7), (8, 15), (16, 22)]
    carried = distill.align(student, teacher, logits)
    assert carried[:3].tolist() == [[1, 10], [2, 20], [3, 30]]
    # "Xiaomi" starts where the teacher's first piece starts and ends where its last ends.
    assert carried[3].tolist() == [4, 50]


def test_a_student_token_inside_a_teacher_token_takes_the_covering_one(distill):
    teacher = [(0, 10)]
    logits = np.array([[7, 8]], dtype=np.float32)
    carried = distill.align([(0, 4), (4, 10)], teacher, logits)
    assert carried.tolist() == [[7, 8], [7, 8]]


def test_no_teacher_tokens_leaves_everything_masked(distill):
    carried = distill.align([(0, 3)], [], np.zeros((0, 2), dtype=np.float32))
    assert (carried == distill.MASKED).all()
