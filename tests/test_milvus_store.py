"""The Milvus store gives exactly FAISS's answers, and fails as one clear RagError."""

from __future__ import annotations

import subprocess
import sys

import faiss
import numpy as np
import pytest

from rag.errors import RagError
from rag.milvus_store import (
    PAD_SCORE,
    MilvusStore,
    collection_name,
    drop_collections_except,
)

COUNT, DIMENSION = 500, 384


def unit(rows: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((rows, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return unit(COUNT, seed=7)


@pytest.fixture(scope="module")
def uri(tmp_path_factory) -> str:
    # A folder that does not exist yet: publish must create it.
    return str(tmp_path_factory.mktemp("milvus") / "nested" / "vectors.db")


@pytest.fixture(scope="module")
def store(uri, vectors) -> MilvusStore:
    return MilvusStore.publish(uri, "rag_main", vectors)


def test_collection_name_is_valid_for_milvus():
    assert collection_name("20261201T233000-1a2b3c4d") == "rag_20261201T233000_1a2b3c4d"


def test_search_equals_exact_faiss(store, vectors):
    queries = unit(20, seed=8)
    exact = faiss.IndexFlatIP(DIMENSION)
    exact.add(vectors)
    want_scores, want_rows = exact.search(queries, 10)

    scores, rows = store.search(queries, 10)

    assert store.size == COUNT
    assert scores.shape == rows.shape == (20, 10)
    assert (scores.dtype, rows.dtype) == (np.float32, np.int64)
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_allclose(scores, want_scores, atol=1e-4)


def test_search_pads_past_the_last_row(uri):
    small = MilvusStore.publish(uri, "rag_small", unit(3, seed=9))
    scores, rows = small.search(unit(2, seed=10), 5)
    assert (rows[:, 3:] == -1).all() and (scores[:, 3:] == PAD_SCORE).all()
    assert sorted(rows[0, :3]) == [0, 1, 2]
    assert (np.diff(scores[:, :3]) <= 0).all()  # best first


def test_open_finds_the_published_collection(store, uri, vectors):
    opened = MilvusStore.open(uri, "rag_main", expected_rows=COUNT)
    assert opened is not None and opened.size == COUNT
    np.testing.assert_array_equal(opened.search(vectors[:3], 1)[1][:, 0], [0, 1, 2])


@pytest.mark.parametrize(
    ("collection", "expected_rows"), [("rag_missing", COUNT), ("rag_main", COUNT + 1)]
)
def test_open_refuses_a_missing_or_short_collection(store, uri, collection, expected_rows):
    assert MilvusStore.open(uri, collection, expected_rows) is None


def test_publish_replaces_the_collection(uri):
    MilvusStore.publish(uri, "rag_again", unit(50, seed=11))
    other = unit(20, seed=12)
    replaced = MilvusStore.publish(uri, "rag_again", other)
    assert replaced.size == 20
    assert MilvusStore.open(uri, "rag_again", expected_rows=50) is None
    np.testing.assert_array_equal(replaced.search(other[:5], 1)[1][:, 0], range(5))


def test_drop_collections_except_keeps_the_named_and_foreign(tmp_path):
    uri = str(tmp_path / "drop.db")
    for name in ("rag_old", "rag_older", "rag_current", "theirs"):
        MilvusStore.publish(uri, name, unit(4, seed=13))

    dropped = drop_collections_except(uri, "rag_", keep={"rag_current"})

    assert sorted(dropped) == ["rag_old", "rag_older"]
    assert MilvusStore.open(uri, "rag_current", 4) is not None
    assert MilvusStore.open(uri, "theirs", 4) is not None
    assert MilvusStore.open(uri, "rag_old", 4) is None


@pytest.mark.parametrize("uri", ["", "vectors.sqlite", "tcp://localhost:19530", "milvus.example"])
def test_unknown_uri_is_a_rag_error(uri):
    with pytest.raises(RagError, match="expected a path ending in .db"):
        MilvusStore.open(uri, "rag_main", 1)


def test_unreachable_server_is_a_rag_error():
    # Port 1 on loopback: refused at once, no traffic off the machine.
    with pytest.raises(RagError, match=r"Milvus at http://127\.0\.0\.1:1: cannot connect"):
        MilvusStore.open("http://127.0.0.1:1", "rag_main", 1)


def test_bad_collection_name_is_a_rag_error(uri):
    with pytest.raises(RagError, match="bad Milvus collection name"):
        MilvusStore.publish(uri, "20261201T233000-1a2b3c4d", unit(2, seed=14))


def test_second_process_on_one_lite_file_is_a_rag_error(store, uri):
    """Milvus Lite locks its file: a second process gets a clear RagError, and neither
    library prints its own traceback on the way."""
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from rag.milvus_store import MilvusStore\nMilvusStore.open({uri!r}, 'rag_main', 1)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode != 0
    assert "RagError: Milvus at" in child.stderr
    assert "another process has it open" in child.stderr
    # Neither library logged its own traceback on the way.
    assert "ERROR" not in child.stderr and "Failed to start MilvusLite" not in child.stderr
