"""`rag eval`: run gold questions through the same path as `rag ask` and report metrics."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import metrics, squad
from .errors import RagError
from .retrieve import RETRIEVERS

NDCG_DEPTH = 10
HEADLINE = [
    "overall_accuracy",
    "answerable_accuracy",
    "supported_accuracy",
    "answer_f1",
    "squad_f1",
    "citation_precision",
    "citation_recall",
    "abstain_rate",
    "false_abstain_rate",
    "hybrid_recall_at_k",
    "hybrid_mrr_at_k",
    "hybrid_ndcg_at_10",
]
# Lower is better for these; floors in thresholds.toml are ceilings for them.
LOWER_IS_BETTER = {"false_abstain_rate"}


@dataclass(frozen=True)
class GoldItem:
    id: str
    question: str
    answers: list[str]
    sources: list[str]
    category: str = "uncategorised"
    history: list[str] = field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def _earlier_question(turn) -> str:
    """An earlier turn of a gold conversation: its question (a string, or {"question": ...})."""
    return str(turn["question"] if isinstance(turn, dict) else turn)


def load_gold(path: Path) -> list[GoldItem]:
    if not path.is_file():
        raise RagError(f"gold file not found: {path}")
    items: list[GoldItem] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            item = GoldItem(
                id=str(record["id"]),
                question=str(record["question"]),
                answers=[str(a) for a in record["answers"]],
                sources=[str(s) for s in record["sources"]],
                category=str(record.get("category") or "uncategorised"),
                history=[_earlier_question(h) for h in record.get("history", [])],
            )
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise RagError(f"{path}:{number}: not a gold pair ({error})") from None
        items.append(item)
    if not items:
        raise RagError(f"gold file {path} has no questions")
    return items


@dataclass
class Outcome:
    item: GoldItem
    prediction: dict
    correct: bool
    f1: float
    good_citations: int
    retrieval: dict[str, dict[str, float]]

    @property
    def abstained(self) -> bool:
        return self.prediction["abstained"]

    @property
    def supported(self) -> bool:
        return self.correct and self.good_citations > 0


def judge(item: GoldItem, prediction: dict) -> tuple[bool, float, int]:
    """(correct, F1, number of good citations) of one prediction against its gold pair."""
    if not item.answerable:
        return prediction["abstained"], float(prediction["abstained"]), 0
    if prediction["abstained"]:
        return False, 0.0, 0
    correct = metrics.answer_correct(prediction["answer"], item.answers)
    f1 = metrics.best_f1(prediction.get("short_answer") or prediction["answer"], item.answers)
    good = sum(
        1
        for c in prediction["citations"]
        if c["doc"] in item.sources and metrics.contains_answer(c["text"], item.answers)
    )
    return correct, f1, good


def squad_style(outcome: Outcome) -> tuple[float, float]:
    """(EM, F1) by the SQuAD 2.0 definition: the short answer, or "" when abstained."""
    prediction = outcome.prediction
    shown = "" if prediction["abstained"] else (prediction.get("short_answer") or "")
    question = squad.SquadQuestion(
        outcome.item.id, outcome.item.question, tuple(outcome.item.answers), "", ""
    )
    return squad.score(question, shown)


def retrieval_scores(engine, item: GoldItem, rewritten: str, k: int) -> dict:
    if not item.sources:
        return {}
    query = engine.query(rewritten)
    relevant = set(item.sources)
    scores = {}
    for name, retriever_type in RETRIEVERS.items():
        retriever = retriever_type(engine.index, store=engine.store)
        hits = retriever.search(query, k=max(k, 4 * NDCG_DEPTH))
        docs = [h.chunk.doc_id for h in hits]
        scores[name] = {
            "recall_at_k": metrics.recall_at_k(docs, relevant, k),
            "mrr_at_k": metrics.reciprocal_rank(docs, relevant, k),
            "ndcg_at_10": metrics.ndcg_at_k(docs, relevant, NDCG_DEPTH),
        }
    return scores


def conversation_so_far(engine, questions: list[str], *, k: int) -> list[dict]:
    """The chat as the chat window would hold it: each earlier question asked and answered
    in turn, its answer as shown (the short answer when there is one)."""
    messages: list[dict] = []
    for asked in questions:
        try:
            result = engine.ask(asked, history=messages, k=k).to_json()
        except RagError:  # refused (no words, too long): the window leaves it out too
            continue
        shown = (
            result["answer"]
            if result["abstained"]
            else result.get("short_answer") or result["answer"]
        )
        messages += [{"role": "user", "content": asked}, {"role": "assistant", "content": shown}]
    return messages


def run_eval(
    engine, gold: list[GoldItem], *, k: int, on_step: Callable[[], None] = lambda: None
) -> list[Outcome]:
    outcomes = []
    for item in gold:
        try:
            history = conversation_so_far(engine, item.history, k=k) if item.history else []
            prediction = engine.ask(item.question, history=history, k=k).to_json()
        except RagError as error:  # an unaskable gold question counts as an abstention
            prediction = {
                "question": item.question,
                "answer": str(error),
                "abstained": True,
                "rewritten_query": item.question,
                "citations": [],
                "related": [],
                "timings_ms": {"retrieve": 0.0, "answer": 0.0, "total": 0.0},
            }
        prediction = {"id": item.id, **prediction}
        correct, f1, good = judge(item, prediction)
        retrieval = retrieval_scores(engine, item, prediction["rewritten_query"], k)
        outcomes.append(Outcome(item, prediction, correct, f1, good, retrieval))
        on_step()
    return outcomes


def summarise(outcomes: list[Outcome], *, k: int) -> dict:
    answerable = [o for o in outcomes if o.item.answerable]
    unanswerable = [o for o in outcomes if not o.item.answerable]
    citations = [c for o in outcomes for c in o.prediction["citations"]]
    summary: dict = {
        "questions": len(outcomes),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "k": k,
        "overall_accuracy": metrics.mean([o.correct for o in outcomes]),
        "answerable_accuracy": metrics.mean([o.correct for o in answerable]),
        "supported_accuracy": metrics.mean([o.supported for o in answerable]),
        "answer_f1": metrics.mean([o.f1 for o in answerable]),
        "citation_precision": (
            sum(o.good_citations for o in outcomes) / len(citations) if citations else 0.0
        ),
        "citation_recall": metrics.mean([o.good_citations > 0 for o in answerable]),
        "abstain_rate": metrics.mean([o.abstained for o in unanswerable]),
        "false_abstain_rate": metrics.mean([o.abstained for o in answerable]),
        # How people meet the tool: how often it answers what the articles say, and how good
        # those answers are (an answered unanswerable question scores 0).
        "answered_share": metrics.mean([not o.abstained for o in answerable]),
        "answered_f1": metrics.mean([o.f1 for o in outcomes if not o.abstained]),
        "squad_exact": metrics.mean([squad_style(o)[0] for o in outcomes]),
        "squad_f1": metrics.mean([squad_style(o)[1] for o in outcomes]),
    }
    for method in RETRIEVERS:
        for metric in ("recall_at_k", "mrr_at_k", "ndcg_at_10"):
            summary[f"{method}_{metric}"] = metrics.mean(
                [o.retrieval[method][metric] for o in answerable if o.retrieval]
            )
    for stage in ("retrieve", "answer", "total"):
        values = [o.prediction["timings_ms"][stage] for o in outcomes]
        summary[f"latency_{stage}_p50_ms"] = metrics.percentile(values, 50)
        summary[f"latency_{stage}_p95_ms"] = metrics.percentile(values, 95)
    return summary


def per_category(outcomes: list[Outcome]) -> dict[str, dict]:
    table: dict[str, dict] = {}
    for category in sorted({o.item.category for o in outcomes}):
        group = [o for o in outcomes if o.item.category == category]
        table[category] = {
            "questions": len(group),
            "accuracy": metrics.mean([o.correct for o in group]),
            "f1": metrics.mean([o.f1 for o in group]),
            "abstained": metrics.mean([o.abstained for o in group]),
        }
    return table


def write_reports(outcomes: list[Outcome], out_dir: Path, *, k: int, gold_path: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "predictions.jsonl").open("w", encoding="utf-8") as handle:
        for outcome in outcomes:
            handle.write(json.dumps(outcome.prediction, ensure_ascii=False) + "\n")
    report = {
        "gold": str(gold_path),
        "overall": summarise(outcomes, k=k),
        "per_category": per_category(outcomes),
        "failures": [_failure(o) for o in outcomes if not o.correct],
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out_dir / "report.md").write_text(_markdown(report), encoding="utf-8")
    _plot(report, outcomes, out_dir / "report.png")
    return report


def _failure(outcome: Outcome) -> dict:
    return {
        "id": outcome.item.id,
        "category": outcome.item.category,
        "question": outcome.item.question,
        "expected": outcome.item.answers or ["(abstain)"],
        "sources": outcome.item.sources,
        "got": outcome.prediction["answer"],
        "cited": sorted({c["doc"] for c in outcome.prediction["citations"]}),
    }


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _markdown(report: dict) -> str:
    o = report["overall"]
    lines = [
        "# Evaluation report",
        "",
        f"Gold file `{report['gold']}`: {o['questions']} questions "
        f"({o['answerable']} answerable, {o['unanswerable']} unanswerable), k = {o['k']}.",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [
        f"| {name} | {_pct(o[name])} |" for name in HEADLINE if not name.startswith(("hybrid_",))
    ]
    lines += [
        "",
        "## Retrieval (document level, answerable questions)",
        "",
        f"| method | recall@{o['k']} | MRR@{o['k']} | nDCG@10 |",
        "|---|---|---|---|",
    ]
    for method in RETRIEVERS:
        lines.append(
            f"| {method} | {_pct(o[f'{method}_recall_at_k'])} | {o[f'{method}_mrr_at_k']:.3f} "
            f"| {o[f'{method}_ndcg_at_10']:.3f} |"
        )
    lines += ["", "## Latency (ms)", "", "| stage | p50 | p95 |", "|---|---|---|"]
    for stage in ("retrieve", "answer", "total"):
        lines.append(
            f"| {stage} | {o[f'latency_{stage}_p50_ms']:.1f} | {o[f'latency_{stage}_p95_ms']:.1f} |"
        )
    lines += [
        "",
        "## Per category",
        "",
        "| category | n | accuracy | F1 | abstained |",
        "|---|---|---|---|---|",
    ]
    for name, row in report["per_category"].items():
        lines.append(
            f"| {name} | {row['questions']} | {_pct(row['accuracy'])} | "
            f"{row['f1']:.2f} | {_pct(row['abstained'])} |"
        )
    lines += ["", f"## Failures ({len(report['failures'])})", ""]
    for failure in report["failures"]:
        lines += [
            f"- **{failure['id']}** ({failure['category']}) {failure['question']}",
            f"  - expected: {' / '.join(failure['expected'])} from "
            f"{', '.join(failure['sources']) or '-'}",
            f"  - got: {failure['got']}",
            f"  - cited: {', '.join(failure['cited']) or '-'}",
        ]
    return "\n".join(lines) + "\n"


def _plot(report: dict, outcomes: list[Outcome], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    categories = list(report["per_category"])
    accuracy = [report["per_category"][c]["accuracy"] * 100 for c in categories]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.barh(categories, accuracy, color="#4C72B0")
    left.set_xlim(0, 100)
    left.set_xlabel("accuracy (%)")
    left.set_title("Accuracy per category")
    for y, value in enumerate(accuracy):
        left.text(min(value + 1, 90), y, f"{value:.0f}%", va="center")
    totals = [o.prediction["timings_ms"]["total"] for o in outcomes]
    right.hist(totals, bins=20, color="#55A868")
    right.set_xlabel("total latency per question (ms)")
    right.set_ylabel("questions")
    right.set_title("Latency distribution")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def check_floors(summary: dict, floors: dict[str, float]) -> list[str]:
    """Headline metrics below their floor (or above their ceiling), as readable lines."""
    problems = []
    for name, floor in floors.items():
        if name not in summary:
            problems.append(f"{name}: unknown metric")
        elif name in LOWER_IS_BETTER and summary[name] > floor:
            problems.append(f"{name} = {summary[name]:.3f} is above its ceiling {floor}")
        elif name not in LOWER_IS_BETTER and summary[name] < floor:
            problems.append(f"{name} = {summary[name]:.3f} is below its floor {floor}")
    return problems
