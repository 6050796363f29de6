"""Build, persist, verify and load the FAISS + BM25 index over article chunks.

Layout under the index folder::

    current -> builds/<id>      symlink swapped atomically after a build
    .build.lock                 flock held by whichever process is building
    builds/<id>/manifest.json   format, model + weights hash, chunking, per-doc hashes,
                                size and checksum of every other file of the build
    builds/<id>/manifest.sha256 sha256 of manifest.json (``sha256sum -c`` reads it)
    builds/<id>/documents.jsonl cleaned articles with their sentences and lemmas
    builds/<id>/chunks.jsonl    chunk records (span, sentences) in FAISS row order
    builds/<id>/chunks.faiss    normalised chunk embeddings, exact inner product
    builds/<id>/bm25/           bm25s index over the same chunks

A build writes a fresh ``builds/.tmp-*`` folder and only then repoints
``current``, so killing it at any moment leaves the previous index loadable.
Builds of one index take turns under the lock; each starts by deleting the
temporary folders that killed builds left behind (under the lock, every such
folder is dead). Loading verifies the manifest's checksum, its shape, and every
file's size and checksum before reading anything, so a damaged index is either
rebuilt or reported, naming the file, and never answers.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import queue
import re
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .chunking import ENCODING_NAME, Chunk, chunk_article
from .embedding import Embedder, SpanRequest, encode_spans
from .errors import RagError
from .ingest import CLEANING_VERSION, Article, Corpus
from .nlp import Sentence, analyse_many
from .settings import Settings
from .terms import terms
from .vectorstore import FaissStore, build_faiss_index

# 3: BM25 terms include ranks ("top spot" -> rank1), "one of" is no count
# 4: the manifest lists every file's checksum; manifest.sha256 beside it
# 5: sentences without named entities (found when the rules answerer asks, rag/nlp.py)
#    and without vectors (made when an answerer reads them, rag/evidence.py)
FORMAT_VERSION = 5
# Bump when what is embedded changes (e.g. the text a sentence vector is made from).
# 3: each article's text runs through the model once, in windows of EMBED_WINDOW tokens;
#    chunk vectors are mean-pooled from those token states.
EMBEDDING_RECIPE = 3
# Body tokens per model window. Chosen on the SQuAD tuning articles (README, "Scale").
EMBED_WINDOW = 192
CURRENT = "current"
BUILDS = "builds"
LOCK_FILE = ".build.lock"
MANIFEST = "manifest.json"
MANIFEST_CHECKSUM = "manifest.sha256"
# blake2b is in hashlib, needs no extra package and hashes faster than sha256 on
# 64-bit CPUs; 128 bits is plenty to detect damage (this is not a signature).
CHECKSUM_ALGORITHM = "blake2b-128"


class IndexUnusable(RagError):
    """The index on disk is missing, corrupt, or built with other settings."""


@dataclass
class Index:
    directory: Path
    manifest: dict
    articles: dict[str, Article]
    sentences: dict[str, list[Sentence]]
    chunks: list[Chunk]
    dense: FaissStore  # rows aligned with ``chunks``; the source of any other store's copy
    bm25: object  # bm25s.BM25, documents aligned with ``chunks``

    def chunk_vectors(self) -> np.ndarray:
        return self.dense.vectors()


@dataclass
class BuildReport:
    documents: int = 0
    chunks: int = 0
    sentences: int = 0
    embedded: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    wrote: bool = False

    def summary(self) -> str:
        if not self.wrote:
            return (
                f"Index up to date: {self.documents} documents, {self.chunks} chunks; "
                "nothing embedded."
            )
        parts = [f"{self.documents} documents, {self.chunks} chunks in {self.seconds:.1f}s"]
        parts.append(f"embedded {len(self.embedded)}")
        if self.reused:
            parts.append(f"reused {len(self.reused)} unchanged")
        if self.removed:
            parts.append(f"removed {len(self.removed)}")
        return "Indexed " + "; ".join(parts) + "."


# -- settings that decide whether an index can be reused ---------------------


def expected_config(settings: Settings, embedder: Embedder) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "cleaning_version": CLEANING_VERSION,
        "embedding_recipe": EMBEDDING_RECIPE,
        "embed_window": EMBED_WINDOW,
        "model": {"name": embedder.name, "weights_sha256": embedder.weights_sha256},
        "chunking": {
            "encoding": ENCODING_NAME,
            "chunk_size": settings.chunk_size,
            "chunk_overlap": settings.chunk_overlap,
        },
    }


def incompatibility(manifest: dict, settings: Settings, embedder: Embedder) -> str | None:
    """Why an index with ``manifest`` cannot serve these settings, or None."""
    for key, want in expected_config(settings, embedder).items():
        have = manifest.get(key)
        if have != want:
            return f"it was built with {key}={json.dumps(have)}, current is {json.dumps(want)}"
    return None


def describe_changes(index: Index, corpus: Corpus) -> str | None:
    """ "1 added, 2 changed, 4 removed since the index was built" (articles), or None."""
    built = {d: info["content_hash"] for d, info in index.manifest["documents"].items()}
    now = {a.doc_id: a.content_hash for a in corpus.articles}
    counts = {
        "added": len(now.keys() - built.keys()),
        "changed": sum(1 for d in now.keys() & built.keys() if now[d] != built[d]),
        "removed": len(built.keys() - now.keys()),
    }
    parts = [f"{n} {what}" for what, n in counts.items() if n]
    return f"{', '.join(parts)} since the index was built" if parts else None


# -- integrity: checksums, manifest shape, folder checks -------------------------


def check_index_dir(index_dir: Path) -> None:
    """RagError when ``index_dir`` cannot be an index folder (rebuilding would not help)."""
    if index_dir.exists() and not index_dir.is_dir():
        raise RagError(
            f"index folder {index_dir} is a file, not a folder; choose another --index-dir"
        )


def file_checksum(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, lambda: hashlib.blake2b(digest_size=16)).hexdigest()


def build_files(folder: Path) -> list[str]:
    """Every file of a build but the manifest and its checksum, as sorted relative paths.

    Enumerated rather than named, so a file a later version (or bm25s) adds is
    covered without anyone remembering to list it.
    """
    own = {MANIFEST, MANIFEST_CHECKSUM}
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and path.relative_to(folder).as_posix() not in own
    )


def file_checksums(folder: Path) -> dict[str, dict]:
    return {
        name: {"bytes": (folder / name).stat().st_size, "checksum": file_checksum(folder / name)}
        for name in build_files(folder)
    }


def write_manifest(folder: Path, manifest: dict) -> None:
    """Write manifest.json and, beside it, its sha256 in ``sha256sum`` format."""
    data = json.dumps(manifest, indent=2).encode("utf-8")
    (folder / MANIFEST).write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    (folder / MANIFEST_CHECKSUM).write_text(f"{digest}  {MANIFEST}\n", encoding="ascii")


# What a manifest must look like before any of it is trusted. A dict is an object
# with (at least) those keys; ``{str: shape}`` is an object whose every value has
# that shape; a tuple lists the types allowed.
_DOCUMENT_SHAPE = {
    "content_hash": str,
    "title": str,
    "date": (str, type(None)),
    "chunks": int,
    "sentences": int,
}
MANIFEST_SHAPE: dict = {
    "format_version": int,
    "cleaning_version": int,
    "embedding_recipe": int,
    "embed_window": int,
    "model": {"name": str, "weights_sha256": str},
    "model_details": {"max_tokens": int, "dimension": int},
    "chunking": {"encoding": str, "chunk_size": int, "chunk_overlap": int},
    "documents": {str: _DOCUMENT_SHAPE},
    "counts": {"documents": int, "chunks": int, "sentences": int},
    "created_at": str,
    "checksum_algorithm": str,
    "files": {str: {"bytes": int, "checksum": str}},
}
_JSON_NAMES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    type(None): "null",
}


def shape_problem(value, shape, where: str = "manifest") -> str | None:
    """What is wrong with ``value`` against ``shape`` (see MANIFEST_SHAPE), or None."""
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return f"{where} should be an object, not {_JSON_NAMES.get(type(value), 'that')}"
        if list(shape) == [str]:
            parts = [(f"{where}[{key!r}]", item, shape[str]) for key, item in value.items()]
        else:
            if missing := [key for key in shape if key not in value]:
                return f"{where} has no {missing[0]!r}"
            parts = [(f"{where}.{key}", value[key], inner) for key, inner in shape.items()]
        return next(
            (problem for w, item, inner in parts if (problem := shape_problem(item, inner, w))),
            None,
        )
    allowed = shape if isinstance(shape, tuple) else (shape,)
    # JSON true/false load as bool, which Python counts as an int: not a count.
    if type(value) not in allowed:
        wanted = " or ".join(_JSON_NAMES[t] for t in allowed)
        return f"{where} should be {wanted}, not {_JSON_NAMES.get(type(value), 'that')}"
    return None


_MANIFEST_CHECKSUM_LINE = re.compile(rf"([0-9a-f]{{64}})  {re.escape(MANIFEST)}\n?")


def verify_build(folder: Path) -> dict:
    """The manifest of the build in ``folder``, once every file in it checks out.

    IndexUnusable naming the file otherwise: manifest.sha256 unreadable, manifest.json
    not matching it or of the wrong shape, a listed file missing or of another size
    or checksum, or a file the manifest does not list.
    """

    def damaged(name: str, why: str) -> IndexUnusable:
        return IndexUnusable(f"index file {folder / name} is damaged: {why}")

    try:
        manifest_bytes = (folder / MANIFEST).read_bytes()
    except FileNotFoundError:
        raise damaged(MANIFEST, "it is missing") from None
    try:
        checksum_text = (folder / MANIFEST_CHECKSUM).read_bytes().decode("ascii")
    except FileNotFoundError:
        older = _older_format(folder, manifest_bytes)
        raise older or damaged(MANIFEST_CHECKSUM, "it is missing") from None
    except UnicodeDecodeError:
        checksum_text = ""
    line = _MANIFEST_CHECKSUM_LINE.fullmatch(checksum_text)
    if line is None:
        raise damaged(MANIFEST_CHECKSUM, f"it is not one sha256 line for {MANIFEST}")
    if hashlib.sha256(manifest_bytes).hexdigest() != line.group(1):
        raise damaged(MANIFEST, f"it does not match its checksum in {MANIFEST_CHECKSUM}")
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise damaged(MANIFEST, f"it is not valid JSON ({error})") from None
    if problem := shape_problem(manifest, MANIFEST_SHAPE):
        raise damaged(MANIFEST, problem)
    if manifest["checksum_algorithm"] != CHECKSUM_ALGORITHM:
        raise damaged(MANIFEST, f"unknown checksum algorithm {manifest['checksum_algorithm']!r}")

    listed: dict[str, dict] = manifest["files"]
    present = set(build_files(folder))
    if unlisted := sorted(present - listed.keys()):
        raise damaged(unlisted[0], "the manifest does not list it")
    for name, expected in sorted(listed.items()):
        if name not in present:
            # Also what a name pointing outside the build ("../x", "/etc/x") comes to.
            raise damaged(name, "it is missing")
        path = folder / name
        size = path.stat().st_size
        if size != expected["bytes"]:
            raise damaged(name, f"it has {size:,} bytes, the manifest says {expected['bytes']:,}")
        if file_checksum(path) != expected["checksum"]:
            raise damaged(name, "its checksum does not match the manifest")
    return manifest


def _older_format(folder: Path, manifest_bytes: bytes) -> IndexUnusable | None:
    """A clear "outdated" for an index built before manifests had checksums."""
    try:
        version = json.loads(manifest_bytes.decode("utf-8")).get("format_version")
    except (ValueError, AttributeError):
        return None
    if type(version) is int and version < FORMAT_VERSION:
        return IndexUnusable(
            f"index in {folder} is outdated: it was built with format_version={version}, "
            f"current is {FORMAT_VERSION}"
        )
    return None


# -- loading -------------------------------------------------------------------


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_index(index_dir: Path) -> Index:
    """Load the current build; IndexUnusable with a clear reason when it can't be."""
    check_index_dir(index_dir)
    if not (index_dir / CURRENT).exists():
        raise IndexUnusable(f"no index in {index_dir}")
    # Resolve once: a build swapping ``current`` meanwhile must not mix two builds.
    root = (index_dir / CURRENT).resolve()
    try:
        return _load_build(index_dir, root)
    except IndexUnusable:
        # A build that finished meanwhile deletes the build we were reading: read the
        # new one rather than report damage that is not there.
        if (index_dir / CURRENT).resolve() == root:
            raise
        return _load_build(index_dir, (index_dir / CURRENT).resolve())


