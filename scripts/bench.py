"""Speed and memory benchmark: prints figures, asserts nothing.

    .venv/bin/python scripts/bench.py [--gold evals/gold.jsonl] [--repeat 5]

Measures, in one process so the ratios compare like with like:
- a from-scratch index build of the seeds (into a temporary folder);
- bare query-embedding time (the model's encode of one question);
- warm `ask` latency (retrieve + answer + citations) over the gold questions;
- their ratio (target: ask <= 3x embedding), and peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

from rag.embedding import Embedder
from rag.engine import Engine
from rag.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=Path("evals/gold.jsonl"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    settings = load_settings()
    questions = [
        json.loads(line)["question"] for line in args.gold.read_text().splitlines() if line.strip()
    ]

    started = time.perf_counter()
    embedder = Embedder()
    embedder.encode(["warm-up"])
    model_load = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as folder:
        build_settings = settings.with_overrides(index_dir=Path(folder))
        started = time.perf_counter()
        engine = Engine(build_settings, embedder=embedder)
        build = time.perf_counter() - started
        chunks = len(engine.index.chunks)

        for question in questions:  # warm every code path once
            engine.ask(question)

        embed_ms, ask_ms = [], []
        for _ in range(args.repeat):
            for question in questions:
                started = time.perf_counter()
                embedder.encode([question])
                embed_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                engine.ask(question)
                ask_ms.append((time.perf_counter() - started) * 1000)

    embed_p50, ask_p50 = statistics.median(embed_ms), statistics.median(ask_ms)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"model load:            {model_load:.2f} s")
    print(
        f"index build (scratch): {build:.2f} s for {len(engine.index.articles)} articles, "
        f"{chunks} chunks"
    )
    print(
        f"query embedding:       p50 {embed_p50:.2f} ms  "
        f"p95 {statistics.quantiles(embed_ms, n=20)[-1]:.2f} ms"
    )
    print(
        f"warm ask:              p50 {ask_p50:.2f} ms  "
        f"p95 {statistics.quantiles(ask_ms, n=20)[-1]:.2f} ms  "
        f"({len(questions)} questions x {args.repeat})"
    )
    print(f"ratio ask/embedding:   {ask_p50 / embed_p50:.2f}x (target <= 3x)")
    print(f"peak memory (RSS):     {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
