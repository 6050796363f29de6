"""Building an index: under the lock, in a temporary folder, swapped in whole."""

from __future__ import annotations

import json
import os
import queue
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from ..chunking import Chunk, chunk_article
from ..corpus_stats import STATS_FILE, CorpusStats, corpus_stats
from ..embedding import Embedder, SpanRequest, encode_spans
from ..errors import RagError
from ..ingest import Article, Corpus, FileIdentity
from ..nlp import Sentence, analyse_many
from ..settings import Settings
from ..terms import terms
from ..vectorstore import build_faiss_index
from .layout import (
    BUILDS,
    CHECKSUM_ALGORITHM,
    CURRENT,
    EMBED_WINDOW,
    FILE_FIELDS,
    LOCK_FILE,
    BuildReport,
    Index,
    Progress,
    expected_config,
    one_line,
)
from .verify import check_index_dir, file_checksums, write_manifest


def _note_holder(fd: int) -> None:
    # Only for the waiting message below; the lock itself is the flock, not this number.
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)


@contextmanager
def build_lock(
    index_dir: Path, *, say: Callable[[str], None] = lambda message: None
) -> Iterator[bool]:
    """Hold the index's build lock; yields whether another build had to finish first.

    A second build of the same index waits (saying so) rather than failing: it
    is usually the same work, and the caller re-checks the index once it gets
    the lock. The lock is a flock (filelock's, with no fallback to a lock file that a
    dead process would leave behind): the kernel releases it when its holder dies, so a
    killed build never leaves the index locked.
    """
    check_index_dir(index_dir)
    path = index_dir / LOCK_FILE
    lock = FileLock(path, preserve_lock_file=True, fallback_to_soft=False, on_acquired=_note_holder)
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        waited = False
        try:
            lock.acquire(timeout=0)
        except Timeout:
            try:
                holder = path.read_text(encoding="ascii", errors="replace").strip()
            except OSError:
                holder = ""
            by = f" (process {holder})" if holder.isdigit() else ""
            say(f"another build of the index in {index_dir} is running{by}; waiting for it…")
            lock.acquire()
            waited = True
    except OSError as error:
        raise RagError(f"cannot write the index in {index_dir}: {one_line(error)}") from None
    try:
        yield waited
    finally:
        lock.release()


def remove_stale_temporaries(index_dir: Path) -> None:
    """Delete temporary build folders and links of builds that died. Hold the build lock:

    every build runs under it, so then no ``.tmp-*`` folder belongs to a running build.
    """
    builds = index_dir / BUILDS
    for folder in builds.glob(".tmp-*") if builds.is_dir() else []:
        shutil.rmtree(folder, ignore_errors=True)
    for link in index_dir.glob(f".{CURRENT}-*"):
        link.unlink(missing_ok=True)


def _progress(iterable, *, desc: str, total: int, enabled: bool):
    from tqdm import tqdm

    # Only on a terminal: a log file would get one line per update.
    enabled = enabled and sys.stderr.isatty()
    return tqdm(iterable, desc=desc, total=total, disable=not enabled, unit="doc", leave=False)


def build_index(
    corpus: Corpus,
    *,
    settings: Settings,
    embedder: Embedder,
    previous: Index | None = None,
    show_progress: bool = False,
    before_swap: Callable[[Path], None] | None = None,
    say: Callable[[str], None] = lambda message: None,
    progress: Progress | None = None,
) -> BuildReport:
    """Write a new index for ``corpus``, re-embedding only documents that changed.

    ``previous`` (a loaded, compatible index) supplies sentences and vectors of
    unchanged documents. ``before_swap`` is a test hook called with the finished
    temporary folder just before it becomes current. ``progress(done, total)`` is
    called as the changed articles are embedded (see ``Progress``). Runs under the
    build lock (waiting for another build of the same index to finish first).
    """
    with build_lock(settings.index_dir, say=say):
        return _build_locked(
            corpus,
            settings=settings,
            embedder=embedder,
            previous=previous,
            show_progress=show_progress,
            before_swap=before_swap,
            progress=progress,
        )


