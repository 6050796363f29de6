import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

import rag.index.store
from rag.errors import RagError
from rag.index import (
    FORMAT_VERSION,
    IndexUnusable,
    build_files,
    build_index,
    file_checksum,
    load_index,
    open_index,
)
from rag.index.verify import MANIFEST_SHAPE, shape_problem, write_manifest
from rag.ingest import read_corpus
from rag.settings import Settings


@pytest.fixture
def settings(seeds_copy, tmp_path) -> Settings:
    return Settings(articles_dir=seeds_copy, index_dir=tmp_path / "index")


@pytest.fixture
def built(seed_index, settings) -> Settings:
    """``settings`` with a copy of the session's seed index already in place (no build)."""
    shutil.copytree(seed_index, settings.index_dir, symlinks=True)
    return settings


def build(settings, embedder, **kwargs):
    return open_index(
        read_corpus(settings.articles_dir), settings=settings, embedder=embedder, **kwargs
    )


def test_manifest_records_what_built_the_index(settings, embedder):
    index, report = build(settings, embedder)
    manifest = index.manifest
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["model"]["weights_sha256"] == embedder.weights_sha256
    assert manifest["chunking"]["chunk_size"] == settings.chunk_size
    assert manifest["counts"]["chunks"] == len(index.chunks) == report.chunks
    assert set(manifest["documents"]) == {p.name for p in settings.articles_dir.iterdir()}
    assert all(len(d["content_hash"]) == 16 for d in manifest["documents"].values())
    assert "created_at" in manifest


def test_incremental_rebuild(settings, embedder):
    _, first = build(settings, embedder)
    assert len(first.embedded) == 5
    _, second = build(settings, embedder)
    assert not second.wrote and second.embedded == []
    assert "nothing embedded" in second.summary()

    seeds = settings.articles_dir
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
            read_corpus(settings.articles_dir),
            settings=settings,
            embedder=embedder,
            before_swap=crash,
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
settings = Settings(articles_dir=Path({str(settings.articles_dir)!r}),
                    index_dir=Path({str(settings.index_dir)!r}))
