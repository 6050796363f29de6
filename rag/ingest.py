"""Read article files and clean them into title, date and body.

Cleaning is a list of named, general rules about what news pages wrap around
an article (navigation chrome, subscription prompts, ads, teasers, credits,
copyright, social embeds). Every dropped line is kept with the rule that
dropped it, so ``rag ingest --explain`` can show the user exactly what went.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import RagError

# Bump when the rules change, so the index knows cleaned text may differ.
CLEANING_VERSION = 1


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

    @property
    def content_hash(self) -> str:
        payload = f"{CLEANING_VERSION}\n{self.title}\n{self.date}\n{self.body}"
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class SkippedFile:
    path: Path
    reason: str


@dataclass(frozen=True)
class Corpus:
    articles: list[Article]
    skipped: list[SkippedFile] = field(default_factory=list)


_DATE_PREFIX = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\b\s*(.*)$", re.IGNORECASE)
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"


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


def _title_from_sentence(body: str, limit: int = 90) -> str:
    first = re.split(r"(?<=[.!?])\s+", body.strip(), maxsplit=1)[0].strip()
    if len(first) <= limit:
        return first.rstrip(".")
    cut = first[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def clean_article(doc_id: str, raw: str) -> Article:
    """Split a raw article into metadata and cleaned body, recording dropped lines."""
    date: str | None = None
    title: str | None = None
    kept: list[str] = []
    dropped: list[DroppedLine] = []
    for index, raw_line in enumerate(raw.replace("\r\n", "\n").split("\n")):
        line = " ".join(raw_line.split())
        if not line:
            continue
        if index == 0 and (prefix := _DATE_PREFIX.match(line)):
            date, line = prefix.group(1), prefix.group(2).strip()
            if not line:
                continue
        if rule := noise_rule(line):
            dropped.append(DroppedLine(line, rule))
            continue
        # The first headline-shaped line before any body text is the title.
        if title is None and not kept and _looks_like_headline(line):
            title = line
            continue
        kept.append(line)
    body = "\n".join(kept)
    from_text = title is None
    return Article(
        doc_id=doc_id,
        title=title if title is not None else _title_from_sentence(body),
        date=date,
        body=body,
        title_from_text=from_text,
        dropped=tuple(dropped),
    )


def read_file_text(path: Path) -> str:
    """UTF-8 text of ``path``; RagError when it is not text."""
    data = path.read_bytes()
    if b"\x00" in data:
        raise RagError(f"{path.name}: binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        where = f"{error.reason} at byte {error.start}"
        raise RagError(f"{path.name}: not valid UTF-8 text ({where})") from None


def read_corpus(seeds_dir: Path) -> Corpus:
    """Every readable article under ``seeds_dir``; unreadable files are reported, not fatal."""
    if not seeds_dir.is_dir():
        raise RagError(f"seeds folder not found: {seeds_dir}")
    articles: list[Article] = []
    skipped: list[SkippedFile] = []
    for path in sorted(p for p in seeds_dir.iterdir() if p.is_file()):
        if path.name.startswith("."):
            continue
        try:
            article = clean_article(path.name, read_file_text(path))
        except RagError as error:
            skipped.append(SkippedFile(path, str(error)))
            continue
        except OSError as error:
            skipped.append(SkippedFile(path, f"{path.name}: cannot read ({error.strerror})"))
            continue
        if not article.body.strip():
            skipped.append(SkippedFile(path, f"{path.name}: no article text after cleaning"))
            continue
        articles.append(article)
    if not articles:
        raise RagError(f"no readable articles in {seeds_dir}")
    return Corpus(articles=articles, skipped=skipped)
