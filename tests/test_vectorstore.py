"""Dense search behind the VectorStore protocol: FAISS exact or IVF, and Milvus Lite."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import faiss
import numpy as np
import pytest

from rag.engine import Engine
from rag.milvus_store import MilvusStore
from rag.vectorstore import FaissStore, build_faiss_index, ivf_lists, open_store

GOLD = Path(__file__).resolve().parents[1] / "evals" / "gold.jsonl"


def clustered(count: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 50 centres: the shape real passage vectors have, not uniform noise."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, 64)).astype(np.float32)
    vectors = centres[rng.integers(0, 50, count)] + 0.3 * rng.standard_normal((count, 64))
    vectors = vectors.astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("count", "threshold", "kind"), [(500, 1000, "IndexFlatIP"), (5000, 1000, "IndexIVFFlat")]
)
def test_exact_below_the_threshold_approximate_above(count, threshold, kind):
    index = build_faiss_index(clustered(count), ann_threshold=threshold)
    assert type(index).__name__ == kind
    assert index.ntotal == count


@pytest.mark.unit
def test_ivf_finds_what_exact_search_finds(tmp_path):
    vectors = clustered(8000)
    queries = clustered(100, seed=1)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, 10)
    faiss.write_index(build_faiss_index(vectors, ann_threshold=1000), str(tmp_path / "ivf"))
    store = FaissStore.load(tmp_path / "ivf")  # nprobe is set again on load
    assert store.index.nlist == ivf_lists(8000)
    _, found = store.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
    assert recall >= 0.95


@pytest.mark.unit
def test_ivf_store_gives_back_every_vector_in_row_order(tmp_path):
    vectors = clustered(3000)
    faiss.write_index(build_faiss_index(vectors, ann_threshold=100), str(tmp_path / "ivf"))
    assert np.allclose(FaissStore.load(tmp_path / "ivf").vectors(), vectors, atol=1e-6)


def test_the_default_store_is_the_index_own_faiss(engine):
    assert open_store(engine.index, "") is engine.index.dense


@pytest.fixture(scope="module")
def milvus_engine(seed_settings, embedder, engine, tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("milvus") / "rag.db")
    return Engine(replace(seed_settings, vector_uri=uri), embedder=embedder, allow_rebuild=False)


def test_milvus_lite_gives_the_same_answers_on_the_seed_gold(engine, milvus_engine):
    assert isinstance(milvus_engine.store, MilvusStore)
    lines = GOLD.read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    for question in questions:
        faiss_result, milvus_result = engine.ask(question), milvus_engine.ask(question)
        assert milvus_result.answer == faiss_result.answer, question
        assert [c.chunk.chunk_id for c in milvus_result.citations] == [
            c.chunk.chunk_id for c in faiss_result.citations
        ], question


def test_a_lost_milvus_collection_is_filled_again_from_the_build(milvus_engine, embedder):
    from rag.milvus_store import drop_collections_except

    store = milvus_engine.store
    drop_collections_except(store.uri, "rag_", keep=set())
    assert MilvusStore.open(store.uri, store.collection, store.size) is None
    again = Engine(milvus_engine.settings, embedder=embedder, allow_rebuild=False)
    assert again.store.size == len(again.index.chunks)
    assert again.search("Who is Xiaomi's founder?")
