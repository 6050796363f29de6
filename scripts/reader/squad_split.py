"""Split SQuAD-format articles into training, tuning and test sets by whole articles.

The split is a pure function of the article titles, so the training script, the threshold
tuning and the test evaluation all agree on it without sharing state: articles are ordered by
the sha256 of their title and taken in that order, first for the test set, then for tuning.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Split:
    train: list[str]
    tune: list[str]
    test: list[str]


def load_articles(path: Path) -> list[dict]:
    return json.loads(Path(path).read_text(encoding="utf-8"))["data"]


def question_count(article: dict) -> int:
    return sum(len(paragraph["qas"]) for paragraph in article["paragraphs"])


def split_articles(
    articles: list[dict],
    test_articles: int = 8,
    test_questions: int = 2500,
    tune_articles: int = 5,
    tune_questions: int = 1200,
) -> Split:
    """Whole articles, test first, until both the article and question minimums are met."""
    ordered = sorted(articles, key=lambda a: hashlib.sha256(a["title"].encode()).hexdigest())
    test: list[str] = []
    tune: list[str] = []
    train: list[str] = []
    asked = 0
    tuned = 0
    for article in ordered:
        if len(test) < test_articles or asked < test_questions:
            test.append(article["title"])
            asked += question_count(article)
        elif len(tune) < tune_articles or tuned < tune_questions:
            tune.append(article["title"])
            tuned += question_count(article)
        else:
            train.append(article["title"])
    return Split(train=train, tune=tune, test=test)


def subset(articles: list[dict], titles: list[str]) -> dict:
    """A SQuAD-format document holding just the named articles."""
    wanted = set(titles)
    return {"version": "v2.0", "data": [a for a in articles if a["title"] in wanted]}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main(argv=None) -> int:
    """Write the tuning and test sets of DEV as SQuAD-format files into OUT."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("dev", type=Path)
    parser.add_argument("--out", type=Path, default=Path("runs/reader"))
    args = parser.parse_args(argv)
    articles = load_articles(args.dev)
    split = split_articles(articles)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in ("tune", "test"):
        document = subset(articles, getattr(split, name))
        path = args.out / f"{name}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        questions = sum(question_count(a) for a in document["data"])
        unanswerable = sum(
            qa.get("is_impossible", False)
            for a in document["data"]
            for p in a["paragraphs"]
            for qa in p["qas"]
        )
        print(
            f"{path}: {len(document['data'])} articles, {questions} questions "
            f"({unanswerable} unanswerable): {', '.join(getattr(split, name))}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
