"""End to end in a real browser: Debian's Chromium driven by Playwright (never a download).

Every test runs at desktop size and at a 390x844 phone size. With RAG_SCREENSHOT
set (say docs/screenshot.png), the desktop picture is saved there and the phone
one beside it (docs/screenshot-phone.png).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORTS = {"desktop": (1400, 1000), "phone": (390, 844)}
# Set RAG_SCREENSHOT=docs/screenshot.png to refresh the README's pictures.
SCREENSHOT = os.environ.get("RAG_SCREENSHOT")

if not Path(CHROMIUM).exists():
    # CI installs Chromium, so there a missing browser is a failure, not a skip.
    if os.environ.get("CI"):
        raise RuntimeError(f"Chromium not found at {CHROMIUM}; .ci/run should install it")
    pytest.skip("Debian chromium is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module", params=list(VIEWPORTS))
def viewport(request) -> str:
    return request.param


# Points of the conversation where something else is drawn on top: the top edge of its
# scrolling area (where a question sits once scrolled up to) and the first question.
COVERED = """() => {
    const log = document.querySelector('#rag-chat [role=log]');
    const area = log.getBoundingClientRect();
    const message = document.querySelector('#rag-chat [data-testid=user]');
    const box = message.getBoundingClientRect();
    const middle = (a, b) => (a + b) / 2;
    const checks = [
        [log, area.left + 8, area.top + 8],
        [log, middle(area.left, area.right), area.top + 8],
        [log, area.right - 24, area.top + 8],
        [message, box.left + 3, box.top + 3],
        [message, box.right - 3, box.top + 3],
        [message, middle(box.left, box.right), middle(box.top, box.bottom)],
    ];
    return checks
        .filter(([element, x, y]) => !element.contains(document.elementFromPoint(x, y)))
        .map(([, x, y]) => document.elementFromPoint(x, y)?.outerHTML.slice(0, 120));
}"""


def open_page(browser, url: str, viewport: str):
    width, height = VIEWPORTS[viewport]
    phone = viewport == "phone"
    context = browser.new_context(
        viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone
    )
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.elsewhere = []  # every request the page makes to another host
    host = urlsplit(url).netloc
    page.on(
        "request",
        lambda request: (
            page.elsewhere.append(request.url)
            if urlsplit(request.url).netloc != host and not request.url.startswith("data:")
            else None
        ),
    )
    page.goto(url, wait_until="load")
    page.locator("#rag-question textarea").wait_for(timeout=60_000)
    return page


@pytest.fixture(scope="module")
def page(browser, served, viewport):
    """One conversation per viewport, shared by the tests below (each asks its own questions)."""
    url, _ = served
    page = open_page(browser, url, viewport)
    yield page
    page.context.close()


def ask(page, question: str) -> None:
    box = page.locator("#rag-question textarea")
    bubbles = page.locator("#rag-chat .bot-row").count()
    box.fill(question)
    box.press("Enter")
    # Done when the reply is in and the panel has been redrawn for it.
    page.wait_for_function(
        "bubbles => document.querySelectorAll('#rag-chat .bot-row').length > bubbles && "
        "!document.querySelector('#rag-chat .pending') && "
        "document.querySelector('#rag-question textarea').value === '' && "
        "!document.querySelector('#rag-sources').innerText.includes('Reading the articles')",
        arg=bubbles,
        timeout=60_000,
    )


def settle(page) -> None:
    """Let Gradio's autoscroll finish: it pins the chat to the bottom ~300 ms after a reply."""
    page.wait_for_timeout(1000)


def last_reply(page):
    return page.locator("#rag-chat .bot-row").last


