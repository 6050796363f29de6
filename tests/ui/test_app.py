import json

import gradio as gr

from ui.app import ChatApp, answer_html, escape_text, sources_html

XSS = "<img src=x onerror=alert(1)>"


def test_escape_text_neutralises_html_and_markdown():
    escaped = escape_text(XSS + " *bold* [link](http://x)")
    assert "<" not in escaped
    assert "\\*bold\\*" in escaped and "\\[link\\]" in escaped


def test_answer_markers_link_to_sources(engine):
    result = engine.ask("When did Xiaomi drop to third?")
    rendered = answer_html(result)
    for citation in result.citations:
        assert f'href="#rag-src-{citation.n}"' in rendered
    panel = sources_html(result)
    assert panel.count('class="rag-source"') == len(result.citations)
    assert "<mark>" in panel and "date unknown" in panel and "2023-05-31" in panel


def test_abstention_looks_different_and_shows_related(engine):
    result = engine.ask("Who is the CEO of Samsung India?")
    assert answer_html(result).startswith("⚠️")
    panel = sources_html(result)
    assert "rag-notice" in panel and "rag-related" in panel


def run(app, message, history=None, results=None):
    *_, last = app.respond(message, history or [], results or [], 5, False)
    return last


def test_respond_streams_and_ignores_empty_input(engine, tmp_path):
    app = ChatApp(engine, feedback_path=tmp_path / "f.jsonl")
    steps = list(app.respond("When did Xiaomi drop to third?", [], [], 5, False))
    assert len(steps) > 2  # the question, partial answers, the final answer
    _, history, results, sources = steps[-1]
    assert history[0]["role"] == "user" and "2023" in history[-1]["content"]
    assert len(results) == 1 and "rag-source" in sources
    empty = list(app.respond("   ", history, results, 5, False))
    assert empty[-1][1] == history


def test_bad_input_gets_a_polite_reply(engine, tmp_path):
    app = ChatApp(engine, feedback_path=tmp_path / "f.jsonl")
    _, history, results, _ = run(app, "🙂🙂🙂")
    assert history[-1]["role"] == "assistant" and "question" in history[-1]["content"]
    assert results == []


def test_follow_up_shows_rewritten_query(engine, tmp_path):
    app = ChatApp(engine, feedback_path=tmp_path / "f.jsonl")
    _, history, results, _ = run(app, "When did Xiaomi drop to third?")
    _, history, results, _ = run(app, "what about 2023?", history, results)
    rewritten = [m for m in history if m.get("metadata")]
    assert rewritten and "2023" in rewritten[0]["content"]


def test_retry_replaces_the_last_answer(engine, tmp_path):
    app = ChatApp(engine, feedback_path=tmp_path / "f.jsonl")
    _, history, results, _ = run(app, "How many rural stores did Xiaomi open?")
    *_, (retried, retried_results, _) = app.retry(history, results, 5, False)
    assert len(retried) == len(history) and len(retried_results) == 1


def test_feedback_is_appended_as_jsonl(engine, tmp_path):
    path = tmp_path / "fb" / "feedback.jsonl"
    app = ChatApp(engine, feedback_path=path)
    _, history, results, _ = run(app, "When did Xiaomi drop to third?")
    answer_index = results[0]["answer_at"]
    app.feedback(
        results, gr.LikeData(target=None, data={"index": answer_index, "value": "", "liked": False})
    )
    record = json.loads(path.read_text().splitlines()[0])
    assert record["liked"] is False
    assert record["question"] == "When did Xiaomi drop to third?"
    assert record["citations"] and record["answer"]
