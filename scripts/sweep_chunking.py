"""Measure retrieval on the gold questions for several chunk sizes and overlaps.

    .venv/bin/python scripts/sweep_chunking.py [--gold evals/gold.jsonl] [--k 5]

Builds a throw-away index per setting (one model load for all) and prints
hybrid doc-level recall@k, MRR@k and nDCG@10, and the top-3 documents for the
sample question. The defaults in rag/settings.py come from this table.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rag import metrics
from rag.embedding import Embedder
from rag.engine import Engine
from rag.evaluate import load_gold
from rag.settings import load_settings

SAMPLE = "when did Xiaomi drop to third?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=Path("evals/gold.jsonl"))
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--sizes", default="64,96,128,160,200,256")
    parser.add_argument("--overlaps", default="0,1,2")
    args = parser.parse_args()
    gold = [g for g in load_gold(args.gold) if g.sources]
    embedder = Embedder()
    base = load_settings()
    header = ("size", "overlap", "chunks", "recall", "MRR", "nDCG")
    print("{:>4} {:>7} {:>6} {:>7} {:>6} {:>6}  sample top-3".format(*header))
    for size in map(int, args.sizes.split(",")):
        for overlap in map(int, args.overlaps.split(",")):
            with tempfile.TemporaryDirectory() as folder:
                settings = base.with_overrides(
                    index_dir=Path(folder), chunk_size=size, chunk_overlap=overlap
                )
                engine = Engine(settings, embedder=embedder)
                recall, mrr, ndcg = [], [], []
                for item in gold:
                    docs = [h.chunk.doc_id for h in engine.search(item.question, k=40)]
                    relevant = set(item.sources)
                    recall.append(metrics.recall_at_k(docs, relevant, args.k))
                    mrr.append(metrics.reciprocal_rank(docs, relevant, args.k))
                    ndcg.append(metrics.ndcg_at_k(docs, relevant, 10))
                top3 = [h.chunk.doc_id[:3] for h in engine.search(SAMPLE, k=3)]
                print(
                    f"{size:>4} {overlap:>7} {len(engine.index.chunks):>6} "
                    f"{metrics.mean(recall):>7.3f} {metrics.mean(mrr):>6.3f} "
                    f"{metrics.mean(ndcg):>6.3f}  {top3}"
                )


if __name__ == "__main__":
    main()
