"""Build, persist and load the FAISS + BM25 index over article chunks.

Layout under the index folder::

    current -> builds/<id>      symlink swapped atomically after a build
    builds/<id>/manifest.json   format, model + weights hash, chunking, per-doc hashes
    builds/<id>/documents.jsonl cleaned articles with their sentences and entities
    builds/<id>/chunks.jsonl    chunk records (span, sentences) in FAISS row order
    builds/<id>/chunks.faiss    normalised chunk embeddings, exact inner product
    builds/<id>/sentences.npy   normalised sentence embeddings (for the answerer)
    builds/<id>/bm25/           bm25s index over the same chunks

A build writes a fresh ``builds/.tmp-*`` folder and only then repoints
``current``, so killing it at any moment leaves the previous index loadable.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .chunking import ENCODING_NAME, Chunk, chunk_article, embedding_text
from .embedding import Embedder
from .errors import RagError
from .ingest import CLEANING_VERSION, Article, Corpus
from .nlp import Entity, Sentence, analyse
from .settings import Settings
from .terms import terms

FORMAT_VERSION = 3  # 3: BM25 terms include ranks ("top spot" -> rank1), "one of" is no count
# Bump when what is embedded changes (e.g. the text a sentence vector is made from).
EMBEDDING_RECIPE = 2
CURRENT = "current"
BUILDS = "builds"


class IndexUnusable(RagError):
    """The index on disk is missing, corrupt, or built with other settings."""


@dataclass
class Index:
    directory: Path
    manifest: dict
    articles: dict[str, Article]
    sentences: dict[str, list[Sentence]]
    sentence_vectors: dict[str, np.ndarray]
    chunks: list[Chunk]
    dense: object  # faiss.Index, rows aligned with ``chunks``
    bm25: object  # bm25s.BM25, documents aligned with ``chunks``

    def chunk_vectors(self) -> np.ndarray:
        return self.dense.reconstruct_n(0, self.dense.ntotal)


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


def stale_documents(index: Index, corpus: Corpus) -> list[str]:
    """Documents added, changed or removed since ``index`` was built."""
    built = {d: info["content_hash"] for d, info in index.manifest["documents"].items()}
    now = {a.doc_id: a.content_hash for a in corpus.articles}
    return sorted(d for d in built.keys() | now.keys() if built.get(d) != now.get(d))


# -- loading -------------------------------------------------------------------


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_index(index_dir: Path) -> Index:
    """Load the current build; IndexUnusable with a clear reason when it can't be."""
    import bm25s
    import faiss

    root = index_dir / CURRENT
    if not root.exists():
        raise IndexUnusable(f"no index in {index_dir}")
    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
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
                    entities=tuple(Entity(*ent) for ent in ents),
                    lemmas=tuple(lemmas),
                )
                for s, e, ents, lemmas in doc_sentences
            ]
        chunks = [Chunk(**record) for record in _read_jsonl(root / "chunks.jsonl")]
        dense = faiss.read_index(str(root / "chunks.faiss"))
        flat_vectors = np.load(root / "sentences.npy")
        bm25 = bm25s.BM25.load(str(root / "bm25"), show_progress=False)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
        reason = f"{type(error).__name__}: {error}"
        raise IndexUnusable(f"index in {index_dir} is unreadable ({reason})") from None
    sentence_vectors, row = {}, 0
    for doc_id, doc_sentences in sentences.items():
        sentence_vectors[doc_id] = flat_vectors[row : row + len(doc_sentences)]
        row += len(doc_sentences)
    counts = manifest.get("counts", {})
    if (
        dense.ntotal != len(chunks)
        or row != len(flat_vectors)
        or counts.get("chunks") != len(chunks)
        or counts.get("documents") != len(articles)
    ):
        raise IndexUnusable(f"index in {index_dir} is inconsistent (counts do not match)")
    return Index(
        root.resolve(), manifest, articles, sentences, sentence_vectors, chunks, dense, bm25
    )


# -- building ------------------------------------------------------------------


def _progress(iterable, *, desc: str, total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, total=total, disable=not enabled, unit="doc", leave=False)


