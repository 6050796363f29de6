"""Dense search at scale: exact vs approximate on up to 1M passage vectors.

    .venv/bin/python scripts/bench_ann.py --vectors PASSAGES.npy --queries QUESTIONS.npy \\
        [--sizes 100000,1000000] [--k 10] [--seed 0] [--copy-cosine 0.90 | --noise SIGMA] \\
        [--probe-shares 1/128,1/64,1/32,1/16] [--hnsw] [--hnsw-ef 64,128,256] \\
        [--latency-queries 0] [--warmup 20] [--threads 0]

    # self-test sources instead of .npy files:
    .venv/bin/python scripts/bench_ann.py --index-dir index \\
        --squad ../shared/squad/dev.json --query-count 200 --sizes 20000,100000

Prints figures, asserts nothing. Measures the shipped code path: the IVF index is made by
``rag.vectorstore.build_faiss_index`` (forced past ``ANN_THRESHOLD`` so that every size gets
IVF), with its ``ivf_lists`` and its k-means sample; only ``nprobe`` is swept afterwards, and
the row at the shipped ``IVF_PROBE_SHARE`` is marked.

Inputs
- Real passage vectors: ``--vectors`` (an ``(R, d)`` float32 .npy, rows L2-normalised) or
  ``--index-dir DIR`` (every vector of ``DIR/current/chunks.faiss``).
- Real query vectors: ``--queries`` (a ``(Q, d)`` .npy) or ``--squad FILE.json`` with
  ``--query-count N`` (N questions drawn at random with ``--seed`` from the SQuAD-format
  file, embedded with ``rag.embedding.Embedder``). Rows are renormalised on load.

How N vectors are made from R real ones (``make_copies``)
- N <= R: a uniformly random subset of N real vectors, no synthetic ones.
- N > R: all R real vectors are kept (rows 0..R-1); each of the other N - R rows is a noisy
  copy: a real vector drawn uniformly at random (with replacement), plus isotropic Gaussian
  noise, sigma per dimension, then renormalised to unit length. For a unit vector s and
  noise g ~ N(0, sigma^2 I_d), cos(s + g, s) ~= 1 / sqrt(1 + d sigma^2), so
  sigma = sqrt((1/c^2 - 1) / d) gives copies at cosine ~c to their source (``--copy-cosine``,
  default 0.90); ``--noise`` sets sigma directly instead. No uniform random vectors.
- The header prints the measured mean cosine of copies to their sources, and for the
  queries the mean cosine of their exact top-1 and top-k-th neighbour in the real set vs in
  the enlarged set, the share of exact top-k results that are synthetic and how many
  distinct real sources an exact top-k comes from (copies of one source form a tight
  cluster, which an IVF cell holds whole), so a reader can judge how much harder, or
  easier, the enlarged set is than a real corpus of that size would be.

Measurements, per size
- Ground truth: exact top-k by ``faiss.IndexFlatIP`` over the same N vectors (queries
  batched). Recall@k of a configuration = mean over queries of
  |approx top-k ∩ exact top-k| / k, its top-k taken from one batched search over all queries.
- Latency: one query at a time, ``index.search(q.reshape(1, -1), k)`` as the app searches,
  p50/p95 over all queries (or the first ``--latency-queries``) after ``--warmup`` untimed
  searches. FAISS threads stay at FAISS's default (the app never sets them) unless
  ``--threads``; when that default is above 1, exact search is also timed with 1 thread,
  since a single query parallelised over busy cores can be many times slower than on one.
- Build seconds (train + add); index bytes (payload: vectors, ids, centroids, graph links;
  computed, not serialised, so no extra copy of a 1.5 GB index is made); the process peak
  RSS so far (``ru_maxrss``; it only grows, so read it as "peak up to this row").
- Memory: one N x d float32 array plus one index at a time (about two copies of the
  vectors); each index is freed before the next is built.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import shlex
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHUNK_ROWS = 65_536  # rows generated / compared per block, bounds temporary memory


# --- pure functions -------------------------------------------------------------------


def noise_sigma(copy_cosine: float, dimension: int) -> float:
    """Per-dimension Gaussian sigma giving E[cos(copy, source)] ~= ``copy_cosine``."""
    if not 0.0 < copy_cosine < 1.0:
        raise ValueError(f"copy cosine must be in (0, 1), got {copy_cosine}")
    return float(np.sqrt((1.0 / copy_cosine**2 - 1.0) / dimension))


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, float32, C-contiguous (zero rows stay zero)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def make_copies(
    real: np.ndarray, count: int, sigma: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` unit vectors made from the real rows, and the source row of each.

    ``count <= len(real)``: a random subset of real rows (sources are their real row ids).
    Otherwise rows ``0..R-1`` are ``real`` itself and every later row is a real row picked
    uniformly at random plus N(0, sigma^2) noise per dimension, renormalised.
    """
    total_real, dimension = real.shape
    if count <= total_real:
        rows = np.sort(rng.choice(total_real, count, replace=False))
        return np.ascontiguousarray(real[rows], dtype=np.float32), rows
    out = np.empty((count, dimension), dtype=np.float32)
    out[:total_real] = real
    sources = np.empty(count, dtype=np.int64)
    sources[:total_real] = np.arange(total_real)
    sources[total_real:] = rng.integers(0, total_real, count - total_real)
    for start in range(total_real, count, CHUNK_ROWS):
        stop = min(count, start + CHUNK_ROWS)
        block = rng.standard_normal((stop - start, dimension), dtype=np.float32)
        block *= np.float32(sigma)
        block += real[sources[start:stop]]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:stop] = block
    return out, sources


