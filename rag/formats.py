"""What kind of file an article is, judged by its content, and the text, title and date it states.

Plain text and Markdown go on to the line-cleaning rules of ingest.py. A web page's main text,
title and publication date come from the page itself: trafilatura finds the article among the
menus and scripts, and htmldate reads the date from the page's own markup (meta tags, JSON-LD,
``<time>``), never from the text around it or the file's mtime. A PDF's text comes page by page
from pypdf, so a passage can cite its page. Anything else is refused with a reason a person can
act on.
"""

from __future__ import annotations

import codecs
import html
import io
import re
from dataclasses import dataclass, replace

from markdown_it import MarkdownIt

from .errors import RagError

TEXT, MARKDOWN, HTML, PDF = "text", "markdown", "html", "pdf"
KINDS = (TEXT, MARKDOWN, HTML, PDF)
# Pages of a PDF are joined with a form feed, which no cleaned line contains.
PAGE_BREAK = "\f"

# Leading bytes of formats that are never articles, with what to call them.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"RIFF", "an image, audio or video file"),
    (b"\x00\x00\x01\x00", "an icon"),
    (b"ID3", "an MP3 file"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document; save it as PDF or text)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a program"),
    (b"\xcf\xfa\xed\xfe", "a program"),
    (b"%!PS", "a PostScript file"),
    (b"SQLite format 3", "a database"),
)
_HTML_START = re.compile(r"<(?:!doctype\s+html|html|head|body)\b", re.IGNORECASE)
_HTML_TAGS = re.compile(r"</?(?:p|div|article|span|h[1-6]|br|a|section|main)\b[^>]*>", re.I)
_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+\S")
_SETEXT_UNDERLINE = re.compile(r"^\s*(=+|-+)\s*$")


@dataclass(frozen=True)
class Extracted:
    """A file's text, ready for line cleaning, with what the file itself says about it."""

    kind: str
    text: str
    title: str | None = None
    date: str | None = None
    date_source: str | None = None
    encoding: str | None = None  # how a text file's bytes were read; None for PDFs


# Characters that are layout, not text: typographic ligatures (PDFs are full of them), no-break
# spaces and soft hyphens. Replaced when an article is read, so a quote matches what a reader
# types ("first", not "ﬁrst"); not full NFKC, which would also turn "10⁶" into "106".
_LAYOUT_CHARACTERS = str.maketrans(
    {
        "\ufb00": "ff",
        "\ufb01": "fi",
        "\ufb02": "fl",
        "\ufb03": "ffi",
        "\ufb04": "ffl",
        "\ufb05": "st",
        "\ufb06": "st",
        "\u00a0": " ",  # no-break space
        "\u202f": " ",  # narrow no-break space
        "\u2007": " ",  # figure space
        "\u00ad": None,  # soft hyphen
        "\u200b": None,  # zero-width space
        "\ufeff": None,  # a byte-order mark left inside the text
    }
)


def plain_characters(text: str) -> str:
    """``text`` with ligatures spelled out, odd spaces made plain and soft hyphens removed."""
    return text.translate(_LAYOUT_CHARACTERS)


def sniff(data: bytes, name: str) -> str:
    """The kind of article ``data`` holds, whatever its name says; RagError when none."""
    return _read(data, name)[0]


