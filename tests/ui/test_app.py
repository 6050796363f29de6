import json
import logging
import re
from pathlib import Path

import gradio as gr
import pytest

from rag.citations import Citation
from rag.pipeline import AskResult
from rag.question.language import LANGUAGE_NOTICE
from ui.app import build_app
from ui.chat import ChatApp
from ui.render import NO_SOURCES_PANEL, WAITING_PANEL, answer_html, escape_text, sources_html

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def app(engine, tmp_path):
    return ChatApp(engine, feedback_path=tmp_path / "fb" / "feedback.jsonl")


def run(app, message, history=None, results=None):
    *_, last = app.respond(message, history or [], results or [], 5, False)
    return last


def like(app, results, index, liked=True):
    data = gr.LikeData(target=None, data={"index": index, "value": "", "liked": liked})
    app.feedback(results, data)


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.unit
def test_escape_text_neutralises_html():
    escaped = escape_text(XSS + ' "quoted" & more')
    assert "<" not in escaped and '"' not in escaped
    assert "&lt;img" in escaped and "&amp; more" in escaped


def test_messages_are_html_not_markdown(engine, tmp_path):
    """An answer "500. Chinese…" or a question "1. …" must not become a numbered list."""
    demo = build_app(engine, feedback_path=tmp_path / "f.jsonl")
    chatbot = next(b for b in demo.blocks.values() if isinstance(b, gr.Chatbot))
    assert chatbot.render_markdown is False
    assert chatbot.latex_delimiters == []  # "$$" in a question is not maths either


@pytest.fixture
def cited(engine) -> AskResult:
    """An answer citing passages of two articles, made here to need no particular answerer."""
    first = engine.index.chunks[0]
    second = next(c for c in engine.index.chunks if c.doc_id != first.doc_id)
    citations = [
        Citation(n, chunk, chunk.text.split(". ")[0]) for n, chunk in enumerate((first, second), 1)
    ]
    return AskResult(
        question="When did it happen?",
        answer="In 2022 [1]. Then in 2023 [2].",
        abstained=False,
        rewritten_query="When did it happen?",
        citations=citations,
    )


def test_each_answers_badges_lead_to_its_own_sources(cited):
    first, second = answer_html(cited, "t1"), answer_html(cited, "t2")
    for rendered, other in ((first, second), (second, first)):
        targets = re.findall(r'href="#([^"]+)"', rendered)
        ids = re.findall(r'id="([^"]+)"', rendered)
        assert len(targets) == 2
        assert set(targets) <= set(ids)  # every badge's source is under the same answer
        assert not set(targets) & set(re.findall(r'id="([^"]+)"', other))
    for citation in cited.citations:
        assert escape_text(citation.quote) in first
    panel = sources_html(cited)
    assert panel.count('class="rag-source"') == 2 and "<mark>" in panel
    for citation in cited.citations:
        assert (citation.chunk.date or "date unknown") in panel


def test_abstention_looks_different_and_shows_related(engine):
    result = engine.ask("Who is the CEO of Apple?")  # nothing about Apple in the seeds
    assert '<div class="rag-answer">⚠️' in answer_html(result)
    panel = sources_html(result)
    assert "rag-notice" in panel and "rag-related" in panel


def test_respond_streams_and_ignores_empty_input(app):
    steps = list(app.respond("When did Xiaomi drop to third?", [], [], 5, False))
    assert len(steps) > 2  # the question, partial answers, the final answer
    _, history, results, sources = steps[-1]
    assert history[0]["role"] == "user"
    assert history[-1]["content"].startswith('<div class="rag-answer">')
    assert len(results) == 1 and "rag-source" in sources  # sources, or related reading
    empty = list(app.respond("   ", history, results, 5, False))
    assert empty[-1][1] == history


def test_bad_input_gets_a_polite_reply(app):
    _, history, results, _ = run(app, "🙂🙂🙂")
    assert history[-1]["role"] == "assistant" and "question" in history[-1]["content"]
    assert [turn["answered"] for turn in results] == [False]


def test_a_question_in_another_language_is_asked_for_english(app):
    _, emoji, _, _ = run(app, "🙂🙂🙂")
    _, foreign, _, _ = run(app, "¿Quién fundó Xiaomi?")
    assert escape_text(LANGUAGE_NOTICE) in foreign[-1]["content"]
    assert "Please ask a question in words." in emoji[-1]["content"]


@pytest.mark.parametrize("refused", ["🙂🙂🙂", "शाओमी भारत में कब तीसरे स्थान पर आया?"])
def test_sources_panel_never_keeps_an_earlier_answers_sources(app, refused):
    _, history, results, sources = run(app, "When did Xiaomi drop to third?")
    assert "rag-source" in sources
    steps = list(app.respond(refused, history, results, 5, False))
    assert steps[0][3] == WAITING_PANEL  # cleared as soon as the new question is in
    assert steps[-1][3] == NO_SOURCES_PANEL
    assert "rag-source" not in "".join(str(step[3]) for step in steps)


