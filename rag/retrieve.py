"""Dense, BM25 and hybrid (reciprocal rank fusion) retrieval over the chunk index."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .chunking import Chunk
from .embedding import Embedder
from .index import Index
from .terms import terms
from .vectorstore import VectorStore

RRF_K = 60  # the constant from Cormack et al. (2009); damps the weight of top ranks


@dataclass(frozen=True)
class Query:
    """A question as every stage sees it: its text, terms, and one embedding."""

    text: str
    terms: tuple[str, ...]
    vector: np.ndarray = field(repr=False)

    @classmethod
    def embed(cls, text: str, embedder: Embedder) -> Query:
        return cls(text=text, terms=tuple(terms(text)), vector=embedder.encode([text])[0])


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # fused score for hybrid; the method's own score otherwise
    dense_rank: int | None = None  # 1-based; None when not in that list
    bm25_rank: int | None = None


class Retriever(Protocol):
    def search(self, query: Query, *, k: int) -> list[Hit]: ...


def reciprocal_rank_fusion(rankings: list[list[int]], *, k: int = RRF_K) -> dict[int, float]:
    """Sum of 1 / (k + rank) over the rankings each item appears in (ranks start at 1)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


def _top(scores: np.ndarray, depth: int) -> list[int]:
    order = np.argsort(-scores, kind="stable")[:depth]
    return [int(i) for i in order]


class DenseRetriever:
    def __init__(self, index: Index, *, store: VectorStore | None = None) -> None:
        self.index = index
        self.store = store or index.dense

    def ranking(self, query: Query, depth: int) -> tuple[list[int], np.ndarray]:
        depth = min(depth, self.store.size)
        scores, rows = self.store.search(query.vector.reshape(1, -1), depth)
        return [int(r) for r in rows[0] if r >= 0], scores[0]

    def search(self, query: Query, *, k: int) -> list[Hit]:
        rows, scores = self.ranking(query, k)
        return [
            Hit(self.index.chunks[row], float(score), dense_rank=rank)
            for rank, (row, score) in enumerate(zip(rows, scores, strict=False), start=1)
        ]


class BM25Retriever:
    # ``store`` is accepted, and unused, so that every retriever is built the same way.
    def __init__(self, index: Index, *, store: VectorStore | None = None) -> None:
        self.index = index
        self.vocabulary = index.bm25.vocab_dict

    def scores(self, query: Query) -> np.ndarray:
        known = [t for t in query.terms if t in self.vocabulary]
        if not known:
            return np.zeros(len(self.index.chunks), dtype=np.float32)
        return np.asarray(self.index.bm25.get_scores(known), dtype=np.float32)

    def ranking(self, query: Query, depth: int) -> tuple[list[int], np.ndarray]:
        scores = self.scores(query)
        rows = [row for row in _top(scores, depth) if scores[row] > 0]
        return rows, scores[rows]

    def search(self, query: Query, *, k: int) -> list[Hit]:
        rows, scores = self.ranking(query, k)
        return [
            Hit(self.index.chunks[row], float(score), bm25_rank=rank)
            for rank, (row, score) in enumerate(zip(rows, scores, strict=True), start=1)
        ]


class HybridRetriever:
    """Dense and BM25 rankings fused with reciprocal rank fusion.

    Each method's own top ``quota`` passages are always kept: on a small corpus
    every passage sits in both lists, and plain RRF can push out the one
    passage that alone contains a rare query word (or alone paraphrases it).
    """

    def __init__(
        self,
        index: Index,
        *,
        depth: int = 30,
        rrf_k: int = RRF_K,
        quota: int = 1,
        store: VectorStore | None = None,
    ) -> None:
        self.index = index
        self.dense = DenseRetriever(index, store=store)
        self.bm25 = BM25Retriever(index)
        self.depth = depth
        self.rrf_k = rrf_k
        self.quota = quota

    def search(self, query: Query, *, k: int) -> list[Hit]:
        depth = max(self.depth, k)
        dense_rows, _ = self.dense.ranking(query, depth)
        bm25_rows, _ = self.bm25.ranking(query, depth)
        fused = reciprocal_rank_fusion([dense_rows, bm25_rows], k=self.rrf_k)
        ordered = sorted(fused, key=lambda row: (-fused[row], row))
        best = ordered[:k]
        if k > 2 * self.quota:
            protected = dense_rows[: self.quota] + bm25_rows[: self.quota]
            for row in protected:
                if row not in best:
                    victim = next(r for r in reversed(best) if r not in protected)
                    best[best.index(victim)] = row
            best.sort(key=lambda row: (-fused[row], row))
        dense_rank = {row: rank for rank, row in enumerate(dense_rows, start=1)}
        bm25_rank = {row: rank for rank, row in enumerate(bm25_rows, start=1)}
        return [
            Hit(
                self.index.chunks[row],
                fused[row],
                dense_rank=dense_rank.get(row),
                bm25_rank=bm25_rank.get(row),
            )
            for row in best
        ]


RETRIEVERS = {"hybrid": HybridRetriever, "dense": DenseRetriever, "bm25": BM25Retriever}
