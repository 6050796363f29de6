"""End to end in a real browser: Debian's Chromium driven by Playwright (never a download)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

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
# Set RAG_SCREENSHOT=docs/screenshot.png to refresh the README's picture.
SCREENSHOT = os.environ.get("RAG_SCREENSHOT")

if not Path(CHROMIUM).exists():
    # CI installs Chromium, so there a missing browser is a failure, not a skip.
    if os.environ.get("CI"):
        raise RuntimeError(f"Chromium not found at {CHROMIUM}; .ci/run should install it")
    pytest.skip("Debian chromium is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def page(served):
    from playwright.sync_api import sync_playwright

    url, _ = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.dialogs = []
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(url, wait_until="load")
        page.locator("#rag-question textarea").wait_for(timeout=60_000)
        yield page
        browser.close()


def ask(page, question: str) -> None:
    box = page.locator("#rag-question textarea")
    box.fill(question)
    box.press("Enter")
    # The answer is done when the sources panel has been redrawn for it.
    page.wait_for_function(
        "() => !document.querySelector('#rag-chat .pending') && "
        "document.querySelector('#rag-question textarea').value === ''",
        timeout=60_000,
    )


def test_example_question_answer_and_sources(page, tmp_path):
    ask(page, "When did Xiaomi drop to third?")
    sources = page.locator("#rag-sources")
    sources.locator(".rag-source").first.wait_for(timeout=60_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#rag-chat .message')].some("
        "m => m.innerText.includes('2023'))",
        timeout=60_000,
    )
    answer = page.locator("#rag-chat").inner_text()
    assert "2022" in answer and "2023" in answer
    panel = sources.inner_text()
    assert "002_38dd1345af9d5afe.txt" in panel and "004_27bc064c97c57b8b.txt" in panel
    assert page.locator("#rag-chat a.rag-marker").count() >= 2
    path = Path(SCREENSHOT) if SCREENSHOT else tmp_path / "screenshot.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


def test_html_in_a_question_is_shown_literally(page):
    xss = "<img src=x onerror=alert(1)>"
    ask(page, xss)
    page.wait_for_function(
        "text => document.querySelector('#rag-chat').innerText.includes(text)",
        arg=xss,
        timeout=60_000,
    )
    page.wait_for_timeout(1000)
    assert page.dialogs == []
    assert page.locator("#rag-chat img[src='x']").count() == 0
    ask(page, "<script>alert('boo')</script> when did Xiaomi drop to third?")
    page.wait_for_function(
        "() => document.querySelector('#rag-chat').innerText.includes(\"<script>alert('boo')\")",
        timeout=60_000,
    )
    page.wait_for_timeout(1000)
    assert page.dialogs == []