def test_first_question_is_not_covered_and_screenshot(browser, served, viewport, tmp_path):
    url, _ = served
    page = open_page(browser, url, viewport)
    try:
        ask(page, "Who is Xiaomi's founder?")
        settle(page)
        page.evaluate(
            "() => { document.querySelector('#rag-chat [role=log]').scrollTo(0, 0);"
            " document.querySelector('#rag-chat').scrollIntoView({block: 'start'}); }"
        )
        covered = page.evaluate(COVERED)
        assert covered == []
        name = "screenshot.png" if viewport == "desktop" else "screenshot-phone.png"
        path = tmp_path / name
        if SCREENSHOT:
            base = Path(SCREENSHOT)
            path = base if viewport == "desktop" else base.with_name(f"{base.stem}-phone.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000
        # The README's own example is answered, with its sources (this is its screenshot).
        assert last_reply(page).locator("a.rag-marker").count() >= 1
    finally:
        page.context.close()


def test_feedback_on_a_follow_up_records_that_answer(page, served):
    _, feedback = served
    question = "and how many states are they in?"
    ask(page, "How many rural stores did Xiaomi open?")
    ask(page, question)
    assert "Follow-up read as" in last_reply(page).inner_text()
    buttons = page.locator("#rag-chat .message-buttons").last

    def votes(leaving_out=frozenset()) -> list:
        lines = feedback.read_text().splitlines() if feedback.exists() else []
        records = [json.loads(line) for line in lines]
        mine = [r for r in records if r["question"] == question]
        return [r for r in mine if r["answer_id"] not in leaving_out]

    earlier = frozenset(r["answer_id"] for r in votes())  # the other viewport's votes

    # The thumbs as the page shows them once a vote (or none) is recorded: the next click
    # waits for it, or on a loaded machine it can land on a bubble still being redrawn.
    shown_after = {(True,): "Liked", (False,): "Disliked", (): "Like"}

    def click_and_wait(label: str, expected: list) -> None:
        buttons.get_by_label(label, exact=True).click()
        for _ in range(300):
            if [r["liked"] for r in votes(earlier)] == expected:
                buttons.get_by_label(shown_after[tuple(expected)], exact=True).wait_for()
                return
            page.wait_for_timeout(100)
        raise AssertionError(f"after {label}: {votes(earlier)}, expected {expected}")

    click_and_wait("Like", [True])
    (vote,) = votes(earlier)
    assert vote["rewritten_query"] == "how many states are Xiaomi in?"
    # The vote carries the answer of the bubble clicked (its [n] shown as badges).
    shown = last_reply(page).locator(".rag-answer").inner_text()
    assert shown.endswith(re.sub(r"\[(\d+)\]", r"\1", vote["answer"]))
    click_and_wait("Liked", [])  # clicking the chosen thumb again takes the vote back
    click_and_wait("Like", [True])
    click_and_wait("Dislike", [False])  # one vote per answer: the second click changes it


def test_answers_and_questions_are_shown_as_typed_not_as_markdown(page, engine):
    question = "How many rural stores did Xiaomi open?"  # answered "500. Chinese electronics…"
    ask(page, question)
    shown = last_reply(page).locator(".rag-answer").inner_text()
    assert shown.endswith(re.sub(r"\[(\d+)\]", r"\1", engine.ask(question).answer))
    for typed in ("1. Who is Xiaomi's founder?", "- *who* is _Lei Jun_? $$x$$ # done"):
        ask(page, typed)
        shown = page.locator("#rag-chat [data-testid=user]").last.inner_text()
        assert shown.strip() == typed
    markup = ", ".join(f"#rag-chat {tag}" for tag in ("ol", "ul", "h1", ".katex", "em"))
    # The only emphasis in the chat is the abstention's own.
    assert page.locator(markup).count() == page.locator("#rag-chat .rag-answer > em").count()


def test_badges_lead_to_their_own_answers_sources(page):
    ask(page, "Who is Xiaomi's founder?")
    ask(page, "Which Indian company will make Xiaomi's neckband headphones?")
    badges = page.evaluate(
        """() => [...document.querySelectorAll('#rag-chat a.rag-marker')].map(badge => {
            const target = document.getElementById(badge.getAttribute('href').slice(1));
            const bubble = badge.closest('.message-row');
            return {title: badge.title, target: target ? target.innerText : null,
                    same_bubble: !!target && bubble.contains(target)};
        })"""
    )
    assert len(badges) >= 2  # one per answer at least
    for badge in badges:
        doc = badge["title"].split(": ", 1)[1]
        assert badge["same_bubble"] and doc in badge["target"], badge
    # Clicking a badge of an earlier answer shows that answer's source, in view.
    settle(page)
    earlier = page.locator("#rag-chat .bot-row").nth(-2).locator("a.rag-marker").first
    target_id = earlier.get_attribute("href")[1:]
    earlier.click()
    page.wait_for_timeout(800)
    assert page.locator(f"[id='{target_id}']").is_visible()
    assert page.evaluate(
        """id => { const box = document.getElementById(id).getBoundingClientRect();
                  return box.top >= 0 && box.bottom <= window.innerHeight; }""",
        target_id,
    )
    assert len(page.context.pages) == 1  # no new tab


def test_sources_come_right_after_each_answer(page, viewport):
    ask(page, "Who is Xiaomi's founder?")
    gap = page.evaluate(
        """() => {
            const rows = document.querySelectorAll('#rag-chat .bot-row');
            const row = rows[rows.length - 1];
            const answer = row.querySelector('.rag-answer').getBoundingClientRect();
            const sources = row.querySelector('.rag-cites').getBoundingClientRect();
            return sources.top - answer.bottom;
        }"""
    )
    assert 0 <= gap < 40
    if viewport == "phone":
        # The full passages come before the examples and settings, not under them.
        panel = page.locator("#rag-sources").bounding_box()
        examples = page.get_by_text("Try", exact=True).bounding_box()
        assert panel["y"] < examples["y"]


def test_sources_panel_is_emptied_by_a_refused_input(page):
    ask(page, "When did Xiaomi drop to third?")
    assert page.locator("#rag-sources .rag-source").count() >= 1
    ask(page, "🙂🙂🙂")
    assert "question in words" in last_reply(page).inner_text()
    assert page.locator("#rag-sources .rag-source").count() == 0
    assert "not an answer" in page.locator("#rag-sources").inner_text()


def test_html_in_a_question_is_shown_literally(page):
    xss = "<img src=x onerror=alert(1)>"
    ask(page, xss)
    assert xss in page.locator("#rag-chat").inner_text()
    page.wait_for_timeout(500)
    assert page.dialogs == []
    assert page.locator("#rag-chat img[src='x']").count() == 0
    ask(page, "<script>alert('boo')</script> when did Xiaomi drop to third?")
    assert "<script>alert('boo')</script>" in page.locator("#rag-chat").inner_text()
    page.wait_for_timeout(500)
    assert page.dialogs == []


def test_the_page_asks_nothing_of_other_hosts(page):
    assert page.elsewhere == []


ARTICLES = Path(__file__).resolve().parents[1] / "data" / "articles"


@pytest.fixture(scope="module")
def served_private(engine, tmp_path_factory):
    """A second window, --watch on, over a private copy of the seeds it may change."""
    import socket
    from dataclasses import replace

    from rag.engine import Engine
    from ui.server import launch

    root = tmp_path_factory.mktemp("private")
    shutil.copytree(engine.settings.articles_dir, root / "seeds")
    settings = replace(engine.settings, articles_dir=root / "seeds", index_dir=root / "index")
    private = Engine(settings, embedder=engine.embedder)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    demo = launch(
        private,
        host="127.0.0.1",
        port=port,
        share=False,
        feedback_path=root / "feedback.jsonl",
        prevent_thread_lock=True,
        watch=True,
    )
    yield f"http://127.0.0.1:{port}/", private
    demo.close()


def corpus_files(engine) -> dict[str, bytes]:
    folder = engine.settings.articles_dir
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def article_status(page, expected: str) -> str:
    status = page.locator("#rag-articles-status")
    status.filter(has_text=expected).wait_for(timeout=60_000)
    return status.inner_text()


def table_lists(page, name: str) -> None:
    page.wait_for_function(
        # The table is drawn only once the accordion opens: until then, keep waiting.
        "name => (document.querySelector('#rag-article-table')?.innerText || '').includes(name)",
        arg=name,
        timeout=20_000,
    )


def test_articles_are_added_refused_watched_and_removed(browser, served_private, viewport):
    url, engine = served_private
    page = open_page(browser, url, viewport)
    try:
        page.locator("#rag-articles").get_by_text("Articles", exact=True).first.click()
        table_lists(page, "000_5e51f4d8eddf348c.txt")
        upload = page.locator("#rag-upload input[type=file]")

        # A program renamed .pdf and a name that climbs out of the folder: refused, no change.
        before = corpus_files(engine)
        upload.set_input_files(str(ARTICLES / "setup.pdf"))
        assert "a Windows program" in article_status(page, "refused")
        upload.set_input_files(
            files=[{"name": "../../x.txt", "mimeType": "text/plain", "buffer": b"An article."}]
        )
        page.wait_for_timeout(1500)
        assert corpus_files(engine) == before
        assert not (engine.settings.articles_dir.parent / "x.txt").exists()

        # A PDF added through the window is listed and read by the next question.
        name = f"factory-{viewport}.pdf"
        shutil.copy(ARTICLES / "acme-factory.pdf", engine.settings.index_dir.parent / name)
        upload.set_input_files(str(engine.settings.index_dir.parent / name))
        assert f"added {name}" in article_status(page, f"added {name}")
        table_lists(page, name)
        ask(page, "How many handsets a year will Acme's second factory make?")
        assert name in page.locator("#rag-sources").inner_text()

        # A file dropped into the folder is picked up by the watcher, and the page says so.
        dropped = f"exports-{viewport}.txt"
        shutil.copy(ARTICLES / "acme-exports.txt", engine.settings.articles_dir / dropped)
        page.locator("#rag-index-notice").filter(has_text="index updated: +1 article").wait_for(
            timeout=30_000
        )
        assert dropped in engine.index.articles

        # Removing the uploaded article takes it out of the folder and the index.
        page.locator("#rag-remove-choice input").click()
        page.get_by_role("option", name=name).click()
        page.locator("#rag-remove").click()
        assert name in article_status(page, f"removed {name}")
        assert name not in engine.index.articles
        assert not (engine.settings.articles_dir / name).exists()
    finally:
        page.context.close()


TEA_SHOP = (
    "Acme opens a tea shop in Pune\n\ndate 2024-01-02\n\n"
    "Acme opened its first tea shop in Pune on Monday. The shop sold 400 cups of tea on its "
    "first day, the company said.\n"
)


def test_an_uploaded_article_answers_the_next_question(browser, served_private, viewport):
    url, engine = served_private
    page = open_page(browser, url, viewport)
    name = f"tea-shop-{viewport}.txt"
    try:
        page.locator("#rag-articles").get_by_text("Articles", exact=True).first.click()
        table_lists(page, "000_5e51f4d8eddf348c.txt")
        page.locator("#rag-upload input[type=file]").set_input_files(
            files=[{"name": name, "mimeType": "text/plain", "buffer": TEA_SHOP.encode()}]
        )
        assert f"added {name}" in article_status(page, f"added {name}")
        table_lists(page, name)
        ask(page, "How many cups of tea did Acme's shop in Pune sell on its first day?")
        reply = last_reply(page)
        assert "400" in reply.locator(".rag-answer").inner_text()
        assert reply.locator("a.rag-marker").count() >= 1
        assert name in reply.locator(".rag-cites").inner_text()  # cited under the answer
        assert name in page.locator("#rag-sources").inner_text()
    finally:
        page.context.close()
        if name in engine.index.articles:
            from rag.uploads import ArticleFolder

            ArticleFolder(engine.settings).remove(name, refresh=engine.refresh)


def test_a_reindex_shows_a_status_line(browser, served_private, viewport):
    url, engine = served_private
    page = open_page(browser, url, viewport)
    status = page.locator("#rag-index-status")
    try:
        assert not status.is_visible()  # nothing is being indexed: no empty box either
        engine._refreshing.acquire()  # as refresh() holds it while it builds
        try:
            engine.progress = (2, 12)
            status.filter(has_text="Indexing 3 of 12 new or changed articles…").wait_for(
                timeout=10_000
            )
            engine.progress = (12, 12)
            status.filter(has_text="saving the new index").wait_for(timeout=10_000)
        finally:
            engine.progress = None
            engine._refreshing.release()
        status.wait_for(state="hidden", timeout=10_000)
    finally:
        page.context.close()


def test_the_layout(page, viewport):
    def box(selector: str) -> dict:
        return page.locator(selector).bounding_box()

    if viewport == "phone":
        # One column: the conversation, its sources, then Retry/Clear.
        assert box("#rag-sources")["y"] < box("#rag-retry")["y"]
        assert box("#rag-question")["y"] < box("#rag-sources")["y"]
        return
    # Desktop: Retry/Clear right under the question box, the sources beside them.
    question, retry, sources = box("#rag-question"), box("#rag-retry"), box("#rag-sources")
    assert 0 <= retry["y"] - (question["y"] + question["height"]) < 40
    assert sources["x"] > question["x"] + question["width"]
    page.set_viewport_size({"width": 1280, "height": 900})
    try:
        page.locator("#rag-articles").get_by_text("Articles", exact=True).first.click()
        table_lists(page, "000_5e51f4d8eddf348c.txt")
        header = page.evaluate(
            """() => {
                const th = [...document.querySelectorAll('#rag-article-table th')]
                    .find(cell => cell.innerText.trim() === 'Passages');
                const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
                let text = walker.nextNode();
                while (text && !text.textContent.includes('Passages')) text = walker.nextNode();
                const range = document.createRange();
                range.selectNodeContents(text);
                const box = range.getBoundingClientRect();
                const table = document.querySelector('#rag-article-table').getBoundingClientRect();
                return {lines: new Set([...range.getClientRects()].map(r => r.top)).size,
                        height: box.height, width: box.width, right: box.right,
                        table_right: table.right,
                        font: parseFloat(getComputedStyle(text.parentElement).fontSize)};
            }"""
        )
        assert header["lines"] == 1, header  # "Passages" on one line, not a letter a line
        assert header["height"] < 2 * header["font"] < header["width"], header
        assert header["right"] <= header["table_right"], header  # and in view, not cut off
    finally:
        page.locator("#rag-articles").get_by_text("Articles", exact=True).first.click()
        page.set_viewport_size(
            {"width": VIEWPORTS["desktop"][0], "height": VIEWPORTS["desktop"][1]}
        )
