"""Loading the current index, and bringing it up to date for a corpus (``open_index``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from ..chunking import Chunk
from ..corpus_stats import STATS_FILE, CorpusStats
from ..embedding import Embedder
from ..ingest import Article, Corpus, KnownArticles
from ..nlp import Sentence
from ..settings import Settings
from ..vectorstore import FaissStore
from .build import _build_locked, build_lock
from .layout import (
    CURRENT,
    FILE_FIELDS,
    BuildReport,
    Index,
    IndexUnusable,
    Progress,
    describe_changes,
    incompatibility,
    one_line,
)
from .verify import check_index_dir, verify_build


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
        raise IndexUnusable(f"index in {index_dir} is unreadable ({one_line(error)})") from None
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
        stats = CorpusStats.from_json(json.loads((root / STATS_FILE).read_text("utf-8")))
    # Every file passed its checksum, so a failure here means the build itself wrote
    # something this version cannot read (or a library changed its format): any
    # exception is "unusable, rebuild", never a traceback (EOFError would even
    # reach the user as click's bare "Aborted!").
    except Exception as error:
        raise IndexUnusable(f"index in {index_dir} is unreadable ({one_line(error)})") from None
    counts = manifest.get("counts", {})
    if (
        dense.size != len(chunks)
        or counts.get("chunks") != len(chunks)
        or counts.get("documents") != len(articles)
        or counts.get("sentences") != stats.sentence_count
        or set(stats.topic_terms) != set(articles)
    ):
        raise IndexUnusable(f"index in {index_dir} is inconsistent (counts do not match)")
    return Index(root, manifest, articles, sentences, chunks, dense, bm25, stats)


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
    loaded: Index | None = None,
) -> tuple[Index, BuildReport]:
    """Load the index for ``corpus``, bringing it up to date when needed.

    Returns the index and a build report (``wrote`` is False when it was up to date).
    With ``allow_rebuild=False`` any reason to rebuild is an IndexUnusable error.
    ``progress`` is called as a build embeds the changed articles (``Progress``).
    ``loaded``: the current index, already loaded (``current_index``), so it is not read twice.
    """
    check_index_dir(settings.index_dir)
    if rebuild:
        previous, reason = None, "rebuild requested"
    else:
        previous, reason = _usable_index(
            corpus, settings=settings, embedder=embedder, loaded=loaded
        )
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


def current_index(settings: Settings) -> Index | None:
    """The index now in ``settings.index_dir``, or None when there is none that loads."""
    check_index_dir(settings.index_dir)
    try:
        return load_index(settings.index_dir)
    except IndexUnusable:
        return None


def known_articles(index: Index | None, settings: Settings, embedder: Embedder) -> KnownArticles:
    """The articles ``index`` holds with their files' size and time when it read them, for
    ``read_corpus`` to reuse; none unless it was built from this folder with these settings
    (another cleaning version, say, must read every file again)."""
    if (
        index is None
        or incompatibility(index.manifest, settings, embedder)
        or index.manifest.get("articles_folder") != str(settings.articles_dir.resolve())
        or index.manifest.get("max_text_chars") != settings.max_text_chars
    ):
        return {}
    known = {}
    for doc_id, record in index.manifest["documents"].items():
        identity = tuple(record["file"][name] for name in FILE_FIELDS)
        if doc_id in index.articles and identity[0] >= 0:
            known[doc_id] = (identity, index.articles[doc_id])
    return known


def _usable_index(
    corpus: Corpus, *, settings: Settings, embedder: Embedder, loaded: Index | None = None
) -> tuple[Index | None, str | None]:
    """``(index, None)`` when the current index serves ``corpus`` as it is.

    Otherwise ``(previous, reason)``: why it must be rebuilt, and the loaded index
    when its unchanged documents' vectors can be reused (None when it is damaged,
    missing or built with other settings).
    """
    try:
        previous = loaded or load_index(settings.index_dir)
    except IndexUnusable as error:
        return None, str(error)
    if problem := incompatibility(previous.manifest, settings, embedder):
        return None, f"index in {settings.index_dir} is outdated: {problem}"
    built_from = previous.manifest.get("articles_folder")
    folder = str(settings.articles_dir.resolve())
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
