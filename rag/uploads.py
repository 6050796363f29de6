"""Adding and removing articles from the chat window, with the server's own limits.

Every check runs here, on the server, whatever the page allowed: the kind of file is judged by
its content (rag/formats.py), a file is at most ``upload_max_mb``, at most ``upload_cap`` files
are added through the window (a folder indexed from the CLI has no such cap), names are reduced
to a plain file name inside the articles folder, and a same-named article is replaced only
when the user says so. A change is all or nothing: files are moved in (or out) only after every
check passed, and put back as they were when the index cannot be brought up to date.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

from .errors import RagError
from .index import BuildReport
from .ingest import article_from_bytes
from .settings import Settings

LEDGER = "uploads.json"  # in the index folder: names of the files the window has added
# Held while one change (check the cap, write, re-index, record) runs: two uploads at once
# would otherwise both find room for the last files under upload_cap.
CHANGE_LOCK = ".uploads.lock"
_UNSAFE = re.compile(r"[^\w.() -]+")
MAX_NAME = 120


@dataclass
class UploadReport:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (name as given, why)
    build: BuildReport | None = None

    def summary(self) -> str:
        parts = []
        if self.added:
            parts.append(f"added {', '.join(self.added)}")
        if self.replaced:
            parts.append(f"replaced {', '.join(self.replaced)}")
        for name, why in self.refused:
            parts.append(f"refused {name}: {why}")
        return "; ".join(parts) or "nothing to add"


def safe_name(given: str) -> str:
    """``given`` as a plain file name in the articles folder; RagError for a path or a name
    that could hide one (folders, "..", a leading dot, control characters)."""
    name = unicodedata.normalize("NFKC", given).strip()
    if "/" in name or "\\" in name or ".." in name or name.startswith("."):
        raise RagError("a file name cannot name a folder or start with a dot")
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise RagError("a file name cannot contain control characters")
    name = _UNSAFE.sub("_", name).strip(" .")
    if len(name) > MAX_NAME:
        stem, dot, suffix = name.rpartition(".")
        name = (stem[: MAX_NAME - len(suffix) - 1] + dot + suffix) if dot else name[:MAX_NAME]
    if not name or name in {".", ".."}:
        raise RagError(f"{given!r} is not a usable file name")
    return name


class ArticleFolder:
    """The articles folder of ``settings``, changed only through checked, reversible steps."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.folder = settings.articles_dir
        self.ledger = settings.index_dir / LEDGER

    def _one_change_at_a_time(self) -> FileLock:
        self.ledger.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(self.ledger.parent / CHANGE_LOCK, fallback_to_soft=False)

    def _added_so_far(self) -> list[str]:
        try:
            return list(json.loads(self.ledger.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return []

    def _record(self, names: list[str]) -> None:
        known = self._added_so_far()
        known += [n for n in names if n not in known]
        self.ledger.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.ledger.with_suffix(".tmp")
        tmp.write_text(json.dumps(known), encoding="utf-8")
        os.replace(tmp, self.ledger)

    def check(self, given: str, data: bytes, *, replace: bool) -> str:
        """The name ``data`` would be stored under; RagError saying why it cannot be."""
        name = safe_name(given)
        limit = self.settings.upload_max_mb * 1024 * 1024
        if len(data) > limit:
            raise RagError(
                f"{len(data) / 1e6:.1f} MB is over the {self.settings.upload_max_mb} MB limit"
            )
        # The same reading the index will do, or why not.
        article_from_bytes(name, data, max_text_chars=self.settings.max_text_chars)
        if (self.folder / name).exists() and not replace:
            raise RagError("an article with this name exists (tick “replace” to overwrite it)")
        return name

    def add(
        self,
        files: list[tuple[str, bytes]],
        *,
        replace: bool,
        refresh: Callable[[], BuildReport],
    ) -> UploadReport:
        """Check every file, move the good ones in, and re-index; undo it all if that fails."""
        with self._one_change_at_a_time():
            return self._add(files, replace=replace, refresh=refresh)

    def _add(self, files, *, replace: bool, refresh: Callable[[], BuildReport]) -> UploadReport:
        report = UploadReport()
        accepted: dict[str, bytes] = {}
        room = self.settings.upload_cap - len(self._added_so_far())
        for given, data in files:
            try:
                name = self.check(given, data, replace=replace)
                if name in accepted:
                    raise RagError("the same name twice in one upload")
                if len(accepted) >= room:
                    raise RagError(
                        f"the window adds at most {self.settings.upload_cap} files "
                        "(upload_cap); add more with rag index"
                    )
            except RagError as error:
                report.refused.append((given, str(error).removeprefix(f"{safe_or(given)}: ")))
                continue
            accepted[name] = data
        if not accepted:
            return report
        with _Transaction(self.folder) as undo:
            for name, data in accepted.items():
                target = self.folder / name
                (report.replaced if target.exists() else report.added).append(name)
                undo.put(name, data)
            report.build = refresh()
        self._record(list(accepted))
        return report

    def remove(self, doc_id: str, *, refresh: Callable[[], BuildReport]) -> BuildReport:
        """Delete article ``doc_id`` and re-index; it comes back if re-indexing fails."""
        name = safe_name(doc_id)
        with self._one_change_at_a_time():
            if name != doc_id or not (self.folder / name).is_file():
                raise RagError(f"no article named {doc_id!r}")
            with _Transaction(self.folder) as undo:
                undo.delete(name)
                return refresh()


def safe_or(given: str) -> str:
    try:
        return safe_name(given)
    except RagError:
        return given


class _Transaction:
    """File changes in the articles folder, undone on any exception inside the ``with``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.backup = Path(tempfile.mkdtemp(prefix=".rag-undo-", dir=folder))
        self.created: list[Path] = []
        self.saved: list[tuple[Path, Path]] = []

    def _save(self, target: Path) -> None:
        if target.exists():
            copy = self.backup / target.name
            shutil.copy2(target, copy)
            self.saved.append((copy, target))

    def put(self, name: str, data: bytes) -> None:
        target = self.folder / name
        existed = target.exists()
        self._save(target)
        # Written beside the folder's files under a hidden name, then renamed into place, so
        # a watcher or a reader never sees half a file.
        partial = self.backup / f"incoming-{name}"
        partial.write_bytes(data)
        os.replace(partial, target)
        if not existed:
            self.created.append(target)

    def delete(self, name: str) -> None:
        target = self.folder / name
        self._save(target)
        target.unlink()

    def __enter__(self) -> _Transaction:
        return self

    def __exit__(self, kind, error, trace) -> bool:
        try:
            if error is not None:
                for path in self.created:
                    path.unlink(missing_ok=True)
                for copy, target in self.saved:
                    os.replace(copy, target)
        finally:
            shutil.rmtree(self.backup, ignore_errors=True)
        return False