def test_follow_up_shows_rewritten_query(app):
    _, history, results, _ = run(app, "When did Xiaomi drop to third?")
    _, history, results, _ = run(app, "what about 2023?", history, results)
    rewritten = [m for m in history if m.get("metadata")]
    assert rewritten and "2023" in rewritten[0]["content"]


def test_an_explicit_history_wins_over_hidden_state(app):
    _, history, results, _ = run(app, "When did Xiaomi drop to third?")
    # An API caller sends no history: the hidden turn must not make this a follow-up.
    _, alone, _, _ = run(app, "what about 2023?", [], results)
    assert not [m for m in alone if m.get("metadata")]
    # An API caller sends a history the hidden state never saw: it is the conversation.
    given = [
        {"role": "user", "content": "When did Xiaomi drop to third?"},
        {"role": "assistant", "content": "In 2022."},
    ]
    _, followed, _, _ = run(app, "what about 2023?", given, [])
    assert [m for m in followed if m.get("metadata")]


def test_the_page_passes_earlier_answers_with_their_questions(app, monkeypatch):
    _, history, results, _ = run(app, "Who is Xiaomi's founder?")
    founder = results[-1]["result"]
    assert not founder["abstained"]
    seen = {}
    real_ask = app.engine.ask

    def ask(question, *, history=None, k=None):
        seen["history"] = history
        return real_ask(question, history=history, k=k)

    monkeypatch.setattr(app.engine, "ask", ask)
    _, history, results, _ = run(app, "what did he say about India?", history, results)
    assert seen["history"] == [
        ("Who is Xiaomi's founder?", founder["short_answer"] or founder["answer"])
    ]
    assert results[-1]["result"]["rewritten_query"] == (
        f"what did {founder['short_answer']} say about India?"
    )


def test_retry_replaces_the_last_answer(app):
    _, history, results, _ = run(app, "How many rural stores did Xiaomi open?")
    *_, (retried, retried_results, _) = app.retry(history, results, 5, False)
    assert len(retried) == len(history) and len(retried_results) == 1


def test_feedback_is_appended_as_jsonl(app):
    _, history, results, _ = run(app, "When did Xiaomi drop to third?")
    like(app, results, len(history) - 1, liked=False)
    (record,) = lines(app.feedback_path)
    assert record["liked"] is False
    assert record["question"] == "When did Xiaomi drop to third?"
    answer = results[-1]["result"]
    assert record["answer"] == answer["answer"] and len(record["citations"]) == len(
        answer["citations"]
    )


@pytest.mark.parametrize(
    "question,kind",
    [
        ("what about 2023?", "follow-up"),  # its bubble starts with "Follow-up read as"
        ("Who is the CEO of Apple?", "abstention"),
        ("🙂🙂🙂", "notice"),
    ],
)
def test_feedback_records_the_reply_it_is_on(app, question, kind):
    _, history, results, _ = run(app, "When did Xiaomi drop to third?")
    _, history, results, _ = run(app, question, history, results)
    start = results[-1]["start"]
    # Gradio reports the first message of the clicked bubble: the one after the question.
    like(app, results, start + 1)
    (record,) = lines(app.feedback_path)
    assert record["question"] == question and record["answer_id"] == results[-1]["id"]
    if kind == "follow-up":
        assert record["rewritten_query"] == "When did Xiaomi drop to third in 2023?"
        assert record["answer"] == results[-1]["result"]["answer"]
    elif kind == "abstention":
        assert record["abstained"] is True
    else:
        assert record["answer"] == "Please ask a question in words."


def test_one_vote_per_answer_and_a_second_click_changes_it(app):
    _, history, results, _ = run(app, "When did Xiaomi drop to third?")
    for _ in range(200):
        like(app, results, len(history) - 1)
    assert [r["liked"] for r in lines(app.feedback_path)] == [True]
    like(app, results, len(history) - 1, liked=False)
    assert [r["liked"] for r in lines(app.feedback_path)] == [False]
    _, history, results, _ = run(app, "Who is Xiaomi's founder?", history, results)
    like(app, results, len(history) - 1)
    assert [r["liked"] for r in lines(app.feedback_path)] == [False, True]


