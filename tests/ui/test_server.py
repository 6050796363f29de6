"""What the chat server accepts: its own page's requests, small uploads, no file paths."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from gradio.utils import get_upload_folder

from rag.settings import Settings

EVIL = "http://evil.example"
UPLOAD = "gradio_api/upload"
# Gradio refuses bigger uploads before our handler sees them; the handler checks again.
MAX_UPLOAD_BYTES = Settings().upload_max_mb * 1024 * 1024


@pytest.fixture(scope="module")
def client(served):
    url, _ = served
    with httpx.Client(base_url=url, timeout=60) as client:
        yield client


def uploaded_files() -> set[Path]:
    folder = Path(get_upload_folder())
    return set(folder.rglob("*")) if folder.exists() else set()


def upload(client, size: int, **headers):
    return client.post(UPLOAD, files={"files": ("note.txt", b"x" * size)}, headers=headers)


def test_the_page_itself_still_works(client, served):
    url, _ = served
    origin = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
    assert client.get("/", headers={"Origin": origin}).status_code == 200
    assert client.get("/config").status_code == 200


@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", UPLOAD),
        ("POST", "gradio_api/queue/join"),  # asking (and voting) on the user's behalf
        ("GET", "config"),
    ],
)
def test_cross_origin_requests_are_refused(client, method, path):
    before = uploaded_files()
    files = {"files": ("note.txt", b"hello")} if path == UPLOAD else None
    response = client.request(method, path, headers={"Origin": EVIL}, files=files)
    assert response.status_code == 403, response.text
    assert "access-control-allow-origin" not in response.headers
    assert uploaded_files() == before


def test_a_cross_origin_preflight_gets_no_permission(client):
    headers = {"Origin": EVIL, "Access-Control-Request-Method": "POST"}
    response = client.options(UPLOAD, headers=headers)
    assert "access-control-allow-origin" not in response.headers


def test_a_host_name_that_is_not_this_machine_is_refused(client):
    # A DNS-rebinding page reaches 127.0.0.1 under its own name, origin and host alike.
    headers = {"Host": "evil.example:7860", "Origin": "http://evil.example:7860"}
    assert client.get("/config", headers=headers).status_code == 403


@pytest.mark.parametrize("size", [MAX_UPLOAD_BYTES + 1024, 50 * 1024 * 1024])
def test_uploads_are_capped(client, size):
    assert upload(client, 1024).status_code == 200
    before = uploaded_files()
    too_big = upload(client, size)
    assert too_big.status_code == 413, too_big.text
    assert {p for p in uploaded_files() - before if p.is_file()} == set()


@pytest.mark.parametrize("name", ["../../x.txt", "..\\..\\x.txt", "a/../../x.txt"])
def test_upload_names_that_climb_out_are_refused(client, name):
    before = uploaded_files()
    response = client.post(UPLOAD, files={"files": (name, b"An article.")})
    assert response.status_code == 400, response.text
    assert uploaded_files() == before


@pytest.mark.parametrize(
    "path",
    [
        "UPLOADED",  # even a file just uploaded is not served back
        str(Path(__file__).resolve()),
        "/etc/passwd",
        "http://example.com/",  # nor does the server fetch anything for anyone
        "https://huggingface.co/robots.txt",
    ],
)
def test_no_file_paths_are_served(client, path):
    if path == "UPLOADED":
        response = upload(client, 10)
        assert response.status_code == 200
        path = response.json()[0]
        assert Path(path).is_file()
    for route in (f"gradio_api/file={path}", f"gradio_api/file/{path}"):
        assert client.get(route).status_code in (403, 404), route


@pytest.mark.parametrize(
    "route,arguments",
    [
        ("gradio_api/call/upload_articles", "files"),
        ("gradio_api/call/ask", "history"),
        ("gradio_api/queue/join", "files"),
    ],
)
def test_a_file_named_by_url_is_refused_before_anything_is_fetched(client, route, arguments):
    """Gradio downloads a file an argument names by URL; the server refuses the call first."""
    remote = {"path": "https://example.com/article.txt", "meta": {"_type": "gradio.FileData"}}
    if arguments == "files":
        data = [[remote], False, ""]
    else:
        data = ["Who is Xiaomi's founder?", [{"role": "user", "content": remote}], 5]
    body = {"data": data, "fn_index": 0, "session_hash": "s"} if "join" in route else {"data": data}
    response = client.post(route, json=body)
    assert response.status_code == 403, response.text
    assert "fetches nothing" in response.text


def test_the_api_history_argument_is_the_conversation(served):
    from gradio_client import Client

    url, _ = served
    client = Client(url, verbose=False)  # one client: one session, no hidden state used

    first = client.predict("When did Xiaomi drop to third?", api_name="/ask")
    alone = client.predict("what about 2023?", api_name="/ask")
    assert alone["rewritten_query"] == alone["question"]  # nothing earlier to refer to
    history = [
        {"role": "user", "content": "When did Xiaomi drop to third?"},
        {"role": "assistant", "content": first["html"]},
    ]
    continued = client.predict("what about 2023?", history, api_name="/ask")
    assert continued["rewritten_query"] != continued["question"]
    assert "Xiaomi" in continued["rewritten_query"]


def test_the_pages_own_events_are_not_an_api(served):
    """Scripts get the named endpoints; the page's chat-shaped events are not among them."""
    from gradio_client import Client

    url, _ = served
    endpoints = Client(url, verbose=False).view_api(print_info=False, return_format="dict")
    assert set(endpoints["named_endpoints"]) == {
        "/ask",
        "/articles",
        "/upload_articles",
        "/remove_article",
    }
    assert endpoints["unnamed_endpoints"] == {}