def copy_cosines(vectors: np.ndarray, real: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Cosine of each synthetic row (rows >= len(real)) to its source row."""
    total_real = len(real)
    cosines = [
        np.einsum(
            "ij,ij->i",
            vectors[start : start + CHUNK_ROWS],
            real[sources[start : start + CHUNK_ROWS]],
        )
        for start in range(total_real, len(vectors), CHUNK_ROWS)
    ]
    return np.concatenate(cosines) if cosines else np.zeros(0, dtype=np.float32)


def recall_at_k(approx: np.ndarray, exact: np.ndarray, k: int) -> float:
    """Mean over queries of |approx top-k ∩ exact top-k| / k (row ids; -1 pads ignored)."""
    if len(approx) != len(exact):
        raise ValueError("approx and exact need one row per query")
    if len(exact) == 0:
        return float("nan")
    hits = 0
    for found, truth in zip(approx[:, :k], exact[:, :k], strict=True):
        hits += len(np.intersect1d(found[found >= 0], truth[truth >= 0]))
    return hits / (k * len(exact))


def percentiles(values, points=(50, 95)) -> tuple[float, ...]:
    """Linear-interpolated percentiles of ``values`` (nan for an empty list)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return tuple(float("nan") for _ in points)
    return tuple(float(v) for v in np.percentile(values, points))


def parse_share(text: str) -> float:
    """``"1/64"`` or ``"0.015625"`` -> a float in (0, 1]."""
    value = float(Fraction(text.strip()))
    if not 0.0 < value <= 1.0:
        raise ValueError(f"probe share must be in (0, 1], got {text}")
    return value


def share_label(share: float) -> str:
    """``1/64`` for 0.015625, the fraction when it is a simple one."""
    fraction = Fraction(share).limit_denominator(100_000)
    if abs(float(fraction) - share) < 1e-12 and fraction.numerator == 1:
        return f"1/{fraction.denominator}"
    return f"{share:g}"


def probes_for(lists: int, share: float) -> int:
    """nprobe for ``lists`` inverted lists at ``share`` (the shipped index also probes at
    least ``rag.vectorstore.MIN_PROBES``; its own nprobe is always measured too)."""
    return max(1, round(lists * share))


def index_bytes(index) -> int:
    """Payload bytes of a FAISS Flat, IVF or HNSW index, computed without serialising."""
    import faiss

    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexFlat):
        return int(index.ntotal) * int(index.code_size)
    if isinstance(index, faiss.IndexIVF):
        ids = np.dtype(np.int64).itemsize
        lists = int(index.ntotal) * (int(index.code_size) + ids)
        return lists + index_bytes(index.quantizer)
    if isinstance(index, faiss.IndexHNSW):
        hnsw = index.hnsw
        graph = 4 * hnsw.neighbors.size() + 4 * hnsw.levels.size() + 8 * hnsw.offsets.size()
        return int(graph) + index_bytes(index.storage)
    return int(faiss.serialize_index(index).nbytes)


# --- measuring ------------------------------------------------------------------------


