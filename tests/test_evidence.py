from types import SimpleNamespace

import numpy as np
import pytest

from rag.evidence import SentenceVectors

pytestmark = pytest.mark.unit


class CountingEmbedder:
    """Vectors that say which text they embed; ``during`` runs inside an encode call, as
    another thread's work would interleave."""

    def __init__(self):
        self.encoded: list[str] = []
        self.during = None

    def encode(self, texts):
        self.encoded.extend(texts)
        if self.during is not None:
            hook, self.during = self.during, None
            hook()
        return [np.array([float(len(t))]) for t in texts]


def index_of(**articles: list[str]):
    return SimpleNamespace(
        articles={doc: SimpleNamespace(title=doc.upper()) for doc in articles},
        sentences={
            doc: [SimpleNamespace(text=text) for text in texts] for doc, texts in articles.items()
        },
    )


def test_each_sentence_is_embedded_once_under_its_title():
    embedder = CountingEmbedder()
    vectors = SentenceVectors(index_of(a=["one", "two", "three"]), embedder)
    first = vectors.of("a", range(2))
    again = vectors.of("a", range(3))
    assert embedder.encoded == ["A\none", "A\ntwo", "A\nthree"]
    assert set(again) == {0, 1, 2} and again[0] is first[0]


def test_a_cache_cleared_by_another_reader_meanwhile_loses_no_rows():
    embedder = CountingEmbedder()
    vectors = SentenceVectors(
        index_of(a=["one", "two", "three"], b=["x", "y", "z"]), embedder, keep=3
    )
    vectors.of("a", range(2))
    # While "a"'s third sentence is embedded, a reader of "b" fills and clears the cache.
    embedder.during = lambda: vectors.of("b", range(3))
    got = vectors.of("a", range(3))
    assert set(got) == {0, 1, 2}
