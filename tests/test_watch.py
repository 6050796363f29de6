"""The watched folder: settling, update messages, and an engine that refreshes in place."""

import shutil
import threading
import time
from pathlib import Path

from rag.index import BuildReport
from rag.watch import update_message, wait_until_settled, watch_corpus

ARTICLES = Path(__file__).resolve().parent / "data" / "articles"


def test_update_message_counts_added_changed_and_removed():
    report = BuildReport(embedded=["a.txt", "b.txt"], removed=["c.txt"], wrote=True)
    assert update_message({"b.txt", "c.txt"}, report) == (
        "index updated: +1 article, 1 changed, 1 removed"
    )
    assert update_message(set(), BuildReport(embedded=["a", "b"], wrote=True)) == (
        "index updated: +2 articles"
    )


def test_a_file_still_being_written_is_waited_for(tmp_path):
    growing = tmp_path / "big.txt"
    growing.write_text("start")
    stop = threading.Event()

    def keep_writing():
        for n in range(6):
            time.sleep(0.15)
            with growing.open("a") as handle:
                handle.write(f" more {n}")

    writer = threading.Thread(target=keep_writing)
    started = time.monotonic()
    writer.start()
    assert wait_until_settled(tmp_path, settle=0.5, stop=stop)
    writer.join()
    # Not before the last write plus the settling time.
    assert time.monotonic() - started >= 0.9 + 0.5


def test_watch_calls_back_once_the_folder_settles(tmp_path):
    stop = threading.Event()
    seen = []
    thread = threading.Thread(
        target=watch_corpus,
        args=(tmp_path, lambda: seen.append(sorted(p.name for p in tmp_path.iterdir()))),
        kwargs={"stop": stop, "settle": 0.3},
        daemon=True,
    )
    thread.start()
    time.sleep(0.5)  # the watcher is up
    (tmp_path / "new.txt").write_text("An article.")
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    thread.join(5)
    assert seen and seen[0] == ["new.txt"]


def test_refresh_adds_and_removes_articles_in_place(small_engine):
    folder = small_engine.settings.articles_dir
    assert set(small_engine.index.articles) == {"acme-exports.txt", "acme-results.md"}
    assert not small_engine.refresh().wrote  # nothing changed, nothing built
    old_index = small_engine.index
    shutil.copy(ARTICLES / "acme-factory.pdf", folder)
    (folder / "acme-results.md").unlink()
    report = small_engine.refresh()
    assert report.wrote and report.embedded == ["acme-factory.pdf"]
    assert report.removed == ["acme-results.md"]
    assert set(small_engine.index.articles) == {"acme-exports.txt", "acme-factory.pdf"}
    assert small_engine.answerer.evidence is small_engine.evidence
    assert small_engine.evidence.index is small_engine.index is not old_index
    hits = small_engine.search("How many handsets a year will the Pune plant make?")
    assert hits[0].chunk.doc_id == "acme-factory.pdf" and hits[0].chunk.page == 1


def test_rag_index_watch_reindexes_a_dropped_file(tmp_path):
    import os
    import subprocess
    import sys

    folder = tmp_path / "articles"
    folder.mkdir()
    shutil.copy(ARTICLES / "acme-exports.txt", folder)
    command = [sys.executable, "-c", "from rag.cli import cli; cli()", "index", "--watch"]
    command += ["--seeds", str(folder), "--index-dir", str(tmp_path / "index")]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    lines = []
    killer = threading.Timer(90, process.kill)  # never hang the suite
    killer.start()
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Watching"):
                time.sleep(1.5)  # the watcher starts just after it says so
                shutil.copy(ARTICLES / "acme-results.md", folder)
            if line.startswith("index updated"):
                break
    finally:
        killer.cancel()
        process.kill()
        process.wait(10)
    assert any(line.startswith("index updated: +1 article") for line in lines), lines