def progress(message: str) -> None:
    """Status lines on stderr, only for a person watching a terminal."""
    if sys.stdout.isatty():
        print(f"  … {message}", file=sys.stderr, flush=True)


def load_average() -> str:
    """Other work on the machine skews latency (FAISS's OpenMP threads wait on busy cores)."""
    return ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def single_query_ms(index, queries: np.ndarray, k: int, warmup: int) -> list[float]:
    """Per-query milliseconds, one query per ``search`` call, after ``warmup`` untimed ones."""
    for q in queries[: min(warmup, len(queries))]:
        index.search(q.reshape(1, -1), k)
    times = []
    for q in queries:
        start = time.perf_counter()
        index.search(q.reshape(1, -1), k)
        times.append((time.perf_counter() - start) * 1000)
    return times


def load_real_vectors(args) -> tuple[np.ndarray, str]:
    if args.vectors:
        return normalise(np.load(args.vectors)), f"{args.vectors}"
    import faiss

    path = Path(args.index_dir) / "current" / "chunks.faiss"
    index = faiss.read_index(str(path))
    if isinstance(index, faiss.IndexIVF):
        index.make_direct_map()
    return normalise(index.reconstruct_n(0, index.ntotal)), f"{path}"


def squad_questions(path: str, count: int, seed: int) -> list[str]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    questions = [
        qa["question"].strip()
        for article in data
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
        if qa["question"].strip()
    ]
    if count > len(questions):
        raise SystemExit(f"{path} has {len(questions)} questions, fewer than {count}")
    rows = np.random.default_rng(seed).choice(len(questions), count, replace=False)
    return [questions[i] for i in rows]


def load_queries(args) -> tuple[np.ndarray, str]:
    if args.queries:
        queries = normalise(np.load(args.queries))
        if args.query_count:
            queries = queries[: args.query_count]
        return queries, f"{args.queries} (first {len(queries)} rows)"
    from rag.embedding import Embedder

    questions = squad_questions(args.squad, args.query_count, args.seed)
    encoded = normalise(Embedder().encode(questions))
    return encoded, f"{len(questions)} questions of {args.squad}, drawn with seed {args.seed}"


def fmt(value: float, digits: int = 2) -> str:
    return "n/a" if value != value else f"{value:,.{digits}f}"


def row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def measure(index, queries, latency_queries, k, warmup, exact_ids):
    """(p50 ms, p95 ms, recall@k) of one configured index."""
    recall = 1.0  # the exact index is its own ground truth
    if exact_ids is not None:
        recall = recall_at_k(index.search(queries, k)[1], exact_ids, k)
    p50, p95 = percentiles(single_query_ms(index, latency_queries, k, warmup))
    return p50, p95, recall


