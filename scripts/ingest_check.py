"""Score article extraction against hand-written expectations: title, date, first sentence.

    .venv/bin/python scripts/ingest_check.py FOLDER   # FOLDER/expected.jsonl names the files

Each line of expected.jsonl: {"file", "title", "date" (ISO or null), "first_sentence"}. A file
counts as right when all three come out exactly (whitespace aside; the body must start with
the first sentence). Prints every miss and the share right.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.errors import RagError  # noqa: E402
from rag.ingest import read_article  # noqa: E402


def squash(text: str | None) -> str:
    return " ".join((text or "").split())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in (args.folder / "expected.jsonl").read_text().splitlines()]
    right = {"title": 0, "date": 0, "first_sentence": 0, "all": 0}
    for row in rows:
        try:
            article = read_article(args.folder / row["file"])
        except RagError as error:
            print(f"{row['file']}: skipped ({error})")
            continue
        got = {
            "title": squash(article.title) == squash(row["title"]),
            "date": article.date == row["date"],
            "first_sentence": squash(article.body).startswith(squash(row["first_sentence"])),
        }
        for field, ok in got.items():
            right[field] += ok
            if not ok:
                shown = {
                    "title": article.title,
                    "date": f"{article.date} ({article.date_source})",
                    "first_sentence": squash(article.body)[: len(row["first_sentence"]) + 20],
                }[field]
                print(f"{row['file']}: {field} expected {row[field]!r}, got {shown!r}")
        right["all"] += all(got.values())
    n = len(rows)
    print(
        f"{n} files: all three right {right['all']}/{n} ({right['all'] / n:.0%}); "
        f"title {right['title']}/{n}, date {right['date']}/{n}, "
        f"first sentence {right['first_sentence']}/{n}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
