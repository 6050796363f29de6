"""Record what the reader answers in fp32, for the test that the shipped weights match it.

    python scripts/reader/reference.py runs/gate/fp32.onnx --reader models/reader
    python scripts/reader/reference.py runs/large/fp32 --reader models/reader  # export folder

Reads the first 60 gold questions against the whole seed article each names as its source,
with the fp32 ONNX export of the same weights (``reference``), and writes each best span and
its margin over "no answer" to READER/reference.json with the sha256 of the shipped weights.
tests/answering/test_reader_precision.py reads the same questions with the shipped weights on
whatever CPU runs the tests and compares: this is how a reader whose answers depended on the
instruction set (int8 kernels that saturate without VNNI) would be caught.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from rag.answering.reader import CARD_NAME, Reader  # noqa: E402
from rag.embedding import sha256_of  # noqa: E402

QUESTIONS = 60


def cases(gold: Path, seeds: Path, limit: int = QUESTIONS) -> list[dict]:
    rows = [json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines() if line]
    return [
        {"id": row["id"], "question": row["question"], "doc": row["sources"][0]}
        for row in rows
        if row["sources"] and (seeds / row["sources"][0]).is_file()
    ][:limit]


def best(reader: Reader, question: str, text: str) -> dict:
    candidates = reader.read(question, [text])
    top = candidates[0]
    return {"start": top.start, "end": top.end, "margin": round(top.margin, 5)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "reference",
        type=Path,
        help="fp32 ONNX model of the shipped weights, or the folder export.py --weights fp32 wrote",
    )
    parser.add_argument("--reader", type=Path, default=ROOT / "models" / "reader")
    parser.add_argument("--gold", type=Path, default=ROOT / "evals" / "gold.jsonl")
    parser.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copyfile(args.reader / name, folder / name)
        card = json.loads((args.reader / CARD_NAME).read_text())
        card.pop("weight_parts", None)
        if args.reference.is_dir():
            # An export folder (export.py --weights fp32): a large model's weights come in
            # parts beside model.onnx, and its card names them.
            exported = json.loads((args.reference / CARD_NAME).read_text())
            if exported.get("quantization") != "none (fp32)" or exported.get("runtime") != (
                "onnxruntime"
            ):
                parser.error(
                    f"{args.reference} is not an fp32 ONNX export (export.py --weights fp32)"
                )
            if (args.reference / "tokenizer.json").read_bytes() != (
                args.reader / "tokenizer.json"
            ).read_bytes():
                parser.error(f"{args.reference} and {args.reader} have different tokenizers")
            for name in [exported["weights"], *exported.get("weight_parts", {})]:
                shutil.copyfile(args.reference / name, folder / name)
            card.update(
                {
                    key: exported[key]
                    for key in ("weights", "sha256", "weight_parts")
                    if key in exported
                }
            )
        else:
            shutil.copyfile(args.reference, folder / "model.onnx")
            card.update(weights="model.onnx", sha256=sha256_of(folder / "model.onnx"))
        (folder / CARD_NAME).write_text(json.dumps(card))
        reference = Reader(folder)
        rows = []
        for case in cases(args.gold, args.seeds):
            text = (args.seeds / case["doc"]).read_text(encoding="utf-8")
            rows.append({**case, **best(reference, case["question"], text)})
    record = {
        "about": "best span and margin of the fp32 export of the shipped weights, per question, "
        "read against the whole seed article (scripts/reader/reference.py)",
        "weights_sha256": card_sha(args.reader),
        "recorded_on": cpu(),
        "questions": rows,
    }
    out = args.reader / "reference.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {out}: {len(rows)} questions")
    return 0


def cpu() -> str:
    """The CPU's name and the vector extensions that change integer kernels."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.machine()
    name = next(
        (
            line.split(":", 1)[1].strip()
            for line in info.splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    flags = set(
        next(
            (
                line.split(":", 1)[1].split()
                for line in info.splitlines()
                if line.startswith("flags")
            ),
            [],
        )
    )
    shown = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_int8") if f in flags]
    return f"{name} ({', '.join(shown)})"


def card_sha(reader: Path) -> str:
    return json.loads((reader / CARD_NAME).read_text())["sha256"]


if __name__ == "__main__":
    sys.exit(main())