def _load_build(index_dir: Path, root: Path) -> Index:
    import bm25s

    try:
        manifest = verify_build(root)
    except OSError as error:  # e.g. ``current`` points at a file, or no permission
        raise IndexUnusable(f"index in {index_dir} is unreadable ({_one_line(error)})") from None
    try:
        articles: dict[str, Article] = {}
        sentences: dict[str, list[Sentence]] = {}
        for record in _read_jsonl(root / "documents.jsonl"):
            doc_sentences = record.pop("sentences")
            article = Article(**record)
            articles[article.doc_id] = article
            sentences[article.doc_id] = [
                Sentence(
                    doc_id=article.doc_id,
                    start=s,
                    end=e,
                    text=article.body[s:e],
                    lemmas=tuple(lemmas),
                )
                for s, e, lemmas in doc_sentences
            ]
        chunks = [Chunk(**record) for record in _read_jsonl(root / "chunks.jsonl")]
        dense = FaissStore.load(root / "chunks.faiss")
        bm25 = bm25s.BM25.load(str(root / "bm25"), show_progress=False)
    # Every file passed its checksum, so a failure here means the build itself wrote
    # something this version cannot read (or a library changed its format): any
    # exception is "unusable, rebuild", never a traceback (EOFError would even
    # reach the user as click's bare "Aborted!").
    except Exception as error:
        raise IndexUnusable(f"index in {index_dir} is unreadable ({_one_line(error)})") from None
    counts = manifest.get("counts", {})
    if (
        dense.size != len(chunks)
        or counts.get("chunks") != len(chunks)
        or counts.get("documents") != len(articles)
    ):
        raise IndexUnusable(f"index in {index_dir} is inconsistent (counts do not match)")
    return Index(root, manifest, articles, sentences, chunks, dense, bm25)


