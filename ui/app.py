"""The chat window: Gradio Blocks over one loaded Engine.

Everything a user or an article supplies is escaped before it is shown, so a
question like ``<img src=x onerror=alert(1)>`` appears literally.
"""

from __future__ import annotations

import html
import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import gradio as gr

from rag.citations import Citation
from rag.errors import RagError
from rag.pipeline import AskResult

EXAMPLES = [
    "When did Xiaomi drop to third?",
    "How many rural stores did Xiaomi open?",
    "Who is Xiaomi's founder?",
    "Which Indian company will make Xiaomi's neckband headphones?",
    "Who is the CEO of Samsung India?",
]
STREAM_STEP_WORDS = 3  # the answer appears a few words at a time
FRIENDLY_FAILURE = "Sorry, something went wrong while answering. Please try again."

CSS = """
.rag-marker { font-size: 0.75em; vertical-align: super; font-weight: 600;
  background: #e0e7ff; color: #3730a3; border-radius: 4px; padding: 0 3px;
  text-decoration: none; }
.rag-source { border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 12px;
  margin-bottom: 10px; }
.rag-source h4 { margin: 0 0 4px 0; font-size: 0.95em; }
.rag-meta { color: #6b7280; font-size: 0.8em; margin-bottom: 6px; }
.rag-passage { font-size: 0.9em; line-height: 1.45; white-space: pre-wrap; }
.rag-passage mark { background: #fde68a; padding: 0 1px; }
.rag-related { border-style: dashed; }
.rag-notice { color: #92400e; background: #fffbeb; border: 1px solid #fcd34d;
  border-radius: 8px; padding: 8px 10px; margin-bottom: 10px; font-size: 0.9em; }
.rag-empty { color: #6b7280; font-size: 0.9em; }
"""


def escape_text(text: str) -> str:
    """Text safe to show in a Markdown/HTML chat bubble: no tags, no Markdown markup."""
    escaped = html.escape(text, quote=False)
    # Backslash escapes stop Markdown turning * _ ` [ ] # | ~ into formatting or links.
    return "".join("\\" + ch if ch in "\\`*_[]#|~" else ch for ch in escaped)


def answer_html(result: AskResult) -> str:
    """The answer with each [n] turned into a visible badge linking to its source."""
    text = escape_text(result.answer)
    for citation in result.citations:
        marker = escape_text(f"[{citation.n}]")
        text = text.replace(
            marker,
            f'<a class="rag-marker" href="#rag-src-{citation.n}" '
            f'title="Source {citation.n}: {html.escape(citation.chunk.doc_id)}">'
            f"{citation.n}</a>",
        )
    if result.abstained:
        return f"⚠️ <em>{text}</em>"
    return text


def _passage_html(citation: Citation) -> str:
    passage, quote = citation.chunk.text, citation.quote
    at = passage.find(quote)
    if at < 0:
        return html.escape(passage)
    return (
        html.escape(passage[:at])
        + "<mark>"
        + html.escape(quote)
        + "</mark>"
        + html.escape(passage[at + len(quote) :])
    )


def _source_card(citation: Citation, *, label: str, anchor: str, related: bool, score: str) -> str:
    chunk = citation.chunk
    return (
        f'<div class="rag-source{" rag-related" if related else ""}" id="{anchor}">'
        f"<h4>{label} {html.escape(chunk.title)}</h4>"
        f'<div class="rag-meta">{html.escape(chunk.date or "date unknown")} · '
        f"{html.escape(chunk.doc_id)}{score}</div>"
        f'<div class="rag-passage">{_passage_html(citation)}</div></div>'
    )


def sources_html(result: AskResult | None, *, scores: dict[str, str] | None = None) -> str:
    if result is None:
        return '<div class="rag-empty">Sources for each answer appear here.</div>'
    scores = scores or {}
    parts = []
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
                anchor=f"rag-src-{citation.n}",
                related=False,
                score=scores.get(citation.chunk.chunk_id, ""),
            )
        )
    if result.abstained:
        for position, related in enumerate(result.related, start=1):
            parts.append(
                _source_card(
                    related,
                    label="Related:",
                    anchor=f"rag-related-{position}",
                    related=True,
                    score=scores.get(related.chunk.chunk_id, ""),
                )
            )
    return "".join(parts) or '<div class="rag-empty">No sources.</div>'


