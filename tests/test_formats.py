"""Articles read by what they hold: text, Markdown, web pages and PDFs (rag/formats.py)."""

import io
from pathlib import Path

import pytest

from rag import formats
from rag.errors import RagError
from rag.ingest import read_article, read_corpus

pytestmark = pytest.mark.unit

ARTICLES = Path(__file__).resolve().parent / "data" / "articles"


@pytest.mark.parametrize(
    "name,kind,title,date,source,first",
    [
        (
            "acme-rural-stores.html",
            "html",
            "Acme opens 300 rural stores in Bihar",
            "2021-08-09",
            "the page's metadata",
            "Acme Mobiles has opened 300 stores in rural Bihar",
        ),
        (
            "acme-results.md",
            "markdown",
            "Acme's India revenue doubles in 2022",
            "2023-02-10",
            "the file's front matter",
            "Acme Mobiles said its India revenue doubled to Rs 4,800 crore in 2022, helped by "
            "strong sales",
        ),
        (
            "acme-factory.pdf",
            "pdf",
            "Acme Mobiles to open a second factory in Pune",
            "2022-02-14",
            "a dateline",
            "Pune, 14 February 2022 - Acme Mobiles said on Monday that it will open a second",
        ),
        (
            "acme-exports.txt",
            "text",
            "Acme begins exporting phones made in Noida",
            "2022-06-03",
            "a dateline",
            "Noida, June 3, 2022 — Acme Mobiles shipped",
        ),
    ],
)
def test_each_kind_gives_title_date_and_text(name, kind, title, date, source, first):
    article = read_article(ARTICLES / name)
    assert article.kind == kind
    assert article.title == title
    assert article.date == date
    assert article.date_source.startswith(source)
    assert article.body.startswith(first)


def test_a_web_page_loses_its_menus_scripts_and_footer():
    body = read_article(ARTICLES / "acme-rural-stores.html").body
    assert "dataLayer" not in body and "font-family" not in body
    assert "Most read" not in body and "All rights reserved" not in body and "Markets" not in body
    assert "200 stores in Jharkhand" in body


def test_markdown_syntax_becomes_text():
    body = read_article(ARTICLES / "acme-results.md").body
    assert "**" not in body and "](" not in body and "not article text" not in body
    assert "Shipments rose to 11 million units." in body.splitlines()
    assert "chief executive Tom Varghese" in body


def test_pdf_pages_are_kept_for_citations():
    article = read_article(ARTICLES / "acme-factory.pdf")
    assert [number for _, number in article.pages] == [1, 2]
    assert article.page_at(article.body.index("8 million handsets")) == 1
    assert article.page_at(article.body.index("third quarter")) == 2


def test_the_kind_comes_from_the_content_not_the_name(tmp_path):
    page = tmp_path / "saved-page.txt"
    page.write_bytes((ARTICLES / "acme-rural-stores.html").read_bytes())
    assert read_article(page).kind == "html"
    pdf = tmp_path / "report.bin"
    pdf.write_bytes((ARTICLES / "acme-factory.pdf").read_bytes())
    assert read_article(pdf).kind == "pdf"


def _encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(ARTICLES / "acme-factory.pdf"))
    writer.encrypt("secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    "data,reason",
    [
        ((ARTICLES / "setup.pdf").read_bytes(), "a Windows program"),
        ((ARTICLES / "markup-only.html").read_bytes(), "no article text"),
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "a PNG image"),
        (b"PK\x03\x04" + bytes(64), "a ZIP archive"),
        (b"%PDF-1.4\n1 0 obj\n<< broken", "a damaged PDF"),
        (bytes(range(1, 32)) * 40, "not text"),
        (b"text\x00with NUL", "binary file"),
        (_encrypted_pdf(), "an encrypted PDF"),
    ],
)
def test_files_that_are_not_articles_are_refused_with_a_reason(data, reason):
    with pytest.raises(RagError, match=reason):
        formats.extract(data, "upload")


def test_a_folder_of_every_kind_reads_the_articles_and_skips_the_rest():
    corpus = read_corpus(ARTICLES)
    assert {a.kind for a in corpus.articles} == {"text", "markdown", "html", "pdf"}
    reasons = {s.path.name: s.reason for s in corpus.skipped}
    assert set(reasons) == {"setup.pdf", "markup-only.html"}


