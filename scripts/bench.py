"""Speed and memory benchmark: prints figures, asserts nothing.

    .venv/bin/python scripts/bench.py [--gold evals/gold.jsonl] [--repeat 5] [--load-only]
    .venv/bin/python scripts/bench.py --corpus DIR_OR_SQUAD.json [--articles 1000]

With ``--corpus``: the scale benchmark instead (see ``scale_benchmark``).

Measures, in one process so the ratios compare like with like:
- a from-scratch index build of the seeds (into a temporary folder);
- index load time, checksum verification included, and verification's share of it,
  for the seed index and a 300-article index (seed paragraphs recombined into
  synthetic articles);
- bare query-embedding time (the model's encode of one question);
- warm `ask` latency (retrieve + answer + citations) over the gold questions;
- the reader's load time and its share of `ask` (targets: load <= 5 s, ask p95 <= 600 ms,
  peak resident memory <= 1.5 GB);
- one article added to the seeds the way the chat window adds it, until a question about it
  is answered from it (target <= 10 s).

``--load-only`` skips the question figures (embedding, ask, memory).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from rag.answering.reader import Reader
from rag.embedding import Embedder
from rag.engine import Engine
from rag.index import CURRENT, build_index, load_index, verify_build
from rag.ingest import read_corpus
from rag.settings import Settings, load_settings

SYNTHETIC_ARTICLES = 300


def write_synthetic_articles(articles_dir: Path, folder: Path, count: int) -> None:
    """``count`` articles, each as many seed paragraphs (drawn at random) as a seed has."""
    articles = read_corpus(articles_dir).articles
    paragraphs = [p for a in articles for p in a.body.split("\n") if p.strip()]
    per_article = max(1, round(len(paragraphs) / len(articles)))
    rng = random.Random(0)
    folder.mkdir(parents=True)
    for number in range(count):
        body = "\n\n".join(rng.sample(paragraphs, min(per_article, len(paragraphs))))
        (folder / f"synthetic_{number:03d}.txt").write_text(
            f"Synthetic article {number} on Xiaomi in India\n\n{body}\n", encoding="utf-8"
        )


def load_times(index_dir: Path, repeat: int = 5) -> tuple[float, float]:
    """Median seconds to load the index (verification included) and to verify it alone."""
    load_index(index_dir)  # first load imports faiss and bm25s; not what is measured
    loads, verifies = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        load_index(index_dir)
        loads.append(time.perf_counter() - started)
        started = time.perf_counter()
        verify_build((index_dir / CURRENT).resolve())
        verifies.append(time.perf_counter() - started)
    return statistics.median(loads), statistics.median(verifies)


def index_bytes(index_dir: Path) -> int:
    build = (index_dir / CURRENT).resolve()
    return sum(path.stat().st_size for path in build.rglob("*") if path.is_file())


def print_load(label: str, index_dir: Path) -> None:
    load, verify = load_times(index_dir)
    print(
        f"{label}{load * 1000:.1f} ms incl. verification {verify * 1000:.1f} ms "
        f"({verify / load:.0%} of load; {index_bytes(index_dir) / 1e6:.1f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=Path("evals/gold.jsonl"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--load-only", action="store_true", help="Only the index figures.")
    parser.add_argument(
        "--corpus",
        type=Path,
        help="Scale benchmark over this folder of articles, or articles cut from this "
        "SQuAD-format file (--paragraphs each).",
    )
    parser.add_argument("--articles", type=int, default=0, help="With --corpus: at most N.")
    parser.add_argument("--paragraphs", type=int, default=5, help="Paragraphs per SQuAD article.")
    parser.add_argument("--questions", type=int, default=100, help="Warm ask questions.")
    parser.add_argument(
        "--no-encode", action="store_true", help="With --corpus: skip the bare-encode yardstick."
    )
    args = parser.parse_args()
    if args.corpus:
        scale_benchmark(args)
        return

    settings = load_settings()
    questions = [
        json.loads(line)["question"] for line in args.gold.read_text().splitlines() if line.strip()
    ]

    started = time.perf_counter()
    embedder = Embedder()
    embedder.encode(["warm-up"])
    model_load = time.perf_counter() - started

    reader_load = None
    if settings.answerer == "reader":
        started = time.perf_counter()
        Reader(settings.reader_dir).read("warm-up?", ["A first read loads the ONNX session."])
        reader_load = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as folder:
        build_settings = settings.with_overrides(index_dir=Path(folder))
        started = time.perf_counter()
        engine = Engine(build_settings, embedder=embedder)
        build = time.perf_counter() - started
        chunks = len(engine.index.chunks)
        print(f"model load:            {model_load:.2f} s")
        print(f"answerer:              {settings.answerer}")
        if reader_load is not None:
            print(f"reader load:           {reader_load:.2f} s (target <= 5 s; sha256 included)")
        print(
            f"index build (scratch): {build:.2f} s for {len(engine.index.articles)} articles, "
            f"{chunks} chunks"
        )
        print_load("index load (seeds):    ", Path(folder))

        if not args.load_only:
            print_ask_figures(engine, embedder, questions, args.repeat)
            print_upload_figures(build_settings, embedder, Path(folder))

        # Last, so that building it does not count in the peak memory above.
        big = Settings(
            articles_dir=Path(folder) / "synthetic", index_dir=Path(folder) / "synthetic-index"
        )
        write_synthetic_articles(settings.articles_dir, big.articles_dir, SYNTHETIC_ARTICLES)
        build_index(read_corpus(big.articles_dir), settings=big, embedder=embedder)
        print_load(f"index load ({SYNTHETIC_ARTICLES} art.): ", big.index_dir)


UPLOAD = Path(__file__).resolve().parents[1] / "tests" / "data" / "articles" / "acme-factory.pdf"
UPLOAD_QUESTION = "How many handsets a year will Acme's second factory make?"


def print_upload_figures(settings: Settings, embedder: Embedder, folder: Path) -> None:
    """One article added to the seeds through the window's path, until a question about it
    is answered from it (target <= 10 s)."""

    from rag.uploads import ArticleFolder

    seeds = folder / "upload-seeds"
    shutil.copytree(settings.articles_dir, seeds)
    private = replace(settings, articles_dir=seeds, index_dir=folder / "upload-index")
    engine = Engine(private, embedder=embedder)
    started = time.perf_counter()
    report = ArticleFolder(private).add(
        [(UPLOAD.name, UPLOAD.read_bytes())], replace=False, refresh=engine.refresh
    )
    indexed = time.perf_counter() - started
    result = engine.ask(UPLOAD_QUESTION)
    answered = time.perf_counter() - started
    cited = {c.chunk.doc_id for c in result.citations}
    outcome = (
        f"answered {result.short_answer!r} from it"
        if not result.abstained and UPLOAD.name in cited
        else "not answered from it"
    )
    print(
        f"article added (window): {answered:.2f} s to an answer ({indexed:.2f} s indexing "
        f"{', '.join(report.added)}; {outcome}; target <= 10 s)"
    )


def print_ask_figures(engine: Engine, embedder: Embedder, questions: list[str], repeat: int):
    for question in questions:  # warm every code path once
        engine.ask(question)

    embed_ms, ask_ms, answer_ms = [], [], []
    for _ in range(repeat):
        for question in questions:
            started = time.perf_counter()
            embedder.encode([question])
            embed_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            result = engine.ask(question)
            ask_ms.append((time.perf_counter() - started) * 1000)
            answer_ms.append(result.timings_ms["answer"])  # the reader's share

    embed_p50, ask_p50 = statistics.median(embed_ms), statistics.median(ask_ms)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"query embedding:       p50 {embed_p50:.2f} ms  "
        f"p95 {statistics.quantiles(embed_ms, n=20)[-1]:.2f} ms"
    )
    print(
        f"warm ask:              p50 {ask_p50:.2f} ms  "
        f"p95 {statistics.quantiles(ask_ms, n=20)[-1]:.2f} ms  "
        f"({len(questions)} questions x {repeat})"
    )
    passages = getattr(engine.answerer, "passages", None)
    reading = f"; reader reading {passages} passages" if passages else ""
    print(
        f"  of which answering:  p50 {statistics.median(answer_ms):.2f} ms  "
        f"p95 {statistics.quantiles(answer_ms, n=20)[-1]:.2f} ms  "
        f"({sum(answer_ms) / sum(ask_ms):.0%} of ask time{reading})"
    )
    print("target:                warm ask p95 <= 600 ms, peak RSS <= 1.5 GB")
    print(f"peak memory (RSS):     {peak_mb:.0f} MB")


def cut_squad_articles(source: Path, folder: Path, *, count: int, paragraphs: int) -> list[str]:
    """Write articles of ``paragraphs`` consecutive paragraphs of each SQuAD article.

    Returns questions asked about the paragraphs used (answerable ones first), for the
    warm ``ask`` figures. Titles are "<Wikipedia title> (part N)"; no dates.
    """
    data = json.loads(source.read_text(encoding="utf-8"))["data"]
    folder.mkdir(parents=True, exist_ok=True)
    written, questions = 0, []
    for article in data:
        contexts = article["paragraphs"]
        for part in range(0, len(contexts) - paragraphs + 1, paragraphs):
            if count and written >= count:
                return questions
            chosen = contexts[part : part + paragraphs]
            title = article["title"].replace("_", " ")
            body = "\n\n".join(p["context"].strip() for p in chosen)
            name = f"{written:05d}.txt"
            (folder / name).write_text(f"{title} (part {part // paragraphs + 1})\n\n{body}\n")
            questions += [q["question"] for p in chosen for q in p["qas"] if q["answers"]][:2]
            written += 1
    return questions


def _child(code: str, *args: str) -> tuple[float, float, str]:
    """Run ``code`` in a fresh Python; its wall seconds, peak RSS (MB) and stdout."""

    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"benchmark step failed:\n{done.stderr[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, peak, done.stdout


# A bare fp32 sentence-transformers encode of every paragraph (batch 64), torch on the
# same cores: the yardstick a build is compared with. Prints seconds of the encode alone.
_BARE_ENCODE = """
import sys, time, torch
from pathlib import Path
from sentence_transformers import SentenceTransformer
from rag.embedding import model_dir
from rag.ingest import read_corpus
torch.set_num_threads(2)
corpus = read_corpus(Path(sys.argv[1]))
texts = [p for a in corpus.articles for p in a.body.split("\\n") if p.strip()]
model = SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)
model.encode(texts[:8], batch_size=64)
started = time.perf_counter()
model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
print(time.perf_counter() - started, len(texts))
"""

_BUILD = """
import sys
from rag.cli import cli
sys.argv = ["rag", "index", "--rebuild", "--articles", sys.argv[1], "--index-dir", sys.argv[2]]
cli()
"""


COLD_REPEATS = 3


def cold_ask(articles_dir: Path, index_dir: Path, question: str) -> float:
    """Median wall seconds of ``rag ask`` in a new process over a built index."""
    env = {**os.environ, "RAG_ARTICLES_DIR": str(articles_dir), "RAG_INDEX_DIR": str(index_dir)}
    runs = []
    for _ in range(COLD_REPEATS):
        started = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).parent / "rag"), "ask", question, "--no-rebuild"],
            env=env,
            capture_output=True,
            check=True,
        )
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def scale_benchmark(args) -> None:
    """Build time per article and chunk, the build against one bare encode of the same
    text (same run), peak RSS of the build, warm ``ask`` p50/p95 and cold ``rag ask``.

    The build runs as ``rag index --rebuild`` in its own process, so its peak RSS is the
    command's own; the bare encode runs in another process just after it.
    """

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        if args.corpus.is_file():
            articles_dir = work / "articles"
            questions = cut_squad_articles(
                args.corpus, articles_dir, count=args.articles, paragraphs=args.paragraphs
            )
            source = f"{args.corpus} ({args.paragraphs} paragraphs an article)"
        else:
            articles_dir = work / "articles"
            names = sorted(p for p in args.corpus.iterdir() if p.is_file())
            articles_dir.mkdir()
            for path in names[: args.articles or None]:
                shutil.copy(path, articles_dir / path.name)
            questions = [
                json.loads(line)["question"]
                for line in args.gold.read_text().splitlines()
                if line.strip()
            ]
            source = str(args.corpus)
        index_dir = work / "index"
        build_wall, build_peak, out = _child(_BUILD, str(articles_dir), str(index_dir))
        if args.no_encode:
            bare_seconds, paragraphs = "nan", "?"
        else:
            _, _, encoded = _child(_BARE_ENCODE, str(articles_dir))
            bare_seconds, paragraphs = encoded.split()
        manifest = json.loads((index_dir / CURRENT / "manifest.json").read_text())
        documents, chunks = manifest["counts"]["documents"], manifest["counts"]["chunks"]

        settings = load_settings().with_overrides(articles_dir=articles_dir, index_dir=index_dir)
        engine = Engine(settings, allow_rebuild=False)
        asked = questions[: args.questions]
        for question in asked[:5]:
            engine.ask(question)
        times = []
        for question in asked:
            started = time.perf_counter()
            engine.ask(question)
            times.append((time.perf_counter() - started) * 1000)
        cold = cold_ask(articles_dir, index_dir, asked[0])
        # The same over the seeds, in the same run: the ratio is what a big corpus costs.
        seeds = load_settings().articles_dir
        _child(_BUILD, str(seeds), str(work / "seed-index"))
        cold_seeds = cold_ask(seeds, work / "seed-index", "When did Xiaomi drop to third?")

    print(f"corpus:                {source}: {documents} articles, {paragraphs} paragraphs")

    inside = re.search(r"in ([0-9.]+)s", out)
    building = float(inside.group(1)) if inside else float("nan")
    print(
        f"index build:           {build_wall:.1f} s (`rag index --rebuild`, whole command; "
        f"{building:.1f} s building after start-up)"
    )
    print(
        f"  per article / chunk: {build_wall / documents * 1000:.0f} ms / "
        f"{build_wall / chunks * 1000:.1f} ms ({chunks} chunks)"
    )
    print(
        f"bare fp32 encode:      {float(bare_seconds):.1f} s (sentence-transformers, torch, "
        f"batch 64, every paragraph once)"
    )
    print(
        f"build / bare encode:   {build_wall / float(bare_seconds):.2f}x whole command, "
        f"{building / float(bare_seconds):.2f}x building (target <= 1.0x)"
    )
    print(f"peak RSS of the build: {build_peak:.0f} MB (target <= 800 MB at 1,000 articles)")
    print(
        f"warm ask:              p50 {statistics.median(times):.0f} ms  "
        f"p95 {statistics.quantiles(times, n=20)[-1]:.0f} ms ({len(times)} questions)"
    )
    print(
        f"cold `rag ask`:        {cold:.2f} s here, {cold_seeds:.2f} s over the 5 seeds "
        f"(a new process: imports, index load, answer; median of {COLD_REPEATS}): "
        f"{cold / cold_seeds:.2f}x (targets <= 2 s, <= 1.5x)"
    )


if __name__ == "__main__":
    main()
