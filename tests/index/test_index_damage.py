"""Every file of a built index, damaged every way: reported naming the file, or rebuilt
into the very same index. Never a traceback, never an answer from damaged data.

One process and the session's embedding model; each case damages a copy of the
session's seed index. A from-scratch rebuild asks the model for exactly the batches
the first build did, so the embedder here remembers them (and spaCy's analysis of
each article): a rebuild then costs file writes, not seconds of CPU per case.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import rag.index
import rag.index.build
from rag.cli import cli
from rag.index import MANIFEST, MANIFEST_CHECKSUM, build_files, load_index, open_index
from rag.ingest import read_corpus
from rag.retrieve import HybridRetriever, Query
from rag.settings import Settings

QUESTION = "When did Xiaomi drop to third?"
# Dense-heavy, BM25-heavy and mixed: between them they read every part of the index.
PROBES = [QUESTION, "rural stores", "Who is the managing director of Xiaomi India?"]


def overwrite_middle(data: bytes) -> bytes:
    """Up to 16 bytes in the middle flipped, the length kept (a FAISS header stays intact)."""
    middle = len(data) // 2
    flipped = bytes(byte ^ 0xFF for byte in data[middle : middle + 16])
    return data[:middle] + flipped + data[middle + len(flipped) :]


DAMAGES: dict[str, Callable[[bytes], bytes | None]] = {
    "overwritten": overwrite_middle,
    "truncated": lambda data: data[: len(data) // 2],
    "emptied": lambda data: b"",
    "json-as-[]": lambda data: b"[]",
    "deleted": lambda data: None,
}


def applies(damage: str, name: str) -> bool:
    return damage != "json-as-[]" or name.endswith((".json", ".jsonl"))


class RememberingEmbedder:
    """The session embedder, remembering every batch it encoded (same batch, same vectors)."""

    def __init__(self, embedder) -> None:
        self._embedder = embedder
        self._batches: dict[tuple[str, ...], np.ndarray] = {}

    def __getattr__(self, name: str):
        return getattr(self._embedder, name)

    def encode(self, texts: list[str], **kwargs) -> np.ndarray:
        key = tuple(texts)
        if key not in self._batches:
            self._batches[key] = self._embedder.encode(texts, **kwargs)
        return self._batches[key].copy()


@pytest.fixture(scope="module")
def fast_embedder(embedder) -> RememberingEmbedder:
    return RememberingEmbedder(embedder)


@pytest.fixture(scope="module", autouse=True)
def remembered_analysis():
    analyse_one = functools.cache(lambda doc_id, body: next(real([(doc_id, body)]))[1])
    real = rag.index.build.analyse_many

    def analyse_many(articles):
        for doc_id, body in articles:
            yield doc_id, analyse_one(doc_id, body)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rag.index.build, "analyse_many", analyse_many)
        yield


def fingerprint(index, embedder) -> dict:
    """Everything an answer is made from: texts, sentences, vectors and rankings."""
    return {
        "articles": index.articles,
        "sentences": index.sentences,
        "chunks": index.chunks,
        "chunk_vectors": hashlib.sha256(index.chunk_vectors().tobytes()).hexdigest(),
        "rankings": [
            [
                (hit.chunk.chunk_id, round(hit.score, 6), hit.dense_rank, hit.bm25_rank)
                for hit in HybridRetriever(index).search(Query.embed(probe, embedder), k=10)
            ]
            for probe in PROBES
        ],
    }


@pytest.fixture(scope="module")
def pristine(seed_index, fast_embedder) -> tuple[Path, list[str], dict]:
    """The undamaged index folder, every file of its build, and its fingerprint."""
    build = (seed_index / rag.index.CURRENT).resolve()
    files = [MANIFEST, MANIFEST_CHECKSUM, *build_files(build)]
    return seed_index, files, fingerprint(load_index(seed_index), fast_embedder)


def damaged_copy(pristine_dir: Path, target: Path, name: str, damage: str) -> Path:
    """A copy of the index with ``name`` damaged; returns the damaged file's path."""
    shutil.copytree(pristine_dir, target, symlinks=True)
    path = (target / rag.index.CURRENT).resolve() / name
    data = DAMAGES[damage](path.read_bytes())
    if data is None:
        path.unlink()
    else:
        assert data != path.read_bytes(), f"{damage} left {name} unchanged"
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_every_damaged_file_is_reported_or_rebuilt(
    damage, pristine, seed_settings, fast_embedder, tmp_path, monkeypatch, subtests
):
    pristine_dir, files, expected = pristine
    assert {"chunks.faiss", "chunks.jsonl", "bm25/vocab.index.json"} <= set(files)
    monkeypatch.setattr("rag.engine.Embedder", lambda: fast_embedder)  # `rag ask` reuses it
    seeds = seed_settings.articles_dir
    corpus = read_corpus(seeds)
    for number, name in enumerate(name for name in files if applies(damage, name)):
        with subtests.test(file=name):
            index_dir = tmp_path / str(number)
            path = damaged_copy(pristine_dir, index_dir, name, damage)
            settings = Settings(articles_dir=seeds, index_dir=index_dir)

            # `rag ask --no-rebuild`: one Error line naming the file, a non-zero exit.
            out = CliRunner().invoke(
                cli,
                ["ask", QUESTION, "--no-rebuild", "--seeds", str(seeds)]
                + ["--index-dir", str(index_dir)],
            )
            assert out.exit_code == 1, out.output
            assert out.output.startswith("Error: ") and out.output.count("\n") == 1, out.output
            assert str(path) in out.output

            # Rebuild allowed: a message naming the file, then the very same index.
            messages: list[str] = []
            index, report = open_index(
                corpus, settings=settings, embedder=fast_embedder, say=messages.append
            )
            assert report.wrote and str(path) in messages[0], messages
            assert fingerprint(index, fast_embedder) == expected


def test_a_rebuilt_index_gives_the_same_answer(engine, seed_index, fast_embedder, tmp_path):
    """End to end, as a user sees it: `rag ask --json` on a damaged and a sound index."""
    reference = engine.ask(QUESTION).to_json()
    damaged_copy(seed_index, tmp_path / "index", "chunks.faiss", "overwritten")
    settings = Settings(articles_dir=engine.settings.articles_dir, index_dir=tmp_path / "index")
    messages: list[str] = []
    rebuilt = type(engine)(settings, embedder=fast_embedder, say=messages.append)
    assert rebuilt.build_report.wrote and "chunks.faiss is damaged" in messages[0]
    answer = rebuilt.ask(QUESTION).to_json()
    for result in (reference, answer):
        result.pop("timings_ms")
    assert json.dumps(answer, sort_keys=True) == json.dumps(reference, sort_keys=True)