@pytest.mark.parametrize(
    "line,date",
    [
        ("May 31, 2023 04:11 pm | Updated 04:11 pm IST", "2023-05-31"),
        ("Pune, 4 March 2021 — Acme said on Thursday that it had opened stores.", "2021-03-04"),
        ("Published 2020-11-02", "2020-11-02"),
        ("Sept. 9, 2019", "2019-09-09"),
        ("The company, founded on 4 March 2010, said it would open 100 stores in India.", None),
        ("February 30, 2021", None),
    ],
)
def test_datelines(line, date):
    from rag.ingest import dateline_date

    assert dateline_date(line) == date


def test_a_pdf_without_a_title_takes_its_largest_type_and_drops_running_lines():
    article = read_article(ARTICLES / "acme-newsletter.pdf")
    assert article.title == "Acme picks Pune for its second plant"
    assert article.date == "2022-05-02"
    assert article.body.startswith("The plant will employ about 1,200 people")
    assert "Handset Industry Weekly" not in article.body and "Page 2" not in article.body
    assert [number for _, number in article.pages] == [1, 2]


def test_lines_above_the_first_sentence_are_not_the_article():
    from rag.ingest import clean_article

    raw = (
        "Acme opens a plant in Pune\n"
        "By Meera Kulkarni\n"
        "Posted on 5 September 2024 · Business\n"
        "Acme said on Monday it had opened a plant.\n"
        "Output\n"
        "It makes phones."
    )
    article = clean_article("a.txt", raw)
    assert article.title == "Acme opens a plant in Pune"
    assert article.date == "2024-09-05"
    assert article.body == "Acme said on Monday it had opened a plant.\nOutput\nIt makes phones."
    assert [d.rule for d in article.dropped] == ["header line", "header line"]


def test_markdown_with_an_underlined_heading_and_a_timestamped_date():
    source = (
        b"---\ndate: 2024-04-02T09:30:00+01:00\n---\n\n"
        b"Solar farm switches on\n======================\n\n"
        b"[Greenfold Energy](https://example.org) has switched on a solar farm.\n"
    )
    extracted = formats.extract(source, "note.txt")
    assert extracted.kind == "markdown" and extracted.date == "2024-04-02"
    assert extracted.title == "Solar farm switches on"
    assert extracted.text.strip() == "Greenfold Energy has switched on a solar farm."


def test_a_web_page_takes_its_one_h1_over_a_shorter_social_title():
    page = (
        b"<html><head><title>Waits fall | Herald</title>"
        b'<meta property="og:title" content="Waits fall"></head><body><article>'
        b"<h1>Ambulance waits in Westvale fall for a third month</h1>"
        b"<p>Ambulances in Westvale reached the most urgent calls faster in June than in any "
        b"month since 2019, the county's ambulance service said on Tuesday.</p>"
        b"<p>The average response to the most serious calls fell to seven minutes.</p>"
        b"</article></body></html>"
    )
    assert formats.extract(page, "p.html").title == (
        "Ambulance waits in Westvale fall for a third month"
    )


def test_pdf_lines_wrapped_at_the_margin_are_one_paragraph():
    text = formats._unwrap(
        "VALENCIA, September 9, 2021 — The operator of the terminal said on\n"
        "Thursday it would spend 260 million euros on automated cranes, in an attempt\n"
        "to win back shipping lines.\n"
        "Short heading\n"
        "The next paragraph starts here and runs on for a while as prose does."
    )
    assert text.splitlines()[0].startswith("VALENCIA, September 9, 2021 — The operator")
    assert text.splitlines()[0].endswith("to win back shipping lines.")
    assert "Short heading" in text.splitlines()


@pytest.mark.parametrize(
    "line,date",
    [
        ("Published 22/09/2020", "2020-09-22"),
        ("Posted 09/22/2020", "2020-09-22"),
        ("Published 03/04/2021", None),  # 3 April or March 4: the page does not say
    ],
)
def test_numeric_dates_only_when_unambiguous(line, date):
    from rag.ingest import dateline_date

    assert dateline_date(line) == date


def test_toml_front_matter():
    source = (
        b'+++\ntitle = "Corner shops add parcel lockers"\ndate = 2022-12-01\n+++\n\n'
        b"Shops in Leeds now take parcels.\n"
    )
    extracted = formats.extract(source, "shops.md")
    assert (extracted.title, extracted.date) == ("Corner shops add parcel lockers", "2022-12-01")
    assert extracted.text.strip() == "Shops in Leeds now take parcels."


def test_dashed_page_numbers_are_dropped():
    pages = formats._without_running_lines(["– 1 –\nA line of the story.", "- 2 -\nMore of it."])
    assert pages == ["A line of the story.", "More of it."]