def _build_locked(
    corpus: Corpus,
    *,
    settings: Settings,
    embedder: Embedder,
    previous: Index | None,
    show_progress: bool,
    before_swap: Callable[[Path], None] | None,
    progress: Progress | None = None,
) -> BuildReport:
    remove_stale_temporaries(settings.index_dir)
    started = time.perf_counter()
    report = BuildReport()
    old_hashes = {}
    if previous is not None:
        old_hashes = {d: i["content_hash"] for d, i in previous.manifest["documents"].items()}
        old_rows = {c.chunk_id: row for row, c in enumerate(previous.chunks)}
        previous_chunks: dict[str, list[Chunk]] = {}
        for chunk in previous.chunks:
            previous_chunks.setdefault(chunk.doc_id, []).append(chunk)
        old_chunk_vectors = previous.chunk_vectors()
    current_ids = {a.doc_id for a in corpus.articles}
    report.removed = sorted(set(old_hashes) - current_ids)
    if (
        previous is not None
        and not report.removed
        and all(old_hashes.get(a.doc_id) == a.content_hash for a in corpus.articles)
        # The same articles from another folder still make a new manifest that names it
        # (else every start would find "built from A, not B" again).
        and previous.manifest.get("articles_folder") == str(settings.articles_dir.resolve())
    ):
        report.documents, report.chunks = len(previous.articles), len(previous.chunks)
        report.sentences = sum(len(s) for s in previous.sentences.values())
        report.seconds = time.perf_counter() - started
        return report

    def unchanged(article: Article) -> bool:
        return previous is not None and old_hashes.get(article.doc_id) == article.content_hash

    changed = [a for a in corpus.articles if not unchanged(a)]
    if progress is not None:
        progress(0, len(changed))
    if changed:
        # Load the model (exporting it, the first time) before spaCy's thread starts.
        embedder.encode(["warm-up"])
    # Sentences of changed articles, spaCy batching paragraphs across articles.
    analysed = analyse_many((a.doc_id, a.body) for a in changed)
    plans: dict[str, tuple[list[Sentence], list[Chunk]]] = {}

    def requests() -> Iterator[SpanRequest]:
        for article in changed:
            doc_id, sentences = next(analysed)
            chunks = chunk_article(
                article,
                sentences,
                size=settings.chunk_size,
                overlap=settings.chunk_overlap,
                model=embedder,
            )
            plans[doc_id] = (sentences, chunks)
            spans = [(c.start, c.end) for c in chunks]
            yield SpanRequest(
                article.title, article.body, spans, [x.start for x in sentences], EMBED_WINDOW
            )

    # Every changed article's text goes through the model once; its chunks' vectors are
    # pooled from those token states (rag/embedding.py, "encode_spans"). spaCy (one core,
    # in Python) prepares articles in a thread while the model (native code, which lets go
    # of the GIL) embeds the ones before: the two overlap instead of taking turns.
    encoded = encode_spans(embedder, _ahead(requests(), AHEAD))
    all_chunks: list[Chunk] = []
    chunk_vectors: list[np.ndarray] = []
    doc_sentences: dict[str, list[Sentence]] = {}
    for article in _progress(
        corpus.articles, desc="Indexing", total=len(corpus.articles), enabled=show_progress
    ):
        if unchanged(article):
            sentences = previous.sentences[article.doc_id]
            chunks = list(previous_chunks.get(article.doc_id, []))
            report.reused.append(article.doc_id)
            chunk_vectors.append(old_chunk_vectors[[old_rows[c.chunk_id] for c in chunks]])
        else:
            vectors = next(encoded)
            sentences, chunks = plans.pop(article.doc_id)
            report.embedded.append(article.doc_id)
            chunk_vectors.append(vectors)
            if progress is not None:
                progress(len(report.embedded), len(changed))
        doc_sentences[article.doc_id] = sentences
        all_chunks.extend(chunks)

    _write_build(
        settings.index_dir,
        manifest=_manifest(corpus, doc_sentences, all_chunks, settings, embedder),
        corpus=corpus,
        doc_sentences=doc_sentences,
        chunks=all_chunks,
        stats=corpus_stats(
            {a.doc_id: a.title for a in corpus.articles},
            {a.doc_id: a.date for a in corpus.articles},
            doc_sentences,
            (c.text for c in all_chunks),
        ),
        chunk_vectors=np.vstack(chunk_vectors),
        ann_threshold=settings.ann_threshold,
        before_swap=before_swap,
    )
    report.documents, report.chunks = len(corpus.articles), len(all_chunks)
    report.sentences = sum(len(s) for s in doc_sentences.values())
    report.wrote = True
    report.seconds = time.perf_counter() - started
    return report


# Articles spaCy may prepare before the model embeds them; bounds the memory they hold.
AHEAD = 64
_DONE = object()