def _read(data: bytes, name: str) -> tuple[str, str | None, str | None]:
    """(kind, text, encoding): a text file decoded once, for sniffing and extraction alike;
    a PDF is left to pypdf (text and encoding None)."""
    if b"%PDF-" in data[:1024]:
        return PDF, None, None
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise RagError(f"{name}: {what}, not an article")
    text, encoding = decode(data, name)
    head = text.lstrip()[:4096]
    if _HTML_START.match(head) or _HTML_START.search(head[:1024]):
        return HTML, text, encoding
    if len(_HTML_TAGS.findall(head)) >= 3:
        return HTML, text, encoding
    lines = [line for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else ""
    setext = len(lines) > 1 and _SETEXT_UNDERLINE.match(lines[1])
    if _MARKDOWN_HEADING.match(first) or first.strip() in ("---", "+++") or setext:
        return MARKDOWN, text, encoding
    if name.lower().endswith((".md", ".markdown")):
        # nothing in the text says otherwise, and the name says Markdown
        return MARKDOWN, text, encoding
    return TEXT, text, encoding


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Encodings a text without a byte-order mark is read in, when it is not UTF-8: what
# charset-normalizer finds, if it is one of the Western ones, else Windows-1252 and then
# Latin-1 (which reads any bytes). Its other guesses are not taken: on a short French text it
# says Central European (cp1250) and "Crème" becomes "Crčme".
_FALLBACKS = ("cp1252", "latin-1")
_DETECTED = {"cp1252", "latin_1", "iso8859_15"}


def decode(data: bytes, name: str) -> tuple[str, str]:
    """(text, encoding): UTF-8 first, then a byte-order mark, UTF-16 by its zero bytes, what
    charset-normalizer detects among Western encodings, and Windows-1252 / Latin-1 last.
    RagError for bytes that are not text in any of them (binary files)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = _text(data.decode(encoding), name)
                return text, encoding.replace("-sig", "") + " (byte-order mark)"
            except UnicodeDecodeError:
                why = f"not valid {encoding} text after its byte-order mark"
                raise RagError(f"{name}: {why}") from None
    sample = data[:4096]
    if b"\x00" in sample:
        # UTF-16 without a mark puts a zero byte beside every ASCII letter; anything else with
        # zero bytes is binary.
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if max(even, odd) > len(sample) // 4 and min(even, odd) < len(sample) // 50:
            encoding = "utf-16-le" if odd > even else "utf-16-be"
            try:
                return _text(data.decode(encoding), name), encoding
            except UnicodeDecodeError:
                pass
        raise RagError(f"{name}: binary file (contains NUL bytes)")
    try:
        return _text(data.decode("utf-8"), name), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    guesses = [best.encoding] if best is not None and best.encoding in _DETECTED else []
    for encoding in [*guesses, *_FALLBACKS]:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_like_text(text):
            return text, encoding
    raise RagError(f"{name}: not text in UTF-8, UTF-16 or a Western encoding")


def _text(text: str, name: str) -> str:
    if not _looks_like_text(text):
        raise RagError(f"{name}: not text (control characters throughout)")
    return text


def _looks_like_text(text: str) -> bool:
    """Few control characters: bytes of a program decoded as Latin-1 are full of them."""
    sample = text[:20_000]
    controls = sum(1 for c in sample if ord(c) < 32 and c not in "\n\r\t\f")
    return controls <= len(sample) // 100


def extract(data: bytes, name: str) -> Extracted:
    """Text, title and date of an article file; RagError (the reason to skip it) otherwise."""
    kind, text, encoding = _read(data, name)
    if kind == PDF:
        extracted = _pdf(data, name)
    elif kind == HTML:
        extracted = _html(text, name)
    elif kind == MARKDOWN:
        extracted = _markdown(text)
    else:
        extracted = Extracted(kind=TEXT, text=text)
    return replace(
        extracted,
        encoding=encoding,
        text=plain_characters(extracted.text),
        title=plain_characters(extracted.title) if extracted.title else extracted.title,
    )


# --- web pages -------------------------------------------------------------------------------


def _html(page: str, name: str) -> Extracted:
    import trafilatura

    try:
        document = trafilatura.bare_extraction(
            page,
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            include_images=False,
        )
    except Exception as error:  # lxml and trafilatura raise many kinds on broken pages
        raise RagError(f"{name}: the web page could not be read ({error})") from None
    body = (document.text or "") if document is not None else ""
    if not body.strip():
        raise RagError(f"{name}: a web page with no article text (only markup)")
    title = _headline(page) or _clean_title(document.title)
    lines = body.splitlines()
    # trafilatura keeps the headline as the first line of the text; it is the title.
    if title and lines and " ".join(lines[0].split()) == title:
        lines = lines[1:]
    date = _page_date(page)
    return Extracted(
        kind=HTML,
        text="\n".join(lines),
        title=title,
        date=date,
        date_source="the page's metadata" if date else None,
    )


def _headline(page: str) -> str | None:
    """The text of the page's only <h1>: a news page's headline (its <title> and og:title
    often carry a shorter social title or the site's name)."""
    import lxml.html

    try:
        headings = lxml.html.fromstring(page).xpath("//h1")
    except (ValueError, lxml.etree.ParserError):
        return None
    if len(headings) != 1:
        return None
    text = " ".join(headings[0].text_content().split())
    return text if 2 <= len(text.split()) <= 30 else None


def _page_date(page: str) -> str | None:
    """The publication date the page's markup states; no guessing from its text or URL."""
    from htmldate import find_date

    try:
        return find_date(
            page,
            extensive_search=False,
            original_date=True,
            outputformat="%Y-%m-%d",
        )
    except Exception:  # htmldate fails on some malformed markup; the date is then unknown
        return None


def _clean_title(title: str | None) -> str | None:
    if not title:
        return None
    title = " ".join(title.split())
    return title or None


# --- Markdown --------------------------------------------------------------------------------

# YAML (---, "title: …") or TOML (+++, "title = …") front matter.
_FRONT_MATTER = re.compile(r"\A(---|\+\+\+)\s*\n(.*?)\n\1\s*\n", re.DOTALL)
_FRONT_FIELD = re.compile(r"^(title|date)\s*[:=]\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_ISO_DATE = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")  # "2024-04-02T09:30:00" too
_MARKDOWN = MarkdownIt("commonmark")
_HTML_HIDDEN = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_HTML_TAG = re.compile(r"<[^>]*>")


def _inline_text(token) -> str:
    """An inline token's words: text and code as written, links as their text, no images,
    no HTML, no emphasis marks, line breaks as spaces."""
    parts = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return " ".join("".join(parts).split())


def _markdown(source: str) -> Extracted:
    """Markdown as plain lines (markdown-it-py, CommonMark): one line per paragraph, heading,
    list item or quote; the first heading is the title; fenced code is left out (it is not
    article prose), an indented block kept (in articles it is mostly a paragraph)."""
    title = date = date_source = None
    front = _FRONT_MATTER.match(source)
    if front:
        for key, value in _FRONT_FIELD.findall(front.group(2)):
            value = value.strip().strip("\"'")
            if key.lower() == "title" and value:
                title = value
            elif key.lower() == "date" and (iso := _ISO_DATE.search(value)):
                date, date_source = iso.group(1), "the file's front matter"
        source = source[front.end() :]
    lines: list[str] = []
    in_heading = False
    for token in _MARKDOWN.parse(source):
        if token.type == "heading_open":
            in_heading = True
        elif token.type == "heading_close":
            in_heading = False
        elif token.type == "html_block":
            # HTML written into the Markdown: its words, not its tags, scripts or comments.
            words = _HTML_TAG.sub(" ", _HTML_HIDDEN.sub(" ", token.content))
            lines.extend(" ".join(html.unescape(words).split()).splitlines() or [])
        elif token.type == "code_block":
            lines.extend(" ".join(p.split()) for p in token.content.split("\n\n") if p.strip())
        elif token.type == "inline" and (text := _inline_text(token)):
            if in_heading and title is None:
                title = text
            else:
                lines.append(text)
    return Extracted(
        kind=MARKDOWN, text="\n".join(lines), title=title, date=date, date_source=date_source
    )


# --- PDF -------------------------------------------------------------------------------------


def _pdf(data: bytes, name: str) -> Extracted:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # broken-xref chatter is not ours
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise RagError(f"{name}: an encrypted PDF (it needs a password)")
        sizes: list[tuple[float, str]] = []  # (font size, text) of the first page's runs

        def first_page_runs(text, cm, tm, font, size) -> None:
            if text.strip() and size:
                sizes.append((float(size) * abs(float(tm[3]) or 1.0), text.strip()))

        pages = [reader.pages[0].extract_text(visitor_text=first_page_runs) or ""]
        pages += [page.extract_text() or "" for page in reader.pages[1:]]
        metadata = reader.metadata
    except RagError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as error:
        reason = "an encrypted PDF" if "decrypt" in str(error).lower() else "a damaged PDF"
        raise RagError(f"{name}: {reason} ({error})") from None
    except Exception as error:  # pypdf raises more than its own errors on broken files
        raise RagError(f"{name}: a damaged PDF ({type(error).__name__})") from None
    if not any(page.strip() for page in pages):
        raise RagError(f"{name}: a PDF with no text (scanned pages need OCR first)")
    title = _clean_title(getattr(metadata, "title", None) if metadata else None)
    if title and _GENERATOR_TITLE.search(title):
        title = None  # "Microsoft Word - draft.docx" names a file, not the article
    pages = _without_running_lines([page.replace(PAGE_BREAK, " ") for page in pages])
    return Extracted(
        kind=PDF,
        text=PAGE_BREAK.join(_unwrap(page) for page in pages),
        title=title or _largest_type(sizes),
    )


def _largest_type(runs: list[tuple[float, str]]) -> str | None:
    """The first page's headline: its runs in the largest type, when that stands out."""
    if not runs:
        return None
    largest = max(size for size, _ in runs)
    body = sorted(size for size, _ in runs)[len(runs) // 2]
    if largest < body * 1.15:
        return None
    words = " ".join(text for size, text in runs if size >= largest - 0.5).split()
    return " ".join(words) if 2 <= len(words) <= 30 else None


_PAGE_NUMBER = re.compile(
    r"^[–—-]?\s*(page\s+)?\d{1,4}(\s*(of|/)\s*\d{1,4})?\s*[–—-]?$", re.IGNORECASE
)


def _without_running_lines(pages: list[str]) -> list[str]:
    """Pages less their page numbers and the header or footer lines repeated on other pages."""

    def key(line: str) -> str:
        return re.sub(r"\d+", "#", " ".join(line.split()).lower())

    edges: dict[str, int] = {}
    for page in pages:
        lines = [line for line in page.splitlines() if line.strip()]
        for line in {key(line) for line in lines[:2] + lines[-2:]}:
            edges[line] = edges.get(line, 0) + 1
    running = {line for line, count in edges.items() if count >= 2}
    cleaned = []
    for page in pages:
        kept = [
            line
            for line in page.splitlines()
            if not _PAGE_NUMBER.match(line.strip()) and key(line) not in running
        ]
        cleaned.append("\n".join(kept))
    return cleaned


_LINE_END = re.compile(r"[.!?:;\"”’)\]]\s*$")


def _unwrap(page: str) -> str:
    """A PDF page's lines rejoined into paragraphs: a line that stops mid-sentence goes on in
    the next one when that one starts in lower case ("… open a" / "second factory …") or
    when it is as long as the page's lines of prose (it was wrapped at the margin)."""
    widths = sorted(len(line.strip()) for line in page.splitlines() if line.strip())
    full = widths[len(widths) // 2] * 0.75 if widths else 0
    lines: list[str] = []
    wrapped = False  # the last line was itself a full line of prose
    for line in page.splitlines():
        line = line.strip()
        if not line:
            lines.append("")
            wrapped = False
            continue
        previous = lines[-1] if lines else ""
        goes_on = previous and not _LINE_END.search(previous)
        if goes_on and (re.match(r"[a-z0-9(,]", line) or wrapped):
            if previous.endswith("-") and line[:1].isalpha():
                lines[-1] = previous[:-1] + line  # "manufac-" / "turing"
            else:
                lines[-1] = f"{previous} {line}"
        else:
            lines.append(line)
        wrapped = len(line) >= full
    return "\n".join(lines)


_GENERATOR_TITLE = re.compile(
    r"^(microsoft \w+ - |untitled\b|\(?anonymous\)?$)|\.(docx?|odt|pages|pdf|txt)$", re.I
)
