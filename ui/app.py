"""The chat window's page: Gradio Blocks over one loaded Engine, and its API.

Besides the page, four named endpoints serve scripts (README, "Scripting the chat
window"): ``/ask``, ``/articles``, ``/upload_articles`` and ``/remove_article``. The
last two run the page's own upload and removal code, and, like the page, change the
articles only for this machine or for a client giving the token (``ArticleGuard``).
"""

from __future__ import annotations

import threading
from pathlib import Path

import gradio as gr

from ui.articles import ARTICLE_TYPES
from ui.chat import K_RANGE, ChatApp
from ui.guard import ArticleGuard
from ui.render import EMPTY_PANEL

# How often every open page asks how a re-index is going (and, with --watch, what changed).
STATUS_POLL_SECONDS = 1.0


def build_app(
    engine,
    *,
    feedback_path: Path | None = None,
    watch: bool = False,
    stop: threading.Event | None = None,
    guard: ArticleGuard | None = None,
) -> gr.Blocks:
    """The page and its API. ``guard`` says who may change the articles; with a token set,
    the Articles view has a field for it."""
    app = ChatApp(engine, feedback_path=feedback_path, guard=guard)
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
                    max_length=engine.settings.max_question_chars,
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
