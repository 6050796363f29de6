"""The chat window: Gradio Blocks over one loaded Engine.

Everything a user or an article supplies is escaped and shown as the text it
is: messages are HTML built here, never Markdown, so a question like
``<img src=x onerror=alert(1)>`` or an answer starting "500." appears literally.

Besides the page, four named endpoints serve scripts (README, "Scripting the chat
window"): ``/ask``, ``/articles``, ``/upload_articles`` and ``/remove_article``. The
last two run the page's own upload and removal code, and, like the page, change the
articles only for this machine or for a client giving the token (``ArticleGuard``).
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import json
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Gradio reports usage to api.gradio.app and checks for a newer version at start-up
# unless this says no. The offline promise holds whatever the user's environment
# says, so it is set here, before Gradio is imported, and Blocks is told too.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr  # noqa: E402
from gradio.data_classes import FileData  # noqa: E402
from gradio.utils import get_upload_folder  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402

from rag.citations import Citation  # noqa: E402
from rag.errors import RagError  # noqa: E402
from rag.followup import message_text  # noqa: E402
from rag.pipeline import AskResult  # noqa: E402
from rag.question import normalise_question  # noqa: E402

log = logging.getLogger(__name__)

STREAM_STEP_WORDS = 3  # the answer appears a few words at a time
FRIENDLY_FAILURE = "Sorry, something went wrong while answering. Please try again."
DEFAULT_FEEDBACK_CAP = 10_000
# The page has no upload component yet; when it gets one (articles, as text) a
# couple of megabytes is plenty, and anything bigger is refused by Gradio itself.
ARTICLE_TYPES = [".txt", ".md", ".html", ".htm", ".pdf"]
# Host names a browser uses for a server bound to this machine only.
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
# The "Passages to read" slider's range: the API's k keeps to it too.
K_RANGE = (1, 10)
# How often every open page asks how a re-index is going (and, with --watch, what changed).
STATUS_POLL_SECONDS = 1.0

CSS = """
#rag-chat .rag-text, #rag-chat .rag-answer { white-space: pre-wrap; }
/* Gradio floats a toolbar (clear, copy all) over the top of the conversation, where it
   covers the first question; the Clear button below does the same job. */
#rag-chat .top-panel { display: none !important; }
.rag-marker { font-size: 0.75em; vertical-align: super; font-weight: 600;
  background: #e0e7ff; color: #3730a3; border-radius: 4px; padding: 0 3px;
  text-decoration: none; }
