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

Modules: ``layout`` (what an index is), ``verify`` (integrity), ``build`` (building under
the lock), ``store`` (loading, and ``open_index``: load or bring up to date).
"""

from .build import build_index, build_lock, remove_old_builds, remove_stale_temporaries
from .layout import (
    BUILDS,
    CURRENT,
    FORMAT_VERSION,
    LOCK_FILE,
    MANIFEST,
    MANIFEST_CHECKSUM,
    BuildReport,
    Index,
    IndexUnusable,
    Progress,
)
from .store import current_index, known_articles, load_index, open_index
from .verify import build_files, check_index_dir, file_checksum, verify_build

__all__ = [
    "BUILDS",
    "CURRENT",
    "FORMAT_VERSION",
    "LOCK_FILE",
    "MANIFEST",
    "MANIFEST_CHECKSUM",
    "BuildReport",
    "Index",
    "IndexUnusable",
    "Progress",
    "build_files",
    "build_index",
    "build_lock",
    "check_index_dir",
    "current_index",
    "file_checksum",
    "known_articles",
    "load_index",
    "open_index",
    "remove_old_builds",
    "remove_stale_temporaries",
    "verify_build",
]