class ChatApp:
    """State and callbacks of the chat window; one instance serves every session."""

    def __init__(self, engine, *, feedback_path: Path) -> None:
        self.engine = engine
        self.feedback_path = feedback_path
        self._feedback_lock = threading.Lock()

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

        ``results`` has one entry per answered turn: the question as typed, where
        the turn starts in the chat, where its answer is, and the answer's JSON.
        """
        if not message or not message.strip():
            yield "", history, results, gr.skip()
            return
        earlier = [turn["asked"] for turn in results]
        turn_start = len(history)
        history = history + [{"role": "user", "content": escape_text(message.strip())}]
        yield "", history, results, gr.skip()
        try:
            result = self.engine.ask(message, history=earlier, k=int(k))
        except RagError as error:
            history = history + [{"role": "assistant", "content": escape_text(str(error))}]
            yield "", history, results, gr.skip()
            return
        except Exception:  # a bug must not reach the user as a traceback
            history = history + [{"role": "assistant", "content": FRIENDLY_FAILURE}]
            yield "", history, results, gr.skip()
            return
        if result.rewritten_query != result.question:
            history = history + [
                {
                    "role": "assistant",
                    "content": escape_text(result.rewritten_query),
                    "metadata": {"title": "Follow-up read as", "status": "done"},
                }
            ]
        sources = sources_html(result, scores=self._scores(result, show_scores))
        results = results + [
            {
                "asked": message.strip(),
                "start": turn_start,
                "answer_at": len(history),
                "result": result.to_json(),
            }
        ]
        final = answer_html(result)
        words = final.split(" ")
        history = history + [{"role": "assistant", "content": ""}]
        for end in range(STREAM_STEP_WORDS, len(words), STREAM_STEP_WORDS):
            history[-1] = {"role": "assistant", "content": " ".join(words[:end])}
            yield "", history, results, gr.skip()
        history[-1] = {"role": "assistant", "content": final}
        yield "", history, results, sources

    def retry(self, history: list, results: list, k: int, show_scores: bool):
        """Ask the last question again (yields chatbot, results, sources)."""
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
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        match = next((r for r in results if r["answer_at"] == index), None)
        if match is None:
            gr.Info("Feedback is recorded on answers only.")
            return
        result = match["result"]
        record = {
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "liked": bool(data.liked),
            "question": result["question"],
            "rewritten_query": result["rewritten_query"],
            "answer": result["answer"],
            "abstained": result["abstained"],
            "citations": [
                {k: c[k] for k in ("n", "doc", "chunk_id", "quote")} for c in result["citations"]
            ],
        }
        try:
            with self._feedback_lock:
                self.feedback_path.parent.mkdir(parents=True, exist_ok=True)
                with self.feedback_path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError as error:
            gr.Warning(f"Could not save feedback: {error.strerror}")
            return
        gr.Info("Thanks, feedback saved.")


def build_app(engine, *, feedback_path: Path) -> gr.Blocks:
    app = ChatApp(engine, feedback_path=feedback_path)
    articles = len(engine.index.articles)
    with gr.Blocks(title="Xiaomi in India: ask the articles") as demo:
        gr.Markdown(
            f"## Ask the articles\nAnswers come only from {articles} indexed news articles, "
            "with the sentence that says so. When the articles don't say, you are told."
        )
        results = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Conversation",
                    height=520,
                    sanitize_html=True,
                    feedback_options=["Like", "Dislike"],
                    placeholder="Ask a question about Xiaomi in India.",
                    elem_id="rag-chat",
                )
                textbox = gr.Textbox(
                    label="Your question",
                    placeholder="e.g. When did Xiaomi drop to third?",
                    lines=1,
                    max_lines=4,
                    max_length=2000,
                    submit_btn=True,
                    elem_id="rag-question",
                )
                with gr.Row():
                    retry = gr.Button("↻ Retry", size="sm", elem_id="rag-retry")
                    clear = gr.Button("Clear", size="sm", elem_id="rag-clear")
                gr.Examples(EXAMPLES, inputs=textbox, label="Try")
                with gr.Accordion("Settings", open=False):
                    k = gr.Slider(1, 10, value=engine.settings.k, step=1, label="Passages to read")
                    show_scores = gr.Checkbox(False, label="Show retrieval scores")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(sources_html(None), elem_id="rag-sources")

        textbox.submit(
            app.respond,
            inputs=[textbox, chatbot, results, k, show_scores],
            outputs=[textbox, chatbot, results, sources],
            api_name="ask",
        )
        retry.click(
            app.retry,
            inputs=[chatbot, results, k, show_scores],
            outputs=[chatbot, results, sources],
            api_name=False,
        )
        clear.click(
            lambda: ([], [], sources_html(None), ""),
            outputs=[chatbot, results, sources, textbox],
            api_name=False,
        )
        chatbot.clear(lambda: ([], sources_html(None)), outputs=[results, sources], api_name=False)
        chatbot.like(app.feedback, inputs=[results], outputs=None, api_name=False)
    return demo


def launch(
    engine,
    *,
    host: str,
    port: int,
    share: bool,
    feedback_path: Path,
    prevent_thread_lock: bool = False,
) -> gr.Blocks:
    """Serve the chat window; returns the Blocks (still serving when ``prevent_thread_lock``)."""
    demo = build_app(engine, feedback_path=feedback_path)
    demo.queue(default_concurrency_limit=8)
    demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        css=CSS,
        show_error=False,
        prevent_thread_lock=prevent_thread_lock,
        quiet=True,
    )
    return demo