.rag-cites { margin-top: 8px; border-top: 1px solid #e5e7eb; padding-top: 6px; }
.rag-cite { font-size: 0.82em; line-height: 1.4; margin: 4px 0; padding: 2px 4px;
  border-radius: 4px; scroll-margin: 40px; }
.rag-cite:target { background: #fef3c7; }  /* the source a badge was clicked for */
.rag-cite .rag-meta { display: inline; }
.rag-cite q { font-style: italic; }
.rag-source { border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 12px;
  margin-bottom: 10px; }
.rag-source h4 { margin: 0 0 4px 0; font-size: 0.95em; }
.rag-meta { color: #6b7280; font-size: 0.8em; margin-bottom: 6px; }
.rag-passage { font-size: 0.9em; line-height: 1.45; white-space: pre-wrap; }
.rag-passage mark { background: #fde68a; padding: 0 1px; }
.rag-related { border-style: dashed; }
.rag-notice { color: #92400e; background: #fffbeb; border: 1px solid #fcd34d;
  border-radius: 8px; padding: 8px 10px; margin-bottom: 10px; font-size: 0.9em; }
.rag-empty, .rag-for { color: #6b7280; font-size: 0.9em; }
.rag-for { margin-bottom: 8px; }
.rag-status { color: #1e3a8a; background: #eff6ff; border: 1px solid #bfdbfe;
  border-radius: 8px; padding: 6px 10px; font-size: 0.9em; }
/* The conversation and its Retry/Clear row on the left, the sources on the right; on a
   narrow screen one column: conversation, sources, then Retry/Clear (the buttons act on
   the conversation, the sources are what a reader wants next). */
#rag-main { display: grid !important; gap: var(--layout-gap, 16px);
  grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); grid-template-rows: auto 1fr;
  grid-template-areas: "chat sources" "actions sources"; align-items: start; }
#rag-main > * { min-width: 0 !important; width: auto !important; }
#rag-chat-column { grid-area: chat; }
#rag-sources-column { grid-area: sources; }
#rag-actions { grid-area: actions; }
@media (max-width: 720px) {
  #rag-main { grid-template-columns: minmax(0, 1fr); grid-template-rows: auto;
    grid-template-areas: "chat" "sources" "actions"; }
}
/* Empty until a re-index runs: then one line saying how far it has got. */
#rag-index-status:not(:has(.rag-status)) { display: none !important; }
/* Column headers on one line: "Passages" is never broken letter by letter. */
#rag-article-table th, #rag-article-table .header-cell { white-space: nowrap; }
"""

# -- rendering -----------------------------------------------------------------


def escape_text(text: str) -> str:
    """Text to show as itself in a chat bubble or panel: every tag and entity escaped.

    Chat messages are rendered as HTML, not Markdown (``render_markdown=False``),
    so "1. …", "- …", "*x*" and "$$x$$" stay as typed once < > & " ' are escaped.
    """
    return html.escape(text, quote=True)


def text_html(text: str) -> str:
    """A user message or notice, as a bubble's HTML."""
    return f'<div class="rag-text">{escape_text(text)}</div>'


def _anchor(turn_id: str, n: int) -> str:
    return f"rag-{turn_id}-src-{n}"


def _date(citation: Citation) -> str:
    return citation.chunk.where


def _cite_line(citation: Citation, *, turn_id: str | None, label: str) -> str:
    chunk = citation.chunk
    anchor = f' id="{_anchor(turn_id, citation.n)}"' if turn_id else ""
    return (
        f'<div class="rag-cite"{anchor}>{label} <strong>{escape_text(chunk.title)}</strong> '
        f'<span class="rag-meta">{escape_text(_date(citation))} · '
        f"{escape_text(chunk.doc_id)}</span><br><q>{escape_text(citation.quote)}</q></div>"
    )


def answer_html(result: AskResult, turn_id: str = "a0") -> str:
    """The answer, each [n] a badge leading to source n listed under this very answer.

    Anchors carry the answer's ``turn_id``, so a badge in an earlier answer leads
    to that answer's sources, never to a later one's.
    """
    text = escape_text(result.answer)
    for citation in result.citations:
        title = escape_text(f"Source {citation.n}: {citation.chunk.doc_id}")
        text = text.replace(
            f"[{citation.n}]",
            f'<a class="rag-marker" href="#{_anchor(turn_id, citation.n)}" title="{title}">'
            f"{citation.n}</a>",
        )
    if result.abstained:
        text = f"⚠️ <em>{text}</em>"
    lines = [
        _cite_line(c, turn_id=turn_id, label=f'<span class="rag-marker">{c.n}</span>')
        for c in result.citations
    ]
    if result.abstained:
        lines += [_cite_line(c, turn_id=None, label="Related:") for c in result.related]
    listing = f'<div class="rag-cites">{"".join(lines)}</div>' if lines else ""
    return f'<div class="rag-answer">{text}</div>{listing}'


def _passage_html(citation: Citation) -> str:
    passage, quote = citation.chunk.text, citation.quote
    if quote == citation.chunk.title:  # quoted from the headline, which the card's title shows
        return escape_text(passage)
    at = passage.find(quote)
    if at < 0:
        return escape_text(passage)
    return (
        escape_text(passage[:at])
        + "<mark>"
        + escape_text(quote)
        + "</mark>"
        + escape_text(passage[at + len(quote) :])
    )


def _title_html(citation: Citation) -> str:
    title = escape_text(citation.chunk.title)
    return f"<mark>{title}</mark>" if citation.quote == citation.chunk.title else title


def _source_card(citation: Citation, *, label: str, related: bool, score: str) -> str:
    chunk = citation.chunk
    return (
        f'<div class="rag-source{" rag-related" if related else ""}">'
        f"<h4>{label} {_title_html(citation)}</h4>"
        f'<div class="rag-meta">{escape_text(_date(citation))} · '
        f"{escape_text(chunk.doc_id)}{escape_text(score)}</div>"
        f'<div class="rag-passage">{_passage_html(citation)}</div></div>'
    )


EMPTY_PANEL = '<div class="rag-empty">Sources for each answer appear here.</div>'
UPDATING_PANEL = (
    '<div class="rag-empty">The articles are being re-indexed; your question waits for the '
    "new index…</div>"
)
# How long a question waits for a re-index in progress before it is answered from the old one.
UPDATE_WAIT_SECONDS = 120
STILL_UPDATING = (
    "(The articles were still being re-indexed: this answer comes from the index as it was "
    "before the update.)"
)
WAITING_PANEL = '<div class="rag-empty">Reading the articles…</div>'
NO_SOURCES_PANEL = '<div class="rag-empty">No sources: the last reply is not an answer.</div>'


def sources_html(result: AskResult | None, *, scores: dict[str, str] | None = None) -> str:
    """The side panel for the latest answer: each source's passage, quote highlighted."""
    if result is None:
        return EMPTY_PANEL
    scores = scores or {}
    asked = escape_text(result.question)
    parts = [f'<div class="rag-for">Sources of the answer to “{asked}”</div>']
    if result.abstained:
        parts.append(
            '<div class="rag-notice">The articles don\'t answer this. These are the closest '
            "passages, as related reading, not as an answer.</div>"
        )
    for citation in result.citations:
        parts.append(
            _source_card(
                citation,
                label=f'<span class="rag-marker">{citation.n}</span>',
                related=False,
                score=scores.get(citation.chunk.chunk_id, ""),
            )
        )
    if result.abstained:
        for related in result.related:
            parts.append(
                _source_card(
                    related,
                    label="Related:",
                    related=True,
                    score=scores.get(related.chunk.chunk_id, ""),
                )
            )
    if len(parts) == 1:
        parts.append('<div class="rag-empty">No sources.</div>')
    return "".join(parts)


# -- feedback ------------------------------------------------------------------


class FeedbackLog:
    """Votes on answers as JSON lines: one line per answer, at most ``cap`` lines.

    A different vote on the same answer replaces the first, taking a vote back
    (clicking a selected thumb again) removes it, and the same vote again writes
    nothing. Replacing means rewriting the file, which the cap keeps small.
    """

    SAVED = "saved"
    CHANGED = "changed"
    WITHDRAWN = "withdrawn"
    UNCHANGED = "unchanged"
    FULL = "full"

    def __init__(self, path: Path, *, cap: int = DEFAULT_FEEDBACK_CAP) -> None:
        self.path = path
        self.cap = cap
        self._lock = threading.Lock()
        self._votes: dict[str, bool | str] | None = None  # answer id -> vote; read lazily
        self._lines = 0
        self._warned_full = False

    def _load(self) -> dict[str, bool | str]:
        if self._votes is None:
            self._votes, self._lines = {}, 0
            if self.path.is_file():
                for line in self.path.read_text(encoding="utf-8").splitlines():
                    self._lines += 1
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(record, dict) and isinstance(record.get("answer_id"), str):
                        self._votes[record["answer_id"]] = record.get("liked")
        return self._votes

    def _rewrite(self, answer_id: str, record: dict | None) -> None:
        """Replace (or with None, drop) the line of ``answer_id``."""
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                mine = json.loads(line).get("answer_id") == answer_id
            except (json.JSONDecodeError, AttributeError):
                mine = False
            if not mine:
                kept.append(line)
            elif record is not None:
                kept.append(json.dumps(record, ensure_ascii=False))
        temporary = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
        temporary.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        os.replace(temporary, self.path)  # a reader never sees half a file
        self._lines = len(kept)

    def vote(self, record: dict) -> str:
        """Record ``record`` (with ``answer_id`` and ``liked``); returns what happened.

        ``liked`` is True or False, or "" when the vote is taken back.
        """
        answer_id, liked = record["answer_id"], record["liked"]
        with self._lock:
            votes = self._load()
            if answer_id in votes:
                if votes[answer_id] == liked:
                    return self.UNCHANGED
                self._rewrite(answer_id, None if liked == "" else record)
                if liked == "":
                    del votes[answer_id]
                    return self.WITHDRAWN
                votes[answer_id] = liked
                return self.CHANGED
            if liked == "":
                return self.UNCHANGED
            if self._lines >= self.cap:
                if not self._warned_full:
                    log.warning(
                        "feedback not saved: %s already holds %s votes (the feedback_cap "
                        "setting); move the file aside or raise the cap to collect more",
                        self.path,
                        f"{self._lines:,}",
                    )
                    self._warned_full = True
                return self.FULL
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            votes[answer_id] = liked
            self._lines += 1
            return self.SAVED


# -- conversation state ----------------------------------------------------------


def turns_shown(history: list, results: list) -> list:
    """The turns of the hidden state that the given ``history`` still shows.

    The chat history passed in (by the page or by an API caller) is the
    conversation: a hidden turn it does not show is no longer part of it.
    """
    kept = []
    for turn in results:
        start = turn["start"]
        if (
            turn["end"] <= len(history)
            and isinstance(history[start], dict)
            and history[start].get("role") == "user"
            and message_text(history[start].get("content")) == turn["shown"]
        ):
            kept.append(turn)
    return kept


def earlier_turns(history: list, turns: list) -> list:
    """The conversation so far, oldest first, for ``engine.ask``: read from ``history``
    itself.

    A question this window answered is a (question as typed, short answer) pair (no answer
    when the articles did not say); a refused one (emoji, another language) is left out;
    any other message is passed on as it is (rag/followup.py reads it).
    """
    by_start = {turn["start"]: turn for turn in turns}
    covered = {n for turn in turns for n in range(turn["start"], turn["end"])}
    earlier: list = []
    for position, message in enumerate(history):
        turn = by_start.get(position)
        if turn is not None and turn["answered"]:
            result = turn["result"] or {}
            answer = None if result.get("abstained") else result.get("short_answer")
            earlier.append((turn["asked"], answer or result.get("answer")))
        elif position not in covered:
            earlier.append(message)
    return earlier


# -- who may change the articles ----------------------------------------------------

# Headers a proxy adds: a request carrying one was made somewhere else and passed on.
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")
TOKEN_HINT = "RAG_API_TOKEN"
CHANGES_OFF = (
    "Adding and removing articles is open to this machine only. To allow it from other "
    f"machines, whoever serves the chat window sets a token ({TOKEN_HINT}) and shares it."
)
CHANGES_OFF_SHARED = (
    "Adding and removing articles through a share link needs a token, and none is set: "
    f"whoever serves the chat window sets one ({TOKEN_HINT}) and shares it."
)
WRONG_TOKEN = (
    "Adding and removing articles from here needs the token set by whoever serves the chat "
    "window; the token given is missing or wrong."
)


def _header_map(request) -> dict[str, str]:
    headers = getattr(request, "headers", None) or {}
    try:
        return {str(k).lower(): str(v) for k, v in dict(headers).items()}
    except (TypeError, ValueError):
        return {}


def request_is_local(request) -> bool:
    """True for a request made on this machine and sent straight here.

    That is: from a loopback address, to a loopback host name, and through no proxy (a
    proxy on this machine, a share link's tunnel included, would make every client look
    local, so a forwarding header counts as "elsewhere"). ``None`` is a call from Python in
    this very process, not a request.
    """
    if request is None:
        return True
    client = getattr(request, "client", None)
    address = str(getattr(client, "host", "") or "")
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    if not (ip.is_loopback or (mapped is not None and mapped.is_loopback)):
        return False
    headers = _header_map(request)
    if any(name in headers for name in FORWARDING_HEADERS):
        return False
    return SameOriginOnly._host_name(headers.get("host", "")) in LOOPBACK_NAMES


@dataclass(frozen=True)
class ArticleGuard:
    """Who may add and remove articles, through the page or the API; reading is open to all.

    With no token set, a request made on this machine may, unless the server is shared (a
    share link's traffic arrives from this machine too), and nobody else. With a token set
    by the person serving, every request must give it, this machine's too: a proxy or a
    port forward here would make a request from elsewhere look local.
    """

    token: str = ""
    share: bool = False

    def refusal(self, request, given: str | None = None) -> str | None:
        """Why ``request`` may not change the articles, or None when it may."""
        if not self.token:
            if not self.share and request_is_local(request):
                return None
            return CHANGES_OFF_SHARED if self.share else CHANGES_OFF
        # Once a token is set it is asked of everyone: a proxy or a port forward on this
        # machine can make a request from elsewhere look local.
        if isinstance(given, str) and given:
            try:
                if hmac.compare_digest(given.encode("utf-8"), self.token.encode("utf-8")):
                    return None
            except UnicodeEncodeError:  # a lone surrogate: not the token
                pass
        return WRONG_TOKEN


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


class ChatApp:
    """State and callbacks of the chat window; one instance serves every session."""

    def __init__(
        self,
        engine,
        *,
        feedback_path: Path,
        feedback_cap: int = DEFAULT_FEEDBACK_CAP,
        guard: ArticleGuard | None = None,
    ) -> None:
        self.engine = engine
        self.feedback_log = FeedbackLog(feedback_path, cap=feedback_cap)
        self.index_notice = ""  # the latest "index updated: …" line, shown under the title
        self.guard = guard or ArticleGuard()

    # -- the watched folder ------------------------------------------------------

    def start_watching(self, stop: threading.Event | None = None) -> threading.Thread:
        """Re-index in the background whenever the articles folder changes (rag chat --watch)."""
        from rag.watch import watch_corpus

        thread = threading.Thread(
            target=watch_corpus,
            args=(self.engine.settings.seeds_dir, self.refresh_index),
            kwargs={"stop": stop},
            name="rag-watch",
            daemon=True,
        )
        thread.start()
        return thread

    def refresh_index(self) -> str:
        """Bring the index up to date; questions meanwhile use the previous one."""
        from rag.watch import update_message

        before = set(self.engine.index.articles)
        try:
            report = self.engine.refresh(say=log.info)
        except RagError as error:
            self.index_notice = f"index not updated: {error}"
            log.warning(self.index_notice)
            return self.index_notice
        if report.wrote:
            articles = len(self.engine.index.articles)
            self.index_notice = (
                f"{update_message(before, report)} · {articles} articles "
                f"({time.strftime('%H:%M:%S')})"
            )
            log.info(self.index_notice)
        return self.index_notice

    def notice_html(self) -> str:
        return text_html(self.index_notice) if self.index_notice else ""

    def status_text(self) -> str:
        """How far a re-index (an upload, a removal, the watched folder) has got; "" if none."""
        if not self.engine.updating:
            return ""
        progress = getattr(self.engine, "progress", None)
        if progress is None:
            return "Re-indexing the articles: reading the folder…"
        done, total = progress
        if done >= total:
            return "Re-indexing the articles: saving the new index…"
        noun = "article" if total == 1 else "articles"
        return f"Indexing {done + 1} of {total} new or changed {noun}…"

    def status_html(self) -> str:
        text = self.status_text()
        return f'<div class="rag-status" role="status">{escape_text(text)}</div>' if text else ""

    def header_markdown(self) -> str:
        """The page's heading, with the number of articles indexed now."""
        count = len(self.engine.index.articles)
        noun = "article" if count == 1 else "articles"
        return (
            f"## {self.engine.settings.corpus_title()}\nAnswers come only from {count} indexed "
            f"{noun}, with the sentence that says so. When the articles don't say, you are told."
        )

    def examples(self) -> list[str]:
        newest = sorted(
            self.engine.index.articles.values(),
            key=lambda a: (a.date or "", a.doc_id),
            reverse=True,
        )
        return self.engine.settings.corpus_examples([a.title for a in newest])

    # -- the articles view -------------------------------------------------------

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

    def api_ask(self, question: str, history: list | None = None, k: int | None = None) -> dict:
        """Answer ``question`` as the chat window does; the `rag ask --json` object, plus "html"
        (the reply as the window shows it) and, when the answer came from the index as it was
        before a re-index that outlasted the wait, "notice".

        ``history``: the conversation so far, as the chat window holds it (role/content
        messages, the assistant's answers included) or as earlier questions (strings); it
        decides what a follow-up refers to. A question the window would refuse (empty, too
        long, not in words, another language) raises an error saying so.
        """
        if k is None:
            k = self.engine.settings.k
        if isinstance(k, bool) or not isinstance(k, int) or not K_RANGE[0] <= k <= K_RANGE[1]:
            raise gr.Error(
                f"k (passages to read) must be a whole number from {K_RANGE[0]} to {K_RANGE[1]}",
                print_exception=False,
            )
        if not isinstance(question, str):
            raise gr.Error("Please type a question.", print_exception=False)
        if history is not None and not isinstance(history, list | tuple):
            raise gr.Error("history must be a list of messages", print_exception=False)
        try:
            normalise_question(question)  # empty, too long, no words: said before any waiting
        except RagError as error:
            raise gr.Error(str(error), print_exception=False) from None
        stale = self._wait_for_update()
        try:
            result = self.engine.ask(question, history=list(history or []), k=k)
        except RagError as error:
            raise gr.Error(str(error), print_exception=False) from None
        except Exception:
            log.exception("answering %r failed", question)
            raise gr.Error(FRIENDLY_FAILURE, print_exception=False) from None
        answer: dict[str, Any] = result.to_json()
        answer["html"] = answer_html(result, "t" + uuid.uuid4().hex[:12])
        if stale:
            answer["notice"] = STILL_UPDATING
        return answer

    def _wait_for_update(self) -> bool:
        """Wait for a re-index in progress (an upload is being indexed: the question is most
        likely about it); True when it outlasted the wait and the old index answers."""
        if not self.engine.updating:
            return False
        return not self.engine.wait_until_updated(UPDATE_WAIT_SECONDS)

    @property
    def feedback_path(self) -> Path:
        return self.feedback_log.path

    # -- answering ---------------------------------------------------------------

    def _scores(self, result: AskResult, show: bool) -> dict[str, str]:
        if not show:
            return {}
        hits = self.engine.retriever.search(
            self.engine.query(result.rewritten_query), k=self.engine.settings.k * 2
        )
        return {
            h.chunk.chunk_id: f" · score {h.score:.4f} (dense #{h.dense_rank or '-'}, "
            f"BM25 #{h.bm25_rank or '-'})"
            for h in hits
        }

    def respond(self, message: str, history: list, results: list, k: int, show_scores: bool):
        """Stream an answer to ``message``; yields (textbox, chatbot, results, sources).

        ``history`` is the conversation so far and decides what a follow-up
        refers to. ``results`` (hidden per-session state) holds one entry per
        turn: its id, the question as typed, where the turn starts and ends in
        the chat, and the answer's JSON (None for a notice).
        """
        if not message or not message.strip():
            yield "", history, results, gr.skip()
            return
        history = list(history or [])
        results = turns_shown(history, results or [])
        earlier = earlier_turns(history, results)
        asked = message.strip()
        turn = {
            "id": "t" + uuid.uuid4().hex[:12],
            "asked": asked,
            "start": len(history),
            "shown": text_html(asked),
            "answered": False,
            "result": None,
        }
        history = history + [{"role": "user", "content": turn["shown"]}]
        # The panel never shows the previous answer's sources beside a new question.
        yield "", history, results, WAITING_PANEL
        stale = False
        if self.engine.updating:
            # An upload (or the watched folder) is being indexed: the question is about it,
            # more often than not, so it waits for the new index rather than using the old one.
            yield "", history, results, UPDATING_PANEL
            stale = self._wait_for_update()
        try:
            result = self.engine.ask(message, history=earlier, k=int(k))
        except RagError as error:
            reply = str(error)
        except Exception:  # a bug must not reach the user as a traceback
            log.exception("answering %r failed", asked)
            reply = FRIENDLY_FAILURE
        else:
            reply = None
        if reply is not None:
            history = history + [{"role": "assistant", "content": text_html(reply)}]
            turn.update(end=len(history), reply=reply)
            yield "", history, results + [turn], NO_SOURCES_PANEL
            return
        if result.rewritten_query != result.question:
            history = history + [
                {
                    "role": "assistant",
                    "content": text_html(result.rewritten_query),
                    "metadata": {"title": "Follow-up read as", "status": "done"},
                }
            ]
        sources = sources_html(result, scores=self._scores(result, show_scores))
        final = answer_html(result, turn["id"])
        history = history + [{"role": "assistant", "content": ""}]
        turn.update(end=len(history), answered=True, result=result.to_json())
        results = results + [turn]
        words = escape_text(result.answer).split(" ")
        for end in range(STREAM_STEP_WORDS, len(words), STREAM_STEP_WORDS):
            partial = f'<div class="rag-answer">{" ".join(words[:end])}</div>'
            history[-1] = {"role": "assistant", "content": partial}
            yield "", history, results, gr.skip()
        if stale:
            final += f'<div class="rag-notice">{escape_text(STILL_UPDATING)}</div>'
        history[-1] = {"role": "assistant", "content": final}
        yield "", history, results, sources

    def retry(self, history: list, results: list, k: int, show_scores: bool):
        """Ask the last question again (yields chatbot, results, sources)."""
        results = turns_shown(list(history or []), results or [])
        if not results:
            yield history, results, gr.skip()
            return
        last = results[-1]
        for _, new_history, new_results, sources in self.respond(
            last["asked"], history[: last["start"]], results[:-1], k, show_scores
        ):
            yield new_history, new_results, sources

    # -- feedback ------------------------------------------------------------------

    def feedback(self, results: list, data: gr.LikeData) -> None:
        """Record a vote on the reply whose bubble was clicked (any kind of reply).

        Gradio reports the index of the bubble's first message, which for a
        follow-up is the "Follow-up read as" line, so the vote goes to the turn
        whose messages include that index.
        """
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        turn = next((t for t in results if t["start"] < index < t["end"]), None)
        if turn is None:
            gr.Info("Feedback is recorded on answers only.")
            return
        record = {
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "answer_id": turn["id"],
            "liked": data.liked if isinstance(data.liked, str) else bool(data.liked),
            "question": turn["asked"],
        }
        result = turn["result"]
        if result is None:  # a notice ("please ask in words"): worth hearing about too
            record.update(rewritten_query=None, answer=turn["reply"], abstained=None, citations=[])
        else:
            record.update(
                rewritten_query=result["rewritten_query"],
                answer=result["answer"],
                abstained=result["abstained"],
                citations=[
                    {key: c[key] for key in ("n", "doc", "chunk_id", "quote")}
                    for c in result["citations"]
                ],
            )
        try:
            outcome = self.feedback_log.vote(record)
        except OSError as error:
            gr.Warning(f"Could not save feedback: {error.strerror}")
            return
        if outcome == FeedbackLog.FULL:
            gr.Warning("Feedback is full for now; thank you all the same.")
        elif outcome == FeedbackLog.CHANGED:
            gr.Info("Feedback changed.")
        elif outcome == FeedbackLog.WITHDRAWN:
            gr.Info("Feedback removed.")
        elif outcome == FeedbackLog.UNCHANGED:
            gr.Info("Feedback already saved for this answer.")
        else:
            gr.Info("Thanks, feedback saved.")


# -- the page and the server -------------------------------------------------------


def build_app(
    engine,
    *,
    feedback_path: Path,
    feedback_cap: int = DEFAULT_FEEDBACK_CAP,
    watch: bool = False,
    stop: threading.Event | None = None,
    guard: ArticleGuard | None = None,
) -> gr.Blocks:
    """The page and its API. ``guard`` says who may change the articles; with a token set,
    the Articles view has a field for it."""
    app = ChatApp(engine, feedback_path=feedback_path, feedback_cap=feedback_cap, guard=guard)
    examples = app.examples()
    with gr.Blocks(title=engine.settings.corpus_title(), analytics_enabled=False) as demo:
        header = gr.Markdown(app.header_markdown(), elem_id="rag-header")
        # Reloading the page shows the count of now, not of when the server started.
        demo.load(app.header_markdown, outputs=header, api_name=False)
        notice = gr.HTML("", elem_id="rag-index-notice") if watch else None
        # How far a re-index has got ("Indexing 3 of 12 new or changed articles…"), whoever
        # started it: an upload on any page, the API, or the watched folder.
        status = gr.HTML("", elem_id="rag-index-status")
        # The engine and the watcher change from their own threads; every page polls them.
        if notice is not None:
            gr.Timer(STATUS_POLL_SECONDS).tick(
                lambda: (app.status_html(), app.notice_html(), app.header_markdown()),
                outputs=[status, notice, header],
                api_name=False,
                show_progress="hidden",
            )
            app.start_watching(stop)
        else:
            gr.Timer(STATUS_POLL_SECONDS).tick(
                app.status_html, outputs=status, api_name=False, show_progress="hidden"
            )
        results = gr.State([])
        # A grid (CSS "#rag-main"): on a phone the sources come before Retry/Clear.
        with gr.Row(equal_height=False, elem_id="rag-main"):
            with gr.Column(scale=3, min_width=300, elem_id="rag-chat-column"):
                chatbot = gr.Chatbot(
                    label="Conversation",
                    show_label=False,  # a floating label and toolbar would cover the first message
                    buttons=["copy"],  # per message; no "share" (it posts to Hugging Face)
                    height=520,
                    sanitize_html=True,
                    render_markdown=False,  # messages are HTML built from escaped text
                    latex_delimiters=[],  # "$$" in an article is money, not maths
                    feedback_options=["Like", "Dislike"],
                    placeholder="Ask a question about the articles.",
                    elem_id="rag-chat",
                )
                textbox = gr.Textbox(
                    label="Your question",
                    placeholder=f"e.g. {examples[0]}" if examples else "Your question",
                    lines=1,
                    max_lines=4,
                    max_length=2000,
                    submit_btn=True,
                    elem_id="rag-question",
                )
            with gr.Column(scale=2, min_width=300, elem_id="rag-sources-column"):
                gr.Markdown("### Sources")
                sources = gr.HTML(EMPTY_PANEL, elem_id="rag-sources")
            with gr.Column(scale=3, min_width=300, elem_id="rag-actions"), gr.Row():
                retry = gr.Button("↻ Retry", size="sm", elem_id="rag-retry")
                clear = gr.Button("Clear", size="sm", elem_id="rag-clear")
        # Below both columns, so on a phone the sources come before them, not after.
        if examples:
            gr.Examples(examples, inputs=textbox, label="Try")
        with gr.Accordion("Settings", open=False):
            k = gr.Slider(*K_RANGE, value=engine.settings.k, step=1, label="Passages to read")
            show_scores = gr.Checkbox(False, label="Show retrieval scores")
        with gr.Accordion("Articles", open=False, elem_id="rag-articles"):
            article_table = gr.Dataframe(
                value=app.article_rows(),
                headers=["Title", "Date", "File", "Passages"],
                interactive=False,
                wrap=True,
                # Fits 1280 px; on a phone the table scrolls sideways, headers still on one line.
                column_widths=["55%", "120px", "240px", "100px"],
                elem_id="rag-article-table",
            )
            upload = gr.File(
                label=f"Add articles: text, Markdown, web pages, PDFs "
                f"(up to {engine.settings.upload_max_mb} MB each)",
                file_count="multiple",
                file_types=ARTICLE_TYPES,
                elem_id="rag-upload",
            )
            replace = gr.Checkbox(False, label="Replace articles with the same name")
            with gr.Row():
                to_remove = gr.Dropdown(
                    choices=sorted(engine.index.articles),
                    value=None,
                    label="Remove an article",
                    elem_id="rag-remove-choice",
                )
                remove = gr.Button("Remove", variant="stop", size="sm", elem_id="rag-remove")
            # Served beyond this machine: a visitor elsewhere gives the token to change articles.
            token = gr.Textbox(
                "",
                type="password",
                label="Token (needed to add or remove articles)",
                visible=bool(app.guard.token),
                elem_id="rag-token",
            )
            article_status = gr.HTML("", elem_id="rag-articles-status")
        demo.load(app.articles_notice, outputs=article_status, api_name=False)

        # The page's own question box; scripts use the /ask endpoint below instead.
        textbox.submit(
            app.respond,
            inputs=[textbox, chatbot, results, k, show_scores],
            outputs=[textbox, chatbot, results, sources],
            api_name=False,
        )
        retry.click(
            app.retry,
            inputs=[chatbot, results, k, show_scores],
            outputs=[chatbot, results, sources],
            api_name=False,
        )
        clear.click(
            lambda: ([], [], EMPTY_PANEL, ""),
            outputs=[chatbot, results, sources, textbox],
            api_name=False,
        )
        # The chat's own trash button empties the chat: the hidden turns and the panel go too.
        chatbot.clear(lambda: ([], EMPTY_PANEL), outputs=[results, sources], api_name=False)
        chatbot.like(app.feedback, inputs=[results], outputs=None, api_name=False)
        upload.upload(
            app.add_articles,
            inputs=[upload, replace, token],
            outputs=[article_status, article_table, to_remove, upload],
            api_name=False,
        ).then(app.header_markdown, outputs=header, api_name=False)
        remove.click(
            app.remove_article,
            inputs=[to_remove, token],
            outputs=[article_status, article_table, to_remove],
            api_name=False,
        ).then(app.header_markdown, outputs=header, api_name=False)

        # The API for scripts (README, "Scripting the chat window").
        gr.api(app.api_ask, api_name="ask")
        gr.api(app.api_articles, api_name="articles")
        gr.api(app.api_upload_articles, api_name="upload_articles")
        gr.api(app.api_remove_article, api_name="remove_article")
    return demo


class SameOriginOnly:
    """Refuse what a web page elsewhere, or a hostile host name, could make a browser send.

    Gradio's own CORS handling only hides responses from other origins; the
    request itself still runs (an upload is written, a question answered, a
    vote saved). Here a request carrying an ``Origin`` other than the server's
    own address is refused before anything runs. When the server is bound to
    this machine only, a ``Host`` that is not a loopback name is refused too, so
    a DNS-rebinding page cannot pass as same-origin. Asking the server to fetch
    a URL (``/file=http…``, ``/proxy=``, or a call naming a file by URL) is refused: it
    never reaches the network.
    """

    def __init__(self, app, *, loopback_only: bool, max_body: int = 64 * 1024 * 1024) -> None:
        self.app = app
        self.loopback_only = loopback_only
        self.max_body = max_body

    @staticmethod
    def _host_name(netloc: str) -> str:
        return (urlsplit(f"//{netloc}").hostname or "").lower()

    def refusal(self, scope) -> str | None:
        headers = {
            key.decode("latin-1").lower(): value.decode("latin-1")
            for key, value in scope["headers"]
        }
        host = headers.get("host", "")
        if self.loopback_only and self._host_name(host) not in LOOPBACK_NAMES:
            return f"host {host!r} is not this machine"
        origin = headers.get("origin")
        if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
            return f"cross-origin request from {origin!r}"
        path = scope.get("path", "")
        if re.search(r"/(?:file[=/]\s*(?:https?:|//)|proxy=)", path, re.I):
            return "this server fetches nothing from the network"
        if re.search(r"/file[=/]", path, re.I):
            # Uploads are read by the articles view, never served back, nor any other file.
            return "this server serves no files"
        return None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket"):
            reason = self.refusal(scope)
            if reason is not None:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await PlainTextResponse(f"Refused: {reason}.", status_code=403)(
                    scope, receive, send
                )
                return
        if scope["type"] == "http" and scope.get("path", "").endswith("/upload"):
            receive = await self._checked_upload(scope, receive, send)
            if receive is None:
                return
        elif scope["type"] == "http" and scope.get("method") == "POST":
            receive = await self._checked_call(scope, receive, send)
            if receive is None:
                return
        await self.app(scope, receive, send)

    async def _read(self, receive) -> tuple[list, bytes, int]:
        """The request's body messages, read up to just past the size cap."""
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if not message.get("more_body") or size > self.max_body:
                break
        return messages, b"".join(m.get("body", b"") for m in messages), size

    @staticmethod
    def _replay(messages: list, receive):
        replay = iter(messages)

        async def replayed():
            try:
                return next(replay)
            except StopIteration:
                return await receive()

        return replayed

    async def _checked_call(self, scope, receive, send):
        """A call's body, read whole, if no file in it is a URL.

        Gradio downloads any file an input names by URL (``{"path": "https://…"}``), in any
        endpoint's arguments, before the function runs: here such a call is refused, so the
        server never fetches anything for a client.
        """
        messages, body, size = await self._read(receive)
        if size > self.max_body:
            await PlainTextResponse("Refused: request too large.", status_code=413)(
                scope, receive, send
            )
            return None
        try:
            data = json.loads(body) if body.strip() else None
        except (ValueError, RecursionError):
            data = None  # not JSON: Gradio reads no files from it
        if _names_a_url(data):
            await PlainTextResponse(
                "Refused: this server fetches nothing from the network.", status_code=403
            )(scope, receive, send)
            return None
        return self._replay(messages, receive)

    async def _checked_upload(self, scope, receive, send):
        """The upload's body, read whole, if no part names a path ("../../x.txt").

        Gradio keeps only the last part of such a name and stores the file, so the articles
        view could not tell; here the request is refused before anything is written. Bodies
        past the size cap are left to Gradio, which refuses them as it reads.
        """
        messages, body, size = await self._read(receive)
        for name in re.findall(
            rb'filename="([^"]*)"', body[: 1 << 20] if size > self.max_body else body
        ):
            text = name.decode("utf-8", "replace")
            if "/" in text or "\\" in text or ".." in text:
                await PlainTextResponse(
                    f"Refused: file name {text!r} names a folder.", status_code=400
                )(scope, receive, send)
                return None
        return self._replay(messages, receive)


def _names_a_url(data) -> bool:
    """True when ``data`` (parsed JSON) holds a file whose path is a URL, at any depth."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            path = item.get("path")
            if isinstance(path, str) and path.strip().lower().startswith(("http:", "https:")):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def launch(
    engine,
    *,
    host: str,
    port: int,
    share: bool,
    feedback_path: Path,
    feedback_cap: int = DEFAULT_FEEDBACK_CAP,
    prevent_thread_lock: bool = False,
    watch: bool = False,
    token: str | None = None,
) -> gr.Blocks:
    """Serve the chat window; returns the Blocks (still serving when ``prevent_thread_lock``).

    ``token`` (default: the ``api_token`` setting, ``RAG_API_TOKEN``) lets clients on other
    machines, or behind ``share``, add and remove articles; without it only this machine can.
    """
    loopback_only = not share and host in LOOPBACK_NAMES
    guard = ArticleGuard(token=engine.settings.api_token if token is None else token, share=share)
    demo = build_app(
        engine,
        feedback_path=feedback_path,
        feedback_cap=feedback_cap,
        watch=watch,
        guard=guard,
    )
    demo.queue(default_concurrency_limit=8)
    demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        css=CSS,
        show_error=False,
        prevent_thread_lock=prevent_thread_lock,
        quiet=True,
        # Every setting below is given explicitly so that no GRADIO_* variable in the
        # user's environment can switch it back on.
        app_kwargs={"middleware": [Middleware(SameOriginOnly, loopback_only=loopback_only)]},
        max_file_size=f"{engine.settings.upload_max_mb}mb",
        # The page shows no files: SameOriginOnly refuses every file route, so nothing on
        # disk is served, uploads included (blocking paths here would stop Gradio from
        # handing uploads to the articles view).
        allowed_paths=[],
        strict_cors=True,
        ssr_mode=False,  # server-side rendering would start a Node server
        mcp_server=False,
        pwa=False,
        enable_monitoring=False,
        run_history=False,  # its page can connect to Hugging Face buckets
        footer_links=["api", "settings"],
    )
    return demo
