"""Where the chunk vectors are searched: the embedded FAISS store, or a Milvus server.

A store answers "the k rows nearest these query vectors by inner product" over the
normalised chunk vectors of one build, rows aligned with ``chunks.jsonl``. The build's
own ``chunks.faiss`` (checksummed with every other file) stays the source of truth; a
Milvus collection is a copy made from it, so a store that lost its data is refilled,
never trusted blindly.

Which store: ``vector_uri`` empty means FAISS in the index folder; a ``*.db`` path means
Milvus Lite (embedded, one file); ``http://host:19530`` means a Milvus server or cluster.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

import numpy as np

from .settings import Settings

# The default of the ``ann_threshold`` setting (why that number: rag/settings.py).
ANN_THRESHOLD = Settings.ann_threshold


class VectorStore(Protocol):
    """Top-k inner-product search over one build's chunk vectors."""

    @property
    def size(self) -> int: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, rows)``, each ``(len(queries), k)``, best first; row -1 pads."""
        ...


def ivf_lists(count: int) -> int:
    """Inverted lists for ``count`` vectors: about 4·√n, FAISS's usual advice."""
    return max(1, min(65_536, int(4 * count**0.5)))


# Lists probed per query: a share of them, and never fewer than MIN_PROBES. On 1M vectors
# made from real ones (scripts/bench_ann.py, README "Search at scale") 1/64 gave recall@10
# 0.992 at 1.4 ms a query; 1/128 gave 0.987 at 0.9 ms.
IVF_PROBE_SHARE = 1 / 64
MIN_PROBES = 16


def probes(lists: int) -> int:
    return min(lists, max(MIN_PROBES, round(lists * IVF_PROBE_SHARE)))


def build_faiss_index(vectors: np.ndarray, *, ann_threshold: int = ANN_THRESHOLD):
    """Exact inner product below ``ann_threshold`` rows, IVF-Flat above it."""
    import faiss

    count, dimension = vectors.shape
    if count <= ann_threshold:
        index = faiss.IndexFlatIP(dimension)
        index.add(vectors)
        return index
    lists = ivf_lists(count)
    quantizer = faiss.IndexFlatIP(dimension)
    index = faiss.IndexIVFFlat(quantizer, dimension, lists, faiss.METRIC_INNER_PRODUCT)
    # k-means on a fixed sample: 64 points a list is plenty, and training on all of a
    # million vectors would take longer than adding them.
    sample = np.random.default_rng(0).choice(count, min(count, 64 * lists), replace=False)
    index.train(vectors[np.sort(sample)])
    index.add(vectors)
    index.nprobe = probes(lists)
    return index


class FaissStore:
    """The default: a FAISS index file in the build folder, searched in this process."""

    def __init__(self, index) -> None:
        self.index = index

    @classmethod
    def load(cls, path: Path) -> FaissStore:
        import faiss

        index = faiss.read_index(str(path))
        if hasattr(index, "nprobe"):
            index.nprobe = probes(index.nlist)
        return cls(index)

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def vectors(self) -> np.ndarray:
        """Every stored vector in row order (reused for unchanged articles at a rebuild)."""
        import faiss

        if isinstance(self.index, faiss.IndexIVF):
            self.index.make_direct_map()
        return self.index.reconstruct_n(0, self.index.ntotal)


def open_store(index, vector_uri: str) -> VectorStore:
    """The store that serves ``index``'s dense search: FAISS, or Milvus at ``vector_uri``.

    A Milvus collection is named after the index folder and the build; one that is
    missing or has another row count is filled again from the build's own vectors, and
    collections of this folder's older builds are dropped.
    """
    if not vector_uri:
        return index.dense
    from .milvus_store import MilvusStore, collection_name, drop_collections_except

    folder = hashlib.blake2b(str(index.directory.parent.parent.resolve()).encode(), digest_size=4)
    prefix = collection_name(f"{folder.hexdigest()}-")
    name = collection_name(f"{folder.hexdigest()}-{index.directory.name}")
    store = MilvusStore.open(vector_uri, name, index.dense.size)
    if store is None:
        store = MilvusStore.publish(vector_uri, name, index.chunk_vectors())
        drop_collections_except(vector_uri, prefix, {name})
    return store
