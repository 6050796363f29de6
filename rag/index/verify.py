"""Integrity: checksums, the manifest's shape, and the checks every load makes first."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from ..errors import RagError
from .layout import (
    CHECKSUM_ALGORITHM,
    FORMAT_VERSION,
    MANIFEST,
    MANIFEST_CHECKSUM,
    IndexUnusable,
)


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
    "file": {"bytes": int, "mtime_ns": int, "ctime_ns": int, "inode": int},
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
    # An index of an older format is outdated (rebuilt, said so), not "damaged".
    if older := _older_format(folder, manifest_bytes):
        raise older
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