def bench_size(count: int, real: np.ndarray, queries: np.ndarray, args, sigma: float) -> None:
    import faiss

    from rag.vectorstore import ANN_THRESHOLD, IVF_PROBE_SHARE, build_faiss_index, ivf_lists

    k = args.k
    latency_queries = queries[: args.latency_queries or None]
    rng = np.random.default_rng((args.seed, count))
    progress(f"N={count:,}: making vectors")
    vectors, sources = make_copies(real, count, sigma, rng)
    synthetic = max(0, count - len(real))
    dimension = vectors.shape[1]

    # Ground truth, and how hard the enlarged set is compared with the real one.
    progress(f"N={count:,}: exact ground truth")
    started = time.perf_counter()
    flat = faiss.IndexFlatIP(dimension)
    flat.add(vectors)
    flat_build = time.perf_counter() - started
    exact_scores, exact_ids = flat.search(queries, k)
    real_flat = faiss.IndexFlatIP(dimension)
    real_flat.add(real)
    real_scores, _ = real_flat.search(queries, k)
    del real_flat

    print(f"\n### N = {count:,} vectors (d = {dimension})\n")
    if synthetic:
        cos = copy_cosines(vectors, real, sources)
        print(
            f"- {len(real):,} real + {synthetic:,} noisy copies "
            f"({synthetic / len(real):.1f} per real vector on average); "
            f"cosine of copy to its source: mean {cos.mean():.4f}, "
            f"min {cos.min():.4f}, max {cos.max():.4f}"
        )
        share_synthetic = float((exact_ids >= len(real)).mean())
    else:
        print(f"- {count:,} real vectors (random subset of {len(real):,}), no copies")
        share_synthetic = 0.0
    distinct = np.mean([len(np.unique(sources[found])) for found in exact_ids])
    print(
        f"- queries' exact top-1 cosine: real set {real_scores[:, 0].mean():.4f}, "
        f"this set {exact_scores[:, 0].mean():.4f}; top-{k}th: real set "
        f"{real_scores[:, k - 1].mean():.4f}, this set {exact_scores[:, k - 1].mean():.4f}; "
        f"synthetic share of exact top-{k}: {share_synthetic:.1%}; "
        f"distinct real sources behind an exact top-{k}: {distinct:.1f} on average"
    )
    app_default = "exact Flat" if count <= ANN_THRESHOLD else "IVF-Flat"
    print(f"- the app would search this size with: {app_default} (ANN_THRESHOLD {ANN_THRESHOLD:,})")

    header = ["index", "settings", "threads", "build s", "index MB", "peak RSS MB"]
    header += ["p50 ms", "p95 ms", f"recall@{k}"]
    print()
    print(row(header))
    print(row(["---"] * 2 + ["---:"] * (len(header) - 2)))

    def emit(name, settings, build, nbytes, p50, p95, recall):
        cells = [name, settings, str(faiss.omp_get_max_threads()), fmt(build)]
        cells += [fmt(nbytes / 2**20, 1), fmt(peak_rss_mb(), 0)]
        cells += [fmt(p50, 3), fmt(p95, 3), fmt(recall, 3)]
        print(row(cells), flush=True)

    progress(f"N={count:,}: exact latency")
    p50, p95, _ = measure(flat, queries, latency_queries, k, args.warmup, None)
    emit("exact Flat", "IndexFlatIP", flat_build, index_bytes(flat), p50, p95, 1.0)
    threads = faiss.omp_get_max_threads()
    if threads > 1:
        # One query is too little work to share: on busy cores OpenMP's waits dominate.
        faiss.omp_set_num_threads(1)
        p50, p95, _ = measure(flat, queries, latency_queries, k, args.warmup, None)
        settings = "IndexFlatIP, FAISS threads set to 1"
        emit("exact Flat", settings, flat_build, index_bytes(flat), p50, p95, 1.0)
        faiss.omp_set_num_threads(threads)
    del flat
    gc.collect()

    progress(f"N={count:,}: IVF build (shipped build_faiss_index)")
    started = time.perf_counter()
    ivf = build_faiss_index(vectors, ann_threshold=0)
    ivf_build = time.perf_counter() - started
    lists = int(ivf.nlist)
    assert lists == ivf_lists(count)
    shipped_probes = int(ivf.nprobe)
    nbytes = index_bytes(ivf)
    sweep: dict[int, list[float]] = {}
    for share in sorted({*args.probe_shares, IVF_PROBE_SHARE}):
        sweep.setdefault(probes_for(lists, share), []).append(share)
    # The shipped nprobe is never below MIN_PROBES, so it may be none of the shares.
    sweep.setdefault(shipped_probes, [])
    for probes, shares in sorted(sweep.items()):
        labels = ", ".join(share_label(share) for share in shares) or f"{probes / lists:.3f}"
        shipped = " **shipped**" if probes == shipped_probes else ""
        progress(f"N={count:,}: IVF nprobe={probes}")
        ivf.nprobe = probes
        p50, p95, recall = measure(ivf, queries, latency_queries, k, args.warmup, exact_ids)
        settings = f"nlist {lists:,}, nprobe {probes} (share {labels}){shipped}"
        emit("IVF-Flat", settings, ivf_build, nbytes, p50, p95, recall)
    del ivf
    gc.collect()

    if args.hnsw:
        progress(f"N={count:,}: HNSW build")
        started = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(dimension, args.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = args.ef_construction
        hnsw.add(vectors)
        hnsw_build = time.perf_counter() - started
        nbytes = index_bytes(hnsw)
        for ef in args.hnsw_ef:
            progress(f"N={count:,}: HNSW efSearch={ef}")
            hnsw.hnsw.efSearch = ef
            p50, p95, recall = measure(hnsw, queries, latency_queries, k, args.warmup, exact_ids)
            settings = f"M {args.hnsw_m}, efConstruction {args.ef_construction}, efSearch {ef}"
            emit("HNSW-Flat", settings, hnsw_build, nbytes, p50, p95, recall)
        del hnsw
    del vectors, sources
    gc.collect()
    print(f"\n- load average after this size: {load_average()}")


def int_list(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--vectors", help="real normalised passage vectors, (R, d) .npy")
    source.add_argument("--index-dir", help="read the vectors of DIR/current/chunks.faiss")
    asked = parser.add_mutually_exclusive_group(required=True)
    asked.add_argument("--queries", help="real normalised question vectors, (Q, d) .npy")
    asked.add_argument("--squad", help="embed --query-count questions of this SQuAD file")
    parser.add_argument("--query-count", type=int, help="questions to embed (or rows to use)")
    parser.add_argument("--sizes", type=int_list, default=[100_000, 1_000_000])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("--copy-cosine", type=float, default=0.90, help="target cos(copy, src)")
    noise.add_argument("--noise", type=float, help="noise sigma per dimension (overrides)")
    parser.add_argument(
        "--probe-shares",
        type=lambda text: [parse_share(part) for part in text.split(",") if part.strip()],
        default=[parse_share(s) for s in "1/128,1/64,1/32,1/16".split(",")],
        help="shares of the IVF lists probed, e.g. 1/128,1/64,1/32,1/16",
    )
    parser.add_argument("--hnsw", action="store_true", help="also measure IndexHNSWFlat")
    parser.add_argument("--hnsw-m", type=int, default=32)
    parser.add_argument("--ef-construction", type=int, default=80)
    parser.add_argument("--hnsw-ef", type=int_list, default=[64, 128, 256])
    parser.add_argument(
        "--latency-queries", type=int, default=0, help="time only the first N queries (0: all)"
    )
    parser.add_argument("--warmup", type=int, default=20, help="untimed searches first")
    parser.add_argument("--threads", type=int, default=0, help="FAISS threads (0: default)")
    args = parser.parse_args(argv)
    if args.squad and not args.query_count:
        parser.error("--squad needs --query-count")

    import faiss

    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    real, real_source = load_real_vectors(args)
    queries, query_source = load_queries(args)
    if queries.shape[1] != real.shape[1]:
        raise SystemExit(f"queries have d={queries.shape[1]}, vectors d={real.shape[1]}")
    if args.k > min(args.sizes):
        raise SystemExit("--k is larger than the smallest size")
    dimension = real.shape[1]
    sigma = args.noise if args.noise is not None else noise_sigma(args.copy_cosine, dimension)
    expected = 1 / np.sqrt(1 + dimension * sigma**2)
    from rag.vectorstore import ANN_THRESHOLD, IVF_PROBE_SHARE

    timed = min(args.latency_queries or len(queries), len(queries))
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    print("# Dense search at scale: exact vs approximate\n")
    print(f"`$ {shlex.join(sys.orig_argv)}`\n")
    print(
        f"- machine: {platform.machine()}, {os.cpu_count()} cores ({affinity} usable), "
        f"FAISS {faiss.__version__} with {faiss.omp_get_max_threads()} OpenMP threads, "
        f"numpy {np.__version__}, Python {platform.python_version()}"
    )
    print(f"- real vectors: {len(real):,} x {dimension} from {real_source}")
    print(f"- queries: {len(queries):,} from {query_source}")
    print(
        f"- enlarging: keep all real vectors; each extra one = a uniformly drawn real vector "
        f"+ isotropic Gaussian noise, sigma {sigma:.5f} per dimension, renormalised "
        f"(expected cosine to source ~{expected:.3f}); seed {args.seed}"
    )
    print(
        f"- ground truth: exact IndexFlatIP top-{args.k} over the same vectors; recall@{args.k} "
        f"from one batched search; latency = one query per search call, p50/p95 over "
        f"{timed} queries after {args.warmup} warm-up searches"
    )
    print(
        f"- IVF = rag.vectorstore.build_faiss_index forced to IVF at every size "
        f"(shipped ANN_THRESHOLD {ANN_THRESHOLD:,}, IVF_PROBE_SHARE "
        f"{share_label(IVF_PROBE_SHARE)}); only nprobe is changed for the sweep"
    )
    print("- peak RSS = process high-water mark so far (it never goes down)")
    print(f"- load average at start (1, 5, 15 min): {load_average()}")
    for count in args.sizes:
        bench_size(count, real, queries, args, sigma)


if __name__ == "__main__":
    main()