def test_feedback_stops_at_the_cap_with_a_log_line(engine, tmp_path, caplog):
    path = tmp_path / "feedback.jsonl"
    path.write_text('{"liked": true, "question": "from an earlier run"}\n')
    app = ChatApp(engine, feedback_path=path, feedback_cap=2)
    _, history, results, _ = run(app, "When did Xiaomi drop to third?")
    like(app, results, len(history) - 1)
    _, history, results, _ = run(app, "Who is Xiaomi's founder?", history, results)
    with (
        caplog.at_level(logging.WARNING, logger="ui.feedback"),
        pytest.warns(UserWarning, match="full"),
    ):
        like(app, results, len(history) - 1)  # the user is told too (a toast in the page)
    assert len(lines(path)) == 2
    assert "feedback not saved" in caplog.text and "feedback_cap" in caplog.text


def test_the_watcher_reports_index_updates(small_engine):
    import shutil

    from ui.chat import ChatApp

    app = ChatApp(small_engine, feedback_path=small_engine.settings.index_dir / "f.jsonl")
    assert app.notice_html() == ""
    articles = Path(__file__).resolve().parents[1] / "data" / "articles"
    shutil.copy(articles / "acme-factory.pdf", small_engine.settings.articles_dir)
    notice = app.refresh_index()
    assert notice.startswith("index updated: +1 article · 3 articles")
    assert "index updated" in app.notice_html()
    hits = small_engine.search("Where will Acme open a second factory?")
    assert hits[0].chunk.doc_id == "acme-factory.pdf"  # the next question reads it


def test_the_page_names_the_corpus_it_serves(tmp_path, embedder):
    from rag.engine import Engine
    from rag.settings import Settings
    from rag.uploads import ArticleFolder

    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "bridge.txt").write_text(
        "Bridge opens after ten years\n\ndate 2024-05-02\n\nThe new bridge opened on Monday.\n"
    )
    (folder / "mayor.txt").write_text(
        "Mayor re-elected for a second term in city vote\n\ndate 2024-06-01\n\n"
        "The mayor won a second term on Sunday.\n"
    )
    engine = Engine(Settings(articles_dir=folder, index_dir=tmp_path / "index"), embedder=embedder)
    app = ChatApp(engine, feedback_path=tmp_path / "feedback.jsonl")
    header = app.header_markdown()
    assert "Xiaomi" not in header and "Ask the articles" in header
    assert "2 indexed articles" in header
    assert app.examples() == [
        "Mayor re-elected for a second term in city vote",
        "Bridge opens after ten years",
    ]
    data = b"Rain ends drought\n\ndate 2024-07-01\n\nIt rained for the first time in months.\n"
    ArticleFolder(engine.settings).add([("rain.txt", data)], replace=False, refresh=engine.refresh)
    assert "3 indexed articles" in app.header_markdown()


def test_a_question_asked_during_a_reindex_waits_for_the_new_index(app, engine):
    import threading
    import time

    from ui.render import UPDATING_PANEL

    engine._refreshing.acquire()  # as refresh() holds it while an upload is indexed
    threading.Timer(0.5, engine._refreshing.release).start()
    started = time.monotonic()
    steps = list(app.respond("Who is Xiaomi's founder?", [], [], 5, False))
    assert time.monotonic() - started >= 0.45
    assert any(step[3] == UPDATING_PANEL for step in steps)
    assert "Lei Jun" in steps[-1][1][-1]["content"]
    assert "still being re-indexed" not in steps[-1][1][-1]["content"]


def test_a_reindex_that_outlasts_the_wait_is_said(app, engine, monkeypatch):
    import threading

    import ui.chat

    monkeypatch.setattr(ui.chat, "UPDATE_WAIT_SECONDS", 0.1)
    engine._refreshing.acquire()
    threading.Timer(1.0, engine._refreshing.release).start()
    steps = list(app.respond("Who is Xiaomi's founder?", [], [], 5, False))
    assert "still being re-indexed" in steps[-1][1][-1]["content"]


def test_a_reindex_says_how_far_it_has_got(small_engine):
    """The status line every page polls: what the build is doing, then nothing."""
    import shutil

    app = ChatApp(small_engine, feedback_path=small_engine.settings.index_dir / "f.jsonl")
    assert app.status_html() == ""
    articles = Path(__file__).resolve().parents[1] / "data" / "articles"
    for name in ("acme-factory.pdf", "acme-rural-stores.html"):
        shutil.copy(articles / name, small_engine.settings.articles_dir)
    seen = []
    small_engine.refresh(progress=lambda done, total: seen.append(app.status_text()))
    assert seen == [
        "Indexing 1 of 2 new or changed articles…",
        "Indexing 2 of 2 new or changed articles…",
        "Re-indexing the articles: saving the new index…",
    ]
    assert app.status_html() == "" and small_engine.progress is None
    small_engine._refreshing.acquire()  # a refresh that has not yet found what changed
    try:
        assert app.status_text() == "Re-indexing the articles: reading the folder…"
        assert 'role="status"' in app.status_html()
    finally:
        small_engine._refreshing.release()
