"""The chat window's API, as a script uses it, and who may change the articles through it.

The README's example ("Scripting the chat window (API)") is run here as written, against a
launched server; only its address is this test server's.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import gradio as gr
import pytest

from ui.chat import ChatApp
from ui.guard import CHANGES_OFF, CHANGES_OFF_SHARED, WRONG_TOKEN, ArticleGuard, request_is_local

README = Path(__file__).resolve().parents[2] / "README.md"
TEA_SHOP = (
    "Acme opens a tea shop in Pune\n\ndate 2024-01-02\n\n"
    "Acme opened its first tea shop in Pune on Monday. The shop sold 400 cups of tea on its "
    "first day, the company said.\n"
)
TOKEN = "correct horse battery staple"


def readme_example() -> str:
    """The first Python block of the README's API section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Scripting the chat window (API)", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def local_server(private_engine, serve):
    url, demo = serve(private_engine)
    yield url
    demo.close()


def test_the_readme_example_runs_as_written(local_server, private_engine, tmp_path, monkeypatch):
    code = readme_example()
    assert 'Client("http://127.0.0.1:7860/")' in code
    (tmp_path / "tea-shop.txt").write_text(TEA_SHOP, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    before = set(private_engine.index.articles)
    names: dict = {}
    exec(compile(code.replace("http://127.0.0.1:7860/", local_server), "README", "exec"), names)

    reply = names["reply"]  # the `rag ask --json` object, and the reply as the page shows it
    assert {"answer", "abstained", "citations", "rewritten_query", "html"} <= set(reply)
    assert "Lei Jun" in reply["answer"] and reply["abstained"] is False
    assert reply["citations"] and {"n", "doc", "quote"} <= set(reply["citations"][0])
    assert names["follow_up"]["rewritten_query"] != names["follow_up"]["question"]

    listed = names["articles"]
    assert {a["file"] for a in listed} == before
    assert set(listed[0]) == {"title", "date", "file", "passages"}

    added = names["added"]
    assert added["added"] == ["tea-shop.txt"] and added["refused"] == []
    assert "tea-shop.txt" in {a["file"] for a in added["articles"]}
    assert "400" in names["tea"]["answer"]
    assert names["tea"]["citations"][0]["doc"] == "tea-shop.txt"

    removed = names["removed"]
    assert removed["removed"] == "tea-shop.txt"
    assert {a["file"] for a in removed["articles"]} == before == set(private_engine.index.articles)


def test_refusals_are_errors_with_a_reason(local_server, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(local_server, verbose=False)
    for question, said in [
        ("", "Please type a question"),
        ("x " * 600, "at most 1,000 characters"),
        ("🙂🙂🙂", "question in words"),
    ]:
        with pytest.raises(AppError, match=said):
            client.predict(question, api_name="/ask")
    with pytest.raises(AppError, match="from 1 to 10"):
        client.predict("Who is Xiaomi's founder?", [], 11, api_name="/ask")
    with pytest.raises(AppError, match="no indexed article has that name"):
        client.predict("no-such-article.txt", api_name="/remove_article")
    # A file the checks refuse is listed as refused; nothing is added.
    program = Path(__file__).resolve().parents[1] / "data" / "articles" / "setup.pdf"
    refused = client.predict([handle_file(str(program))], False, api_name="/upload_articles")
    assert refused["added"] == [] and refused["refused"][0]["file"] == "setup.pdf"
    assert "Windows program" in refused["refused"][0]["why"]


@pytest.mark.unit
def test_the_history_argument_keeps_each_answer_with_its_question():
    history = [
        "When did Xiaomi drop to third?",
        {"role": "assistant", "content": "2022. In the last quarter of 2022 … [1]"},
        {"role": "user", "content": '<div class="rag-text">Who is Xiaomi&#x27;s founder?</div>'},
        {"role": "assistant", "content": "x", "metadata": {"title": "Follow-up read as"}},
        {"role": "assistant", "content": [{"type": "text", "text": "Lei Jun [1]"}]},
        {"role": "user", "content": "and his age?"},
    ]
    from rag.question.history import Turn, conversation

    assert conversation(history) == [
        Turn("When did Xiaomi drop to third?", "2022. In the last quarter of 2022 …"),
        Turn("Who is Xiaomi's founder?", "Lei Jun"),
        Turn("and his age?"),
    ]


# -- who may change the articles ------------------------------------------------------


def fake_request(client: str, host: str = "127.0.0.1:7860", **headers) -> gr.Request:
    return gr.Request(client={"host": client, "port": 50000}, headers={"host": host, **headers})


@pytest.mark.unit
@pytest.mark.parametrize(
    "request_,local",
    [
        (fake_request("127.0.0.1"), True),
        (fake_request("::1", "[::1]:7860"), True),
        (fake_request("127.0.0.1", "localhost:7860"), True),
        (fake_request("192.0.2.7", "192.0.2.2:7860"), False),  # another machine
        (fake_request("127.0.0.1", "rag.example.org"), False),  # a proxy or a share tunnel
        (fake_request("127.0.0.1", **{"x-forwarded-for": "203.0.113.9"}), False),
        (fake_request("127.0.0.1", forwarded="for=203.0.113.9"), False),
        (fake_request("testclient"), False),
        (None, True),  # called from Python in this process
    ],
)
def test_which_requests_are_this_machines(request_, local):
    assert request_is_local(request_) is local


@pytest.mark.unit
def test_the_token_rules():
    here, there = fake_request("127.0.0.1"), fake_request("192.0.2.7", "192.0.2.2:7860")
    no_token, token = ArticleGuard(), ArticleGuard(token=TOKEN)
    assert no_token.refusal(here) is None
    # A token, once set, is asked of this machine too (a local proxy looks like this machine).
    assert token.refusal(here) == WRONG_TOKEN and token.refusal(here, TOKEN) is None
    assert token.refusal(there, "\ud800") == WRONG_TOKEN  # not encodable: not the token
    assert no_token.refusal(there, TOKEN) == CHANGES_OFF  # off: nobody set a token
    assert token.refusal(there) == WRONG_TOKEN
    assert token.refusal(there, "correct horse") == WRONG_TOKEN
    assert token.refusal(there, TOKEN) is None
    # A share link's traffic arrives from this machine: there, every change needs the token.
    assert ArticleGuard(share=True).refusal(here) == CHANGES_OFF_SHARED
    assert ArticleGuard(token=TOKEN, share=True).refusal(here) == WRONG_TOKEN
    assert ArticleGuard(token=TOKEN, share=True).refusal(here, TOKEN) is None


def test_the_pages_own_handlers_ask_the_same(private_engine, tmp_path):
    app = ChatApp(
        private_engine, feedback_path=tmp_path / "f.jsonl", guard=ArticleGuard(token=TOKEN)
    )
    there = fake_request("192.0.2.7", "192.0.2.2:7860")
    note = tmp_path / "note.txt"
    note.write_text(TEA_SHOP, encoding="utf-8")
    before = set(private_engine.index.articles)
    status, *_ = app.add_articles([str(note)], False, "", there)
    assert WRONG_TOKEN in status
    status, *_ = app.remove_article("000_5e51f4d8eddf348c.txt", "wrong", there)
    assert WRONG_TOKEN in status
    assert set(private_engine.index.articles) == before
    assert app.articles_notice(there) == ""  # a token is set: the field is the way in
    untokened = ChatApp(private_engine, feedback_path=tmp_path / "g.jsonl")
    assert CHANGES_OFF in untokened.articles_notice(there)


def this_machines_address() -> str | None:
    """An address of this machine other than loopback (none: the end-to-end check is skipped).
    Connecting a UDP socket sends nothing; it only picks the outgoing interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.254", 9))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture(scope="module")
def address():
    found = this_machines_address()
    if found is None:
        pytest.skip("this machine has no address but loopback")
    return found


@pytest.mark.parametrize("token", [TOKEN, ""])
def test_served_beyond_loopback_changes_need_the_token(
    private_engine, serve, address, tmp_path, token
):
    """A server listening on another address than loopback, reached through it: the client
    is not loopback, so it needs the token (and with none set, it cannot change anything)."""
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    url, demo = serve(private_engine, host=address, token=token)
    try:
        client = Client(url, verbose=False)
        assert "Lei Jun" in client.predict("Who is Xiaomi's founder?", api_name="/ask")["answer"]
        before = {a["file"] for a in client.predict(api_name="/articles")}
        note = tmp_path / "tea-shop.txt"
        note.write_text(TEA_SHOP, encoding="utf-8")
        refusal = "open to this machine only" if not token else "missing or wrong"
        for given in ("", "not the token"):
            with pytest.raises(AppError, match=refusal):
                client.predict([handle_file(note)], False, given, api_name="/upload_articles")
            with pytest.raises(AppError, match=refusal):
                client.predict("tea-shop.txt", given, api_name="/remove_article")
        assert set(private_engine.index.articles) == before
        if not token:
            return
        added = client.predict([handle_file(note)], False, TOKEN, api_name="/upload_articles")
        assert added["added"] == ["tea-shop.txt"]
        removed = client.predict(file="tea-shop.txt", token=TOKEN, api_name="/remove_article")
        assert {a["file"] for a in removed["articles"]} == before
    finally:
        demo.close()


@pytest.mark.parametrize("shape", ["string", "dict", "list of dicts"])
def test_a_path_on_this_machine_is_never_read_as_an_upload(private_engine, tmp_path, shape):
    """Only files sent with the request (in Gradio's upload folder) are read: a caller naming
    any other path gets a refusal, never that file in the articles."""
    secret = tmp_path / "secret.txt"
    secret.write_text("Database password memo\n\nThe password is hunter2.\n", encoding="utf-8")
    given = {"string": str(secret), "dict": {"path": str(secret)}}.get(
        shape, [{"path": str(secret)}]
    )
    app = ChatApp(private_engine, feedback_path=tmp_path / "f.jsonl")
    before = set(private_engine.index.articles)
    result = app.api_upload_articles(given, False, "", None)
    assert result["added"] == [] and result["refused"][0]["file"] == "secret.txt"
    assert result["refused"][0]["why"].startswith("not a file sent to this server")
    assert set(private_engine.index.articles) == before
    assert not (private_engine.settings.articles_dir / "secret.txt").exists()


def test_only_an_indexed_article_can_be_removed(private_engine, tmp_path):
    stray = private_engine.settings.articles_dir / "notes.bin"
    stray.write_bytes(b"\x00\x01 not an article")
    try:
        app = ChatApp(private_engine, feedback_path=tmp_path / "f.jsonl")
        with pytest.raises(gr.Error, match="no indexed article"):
            app.api_remove_article("notes.bin", "", None)
        assert stray.exists()
    finally:
        stray.unlink()
