import pytest

from rag.chunking import Chunk
from rag.citations import Claim, number_citations, verify

pytestmark = pytest.mark.unit

CHUNK = Chunk(
    "a.txt#000",
    "a.txt",
    "Title",
    "2023-05-31",
    "Acme fell to third place in Q1 2023. It plans a comeback.",
    0,
    57,
    0,
    1,
)


def test_verified_claim():
    assert verify(Claim(CHUNK, "Acme fell to third place in Q1 2023.", "Q1 2023"))


def test_forged_quote_is_rejected():
    assert not verify(Claim(CHUNK, "Acme rose to first place in Q1 2023.", "Q1 2023"))


def test_span_must_be_inside_the_quote():
    assert not verify(Claim(CHUNK, "It plans a comeback.", "Q1 2023"))
    assert not verify(Claim(CHUNK, "It plans a comeback.", "  "))
    assert not verify(Claim(CHUNK, "", None))


def test_citations_are_numbered_in_order_of_first_use_without_duplicates():
    first = Claim(CHUNK, "It plans a comeback.")
    second = Claim(CHUNK, "Acme fell to third place in Q1 2023.", "Q1 2023")
    numbers, citations = number_citations([first, second, first])
    assert numbers == [1, 2, 1]
    assert [c.quote for c in citations] == [first.quote, second.quote]
