"""scripts/bench_ann.py: its maths on tiny data, and one end-to-end run in about a second."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_ann.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_ann", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_ann"] = module
    spec.loader.exec_module(module)
    return module


def unit_rows(count: int, dimension: int, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((count, dimension)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.unit
@pytest.mark.parametrize("target", [0.8, 0.9, 0.95])
def test_copies_sit_at_the_asked_cosine_to_their_source(bench, target):
    real = unit_rows(50, 384)
    sigma = bench.noise_sigma(target, 384)
    vectors, sources = bench.make_copies(real, 2_000, sigma, np.random.default_rng(1))
    assert vectors.shape == (2_000, 384) and vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors[:50], real)  # every real vector kept, first
    np.testing.assert_array_equal(sources[:50], np.arange(50))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = bench.copy_cosines(vectors, real, sources)
    assert len(cosines) == 1_950
    assert abs(cosines.mean() - target) < 0.005
    # sources are drawn uniformly: every one of 50 real rows is used among 1,950 draws
    assert set(sources[50:]) == set(range(50))


@pytest.mark.unit
def test_fewer_rows_than_real_is_a_plain_subset(bench):
    real = unit_rows(100, 8)
    vectors, sources = bench.make_copies(real, 30, 0.1, np.random.default_rng(0))
    assert len(set(sources)) == 30
    np.testing.assert_array_equal(vectors, real[sources])


@pytest.mark.unit
def test_noise_sigma_rejects_impossible_cosines(bench):
    with pytest.raises(ValueError):
        bench.noise_sigma(1.0, 384)


@pytest.mark.unit
def test_recall_counts_the_overlap_per_query(bench):
    exact = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    approx = np.array([[4, 3, 9, -1], [8, 7, 6, 5]])
    assert bench.recall_at_k(approx, exact, 4) == pytest.approx((2 / 4 + 4 / 4) / 2)
    assert bench.recall_at_k(exact, exact, 2) == 1.0


@pytest.mark.unit
def test_percentiles_and_shares(bench):
    assert bench.percentiles(range(101)) == (50.0, 95.0)
    assert all(v != v for v in bench.percentiles([]))
    assert bench.parse_share("1/64") == 1 / 64
    assert bench.share_label(1 / 64) == "1/64"
    assert bench.share_label(0.3) == "0.3"
    with pytest.raises(ValueError):
        bench.parse_share("2")


@pytest.mark.unit
def test_probes_and_index_bytes_match_the_shipped_index(bench):
    import faiss

    from rag.vectorstore import build_faiss_index

    vectors = unit_rows(3_000, 16)
    ivf = build_faiss_index(vectors, ann_threshold=0)
    from rag.vectorstore import probes

    assert ivf.nprobe == probes(ivf.nlist)
    flat = build_faiss_index(vectors)
    hnsw = faiss.IndexHNSWFlat(16, 8, faiss.METRIC_INNER_PRODUCT)
    hnsw.add(vectors)
    for index in (flat, ivf, hnsw):
        serialised = faiss.serialize_index(index).nbytes
        assert abs(bench.index_bytes(index) - serialised) < 0.02 * serialised + 4_096


def test_a_tiny_run_prints_one_table_per_size(bench, tmp_path, capsys):
    np.save(tmp_path / "real.npy", unit_rows(200, 32, seed=2))
    np.save(tmp_path / "queries.npy", unit_rows(20, 32, seed=3))
    bench.main(
        [
            "--vectors", str(tmp_path / "real.npy"),
            "--queries", str(tmp_path / "queries.npy"),
            "--sizes", "150,1000",
            "--probe-shares", "1/8,1",
            "--hnsw", "--hnsw-ef", "16,32",
            "--warmup", "2",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert out.count("### N = ") == 2
    assert "150 real vectors (random subset of 200)" in out
    assert "200 real + 800 noisy copies" in out
    assert out.count("| IVF-Flat |") >= 2 * 3  # 1/8, all lists and the shipped nprobe
    assert out.count("**shipped**") == 2
    assert out.count("| HNSW-Flat |") == 2 * 2
    recalls = [float(line.rsplit("|", 2)[1]) for line in out.splitlines() if "| IVF" in line]
    assert all(0.0 <= r <= 1.0 for r in recalls)
    every_list = [line for line in out.splitlines() if "| IVF" in line and "share 1/1)" in line]
    assert len(every_list) == 2
    assert all(float(line.rsplit("|", 2)[1]) == 1.0 for line in every_list)  # exact
