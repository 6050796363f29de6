"""Read article files and clean them into title, date and body.

Files are read by what they hold (rag/formats.py): plain text, Markdown, web pages and PDFs.
Cleaning is a list of named, general rules about what news pages wrap around
an article (navigation chrome, subscription prompts, ads, teasers, credits,
copyright, social embeds). Every dropped line is kept with the rule that
dropped it, so ``rag ingest --explain`` can show the user exactly what went.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from . import formats
from .dates import MONTH_NAMES
from .errors import RagError

# Bump when the rules change, so the index knows cleaned text may differ.
# 2: ligatures, odd spaces and soft hyphens replaced; text in any common encoding.
CLEANING_VERSION = 2
# Defaults of the settings max_file_mb and max_text_chars: a folder's files are capped as the
# chat window's uploads are; extracted text has its own cap, since a PDF can be large for its
# images alone.
MAX_FILE_MB = 10
MAX_TEXT_CHARS = 5_000_000


@dataclass(frozen=True)
class DroppedLine:
    line: str
    rule: str


@dataclass(frozen=True)
class Article:
    doc_id: str
    title: str
    date: str | None  # ISO date stated by the article, never guessed
    body: str
    title_from_text: bool = (
        False  # True when no headline was found and the first sentence stands in
    )
    dropped: tuple[DroppedLine, ...] = ()
    kind: str = formats.TEXT
    date_source: str | None = None  # where the date was stated, for `rag ingest --explain`
    # PDFs: (offset in body, page number) where each page's text starts.
    pages: tuple[tuple[int, int], ...] = ()
    encoding: str | None = None  # how a text file's bytes were read (`rag ingest --explain`)

    def __post_init__(self) -> None:
        # Read back from JSON, pages are lists; kept as tuples so articles compare alike.
        object.__setattr__(self, "pages", tuple(tuple(p) for p in self.pages))

    @property
    def content_hash(self) -> str:
        payload = f"{CLEANING_VERSION}\n{self.title}\n{self.date}\n{self.body}"
        if self.pages:
            payload += f"\n{self.pages}"
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    def page_at(self, offset: int) -> int | None:
        """The PDF page that body offset ``offset`` is on; None for other kinds."""
        page = None
        for start, number in self.pages:
            if start > offset:
                break
            page = number
        return page


@dataclass(frozen=True)
class SkippedFile:
    path: Path
    reason: str


@dataclass(frozen=True)
class Corpus:
    articles: list[Article]
    skipped: list[SkippedFile] = field(default_factory=list)
    # Each article's file as it was read (``file_identity``), by document id.
    files: dict[str, FileIdentity] = field(default_factory=dict)


# (bytes, modification and status-change times in ns, inode): a file that still has all four
# has not been written since. The status-change time cannot be set back (a rename, `cp -p` or
# an unpacked archive all set it), so two files swapped or restored are read again.
FileIdentity = tuple[int, int, int, int]
# Articles read before, each with its file's identity then: reused while the file has it.
KnownArticles = Mapping[str, tuple[FileIdentity, Article]]


def file_identity(stat: os.stat_result) -> FileIdentity:
    """What says a file is unchanged since ``stat``."""
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


_DATE_PREFIX = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\b\s*(.*)$", re.IGNORECASE)
_MONTHS = r"(?:" + "|".join(name[:3] for name in MONTH_NAMES) + r"|sept)[a-z]*\.?"
_FULL_DATE = re.compile(
    r"\b(?:(?P<m1>" + _MONTHS + r")\s+(?P<d1>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y1>(?:19|20)\d\d)"
    r"|(?P<d2>\d{1,2})(?:st|nd|rd|th)?\s+(?P<m2>" + _MONTHS + r"),?\s+(?P<y2>(?:19|20)\d\d)"
    r"|(?P<iso>(?:19|20)\d\d-[01]\d-[0-3]\d)"
    r"|(?P<n1>\d{1,2})[/.](?P<n2>\d{1,2})[/.](?P<y3>(?:19|20)\d\d))\b",
    re.IGNORECASE,
)
# A dateline sits in the first lines of an article: a short line, or a date near the start of
# a line that goes on after a dash or colon ("NEW DELHI, March 4, 2021 — ...").
DATELINE_LINES = 10
_DATELINE_LEAD = re.compile(r"^[^.!?]{0,40}$")


def _matches(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern, re.IGNORECASE)
    return lambda line: bool(compiled.search(line))


def _is_truncated_teaser(line: str) -> bool:
    # Teasers of other stories are cut off mid-sentence with an ellipsis.
    return bool(re.search(r"(\.\.\.|…)\s*$", line)) and len(line.split()) >= 6


def _is_ui_chrome(line: str) -> bool:
    # Short lower-case widget labels ("wordpress blog stats") carry no sentence.
    ws = line.split()
    return len(ws) <= 4 and line == line.lower() and not re.search(r"[.!?\"”]$", line)


def _is_social_embed(line: str) -> bool:
    handles = re.findall(r"(?<![\w.])@\w{2,}", line)
    signature = r"—\s*[^—]{1,80}\(@\w+\)\s*" + _MONTHS + r"\s+\d{1,2},\s*\d{4}\s*$"
    return (
        len(handles) >= 2
        or "pic.twitter.com" in line
        or bool(re.search(signature, line, re.IGNORECASE))
    )


_SUBSCRIBE = re.compile(
    r"\bsubscribe\b|\bnewsletter\b|\bsign up\b|your email( address)?\b|\bunsubscribe\b",
    re.IGNORECASE,
)


def _is_subscription_prompt(line: str) -> bool:
    # A prompt is short or opens with the call to action; prose may mention signing up.
    found = _SUBSCRIBE.search(line)
    if not found:
        return False
    short_fragment = len(line.split()) <= 14 and not line.rstrip().endswith(".")
    return found.start() == 0 or "newsletter" in line.lower() or short_fragment


# (rule name, predicate). Order matters only for the name reported.
NOISE_RULES: list[tuple[str, Callable[[str], bool]]] = [
    ("advertisement", _matches(r"^\W*advertisement\b|scroll to continue reading|^sponsored\b")),
    ("subscription prompt", _is_subscription_prompt),
    (
        "form chrome",
        _matches(
            r"required fields|invalid entries|click to hide|what are you looking for|"
            r"^\W*(connect|follow|share)( with)? (us|this)\b|skip to (main )?content"
        ),
    ),
    ("copyright", _matches(r"^\W*(©|\(c\)\s|copyright\b)|all rights reserved")),
    ("image credit", _matches(r"^\W*(image|photo|picture|photograph)s?\s*(source|credit)s?\s*:")),
    ("error-report prompt", _matches(r"if you (notice|find|spot) an? (error|mistake|typo)")),
    (
        "dateline",
        _matches(
            r"^\W*" + _MONTHS + r"\s+\d{1,2},\s*\d{4}\s+\d{1,2}:\d{2}\s*(am|pm)|\|\s*updated\b"
        ),
    ),
    (
        "related-article teaser",
        _matches(
            r"^\W*(you may also like|related( articles| stories)?|also read|read more|more from)"
            r"\W*$|"
            r"courtesy of .* where it was originally published"
        ),
    ),
    ("truncated teaser", _is_truncated_teaser),
    (
        "publisher blurb",
        _matches(
            r"\b(our|s)\s+mission is to\b|\bpremier source of\b|\bcontact information\b|"
            r"\bdeveloped by\b"
        ),
    ),
    ("social embed", _is_social_embed),
    ("navigation chrome", _is_ui_chrome),
]


def noise_rule(line: str) -> str | None:
    """Name of the first cleaning rule that drops ``line``, or None to keep it."""
    for name, predicate in NOISE_RULES:
        if predicate(line):
            return name
    return None


def _looks_like_headline(line: str) -> bool:
    ws = line.split()
    return 3 <= len(ws) <= 20 and not re.search(r"[.:;,]$", line) and line[:1].isalnum()


def _is_furniture(line: str) -> bool:
    # A standfirst or deck can run to 20-odd words; a paragraph of prose ends in punctuation.
    return len(line.split()) <= 30 and not re.search(r"[.!?:;\"”’)]$", line)


def _title_from_sentence(body: str, limit: int = 90) -> str:
    first = re.split(r"(?<=[.!?])\s+", body.strip(), maxsplit=1)[0].strip()
    if len(first) <= limit:
        return first.rstrip(".")
    cut = first[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def dateline_date(line: str) -> str | None:
    """The ISO date a dateline states ("May 31, 2023 04:11 pm", "Pune, 4 March 2021 —")."""
    found = _FULL_DATE.search(line)
    if not found:
        return None
    short = len(line.split()) <= 12
    leads = _DATELINE_LEAD.match(line[: found.start()]) and re.match(
        r"\s*(?:[—–:|-]|\(|$|\d{1,2}:\d{2})", line[found.end() :]
    )
    if not (short or leads):
        return None
    if found.group("iso"):
        year, month, day = (int(x) for x in found.group("iso").split("-"))
    elif found.group("n1"):
        # 22/09/2020 or 09/22/2020: only a day over 12 tells which is which.
        first, second, year = int(found.group("n1")), int(found.group("n2")), int(found.group("y3"))
        if first > 12 >= second:
            day, month = first, second
        elif second > 12 >= first:
            day, month = second, first
        else:
            return None
    else:
        return _named_month_date(found.group(0))
    try:
        return date(year, month, day).isoformat()
    except ValueError:  # "February 30": not a date
        return None


# A dateline names an absolute date; a fixed base keeps dateparser from reading anything
# against today's calendar.
_DATEPARSER_SETTINGS = {
    "RELATIVE_BASE": datetime(2000, 1, 1),
    "REQUIRE_PARTS": ["day", "month", "year"],
}


def _named_month_date(text: str) -> str | None:
    """ "March 4, 2021", "4th Sept. 2021" as an ISO date (dateparser, English only); None
    for a day the month lacks ("February 30")."""
    import dateparser  # loads its language data: only when a file with a dateline is read

    found = dateparser.parse(text, languages=["en"], settings=_DATEPARSER_SETTINGS)
    return found.date().isoformat() if found else None


def clean_article(
    doc_id: str,
    raw: str,
    *,
    kind: str = formats.TEXT,
    title: str | None = None,
    date: str | None = None,
    date_source: str | None = None,
    encoding: str | None = None,
) -> Article:
    """Split a raw article into metadata and cleaned body, recording dropped lines.

    ``title`` and ``date`` are what the file's own metadata stated (formats.extract); the text
    can still state a date on its first line ("date 2023-05-31") or in a dateline. PDF pages
    are separated by form feeds, and the body remembers where each page starts.
    """
    stated_title = title
    kept: list[str] = []
    kept_pages: list[int] = []
    dropped: list[DroppedLine] = []
    seen = 0  # non-empty lines so far: datelines are looked for among the first few
    text = raw.replace("\r\n", "\n")
    for page, page_text in enumerate(text.split(formats.PAGE_BREAK), 1):
        for raw_line in page_text.split("\n"):
            line = " ".join(raw_line.split())
            if not line:
                continue
            seen += 1
            if seen == 1 and (prefix := _DATE_PREFIX.match(line)):
                if date is None:
                    date, date_source = prefix.group(1), "the article's first line"
                line = prefix.group(2).strip()
                if not line:
                    continue
            if date is None and seen <= DATELINE_LINES and (stated := dateline_date(line)):
                date, date_source = stated, f"a dateline: “{_shorten(line)}”"
            if rule := noise_rule(line):
                dropped.append(DroppedLine(line, rule))
                continue
            if stated_title is not None and not kept and line == stated_title:
                continue  # the headline again, above the text
            # The first headline-shaped line before any body text is the title.
            if title is None and not kept and _looks_like_headline(line):
                title = line
                continue
            if not kept and _is_furniture(line):
                # Before the first sentence: bylines, date lines, section labels, a paper's
                # name. Prose is made of sentences; these lines are not.
                dropped.append(DroppedLine(line, "header line"))
                continue
            kept.append(line)
            kept_pages.append(page)
    body = "\n".join(kept)
    pages: list[tuple[int, int]] = []
    if kind == formats.PDF:
        offset = 0
        for line, page in zip(kept, kept_pages, strict=True):
            if not pages or pages[-1][1] != page:
                pages.append((offset, page))
            offset += len(line) + 1
    from_text = title is None
    return Article(
        doc_id=doc_id,
        title=title if title is not None else _title_from_sentence(body),
        date=date,
        body=body,
        title_from_text=from_text,
        dropped=tuple(dropped),
        kind=kind,
        date_source=date_source if date else None,
        pages=tuple(pages),
        encoding=encoding,
    )


def _shorten(line: str, limit: int = 40) -> str:
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def read_article(path: Path, *, max_text_chars: int = MAX_TEXT_CHARS) -> Article:
    """The article in ``path``, whatever its format; RagError (the reason) when there is none."""
    return article_from_bytes(path.name, path.read_bytes(), max_text_chars=max_text_chars)


def article_from_bytes(name: str, data: bytes, *, max_text_chars: int = MAX_TEXT_CHARS) -> Article:
    """The article file ``name`` holding ``data`` would be read as; RagError when none."""
    extracted = formats.extract(data, name)
    if len(extracted.text) > max_text_chars:
        raise RagError(
            f"{name}: {len(extracted.text):,} characters of text, over the cap of "
            f"{max_text_chars:,} (setting max_text_chars)"
        )
    article = clean_article(
        name,
        extracted.text,
        kind=extracted.kind,
        title=extracted.title,
        date=extracted.date,
        date_source=extracted.date_source,
        encoding=extracted.encoding,
    )
    if not article.body.strip():
        raise RagError(f"{name}: no article text after cleaning")
    return article


def read_corpus(
    articles_dir: Path,
    *,
    max_file_mb: int = MAX_FILE_MB,
    max_text_chars: int = MAX_TEXT_CHARS,
    known: KnownArticles | None = None,
) -> Corpus:
    """Every readable article in ``articles_dir``; every other entry is reported with its reason.

    A file over ``max_file_mb`` is skipped before it is read; subfolders are not read (an
    article's file name is its document id), and each says so. A file of the same size and
    modification time as when ``known`` read it is not read again: its article is reused
    (a start over 1,000 unchanged articles need not clean them all again).
    """
    if not articles_dir.is_dir():
        raise RagError(f"articles folder not found: {articles_dir}")
    articles: list[Article] = []
    skipped: list[SkippedFile] = []
    files: dict[str, FileIdentity] = {}
    for path in sorted(articles_dir.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_dir():
            why = "a subfolder; only files directly in the articles folder are read"
            skipped.append(SkippedFile(path, f"{path.name}/: {why}"))
            continue
        if not path.is_file():
            continue
        try:
            stat = path.stat()
            size = stat.st_size
            if size > max_file_mb * 1024 * 1024:
                raise RagError(
                    f"{path.name}: {size / 1024 / 1024:.1f} MB, over the {max_file_mb} MB "
                    "per-file cap (setting max_file_mb)"
                )
            identity = file_identity(stat)
            before = (known or {}).get(path.name)
            if before is not None and before[0] == identity:
                article = before[1]
            else:
                article = read_article(path, max_text_chars=max_text_chars)
        except RagError as error:
            skipped.append(SkippedFile(path, str(error)))
            continue
        except OSError as error:
            skipped.append(SkippedFile(path, f"{path.name}: cannot read ({error.strerror})"))
            continue
        articles.append(article)
        files[path.name] = identity
    if not articles:
        raise RagError(f"no readable articles in {articles_dir}")
    return Corpus(articles=articles, skipped=skipped, files=files)
