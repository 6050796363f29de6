"""The optional LLM answerer against a fake OpenAI-compatible endpoint on localhost."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from rag.answering.llm import LLMAnswerer
from rag.engine import make_answerer


class FakeEndpoint(BaseHTTPRequestHandler):
    behaviour = "answer"  # answer | forge | abstain

    def do_POST(self):  # noqa: N802 (http.server's naming)
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = request["messages"][-1]["content"]
        numbers = re.findall(r"^\[(\d+)\] .*third place", prompt, re.M)
        claims = []
        if self.behaviour == "answer" and numbers:
            claims = [{"sentence": int(numbers[0]), "answer": "the last quarter of 2022"}]
        elif self.behaviour == "forge" and numbers:
            claims = [{"sentence": int(numbers[0]), "answer": "March 2019"}]
        body = json.dumps({"choices": [{"message": {"content": json.dumps({"claims": claims})}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint():
    server = HTTPServer(("127.0.0.1", 0), FakeEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def ask_with(engine, answerer, question="when did Xiaomi drop to third?"):
    default = engine.answerer
    engine.answerer = answerer
    try:
        return engine.ask(question)
    finally:
        engine.answerer = default


def llm_answerer(engine, url):
    settings = replace(engine.settings, llm_url=url, llm_model="fake")
    answerer = make_answerer(settings, engine.evidence)
    assert isinstance(answerer, LLMAnswerer)
    return answerer


def test_llm_claims_are_cited_and_verified(engine, endpoint):
    FakeEndpoint.behaviour = "answer"
    result = ask_with(engine, llm_answerer(engine, endpoint))
    assert not result.abstained
    assert "last quarter of 2022" in result.answer
    assert result.citations[0].chunk.doc_id == "002_38dd1345af9d5afe.txt"


def test_a_span_the_sentence_does_not_contain_is_never_shown(engine, endpoint):
    FakeEndpoint.behaviour = "forge"
    result = ask_with(engine, llm_answerer(engine, endpoint))
    assert result.abstained and "March 2019" not in result.answer


def test_unreachable_endpoint_falls_back_to_the_extractive_answerer(engine):
    fallback = llm_answerer(engine, "http://127.0.0.1:9/v1")
    result = ask_with(engine, fallback, question="Who is Xiaomi's founder?")
    assert not result.abstained and "Lei Jun" in result.answer
    assert "LLM unavailable" in result.reason


@pytest.mark.unit
@pytest.mark.parametrize(
    "reply",
    [
        '{"claims": [{"sentence": 2, "answer": "Q1 2023"}]}',
        'Here you go:\n```json\n{"claims": [{"sentence": 2, "answer": " Q1 2023 "}]}\n```',
        'Note {not json} then {"claims": [{"sentence": "2", "answer": "Q1 2023"}]} done',
    ],
)
def test_the_claims_are_read_from_prose_and_code_fences(reply):
    from rag.answering.llm import _parse_claims

    assert _parse_claims(reply) == [(2, "Q1 2023")]


@pytest.mark.unit
@pytest.mark.parametrize("reply", ["no JSON here", '{"answer": "x"}', '{"claims": [{"sentence"'])
def test_a_reply_without_claims_is_an_error(reply):
    from rag.answering.llm import _parse_claims

    with pytest.raises(ValueError):
        _parse_claims(reply)


@pytest.mark.unit
def test_the_sentences_go_to_the_configured_server_only(monkeypatch):
    """No redirect is followed, no proxy or OPENAI_* variable from the environment is used."""
    calls = []

    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            calls.append((self.server.server_address[1], dict(self.headers)))
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{other.server_address[1]}/steal")
            self.end_headers()

        def log_message(self, *args):
            pass

    configured, other = (HTTPServer(("127.0.0.1", 0), Redirecting) for _ in range(2))
    for server in (configured, other):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "Authorization: Bearer from-the-environment")
    answerer = LLMAnswerer(
        None, url=f"http://127.0.0.1:{configured.server_address[1]}/v1", model="m", fallback=None
    )
    try:
        with pytest.raises(Exception):  # noqa: B017 (the SDK's status error; any error falls back)
            answerer._complete("Question: who?")
    finally:
        configured.shutdown()
        other.shutdown()
    assert [port for port, _ in calls] == [configured.server_address[1]]
    headers = {k.lower(): v for k, v in calls[0][1].items()}
    assert headers["authorization"] == "Bearer none"