def build_index(
    corpus: Corpus,
    *,
    settings: Settings,
    embedder: Embedder,
    previous: Index | None = None,
    show_progress: bool = False,
    before_swap: Callable[[Path], None] | None = None,
) -> BuildReport:
    """Write a new index for ``corpus``, re-embedding only documents that changed.

    ``previous`` (a loaded, compatible index) supplies sentences and vectors of
    unchanged documents. ``before_swap`` is a test hook called with the finished
    temporary folder just before it becomes current.
    """
    started = time.perf_counter()
    report = BuildReport()
    old_hashes = {}
    if previous is not None:
        old_hashes = {d: i["content_hash"] for d, i in previous.manifest["documents"].items()}
        old_rows = {c.chunk_id: row for row, c in enumerate(previous.chunks)}
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

    fits = lambda text: embedder.count_tokens(text) <= embedder.max_tokens  # noqa: E731
    all_chunks: list[Chunk] = []
    chunk_vectors: list[np.ndarray] = []
    doc_sentences: dict[str, list[Sentence]] = {}
    sentence_vectors: list[np.ndarray] = []
    for article in _progress(
        corpus.articles, desc="Indexing", total=len(corpus.articles), enabled=show_progress
    ):
        unchanged = previous is not None and old_hashes.get(article.doc_id) == article.content_hash
        if unchanged:
            sentences = previous.sentences[article.doc_id]
        else:
            sentences = analyse(article.doc_id, article.body)
        chunks = chunk_article(
            article, sentences, size=settings.chunk_size, overlap=settings.chunk_overlap, fits=fits
        )
        if unchanged and all(c.chunk_id in old_rows for c in chunks):
            report.reused.append(article.doc_id)
            chunk_vectors.append(old_chunk_vectors[[old_rows[c.chunk_id] for c in chunks]])
            sentence_vectors.append(previous.sentence_vectors[article.doc_id])
        else:
            report.embedded.append(article.doc_id)
            chunk_vectors.append(embedder.encode([c.embedding_text() for c in chunks]))
            # Sentences are embedded under their title too: "the company took third
            # place" only means something once the reader knows which company.
            sentence_vectors.append(
                embedder.encode([embedding_text(article.title, s.text) for s in sentences])
            )
        doc_sentences[article.doc_id] = sentences
        all_chunks.extend(chunks)

    _write_build(
        settings.index_dir,
        manifest=_manifest(corpus, doc_sentences, all_chunks, settings, embedder),
        corpus=corpus,
        doc_sentences=doc_sentences,
        chunks=all_chunks,
        chunk_vectors=np.vstack(chunk_vectors),
        sentence_vectors=np.vstack(sentence_vectors),
        before_swap=before_swap,
    )
    report.documents, report.chunks = len(corpus.articles), len(all_chunks)
    report.sentences = sum(len(s) for s in doc_sentences.values())
    report.wrote = True
    report.seconds = time.perf_counter() - started
    return report


def _manifest(corpus, doc_sentences, chunks, settings, embedder) -> dict:
    per_doc_chunks: dict[str, int] = {}
    for chunk in chunks:
        per_doc_chunks[chunk.doc_id] = per_doc_chunks.get(chunk.doc_id, 0) + 1
    return {
        **expected_config(settings, embedder),
        "model_details": {"max_tokens": embedder.max_tokens, "dimension": embedder.dimension},
        "dense_index": "IndexFlatIP (exact inner product over normalised vectors)",
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
    sentence_vectors: np.ndarray,
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
                    [s.start, s.end, [[e.start, e.end, e.label] for e in s.entities], s.lemmas]
                    for s in doc_sentences[article.doc_id]
                ]
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
        dense = faiss.IndexFlatIP(chunk_vectors.shape[1])
        dense.add(chunk_vectors)
        faiss.write_index(dense, str(tmp / "chunks.faiss"))
        np.save(tmp / "sentences.npy", sentence_vectors)
        bm25 = bm25s.BM25()
        bm25.index([terms(c.embedding_text()) or ["<empty>"] for c in chunks], show_progress=False)
        bm25.save(str(tmp / "bm25"), show_progress=False)
        # The manifest goes last: a folder without one was never finished.
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
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
    """Delete every build but the current one (including abandoned temporary folders)."""
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
) -> tuple[Index, BuildReport]:
    """Load the index for ``corpus``, bringing it up to date when needed.

    Returns the index and a build report (``wrote`` is False when it was up to date).
    With ``allow_rebuild=False`` any reason to rebuild is an IndexUnusable error.
    """
    previous: Index | None = None
    reason: str | None = None
    if rebuild:
        reason = "rebuild requested"
    else:
        try:
            previous = load_index(settings.index_dir)
        except IndexUnusable as error:
            reason = str(error)
        if previous is not None:
            if problem := incompatibility(previous.manifest, settings, embedder):
                reason, previous = f"index in {settings.index_dir} is outdated: {problem}", None
            elif changed := stale_documents(previous, corpus):
                reason = f"{len(changed)} document(s) changed since the index was built"
            else:
                report = BuildReport(
                    documents=len(previous.articles),
                    chunks=len(previous.chunks),
                    sentences=sum(len(s) for s in previous.sentences.values()),
                )
                return previous, report
    if not allow_rebuild:
        raise IndexUnusable(f"{reason} (run `rag index` to build it)")
    say(f"{reason}; building index…")
    report = build_index(
        corpus,
        settings=settings,
        embedder=embedder,
        previous=previous,
        show_progress=show_progress,
    )
    return load_index(settings.index_dir), report
