import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from rag.index import FORMAT_VERSION, IndexUnusable, build_index, load_index, open_index
from rag.ingest import read_corpus
from rag.settings import Settings


@pytest.fixture
def settings(seeds_copy, tmp_path) -> Settings:
    return Settings(seeds_dir=seeds_copy, index_dir=tmp_path / "index")


def build(settings, embedder, **kwargs):
    return open_index(
        read_corpus(settings.seeds_dir), settings=settings, embedder=embedder, **kwargs
    )


def test_manifest_records_what_built_the_index(settings, embedder):
    index, report = build(settings, embedder)
    manifest = index.manifest
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["model"]["weights_sha256"] == embedder.weights_sha256
    assert manifest["chunking"]["chunk_size"] == settings.chunk_size
    assert manifest["counts"]["chunks"] == len(index.chunks) == report.chunks
    assert set(manifest["documents"]) == {p.name for p in settings.seeds_dir.iterdir()}
    assert all(len(d["content_hash"]) == 16 for d in manifest["documents"].values())
    assert "created_at" in manifest


def test_incremental_rebuild(settings, embedder):
    _, first = build(settings, embedder)
    assert len(first.embedded) == 5
    _, second = build(settings, embedder)
    assert not second.wrote and second.embedded == []
    assert "nothing embedded" in second.summary()

    seeds = settings.seeds_dir
    changed = seeds / "002_38dd1345af9d5afe.txt"
    changed.write_text(
        changed.read_text(encoding="utf-8") + "\nXiaomi opened a lab in Pune.\n", encoding="utf-8"
    )
    (seeds / "003_1fb2797fe9db0d38.txt").unlink()
    (seeds / "new.txt").write_text(
        "Xiaomi sold a record number of TVs in Kerala in 2021.", encoding="utf-8"
    )
    index, third = build(settings, embedder)
    assert sorted(third.embedded) == ["002_38dd1345af9d5afe.txt", "new.txt"]
    assert third.removed == ["003_1fb2797fe9db0d38.txt"]
    assert len(third.reused) == 3
    assert "003_1fb2797fe9db0d38.txt" not in index.articles
    assert any("Pune" in c.text for c in index.chunks)
    # Reused vectors are identical to what a from-scratch build computes.
    fresh_settings = replace(settings, index_dir=settings.index_dir.parent / "fresh")
    fresh, _ = build(fresh_settings, embedder)
    assert [c.chunk_id for c in fresh.chunks] == [c.chunk_id for c in index.chunks]
    assert abs(fresh.chunk_vectors() - index.chunk_vectors()).max() < 1e-5


def test_failed_build_leaves_previous_index_loadable(settings, embedder):
    index, _ = build(settings, embedder)
    before = index.manifest["created_at"], len(index.chunks)

    def crash(folder: Path):
        assert (folder / "manifest.json").exists()
        raise RuntimeError("simulated crash just before the swap")

    with pytest.raises(RuntimeError):
        build_index(
            read_corpus(settings.seeds_dir), settings=settings, embedder=embedder, before_swap=crash
        )
    again = load_index(settings.index_dir)
    assert (again.manifest["created_at"], len(again.chunks)) == before
    assert not list((settings.index_dir / "builds").glob(".tmp-*"))


def test_killed_build_leaves_previous_index_loadable(settings, embedder):
    build(settings, embedder)
    before = load_index(settings.index_dir).manifest
    script = f"""
import os, signal
from pathlib import Path
from rag.index import build_index
from rag.ingest import read_corpus
from rag.embedding import Embedder
from rag.settings import Settings
settings = Settings(seeds_dir=Path({str(settings.seeds_dir)!r}),
                    index_dir=Path({str(settings.index_dir)!r}))
build_index(read_corpus(settings.seeds_dir), settings=settings, embedder=Embedder(),
            before_swap=lambda folder: os.kill(os.getpid(), signal.SIGKILL))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert result.returncode == -9
    assert list((settings.index_dir / "builds").glob(".tmp-*"))  # the abandoned build
    assert load_index(settings.index_dir).manifest == before
    _, report = build(settings, embedder)
    assert not report.wrote  # the old index is still current and up to date


def test_missing_or_corrupt_index_is_rebuilt_or_reported(settings, embedder):
    with pytest.raises(IndexUnusable, match="no index"):
        build(settings, embedder, allow_rebuild=False)
    index, _ = build(settings, embedder)
    (index.directory / "chunks.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexUnusable, match="unreadable"):
        build(settings, embedder, allow_rebuild=False)
    messages = []
    repaired, report = build(settings, embedder, say=messages.append)
    assert report.wrote and "unreadable" in messages[0]
    assert len(repaired.chunks) == report.chunks


def test_index_built_with_other_settings_is_rebuilt(settings, embedder):
    build(settings, embedder)
    other = replace(settings, chunk_size=settings.chunk_size + 32)
    with pytest.raises(IndexUnusable, match="chunk_size"):
        build(other, embedder, allow_rebuild=False)
    manifest_path = load_index(settings.index_dir).directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model"]["weights_sha256"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    messages = []
    _, report = build(settings, embedder, say=messages.append)
    assert report.wrote and "outdated" in messages[0] and "model" in messages[0]
    assert len(report.embedded) == 5


def test_stale_temporary_builds_are_cleaned(settings, embedder):
    build(settings, embedder)
    stray = settings.index_dir / "builds" / ".tmp-stray"
    stray.mkdir()
    build(settings, embedder, rebuild=True)
    assert not stray.exists()
    assert len(os.listdir(settings.index_dir / "builds")) == 1
