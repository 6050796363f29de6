"""Adding and removing articles through the window: checked on the server, all or nothing."""

from dataclasses import replace
from pathlib import Path

import pytest

from rag.errors import RagError
from rag.uploads import ArticleFolder, safe_name

ARTICLES = Path(__file__).resolve().parent / "data" / "articles"


def folder_state(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.mark.unit
@pytest.mark.parametrize(
    "given", ["../../x.txt", "..\\x.txt", "a/b.txt", ".hidden.txt", "x\x07.txt"]
)
def test_names_that_could_leave_the_folder_are_refused(given):
    with pytest.raises(RagError):
        safe_name(given)


@pytest.mark.unit
def test_odd_characters_become_plain():
    assert safe_name("Acme: results <2023>.md") == "Acme_ results _2023_.md"


def test_adding_an_article_updates_the_index_at_once(small_engine):
    folder = ArticleFolder(small_engine.settings)
    data = (ARTICLES / "acme-rural-stores.html").read_bytes()
    report = folder.add([("rural.html", data)], replace=False, refresh=small_engine.refresh)
    assert report.added == ["rural.html"] and not report.refused
    assert "rural.html" in small_engine.index.articles
    hits = small_engine.search("How many stores has Acme opened in rural Bihar?")
    assert hits[0].chunk.doc_id == "rural.html"


@pytest.mark.parametrize(
    "name,data,why",
    [
        ("setup.pdf", (ARTICLES / "setup.pdf").read_bytes(), "Windows program"),
        ("page.html", (ARTICLES / "markup-only.html").read_bytes(), "no article text"),
        ("../../x.txt", b"An article about phones.", "folder"),
        ("big.txt", b"word " * (3 * 1024 * 1024), "over the 10 MB limit"),
        ("acme-exports.txt", b"A different article with the same name.", "tick"),
    ],
)
def test_refused_uploads_write_nothing(small_engine, name, data, why):
    folder = small_engine.settings.articles_dir
    before, index = folder_state(folder), small_engine.index
    report = ArticleFolder(small_engine.settings).add(
        [(name, data)], replace=False, refresh=small_engine.refresh
    )
    assert report.refused and why in report.refused[0][1], report.refused
    assert folder_state(folder) == before and small_engine.index is index
    assert not (folder.parent / "x.txt").exists()


def test_replacing_needs_consent(small_engine):
    folder = ArticleFolder(small_engine.settings)
    new = b"Acme begins exporting phones to Nepal\\nAcme shipped 5,000 phones to Nepal in May."
    report = folder.add([("acme-exports.txt", new)], replace=True, refresh=small_engine.refresh)
    assert report.replaced == ["acme-exports.txt"]
    assert (small_engine.settings.articles_dir / "acme-exports.txt").read_bytes() == new


def test_a_failed_build_puts_everything_back(small_engine):
    folder = small_engine.settings.articles_dir
    before, index = folder_state(folder), small_engine.index

    def failing_refresh():
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        ArticleFolder(small_engine.settings).add(
            [("new.txt", b"Acme opened a store in Goa.")], replace=False, refresh=failing_refresh
        )
    with pytest.raises(RuntimeError):
        ArticleFolder(small_engine.settings).remove("acme-exports.txt", refresh=failing_refresh)
    assert folder_state(folder) == before and small_engine.index is index
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no leftovers


def test_the_window_adds_at_most_upload_cap_files(small_engine):
    settings = replace(small_engine.settings, upload_cap=1)
    folder = ArticleFolder(settings)
    files = [(f"a{n}.txt", f"Acme opened store number {n} in Goa.".encode()) for n in range(2)]
    report = folder.add(files, replace=False, refresh=small_engine.refresh)
    assert report.added == ["a0.txt"]
    assert "at most 1 files" in report.refused[0][1]
    report = folder.add(
        [("a2.txt", b"Acme opened a third store.")], replace=False, refresh=small_engine.refresh
    )
    assert report.refused and not report.added


def test_removing_an_article(small_engine):
    folder = ArticleFolder(small_engine.settings)
    folder.remove("acme-results.md", refresh=small_engine.refresh)
    assert set(small_engine.index.articles) == {"acme-exports.txt"}
    for name in ("../acme-exports.txt", "missing.txt"):
        with pytest.raises(RagError):
            folder.remove(name, refresh=small_engine.refresh)
    # The last article cannot go: an empty folder has nothing to index.
    with pytest.raises(RagError):
        folder.remove("acme-exports.txt", refresh=small_engine.refresh)
    assert (small_engine.settings.articles_dir / "acme-exports.txt").exists()


@pytest.mark.unit
def test_two_uploads_at_once_never_pass_the_cap_together(tmp_path):
    import threading
    import time

    from rag.index import BuildReport
    from rag.settings import Settings

    folder = tmp_path / "articles"
    folder.mkdir()
    settings = Settings(articles_dir=folder, index_dir=tmp_path / "index", upload_cap=1)
    article = b"Acme opens a shop\n\nAcme opened its first shop in Pune on Monday, it said.\n"

    def slow_refresh() -> BuildReport:
        time.sleep(0.3)  # the other upload arrives while this one is re-indexing
        return BuildReport()

    reports = []

    def upload(name: str) -> None:
        reports.append(
            ArticleFolder(settings).add([(name, article)], replace=False, refresh=slow_refresh)
        )

    threads = [threading.Thread(target=upload, args=(f"shop-{n}.txt",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(len(r.added) for r in reports) == [0, 1]
    assert any("upload_cap" in why for r in reports for _, why in r.refused)
    assert len(list(folder.glob("shop-*.txt"))) == 1
