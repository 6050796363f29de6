"""Tune the reader's no-answer threshold on the tuning articles, and write it into reader.json.

    python scripts/reader/tune.py runs/reader/onnx-int8 --tune runs/reader/tune.json

Reads every tuning question twice: with its own paragraph given, and in the open setting
(all tuning articles indexed together, the passages the retriever returns, as `rag ask` reads
them). Each reading keeps the best span and its margin over "no answer".

The threshold maximises SQuAD 2.0 F1 in the open setting *for the mix of questions people
ask*, not for the tuning articles' own mix: 54% of their questions were written to look
answerable when they are not, while people mostly ask what their articles do answer. With
--mix 0.8 (the default) answerable questions weigh 80% and unanswerable ones 20% of the
objective, however many of each the tuning articles hold. --min-unanswerable F (default 0:
off) bounds it: the threshold then abstains on at least F of the unanswerable tuning
questions, and the mix's own best threshold is printed beside it. Off by default: at 0.7 it
cost what people ask (model card, "Calibration"). The curve of share answered against F1 of
the answered is printed, the chosen point marked, and both go into reader.json. The test
articles are never read here.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rag import squad  # noqa: E402
from rag.answering.reader import CARD_NAME, Reader  # noqa: E402


def readings(reader: Reader, questions, passages_for) -> list[tuple[str, float]]:
    """(best span, margin) per question; ("", -inf) when nothing could be read."""
    out = []
    for question in questions:
        passages = passages_for(question)
        candidates = reader.read(question.question, passages)
        if not candidates:
            out.append(("", float("-inf")))
            continue
        best = candidates[0]
        out.append((passages[best.passage][best.start : best.end].strip(), best.margin))
    return out


def question_weights(questions, mix: float) -> list[float]:
    """Weights that make answerable questions ``mix`` of the objective, unanswerable the rest."""
    answerable = sum(q.answerable for q in questions) or 1
    unanswerable = (len(questions) - answerable) or 1
    return [mix / answerable if q.answerable else (1 - mix) / unanswerable for q in questions]


def sweep(
    questions, read: list[tuple[str, float]], mix: float, min_unanswerable: float = 0.0
) -> tuple[float, dict]:
    """The threshold with the best mix-weighted F1 among those that abstain on at least
    ``min_unanswerable`` of the unanswerable questions, and the summary at it."""
    margins = sorted({m for _, m in read if m != float("-inf")})
    candidates = [margins[0] - 1, *margins, margins[-1] + 1] if margins else [0.0]
    best_threshold, best_f1 = 0.0, -1.0
    unanswerable = sum(not q.answerable for q in questions)
    refused = 0  # unanswerable questions among order[:at]
    weights = question_weights(questions, mix)
    # Scores per question for "answer" and "abstain" make each threshold O(n).
    answer_f1 = [
        w * squad.score(q, span)[1]
        for q, (span, _), w in zip(questions, read, weights, strict=True)
    ]
    abstain_f1 = [w * squad.score(q, "")[1] for q, w in zip(questions, weights, strict=True)]
    order = sorted(range(len(questions)), key=lambda i: read[i][1])
    total = sum(answer_f1)
    at = 0  # questions order[:at] have margins below the threshold: they abstain
    for threshold in candidates:
        while at < len(order) and read[order[at]][1] < threshold:
            i = order[at]
            total += abstain_f1[i] - answer_f1[i]
            refused += not questions[i].answerable
            at += 1
        if refused < min_unanswerable * unanswerable:
            continue
        if total > best_f1:
            best_f1, best_threshold = total, threshold
    predictions = {
        q.id: (span if margin >= best_threshold else "")
        for q, (span, margin) in zip(questions, read, strict=True)
    }
    summary = squad.summarise(questions, predictions)
    summary["mix_weighted_f1"] = round(100 * best_f1, 2)
    return best_threshold, summary


def fit_verifier(questions, read, signals, mix: float, min_unanswerable: float = 0.0):
    """The verifier fitted on all tuning questions, with its threshold chosen on readings each
    scored by a verifier fitted without that question's article (leave one article out), and
    the summary at that threshold."""
    from rag.answering.verifier import Verifier, fit

    weights = question_weights(questions, mix)
    labels = [
        int(q.answerable and squad.score(q, span)[1] >= 0.5)
        for q, (span, _) in zip(questions, read, strict=True)
    ]
    usable = [i for i, row in enumerate(signals) if row is not None]
    held_out: dict[int, float] = {}
    for title in sorted({questions[i].title for i in usable}):
        train = [i for i in usable if questions[i].title != title]
        mean, scale, coef, intercept = fit(
            [signals[i] for i in train], [labels[i] for i in train], [weights[i] for i in train]
        )
        model = Verifier(mean, scale, coef, intercept, threshold=0.5)
        for i in usable:
            if questions[i].title == title:
                held_out[i] = model.probability(signals[i])
    verified = [(span, held_out.get(i, float("-inf"))) for i, (span, _) in enumerate(read)]
    threshold, summary = sweep(questions, verified, mix, min_unanswerable)
    mean, scale, coef, intercept = fit(
        [signals[i] for i in usable], [labels[i] for i in usable], [weights[i] for i in usable]
    )
    return Verifier(mean, scale, coef, intercept, threshold), verified, summary


def curve(
    questions, read: list[tuple[str, float]], mix: float, chosen: float, points: int = 12
) -> list[dict]:
    """Share of answerable questions answered against F1 of the answered, by threshold.

    "F1 of the answered" counts an answered unanswerable question as 0, with questions
    weighted to the mix, so it is what a user asking that mix would see.
    """
    weights = question_weights(questions, mix)
    scored = [
        (margin, squad.score(q, span)[1], w, q.answerable)
        for q, (span, margin), w in zip(questions, read, weights, strict=True)
    ]
    margins = sorted(m for m, *_ in scored if m != float("-inf"))
    thresholds = {margins[int(i * (len(margins) - 1) / points)] for i in range(points + 1)}
    thresholds = sorted(thresholds | {chosen})
    answerable_weight = sum(w for _, _, w, a in scored if a) or 1
    rows = []
    for threshold in thresholds:
        answered = [(f1, w, a) for m, f1, w, a in scored if m >= threshold]
        rows.append(
            {
                "threshold": round(threshold, 3),
                "chosen": threshold == chosen,
                "answered_share": round(sum(w for _, w, a in answered if a) / answerable_weight, 4),
                "answered_f1": round(
                    100
                    * sum(f1 * w for f1, w, _ in answered)
                    / (sum(w for _, w, _ in answered) or 1),
                    2,
                ),
            }
        )
    return rows


def print_curve(rows: list[dict]) -> None:
    print("  threshold | answerable answered | F1 of the answered")
    for row in rows:
        mark = "   <- chosen" if row["chosen"] else ""
        print(
            f"  {row['threshold']:9.3f} | {row['answered_share']:19.1%} | "
            f"{row['answered_f1']:18.1f}{mark}"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="reader folder (reader.json beside weights)")
    parser.add_argument("--tune", type=Path, required=True, help="tuning articles (SQuAD)")
    parser.add_argument("--write", action="store_true", help="store the threshold in the card")
    parser.add_argument(
        "--mix",
        type=float,
        default=0.8,
        help="share of answerable questions among those people ask (the objective's weight)",
    )
    parser.add_argument(
        "--min-unanswerable",
        type=float,
        default=0.0,
        help="share of the unanswerable tuning questions the threshold must abstain on",
    )
    parser.add_argument(
        "--paragraph-only",
        action="store_true",
        help="only the paragraph-given sweep (to compare fp32 and int8)",
    )
    parser.add_argument(
        "--title",
        choices=["both", "on", "off"],
        default="both",
        help="which title settings to sweep in the open setting (each costs a full pass)",
    )
    parser.add_argument(
        "--passages",
        type=int,
        default=None,
        help="passages read per question (default: the settings' passages_read)",
    )
    args = parser.parse_args(argv)

    from rag.engine import Engine
    from rag.settings import Settings

    articles, questions = squad.load_squad(args.tune)
    reader = Reader(args.model)
    given = readings(reader, questions, lambda q: [q.context])
    given_threshold, given_summary = sweep(questions, given, args.mix)
    print(
        f"paragraph given, best threshold {given_threshold:.3f}: "
        f"{squad.summary_line(given_summary)}",
        flush=True,
    )
    if args.paragraph_only:
        return 0

    with tempfile.TemporaryDirectory() as scratch:
        squad.write_corpus(articles, Path(scratch) / "articles")
        settings = Settings(
            articles_dir=Path(scratch) / "articles",
            index_dir=Path(scratch) / "index",
            reader_dir=args.model,
            **({"passages_read": args.passages} if args.passages is not None else {}),
        )
        engine = Engine(settings)
        # Every question through `rag ask` itself, always answering with one span, so the
        # threshold sweep sees exactly what the pipeline would show.
        engine.answerer.threshold = float("-inf")
        engine.answerer.extra_answers = False
        engine.answerer.verifier = None
        engine.answerer.keep_signals = True
        results = {}
        readings_by_variant = {}
        signals_by_variant = {}
        for require_names in (False, True):
            for with_title in {"both": (False, True), "on": (True,), "off": (False,)}[args.title]:
                engine.answerer.require_names = require_names
                engine.answerer.with_title = with_title
                read, signals = [], []
                for q in questions:
                    result = engine.ask(q.question)
                    margin = float("-inf") if result.margin is None else result.margin
                    read.append(("" if result.abstained else result.short_answer or "", margin))
                    signals.append(result.signals)
                variant = (require_names, with_title)
                results[variant] = sweep(questions, read, args.mix, args.min_unanswerable)
                readings_by_variant[variant] = read
                signals_by_variant[variant] = signals
                line = (
                    f"open setting, names required {require_names}, title {with_title}, "
                    f"best threshold {results[variant][0]:.3f}: "
                    f"{squad.summary_line(results[variant][1])}"
                )
                if args.min_unanswerable:
                    unbound, unbound_summary = sweep(questions, read, args.mix)
                    line += (
                        f"; without the {args.min_unanswerable:.0%} floor on abstaining, "
                        f"threshold {unbound:.3f}: {squad.summary_line(unbound_summary)}"
                    )
                print(line, flush=True)
    (require_names, with_title), (threshold, summary) = max(
        results.items(), key=lambda item: item[1][1]["mix_weighted_f1"]
    )
    readings_path = args.tune.with_name(f"{args.tune.stem}-readings.json")
    readings_path.write_text(
        json.dumps(
            {
                f"require_names={r}, with_title={t}": [
                    {"id": q.id, "span": span, "margin": m, "signals": sig}
                    for q, (span, m), sig in zip(
                        questions,
                        readings_by_variant[(r, t)],
                        signals_by_variant[(r, t)],
                        strict=True,
                    )
                ]
                for (r, t) in readings_by_variant
            }
        )
    )
    read = readings_by_variant[(require_names, with_title)]
    verifier, verified_read, verified_summary = fit_verifier(
        questions,
        read,
        signals_by_variant[(require_names, with_title)],
        args.mix,
        args.min_unanswerable,
    )
    print(
        f"open setting, verifier (each article's questions scored by a verifier fitted on the "
        f"other articles), threshold {verifier.threshold:.3f}: "
        f"{squad.summary_line(verified_summary)}; mix-weighted F1 "
        f"{verified_summary['mix_weighted_f1']} against {summary['mix_weighted_f1']} for the "
        f"margin alone",
        flush=True,
    )
    use_verifier = verified_summary["mix_weighted_f1"] > summary["mix_weighted_f1"]
    chosen_read, chosen_at = (
        (verified_read, verifier.threshold) if use_verifier else (read, threshold)
    )
    # A second answer must be sure enough for a world where half the questions mislead: the
    # margin threshold for the tuning articles' own mix.
    natural = sum(q.answerable for q in questions) / len(questions)
    extra_threshold = max(threshold, sweep(questions, read, natural)[0])
    print(f"extra answers: margin threshold {extra_threshold:.3f} (mix {natural:.0%} answerable)")
    rows = curve(questions, chosen_read, args.mix, chosen_at)
    print(
        f"open setting, {'verifier' if use_verifier else 'margin'} decides, questions weighted "
        f"{args.mix:.0%} answerable:"
    )
    print_curve(rows)
    at_open = {
        q.id: (span if margin >= threshold else "")
        for q, (span, margin) in zip(questions, given, strict=True)
    }
    print(
        f"paragraph given at the open threshold: "
        f"{squad.summary_line(squad.summarise(questions, at_open))}"
    )
    if args.write:
        card_path = args.model / CARD_NAME
        card = json.loads(card_path.read_text())
        card["no_answer_threshold"] = round(threshold, 4)
        card["require_names"] = require_names
        card["with_title"] = with_title
        card["verifier"] = verifier.to_card() if use_verifier else None
        card["extra_answer_threshold"] = round(extra_threshold, 4)
        card["tuning"] = {
            "file": str(args.tune),
            "mix": {"answerable": args.mix, "unanswerable": round(1 - args.mix, 4)},
            "objective": "SQuAD 2.0 F1 in the open setting, questions weighted to the mix",
            "min_unanswerable_accuracy": args.min_unanswerable,
            "curve": rows,
            "articles": [a["title"] for a in articles],
            "open": verified_summary if use_verifier else summary,
            "open_margin_only": summary,
            "open_verifier_cross_validated": verified_summary,
            "variants": {
                f"require_names={r}, with_title={t}": {"threshold": round(th, 4), **summ}
                for (r, t), (th, summ) in results.items()
            },
            "paragraph_given_best_threshold": round(given_threshold, 4),
            "paragraph_given": given_summary,
        }
        card_path.write_text(json.dumps(card, indent=2) + "\n")
        print(f"wrote threshold {threshold:.4f} to {card_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