def _one_line(error: BaseException) -> str:
    """``Type: message`` on one line (FAISS errors span several), for an ``Error:`` line."""
    return " ".join(f"{type(error).__name__}: {error}".split())


# -- building ------------------------------------------------------------------


@contextmanager
def build_lock(
    index_dir: Path, *, say: Callable[[str], None] = lambda message: None
) -> Iterator[bool]:
    """Hold the index's build lock; yields whether another build had to finish first.

    A second build of the same index waits (saying so) rather than failing: it
    is usually the same work, and the caller re-checks the index once it gets
    the lock. flock is released by the kernel when its holder dies, so a killed
    build never leaves the index locked.
    """
    check_index_dir(index_dir)
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(index_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise RagError(f"cannot write the index in {index_dir}: {_one_line(error)}") from None
    try:
        waited = False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            by = f" (process {holder})" if holder.isdigit() else ""
            say(f"another build of the index in {index_dir} is running{by}; waiting for it…")
            fcntl.flock(fd, fcntl.LOCK_EX)
            waited = True
        # Only for the message above; the lock itself is the flock, not this number.
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        yield waited
    finally:
        os.close(fd)  # releases the flock


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


# progress(done, total): a build is about to embed ``total`` new or changed articles (done 0),
# has embedded ``done`` of them, and, at done == total, is writing the index out.
Progress = Callable[[int, int], None]


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


def _manifest(corpus, doc_sentences, chunks, settings, embedder) -> dict:
    per_doc_chunks: dict[str, int] = {}
    for chunk in chunks:
        per_doc_chunks[chunk.doc_id] = per_doc_chunks.get(chunk.doc_id, 0) + 1
    return {
        **expected_config(settings, embedder),
        "articles_folder": str(settings.seeds_dir.resolve()),
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


# -- the one entry point the CLI, API and UI use -------------------------------


def open_index(
    corpus: Corpus,
    *,
    settings: Settings,
    embedder: Embedder,
    rebuild: bool = False,
    allow_rebuild: bool = True,
    show_progress: bool = False,
    say: Callable[[str], None] = lambda message: None,
    progress: Progress | None = None,
) -> tuple[Index, BuildReport]:
    """Load the index for ``corpus``, bringing it up to date when needed.

    Returns the index and a build report (``wrote`` is False when it was up to date).
    With ``allow_rebuild=False`` any reason to rebuild is an IndexUnusable error.
    ``progress`` is called as a build embeds the changed articles (``Progress``).
    """
    check_index_dir(settings.index_dir)
    if rebuild:
        previous, reason = None, "rebuild requested"
    else:
        previous, reason = _usable_index(corpus, settings=settings, embedder=embedder)
        if reason is None:
            return previous, _unchanged_report(previous)
    if not allow_rebuild:
        raise IndexUnusable(f"{reason} (run `rag index` to build it)")
    with build_lock(settings.index_dir, say=say) as waited:
        if waited and not rebuild:
            # The build we waited for may well have been this very one.
            previous, reason = _usable_index(corpus, settings=settings, embedder=embedder)
            if reason is None:
                return previous, _unchanged_report(previous)
        say(f"{reason}; building index…")
        report = _build_locked(
            corpus,
            settings=settings,
            embedder=embedder,
            previous=previous,
            show_progress=show_progress,
            before_swap=None,
            progress=progress,
        )
    return load_index(settings.index_dir), report


def _usable_index(
    corpus: Corpus, *, settings: Settings, embedder: Embedder
) -> tuple[Index | None, str | None]:
    """``(index, None)`` when the current index serves ``corpus`` as it is.

    Otherwise ``(previous, reason)``: why it must be rebuilt, and the loaded index
    when its unchanged documents' vectors can be reused (None when it is damaged,
    missing or built with other settings).
    """
    try:
        previous = load_index(settings.index_dir)
    except IndexUnusable as error:
        return None, str(error)
    if problem := incompatibility(previous.manifest, settings, embedder):
        return None, f"index in {settings.index_dir} is outdated: {problem}"
    built_from = previous.manifest.get("articles_folder")
    folder = str(settings.seeds_dir.resolve())
    if built_from and built_from != folder:
        # Not "4 documents changed": another folder's index is being replaced.
        return previous, (
            f"index in {settings.index_dir} was built from {built_from}, not {folder}; "
            "re-indexing it for this folder (give each folder its own --index-dir to keep both)"
        )
    if changes := describe_changes(previous, corpus):
        return previous, changes
    return previous, None


def _unchanged_report(index: Index) -> BuildReport:
    return BuildReport(
        documents=len(index.articles),
        chunks=len(index.chunks),
        sentences=sum(len(s) for s in index.sentences.values()),
    )
