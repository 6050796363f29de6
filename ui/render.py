"""The chat window's HTML: answers with their citation marks, the Sources panel, the page's CSS.

Everything a user or an article supplies is escaped and shown as the text it is: messages
are HTML built here, never Markdown, so a question like ``<img src=x onerror=alert(1)>`` or
an answer starting "500." appears literally.
"""

from __future__ import annotations

import html

from rag.citations import Citation
from rag.pipeline import AskResult

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