def _ahead(items: Iterator, size: int) -> Iterator:
    """``items``, produced by a background thread up to ``size`` ahead of the consumer.

    An exception in the thread is raised in the consumer; a consumer that stops early
    (an error of its own) makes the thread stop at its next item.
    """
    ahead: queue.Queue = queue.Queue(maxsize=size)
    stop = threading.Event()

    def offer(item) -> bool:
        """Put ``item`` in the queue unless the consumer stopped; whether it went in."""
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as error:  # handed to the consumer, raised there
            offer(error)

    worker = threading.Thread(target=produce, name="rag-index-prepare", daemon=True)
    worker.start()
    try:
        while (item := ahead.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def _file_record(identity: FileIdentity | None) -> dict[str, int]:
    """An article file's identity as read (-1s: not to be trusted, or not read from a file)."""
    return dict(zip(FILE_FIELDS, identity or (-1, -1, -1, -1), strict=True))


def _manifest(corpus, doc_sentences, chunks, settings, embedder) -> dict:
    per_doc_chunks: dict[str, int] = {}
    for chunk in chunks:
        per_doc_chunks[chunk.doc_id] = per_doc_chunks.get(chunk.doc_id, 0) + 1
    return {
        **expected_config(settings, embedder),
        "articles_folder": str(settings.articles_dir.resolve()),
        # What reading an article depends on besides its file (a reused one must agree).
        "max_text_chars": settings.max_text_chars,
        "model_details": {"max_tokens": embedder.max_tokens, "dimension": embedder.dimension},
        "dense_index": (
            "IndexFlatIP (exact inner product over normalised vectors)"
            if len(chunks) <= settings.ann_threshold
            else f"IndexIVFFlat (approximate, above ann_threshold={settings.ann_threshold})"
        ),
        "documents": {
            a.doc_id: {
                "content_hash": a.content_hash,
                "title": a.title,
                "date": a.date,
                "chunks": per_doc_chunks.get(a.doc_id, 0),
                "sentences": len(doc_sentences[a.doc_id]),
                # The file as read: a later start reuses the article while it is unchanged.
                "file": _file_record(corpus.files.get(a.doc_id)),
            }
            for a in corpus.articles
        },
        "counts": {
            "documents": len(corpus.articles),
            "chunks": len(chunks),
            "sentences": sum(len(s) for s in doc_sentences.values()),
        },
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _write_build(
    index_dir: Path,
    *,
    manifest: dict,
    corpus: Corpus,
    doc_sentences: dict[str, list[Sentence]],
    chunks: list[Chunk],
    stats: CorpusStats,
    chunk_vectors: np.ndarray,
    ann_threshold: int,
    before_swap: Callable[[Path], None] | None,
) -> None:
    import bm25s
    import faiss

    builds = index_dir / BUILDS
    builds.mkdir(parents=True, exist_ok=True)
    build_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    tmp = builds / f".tmp-{build_id}"
    tmp.mkdir()
    try:
        with (tmp / "documents.jsonl").open("w", encoding="utf-8") as handle:
            for article in corpus.articles:
                record = asdict(article)
                record.pop("dropped")
                record["sentences"] = [
                    [s.start, s.end, s.lemmas] for s in doc_sentences[article.doc_id]
                ]
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
        (tmp / STATS_FILE).write_text(json.dumps(stats.to_json(), ensure_ascii=False), "utf-8")
        dense = build_faiss_index(chunk_vectors, ann_threshold=ann_threshold)
        faiss.write_index(dense, str(tmp / "chunks.faiss"))
        bm25 = bm25s.BM25()
        bm25.index([terms(c.embedding_text()) or ["<empty>"] for c in chunks], show_progress=False)
        bm25.save(str(tmp / "bm25"), show_progress=False)
        # The manifest goes last (a folder without one was never finished), with
        # the checksum of every file written above, whatever their names.
        write_manifest(
            tmp,
            {**manifest, "checksum_algorithm": CHECKSUM_ALGORITHM, "files": file_checksums(tmp)},
        )
        _fsync_tree(tmp)
        if before_swap is not None:
            before_swap(tmp)
        final = builds / build_id
        os.rename(tmp, final)
        link_tmp = index_dir / f".{CURRENT}-{build_id}"
        os.symlink(Path(BUILDS) / build_id, link_tmp)
        os.replace(link_tmp, index_dir / CURRENT)  # atomic on POSIX
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    remove_old_builds(index_dir)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())


def remove_old_builds(index_dir: Path) -> None:
    """Delete every build but the current one. Hold the build lock."""
    current = (index_dir / CURRENT).resolve() if (index_dir / CURRENT).exists() else None
    for entry in (index_dir / BUILDS).iterdir() if (index_dir / BUILDS).is_dir() else []:
        if entry.resolve() != current:
            shutil.rmtree(entry, ignore_errors=True)
    for link in index_dir.glob(f".{CURRENT}-*"):
        link.unlink(missing_ok=True)
