"""What an index is: its files, format version, loaded form, build report, and the
settings that decide whether it can be reused."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..chunking import ENCODING_NAME, Chunk
from ..corpus_stats import CorpusStats
from ..embedding import Embedder
from ..errors import RagError
from ..ingest import CLEANING_VERSION, Article, Corpus
from ..nlp import Sentence
from ..settings import Settings
from ..vectorstore import FaissStore

# 3: BM25 terms include ranks ("top spot" -> rank1), "one of" is no count
# 4: the manifest lists every file's checksum; manifest.sha256 beside it
# 5: sentences without named entities (nothing reads them now, rag/nlp.py)
#    and without vectors (made when an answerer reads them, rag/evidence.py)
# 6: the corpus statistics answering needs (evidence.json, rag/corpus_stats.py)
# 7: terms drop spaCy's stop words, less the words that carry meaning (rag/terms.py)
# 8: a sentence's implied years include "two years ago" and "last week" (rag/dates.py)
FORMAT_VERSION = 8
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
# How the manifest records each article's file (rag/ingest.py, file_identity).
FILE_FIELDS = ("bytes", "mtime_ns", "ctime_ns", "inode")


class IndexUnusable(RagError):
    """The index on disk is missing, corrupt, or built with other settings."""


def one_line(error: BaseException) -> str:
    """``Type: message`` on one line (FAISS errors span several), for an ``Error:`` line."""
    return " ".join(f"{type(error).__name__}: {error}".split())


@dataclass
class Index:
    directory: Path
    manifest: dict
    articles: dict[str, Article]
    sentences: dict[str, list[Sentence]]
    chunks: list[Chunk]
    dense: FaissStore  # rows aligned with ``chunks``; the source of any other store's copy
    bm25: object  # bm25s.BM25, documents aligned with ``chunks``
    stats: CorpusStats  # term frequencies, names, vocabularies (worked out at build time)

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


# progress(done, total): a build is about to embed ``total`` new or changed articles (done 0),
# has embedded ``done`` of them, and, at done == total, is writing the index out.
Progress = Callable[[int, int], None]


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
