"""The Articles view: what is indexed, uploads and removals, through the page or the API."""

from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr
from gradio.data_classes import FileData
from gradio.utils import get_upload_folder

from rag.errors import RagError
from ui.guard import CHANGES_OFF, CHANGES_OFF_SHARED
from ui.render import text_html

log = logging.getLogger(__name__)

# What the upload box offers to pick; anything else is refused by rag/uploads.py anyway.
ARTICLE_TYPES = [".txt", ".md", ".html", ".htm", ".pdf"]


def _uploaded(file, *, max_bytes: int) -> tuple[str, bytes | None, str]:
    """(file name, content or None, why not) of a file handed to the upload handlers.

    Only a regular file in Gradio's upload folder is read: one the page or a client sent
    with the request. An API caller naming any other path on this machine (a bare string,
    or a file dict Gradio did not receive) gets a refusal, never that file's content. At
    most ``max_bytes`` + 1 bytes are read, enough for the size check to refuse a bigger one.
    """
    if isinstance(file, FileData):
        raw = file.path
    elif isinstance(file, dict):
        raw = file.get("path")
    else:
        raw = getattr(file, "name", file)
    name = Path(str(raw or "")).name or "file"
    try:
        path = Path(str(raw)).resolve()
        received = path.is_relative_to(Path(get_upload_folder()).resolve())
        if not (received and path.is_file()):
            return name, None, "not a file sent to this server with the request"
        with path.open("rb") as handle:
            return name, handle.read(max_bytes + 1), ""
    except (OSError, ValueError) as error:
        log.warning("upload %s unreadable: %s", name, error)
        return name, None, "could not be read"


class ArticlesView:
    """The Articles view and its API: list, add and remove articles (a part of ChatApp).

    Expects ``self.engine``, ``self.guard`` and ``self.index_notice`` (ChatApp has them).
    """

    def articles(self) -> list[dict]:
        """Every indexed article: title, date (None when the article states none), file,
        and how many passages it was cut into."""
        index = self.engine.index
        passages: dict[str, int] = {}
        for chunk in index.chunks:
            passages[chunk.doc_id] = passages.get(chunk.doc_id, 0) + 1
        return [
            {
                "title": a.title,
                "date": a.date or None,
                "file": a.doc_id,
                "passages": passages.get(a.doc_id, 0),
            }
            for a in sorted(index.articles.values(), key=lambda a: a.doc_id)
        ]

    def article_rows(self) -> list[list]:
        return [
            [a["title"], a["date"] or "date unknown", a["file"], a["passages"]]
            for a in self.articles()
        ]

    def articles_notice(self, request: gr.Request | None = None) -> str:
        """Said in the Articles view on opening the page when this visitor cannot change them."""
        refusal = self.guard.refusal(request)
        return text_html(refusal) if refusal in (CHANGES_OFF, CHANGES_OFF_SHARED) else ""

    def _articles_view(self, message: str):
        names = sorted(self.engine.index.articles)
        return (
            text_html(message),
            self.article_rows(),
            gr.update(choices=names, value=None),
        )

    def _add(self, files, replace: bool):
        """Every limit checked (rag/uploads.py), then one incremental re-index.

        Returns the status line and the report (None when nothing could be added at all).
        The page's upload and the /upload_articles endpoint both come here.
        """
        from rag.uploads import ArticleFolder

        if isinstance(files, dict | str | Path | FileData):
            files = [files]
        max_bytes = self.engine.settings.upload_max_mb * 1024 * 1024
        read = [_uploaded(file, max_bytes=max_bytes) for file in files or []]
        given = [(name, data) for name, data, _ in read if data is not None]
        unread = [(name, why) for name, data, why in read if data is None]
        folder = ArticleFolder(self.engine.settings)
        try:
            report = folder.add(given, replace=replace is True, refresh=self.engine.refresh)
            report.refused[:0] = unread
        except RagError as error:
            return f"Nothing was added: {error}. The articles and index are as they were.", None
        except Exception:  # a failed build: the folder was put back, the index never swapped
            log.exception("adding articles failed")
            return "Nothing was added: the index could not be updated. Nothing changed.", None
        message = report.summary()
        if report.added or report.replaced:
            message += f" · {len(self.engine.index.articles)} articles indexed"
            self.index_notice = message
        return message, report

    def _remove(self, doc_id: str | None) -> tuple[str, bool]:
        """Remove article ``doc_id`` and re-index: (status line, whether it was removed).

        The page's Remove button and the /remove_article endpoint both come here.
        """
        from rag.uploads import ArticleFolder

        if not doc_id:
            return "Choose an article to remove.", False
        if doc_id not in self.engine.index.articles:
            # Only what the Articles view lists: never a skipped file or a note beside them.
            return f"{doc_id} was not removed: no indexed article has that name.", False
        try:
            ArticleFolder(self.engine.settings).remove(doc_id, refresh=self.engine.refresh)
        except RagError as error:
            return f"{doc_id} was not removed: {error}.", False
        except Exception:
            log.exception("removing %s failed", doc_id)
            return f"{doc_id} was not removed: the index could not be updated.", False
        message = f"removed {doc_id} · {len(self.engine.index.articles)} articles indexed"
        self.index_notice = message
        return message, True

    def add_articles(self, files, replace: bool, token: str = "", request: gr.Request = None):
        """The page's upload handler: (status, table, remove choices, emptied upload box)."""
        refusal = self.guard.refusal(request, token)
        if refusal is not None:
            return (*self._articles_view(refusal), None)
        message, _ = self._add(files, replace)
        return (*self._articles_view(message), None)

    def remove_article(self, doc_id: str | None, token: str = "", request: gr.Request = None):
        """The page's Remove button: (status, table, remove choices)."""
        refusal = self.guard.refusal(request, token)
        if refusal is not None:
            return self._articles_view(refusal)
        message, _ = self._remove(doc_id)
        return self._articles_view(message)

    # -- the API (README, "Scripting the chat window") ----------------------------------

    def api_articles(self) -> list[dict]:
        """The indexed articles: title, date (null when unknown), file, passages."""
        return self.articles()

    def api_upload_articles(
        self,
        files: list[FileData],
        replace: bool = False,
        token: str = "",
        request: gr.Request = None,
    ) -> dict:
        """Add articles, as the page's upload does; returns what happened and the articles.

        {"status", "added", "replaced", "refused": [{"file", "why"}], "articles"}. Files the
        checks refuse are listed in "refused"; a call that may not change the articles, or
        whose re-index failed (nothing changed), raises an error with the reason.
        """
        refusal = self.guard.refusal(request, token)
        if refusal is not None:
            raise gr.Error(refusal, print_exception=False)
        message, report = self._add(files, replace)
        if report is None:
            raise gr.Error(message, print_exception=False)
        return {
            "status": message,
            "added": report.added,
            "replaced": report.replaced,
            "refused": [{"file": name, "why": why} for name, why in report.refused],
            "articles": self.articles(),
        }

    def api_remove_article(self, file: str, token: str = "", request: gr.Request = None) -> dict:
        """Remove one article by its file name, as the page's Remove button does.

        {"status", "removed", "articles"}; a call that may not change the articles, or that
        removed nothing (no such article, a failed re-index), raises an error with the reason.
        """
        refusal = self.guard.refusal(request, token)
        if refusal is not None:
            raise gr.Error(refusal, print_exception=False)
        message, removed = self._remove(file if isinstance(file, str) else None)
        if not removed:
            raise gr.Error(message, print_exception=False)
        return {"status": message, "removed": file, "articles": self.articles()}
