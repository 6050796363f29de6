"""Someone else's articles, end to end: every file read or skipped with one line saying why,
a page that names their corpus and not the seeds, and an API that lists, adds and removes.

The corpus is written under a temporary folder (big files generated here, never committed):
a cp1252 file, a UTF-16 file, Markdown with front matter, a PDF set with ligatures, a 12 MB
file (over the 10 MB cap), a 2 MB file of one paragraph, and a subfolder.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from rag.cli import cli
from rag.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from make_pdf import make_pdf  # noqa: E402

SEED_WORDS = ("Xiaomi", "Redmi", "Mi Home")

CAFE = (
    "Lyon café co-operative doubles its members\n\n"
    "Lyon, 3 March 2021 — The Croix-Rousse café co-operative said on Wednesday that its "
    "membership had doubled to 412 in a year, and that a second café would open in "
    "Vaise in the autumn. “Prices rose 12% but nobody left,” said its treasurer, "
    "Élodie Marchand.\n"
)
FERRY = (
    "Harbour ferry gets electric engines\n\n"
    "Bergen, 9 May 2022 — The harbour ferry between Nordnes and Bryggen will run on "
    "batteries from June, the city council said. The conversion cost 18 million kroner.\n"
)
LIBRARY = """---
title: "Night library opens in Porto"
date: 2023-10-14
---

# Night library opens in Porto

The municipal library in Porto now stays open until 2 am on Fridays and Saturdays.
In its first month it lent 3,150 books after midnight, the library's director said.
"""
MILL = [
    [
        "Tampere, 2 February 2020 - The old flax mill will become a science centre,",
        "the city's planning office said. The first floor will hold a workshop",
        "for schools, and the conversion is expected to finish in 2024.",
    ]
]


def one_paragraph(size: int) -> str:
    """``size`` characters of varied sentences and no line break: one long paragraph."""
    parts, n = [], 0
    while sum(map(len, parts)) < size:
        parts.append(
            f"Survey sheet {n} counted {n * 37 % 991} oak trees and {n * 11 % 97} "
            f"beech trees along ward {n % 43} of the river park. "
        )
        n += 1
    return "".join(parts)[:size]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("their-articles")
    (folder / "cafe.txt").write_bytes(CAFE.encode("cp1252"))
    (folder / "ferry.txt").write_bytes(FERRY.encode("utf-16"))
    (folder / "library.md").write_text(LIBRARY, encoding="utf-8")
    (folder / "mill.pdf").write_bytes(
        make_pdf(MILL, title="Flax mill to become a science centre", ligatures=True)
    )
    (folder / "census.txt").write_text(
        "Tree census of the river park\n\n" + one_paragraph(2_000_000), encoding="utf-8"
    )
    (folder / "archive.txt").write_bytes(b"Old minutes\n\n" + b"x " * (6 * 1024 * 1024))
    (folder / "older").mkdir()
    (folder / "older" / "note.txt").write_text("A note\n\nKept in a subfolder.\n")
    return folder


@pytest.fixture(scope="module")
def built(corpus, tmp_path_factory):
    """``rag index`` over the corpus: (its output, the settings it used)."""
    index_dir = tmp_path_factory.mktemp("their-index")
    out = CliRunner().invoke(cli, ["index", "--seeds", str(corpus), "--index-dir", str(index_dir)])
    settings = replace(Settings(), articles_dir=corpus, index_dir=index_dir)
    return out, settings


def test_every_file_is_read_or_skipped_with_one_line(built):
    out, settings = built
    assert out.exit_code == 0, out.output
    skipped = [line for line in out.output.splitlines() if "skipped" in line.lower()]
    over = [line for line in skipped if "archive.txt" in line]
    assert len(over) == 1 and "12.0 MB" in over[0] and "10 MB" in over[0], out.output
    folder = [line for line in skipped if "older" in line]
    assert len(folder) == 1 and "subfolder" in folder[0], out.output
    assert "Traceback" not in out.output

    from rag.index import load_index

    index = load_index(settings.index_dir)
    assert set(index.articles) == {"cafe.txt", "ferry.txt", "library.md", "mill.pdf", "census.txt"}
    titles = {doc: article.title for doc, article in index.articles.items()}
    assert titles["library.md"] == "Night library opens in Porto"  # from the front matter
    text = " ".join(c.text for c in index.chunks)
    assert "Élodie Marchand" in text and "18 million kroner" in text  # cp1252, UTF-16
    assert "first floor" in text and "ﬁ" not in text  # the PDF's ligature made plain


def test_ingest_explain_names_each_encoding(corpus):
    out = CliRunner().invoke(cli, ["ingest", "--explain", "--seeds", str(corpus)])
    assert out.exit_code == 0, out.output
    assert "cp1252" in out.output and "utf-16" in out.output


@pytest.fixture(scope="module")
def their_engine(built, embedder):
    from rag.engine import Engine

    _, settings = built
    return Engine(settings, embedder=embedder)


@pytest.fixture(scope="module")
def their_server(their_engine, serve):
    url, demo = serve(their_engine)
    yield url
    demo.close()


def test_the_page_names_their_corpus_not_the_seeds(their_server):
    config = httpx.get(their_server + "config", timeout=60).text
    for word in SEED_WORDS:
        assert word not in config
    assert "Night library opens in Porto" in config  # a headline of theirs as an example
    assert "5 indexed articles" in config


def test_the_api_lists_adds_and_removes_their_articles(their_server, tmp_path):
    from gradio_client import Client, handle_file

    client = Client(their_server, verbose=False)
    listed = client.predict(api_name="/articles")
    assert {row["file"] for row in listed} >= {"cafe.txt", "library.md"}

    new = tmp_path / "tram.txt"
    new.write_text(
        "Tram line reaches the airport\n\nGdańsk, 1 July 2023 — The new tram line to the "
        "airport opened on Saturday; trips take 24 minutes.\n",
        encoding="utf-8",
    )
    added = client.predict([handle_file(str(new))], False, "", api_name="/upload_articles")
    assert "tram.txt" in json.dumps(added)
    answer = client.predict("How long do trips to the airport take?", api_name="/ask")
    assert not answer["abstained"] and "24 minutes" in answer["answer"]
    assert answer["citations"][0]["doc"] == "tram.txt"

    removed = client.predict("tram.txt", "", api_name="/remove_article")
    assert "tram.txt" not in {row["file"] for row in removed["articles"]}


def test_changing_articles_beyond_loopback_needs_the_token(their_engine, tmp_path):
    """A client on another machine (the request the server would hand the handler) can remove
    nothing without the token the person serving set; from this machine no token is needed."""
    import gradio as gr

    from ui.chat import ChatApp
    from ui.guard import ArticleGuard

    there = gr.Request(
        client={"host": "192.0.2.7", "port": 50000}, headers={"host": "192.0.2.2:7860"}
    )
    app = ChatApp(
        their_engine, feedback_path=tmp_path / "f.jsonl", guard=ArticleGuard(token="s3cret")
    )
    before = set(their_engine.index.articles)
    for given in ("", "guess"):
        with pytest.raises(gr.Error, match="missing or wrong"):
            app.api_remove_article("cafe.txt", given, there)
        status, *_ = app.remove_article("cafe.txt", given, there)
        assert "missing or wrong" in status
    assert set(their_engine.index.articles) == before
    untokened = ChatApp(their_engine, feedback_path=tmp_path / "g.jsonl")
    with pytest.raises(gr.Error, match="this machine only"):
        untokened.api_remove_article("cafe.txt", "", there)
    assert set(their_engine.index.articles) == before
