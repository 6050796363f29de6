"""Tune the reader's no-answer threshold on the tuning articles, and write it into reader.json.

    python scripts/reader/tune.py runs/reader/onnx-int8 --tune runs/reader/tune.json

Reads every tuning question twice: with its own paragraph given, and in the open setting
(all tuning articles indexed together, the passages the retriever returns, as `rag ask` reads
them). Each reading keeps the best span and its margin over "no answer"; the threshold is the
margin that maximises SQuAD 2.0 F1 in the open setting, which is how the reader is used.
The test articles are never read here.
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


def sweep(questions, read: list[tuple[str, float]]) -> tuple[float, dict]:
    """The threshold with the best F1, and the summary at it."""
    margins = sorted({m for _, m in read if m != float("-inf")})
    candidates = [margins[0] - 1, *margins, margins[-1] + 1] if margins else [0.0]
    best_threshold, best_f1 = 0.0, -1.0
    # Scores per question for "answer" and "abstain" make each threshold O(n).
    answer_f1 = [squad.score(q, span)[1] for q, (span, _) in zip(questions, read, strict=True)]
    abstain_f1 = [squad.score(q, "")[1] for q in questions]
    order = sorted(range(len(questions)), key=lambda i: read[i][1])
    total = sum(answer_f1)
    at = 0  # questions order[:at] have margins below the threshold: they abstain
    for threshold in candidates:
        while at < len(order) and read[order[at]][1] < threshold:
            i = order[at]
            total += abstain_f1[i] - answer_f1[i]
            at += 1
        if total > best_f1:
            best_f1, best_threshold = total, threshold
    predictions = {
        q.id: (span if margin >= best_threshold else "")
        for q, (span, margin) in zip(questions, read, strict=True)
    }
    return best_threshold, squad.summarise(questions, predictions)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="reader folder (reader.json beside weights)")
    parser.add_argument("--tune", type=Path, required=True, help="tuning articles (SQuAD)")
    parser.add_argument("--write", action="store_true", help="store the threshold in the card")
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
    args = parser.parse_args(argv)

    from rag.engine import Engine
    from rag.settings import Settings

    articles, questions = squad.load_squad(args.tune)
    reader = Reader(args.model)
    given = readings(reader, questions, lambda q: [q.context])
    given_threshold, given_summary = sweep(questions, given)
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
            seeds_dir=Path(scratch) / "articles",
            index_dir=Path(scratch) / "index",
            reader_dir=args.model,
        )
        engine = Engine(settings)
        # Every question through `rag ask` itself, always answering with one span, so the
        # threshold sweep sees exactly what the pipeline would show.
        engine.answerer.threshold = float("-inf")
        engine.answerer.extra_answers = False
        results = {}
        for require_names in (False, True):
            for with_title in {"both": (False, True), "on": (True,), "off": (False,)}[args.title]:
                engine.answerer.require_names = require_names
                engine.answerer.with_title = with_title
                read = []
                for q in questions:
                    result = engine.ask(q.question)
                    margin = float("-inf") if result.margin is None else result.margin
                    read.append(("" if result.abstained else result.short_answer or "", margin))
                variant = (require_names, with_title)
                results[variant] = sweep(questions, read)
                print(
                    f"open setting, names required {require_names}, title {with_title}, "
                    f"best threshold {results[variant][0]:.3f}: "
                    f"{squad.summary_line(results[variant][1])}",
                    flush=True,
                )
    (require_names, with_title), (threshold, summary) = max(
        results.items(), key=lambda item: item[1][1]["f1"]
    )
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
        card["tuning"] = {
            "file": str(args.tune),
            "articles": [a["title"] for a in articles],
            "open": summary,
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