build_index(read_corpus(settings.articles_dir), settings=settings, embedder=Embedder(),
            before_swap=lambda folder: os.kill(os.getpid(), signal.SIGKILL))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert result.returncode == -9
    assert list((settings.index_dir / "builds").glob(".tmp-*"))  # the abandoned build
    assert load_index(settings.index_dir).manifest == before
    with (settings.index_dir / ".build.lock").open("rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the dead build holds no lock
    _, report = build(settings, embedder)
    assert not report.wrote  # the old index is still current and up to date


def test_missing_or_corrupt_index_is_rebuilt_or_reported(settings, embedder):
    with pytest.raises(IndexUnusable, match="no index"):
        build(settings, embedder, allow_rebuild=False)
    index, _ = build(settings, embedder)
    (index.directory / "chunks.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexUnusable, match="chunks.faiss is damaged"):
        build(settings, embedder, allow_rebuild=False)
    messages = []
    repaired, report = build(settings, embedder, say=messages.append)
    assert report.wrote and "chunks.faiss is damaged" in messages[0]
    assert len(repaired.chunks) == report.chunks


def test_index_built_with_other_settings_is_rebuilt(settings, embedder):
    build(settings, embedder)
    other = replace(settings, chunk_size=settings.chunk_size + 32)
    with pytest.raises(IndexUnusable, match="chunk_size"):
        build(other, embedder, allow_rebuild=False)
    build_dir = load_index(settings.index_dir).directory
    manifest = json.loads((build_dir / "manifest.json").read_text())
    manifest["model"]["weights_sha256"] = "0" * 64
    write_manifest(build_dir, manifest)  # an honest manifest of another model, not damage
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


def test_manifest_lists_every_file_of_the_build_with_its_checksum(built):
    folder = load_index(built.index_dir).directory
    manifest = json.loads((folder / "manifest.json").read_text())
    on_disk = build_files(folder)
    assert {"chunks.faiss", "chunks.jsonl", "documents.jsonl", "bm25/vocab.index.json"} <= set(
        on_disk
    )
    assert sorted(manifest["files"]) == on_disk  # everything but the manifest pair itself
    for name, entry in manifest["files"].items():
        assert entry == {
            "bytes": (folder / name).stat().st_size,
            "checksum": file_checksum(folder / name),
        }
    digest = hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
    assert (folder / "manifest.sha256").read_text() == f"{digest}  manifest.json\n"  # sha256sum -c


@pytest.mark.parametrize(
    "change,problem",
    [
        (lambda m: m.update(documents=[]), "manifest.documents should be an object, not an array"),
        (lambda m: m.pop("files"), "manifest has no 'files'"),
        (lambda m: m["counts"].update(chunks="61"), "manifest.counts.chunks should be an integer"),
        (lambda m: m["counts"].update(chunks=True), "should be an integer, not true or false"),
        (
            lambda m: next(iter(m["documents"].values())).update(date=3),
            "].date should be a string or null, not an integer",
        ),
        (lambda m: m["files"].update({"chunks.faiss": []}), "files['chunks.faiss'] should be an"),
    ],
    ids=["documents-list", "no-files", "count-string", "count-bool", "date-int", "file-entry"],
)
def test_a_manifest_of_the_wrong_shape_is_reported_naming_the_field(
    built, embedder, change, problem
):
    folder = load_index(built.index_dir).directory
    manifest = json.loads((folder / "manifest.json").read_text())
    assert shape_problem(manifest, MANIFEST_SHAPE) is None
    change(manifest)
    assert problem in shape_problem(manifest, MANIFEST_SHAPE)
    # Written with a matching manifest.sha256: the shape check alone must catch it.
    write_manifest(folder, manifest)
    with pytest.raises(IndexUnusable) as caught:
        build(built, embedder, allow_rebuild=False)
    assert f"{folder / 'manifest.json'} is damaged" in str(caught.value)
    assert problem in str(caught.value)


def test_a_manifest_of_the_wrong_shape_is_rebuilt(built, embedder):
    folder = load_index(built.index_dir).directory
    write_manifest(folder, [])
    messages = []
    index, report = build(built, embedder, say=messages.append)
    assert report.wrote and len(report.embedded) == 5
    assert "manifest.json is damaged" in messages[0] and "building index" in messages[0]
    assert index.directory != folder


def test_a_file_the_manifest_does_not_list_is_reported(built, embedder):
    folder = load_index(built.index_dir).directory
    (folder / "bm25" / "extra.json").write_text("{}")
    with pytest.raises(IndexUnusable, match="extra.json is damaged: the manifest does not list it"):
        build(built, embedder, allow_rebuild=False)


def test_an_index_from_before_checksums_is_outdated_not_damaged(built, embedder):
    folder = load_index(built.index_dir).directory
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format_version"] = 3
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "manifest.sha256").unlink()
    with pytest.raises(IndexUnusable, match="outdated: it was built with format_version=3"):
        build(built, embedder, allow_rebuild=False)


@pytest.mark.parametrize("allow_rebuild", [True, False])
def test_an_index_dir_that_is_a_file_is_a_clear_error(settings, embedder, allow_rebuild):
    settings.index_dir.write_text("not an index")
    with pytest.raises(RagError, match="is a file, not a folder"):
        build(settings, embedder, allow_rebuild=allow_rebuild)
    assert settings.index_dir.read_text() == "not an index"


def test_stale_temporary_builds_are_removed_when_a_build_starts(built, embedder):
    build(built, embedder)  # the copied index, made this folder's own
    builds = built.index_dir / "builds"
    (builds / ".tmp-killed-build").mkdir()
    (builds / ".tmp-killed-build" / "chunks.jsonl").write_text("")
    os.symlink("builds/.tmp-killed-build", built.index_dir / ".current-killed-build")
    # Nothing changed, so this build writes nothing, yet it cleans first.
    report = build_index(
        read_corpus(built.articles_dir),
        settings=built,
        embedder=embedder,
        previous=load_index(built.index_dir),
    )
    assert not report.wrote
    assert not list(builds.glob(".tmp-*"))
    assert not list(built.index_dir.glob(".current-*"))


def wait_for(condition, seconds: float = 120.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_second_build_waits_for_the_first_and_leaves_its_folder_alone(built, embedder):
    (built.articles_dir / "new.txt").write_text(
        "Xiaomi opened a service centre in Shillong in 2021.", encoding="utf-8"
    )
    corpus = read_corpus(built.articles_dir)
    first_at_swap, release = threading.Event(), threading.Event()
    tmp_folders: list[Path] = []

    def hold(folder: Path) -> None:  # the first build pauses, lock held, before its swap
        tmp_folders.append(folder)
        first_at_swap.set()
        assert release.wait(120), "the test never released the first build"

    first = threading.Thread(
        target=build_index,
        args=(corpus,),
        kwargs=dict(
            settings=built,
            embedder=embedder,
            previous=load_index(built.index_dir),
            before_swap=hold,
        ),
        daemon=True,
    )
    messages: list[str] = []
    second_result: list = []
    second = threading.Thread(
        target=lambda: second_result.append(
            open_index(corpus, settings=built, embedder=embedder, say=messages.append)
        ),
        daemon=True,
    )
    first.start()
    try:
        assert first_at_swap.wait(120)
        second.start()
        assert wait_for(lambda: any("waiting" in m for m in messages) or not second.is_alive())
        assert any(
            "another build of the index" in m and f"(process {os.getpid()})" in m for m in messages
        ), messages
        time.sleep(0.3)  # the second build must stay blocked, not go on and clean up
        assert second.is_alive() and tmp_folders[0].is_dir()
    finally:
        release.set()
        first.join(120)
        second.join(120)
    index, report = second_result[0]
    # The first build made the index current; the second found it up to date.
    assert not report.wrote and "new.txt" in index.articles
    assert not any("building index" in m for m in messages)
    assert len(os.listdir(built.index_dir / "builds")) == 1


def test_a_build_swapped_in_while_loading_is_loaded_not_reported(built, monkeypatch):
    old = load_index(built.index_dir).directory
    new = old.parent / "swapped-in"
    shutil.copytree(old, new)
    (old / "chunks.jsonl").write_text("")  # as if a finishing build were deleting it
    real_verify = rag.index.store.verify_build

    def swap_then_verify(folder: Path) -> dict:
        if folder == old:  # the other build's swap lands while this load reads ``old``
            os.replace(_symlink_to(built.index_dir, new), built.index_dir / "current")
        return real_verify(folder)

    monkeypatch.setattr(rag.index.store, "verify_build", swap_then_verify)
    assert load_index(built.index_dir).directory == new


def _symlink_to(index_dir: Path, build: Path) -> Path:
    link = index_dir / ".current-test"
    os.symlink(build.relative_to(index_dir), link)
    return link


@pytest.mark.unit
def test_work_prepared_in_the_background_arrives_in_order_and_errors_reach_the_builder():
    from rag.index.build import _ahead

    assert list(_ahead(iter(range(500)), 8)) == list(range(500))

    def failing():
        yield 1
        raise ValueError("spaCy broke")

    items = _ahead(failing(), 8)
    assert next(items) == 1
    with pytest.raises(ValueError, match="spaCy broke"):
        next(items)


@pytest.mark.unit
def test_a_consumer_that_stops_early_stops_the_background_thread():
    import threading

    from rag.index.build import _ahead

    produced = []

    def endless():
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    items = _ahead(endless(), 4)
    assert next(items) == 0
    items.close()  # what an exception in the builder does to the generator
    threads = [t for t in threading.enumerate() if t.name == "rag-index-prepare"]
    for thread in threads:
        thread.join(timeout=5)
    assert not any(t.is_alive() for t in threads)
    assert len(produced) < 50


def test_a_start_reads_only_the_files_that_changed_since_the_build(built, embedder, monkeypatch):
    import rag.ingest
    from rag.index import current_index, known_articles

    # The copied seed index was built from another folder: the same articles, a new manifest.
    assert build(built, embedder)[1].wrote
    read: list[str] = []
    real = rag.ingest.read_article

    def counting(path, **kwargs):
        read.append(path.name)
        return real(path, **kwargs)

    monkeypatch.setattr(rag.ingest, "read_article", counting)

    def start():
        read.clear()
        known = known_articles(current_index(built), built, embedder)
        corpus = built.read_corpus(known)
        return corpus, open_index(corpus, settings=built, embedder=embedder)[1]

    corpus, report = start()
    assert read == [] and not report.wrote and len(corpus.articles) == 5
    edited = sorted(built.articles_dir.iterdir())[0]
    edited.write_text(edited.read_text() + "\nXiaomi opened a store in Shillong.\n")
    corpus, report = start()
    assert read == [edited.name] and report.embedded == [edited.name]
    os.utime(edited, ns=(edited.stat().st_atime_ns, edited.stat().st_mtime_ns + 10**9))
    corpus, report = start()  # touched, not changed: read again, nothing to embed
    assert read == [edited.name] and not report.wrote
    # Two files swapped by name (same size and times, as an unpacked archive has them) are
    # both read again: a rename sets their status-change time.
    first, second = sorted(built.articles_dir.iterdir())[1:3]
    second.write_bytes(second.read_bytes()[: first.stat().st_size].ljust(first.stat().st_size))
    os.utime(second, ns=(first.stat().st_atime_ns, first.stat().st_mtime_ns))
    start()
    os.rename(first, first.with_suffix(".tmp"))
    os.rename(second, first)
    os.rename(first.with_suffix(".tmp"), second)
    corpus, report = start()
    # (The touched file is read on every start until a build records it again.)
    assert sorted(read) == sorted([edited.name, first.name, second.name])
    # Other settings, or another cap on an article's text, read everything again.
    index = current_index(built)
    assert known_articles(index, replace(built, chunk_size=64), embedder) == {}
    assert known_articles(index, replace(built, max_text_chars=2000), embedder) == {}


@pytest.mark.unit
def test_an_index_of_an_older_format_is_outdated_not_damaged(tmp_path):
    from rag.index import verify_build

    write_manifest(tmp_path, {"format_version": FORMAT_VERSION - 1, "documents": {"a.txt": {}}})
    with pytest.raises(IndexUnusable, match="outdated: it was built with format_version"):
        verify_build(tmp_path)
