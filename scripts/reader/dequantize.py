"""Recover the fp32 weights of a dynamically quantised (int8) reader as an fp32 ONNX model.

    python scripts/reader/dequantize.py int8/model.onnx --out runs/gate/fp32.onnx
    python scripts/reader/dequantize.py int8/model.onnx --out models/reader/model.onnx \
        --weights fp16

The int8 file keeps each weight as integers with a scale and zero point; this writes the graph
that the same architecture exports in fp32 (from the base weights), with every initializer
replaced by the int8 file's value, dequantized. The result computes in fp32 with exactly the
shipped weights: the reference the shipped reader is compared against, and the way to ship
an older int8 reader without its instruction-set-dependent integer kernels.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np


def dequantized(int8_path: Path) -> dict[str, np.ndarray]:
    """Every float weight of the int8 model, by its fp32 name."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(int8_path))
    arrays = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    weights = {}
    for name, array in arrays.items():
        if name.endswith("_quantized"):
            base = name[: -len("_quantized")]
            scale = arrays[f"{base}_scale"].astype(np.float32)
            zero = arrays.get(f"{base}_zero_point", np.zeros_like(scale)).astype(np.float32)
            values = array.astype(np.float32)
            # Per-channel scales run along the output axis (the last one of a MatMul weight).
            weights[base] = ((values - zero) * scale).astype(np.float32)
        elif array.dtype == np.float32 and not name.endswith(("_scale", "_zero_point")):
            weights[name] = array
    return weights


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("int8", type=Path, help="dynamic-int8 model.onnx")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--base", type=Path, default=None, help="base weights (architecture)")
    parser.add_argument("--weights", choices=["fp16", "fp32"], default="fp32")
    args = parser.parse_args(argv)

    import onnx
    from export import base_model, export_onnx, store
    from onnx import numpy_helper

    weights = dequantized(args.int8)
    with tempfile.TemporaryDirectory() as scratch:
        fp32 = Path(scratch) / "model.onnx"
        export_onnx(base_model(args.base), fp32)
        graph = onnx.load(str(fp32))
    replaced = 0
    for init in graph.graph.initializer:
        if init.name in weights:
            value = weights[init.name]
            if tuple(value.shape) != tuple(init.dims):
                raise SystemExit(f"shape mismatch for {init.name}: {value.shape} vs {init.dims}")
            init.CopyFrom(numpy_helper.from_array(value, init.name))
            replaced += 1
    float_inits = [i.name for i in graph.graph.initializer if numpy_helper.to_array(i).size > 1]
    missing = [n for n in float_inits if n not in weights]
    if missing:
        raise SystemExit(f"no weights in {args.int8} for {missing[:5]}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        fp32 = Path(scratch) / "model.onnx"
        onnx.save(graph, str(fp32))
        store(fp32, args.out, args.weights)
    print(f"wrote {args.out} ({args.weights}): {replaced} weights dequantized or copied")
    return 0


if __name__ == "__main__":
    sys.exit(main())
