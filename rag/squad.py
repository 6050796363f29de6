"""`rag eval --squad FILE`: score the system on a SQuAD 2.0-format file.

Open setting (default): every article of the file becomes one document of a scratch corpus,
indexed together, and each question goes through the same path as `rag ask`, so the system
has to find the paragraph itself. `--paragraph-given` scores the reader alone on each
question's own paragraph, to separate reading from retrieval.

Scoring is the official SQuAD 2.0 definition: exact match and token F1 after lower-casing and
removing punctuation, articles and extra spaces, the best over the gold answers; an
unanswerable question scores 1 only when the system abstains.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import RagError
from .metrics import exact_match, token_f1


@dataclass(frozen=True)
class SquadQuestion:
    id: str
    question: str
    answers: tuple[str, ...]  # empty: unanswerable
    title: str
    context: str

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def score(question: SquadQuestion, prediction: str) -> tuple[float, float]:
    """(exact, F1) of one prediction; "" means the system abstained."""
    golds = question.answers or ("",)
    return (
        max(exact_match(prediction, g, official=True) for g in golds),
        max(token_f1(prediction, g, official=True) for g in golds),
    )


def load_squad(path: Path) -> tuple[list[dict], list[SquadQuestion]]:
    """The file's articles and its questions; a clear RagError for anything else."""
    if not path.is_file():
        raise RagError(f"SQuAD file not found: {path}")
    try:
        articles = json.loads(path.read_text(encoding="utf-8"))["data"]
        questions = [
            SquadQuestion(
                id=str(qa["id"]),
                question=str(qa["question"]),
                answers=()
                if qa.get("is_impossible")
                else tuple(dict.fromkeys(a["text"] for a in qa["answers"] if a["text"].strip())),
                title=str(article["title"]),
                context=str(paragraph["context"]),
            )
            for article in articles
            for paragraph in article["paragraphs"]
            for qa in paragraph["qas"]
        ]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as error:
        raise RagError(f"{path} is not a SQuAD-format file ({error})") from None
    if not questions:
        raise RagError(f"SQuAD file {path} has no questions")
    return articles, questions


def write_corpus(articles: list[dict], folder: Path) -> None:
    """One text file per article: its title on the first line, then its paragraphs."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, article in enumerate(articles):
        title = article["title"].replace("_", " ")
        body = "\n\n".join(p["context"].strip() for p in article["paragraphs"])
        slug = re.sub(r"[^A-Za-z0-9]+", "_", article["title"]).strip("_")[:60]
        (folder / f"{number:03d}_{slug}.txt").write_text(f"{title}\n\n{body}\n", encoding="utf-8")


def summarise(questions: list[SquadQuestion], predictions: dict[str, str]) -> dict:
    """SQuAD 2.0 figures (percentages) over ``questions``; "" predictions are abstentions."""
    rows = [(q, predictions.get(q.id, "")) for q in questions]
    scores = [score(q, p) for q, p in rows]
    has = [s for (q, _), s in zip(rows, scores, strict=True) if q.answerable]
    answered = [s for (_, p), s in zip(rows, scores, strict=True) if p]

    def pct(values: list[float]) -> float:
        return round(100 * sum(values) / len(values), 2) if values else 0.0

    return {
        "questions": len(rows),
        "answerable": len(has),
        "unanswerable": len(rows) - len(has),
        "exact": pct([e for e, _ in scores]),
        "f1": pct([f for _, f in scores]),
        "answerable_exact": pct([e for e, _ in has]),
        "answerable_f1": pct([f for _, f in has]),
        "unanswerable_accuracy": pct([float(not p) for q, p in rows if not q.answerable]),
        "answered": len(answered),
        "answered_precision_f1": pct([f for _, f in answered]),
    }


def summary_line(summary: dict) -> str:
    return (
        f"questions {summary['questions']} ({summary['answerable']} answerable) | "
        f"EM {summary['exact']:.1f} | F1 {summary['f1']:.1f} | "
        f"answerable F1 {summary['answerable_f1']:.1f} | "
        f"unanswerable accuracy {summary['unanswerable_accuracy']:.1f}% | "
        f"answered {summary['answered']} with F1 {summary['answered_precision_f1']:.1f}"
    )


def predict_open(
    engine, questions: list[SquadQuestion], on_step: Callable[[], None] = lambda: None
) -> list[dict]:
    """Each question through `rag ask` over the whole scratch corpus."""
    rows = []
    for q in questions:
        try:
            result = engine.ask(q.question)
        except RagError as error:  # a question the system refuses counts as an abstention
            rows.append(
                {
                    "id": q.id,
                    "question": q.question,
                    "prediction": "",
                    "abstained": True,
                    "refused": str(error),
                    "gold": list(q.answers),
                    "title": q.title,
                }
            )
            on_step()
            continue
        rows.append(
            {
                "id": q.id,
                "question": q.question,
                "prediction": "" if result.abstained else (result.short_answer or result.answer),
                "abstained": result.abstained,
                "margin": result.margin,
                "cited": [c.chunk.doc_id for c in result.citations],
                "gold": list(q.answers),
                "title": q.title,
                "ms": round(result.timings_ms["total"], 1),
            }
        )
        on_step()
    return rows


def predict_paragraph(
    reader,
    threshold: float,
    questions: list[SquadQuestion],
    on_step: Callable[[], None] = lambda: None,
) -> list[dict]:
    """The reader alone on each question's own paragraph."""
    rows = []
    for q in questions:
        candidates = reader.read(q.question, [q.context])
        best = candidates[0] if candidates else None
        answered = best is not None and best.margin >= threshold
        rows.append(
            {
                "id": q.id,
                "question": q.question,
                "prediction": q.context[best.start : best.end].strip() if answered else "",
                "abstained": not answered,
                "margin": best.margin if best else None,
                "best_span": q.context[best.start : best.end].strip() if best else "",
                "gold": list(q.answers),
                "title": q.title,
            }
        )
        on_step()
    return rows
