"""Pack a transformers model folder into small parts, and unpack it elsewhere.

The GPU machine this project is sometimes lent takes at most 64 MiB per call, so base weights
travel packed: every 2-D weight as int8 with one fp32 scale per row (symmetric, round to
nearest; a relative error of about 0.4%, far below what fine-tuning moves), everything else
in its own dtype, in numbered ``.npz`` parts of at most ``--part-mb`` MB; the folder's small
files (config, tokenizer) ride in part 0. ``--weights fp16`` stores the weights in fp16 instead
(how trained weights come back).

    python scripts/reader/pack.py pack runs/base/all-mpnet-base-v2 runs/gpu/mpnet --part-mb 60
    python scripts/reader/pack.py unpack runs/gpu/mpnet/part-*.npz --out /tmp/mpnet
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

SMALL_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "training.json",
)


def quantize_rows(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per row: ``weight ~ q * scale[:, None]``."""
    scale = np.abs(weight).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(weight / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def encode(tensors: dict[str, np.ndarray], weights: str, max_bytes: float) -> list[dict]:
    """The arrays to store, one group per tensor (or per block of rows of a tensor larger
    than ``max_bytes``, named ``name#i``), in a stable order."""
    out = []
    for name in sorted(tensors):
        value = tensors[name]
        blocks = max(1, int(np.ceil(value.nbytes / 2 / max_bytes))) if value.ndim == 2 else 1
        for i, rows in enumerate(np.array_split(value, blocks) if blocks > 1 else [value]):
            key = f"{name}#{i}" if blocks > 1 else name
            if weights == "int8" and rows.ndim == 2 and rows.dtype == np.float32:
                q, scale = quantize_rows(rows)
                out.append({f"{key}::q": q, f"{key}::scale": scale})
            elif rows.dtype == np.float32:
                out.append({f"{key}::fp16": rows.astype(np.float16)})
            else:
                out.append({f"{key}::raw": rows})
    return out


def decode(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    pieces: dict[str, list[tuple[int, np.ndarray]]] = {}
    for key, value in arrays.items():
        key, kind = key.rsplit("::", 1)
        name, _, block = key.partition("#")
        if kind == "q":
            value = value.astype(np.float32) * arrays[f"{key}::scale"][:, None]
        elif kind == "fp16":
            value = value.astype(np.float32)
        elif kind != "raw":
            continue
        pieces.setdefault(name, []).append((int(block or 0), value))
    return {
        name: np.concatenate([v for _, v in sorted(blocks, key=lambda b: b[0])])
        if len(blocks) > 1
        else blocks[0][1]
        for name, blocks in pieces.items()
    }


def pack(folder: Path, out: Path, part_mb: float, weights: str) -> list[Path]:
    from safetensors.numpy import load_file

    tensors = load_file(folder / "model.safetensors")
    files = {n: (folder / n).read_text() for n in SMALL_FILES if (folder / n).exists()}
    out.mkdir(parents=True, exist_ok=True)
    parts: list[dict] = [{"__files__": np.array(json.dumps(files))}]
    size = sum(len(t) for t in files.values())
    for arrays in encode(tensors, weights, part_mb * 1e6):
        nbytes = sum(a.nbytes for a in arrays.values())
        if size + nbytes > part_mb * 1e6 and len(parts[-1]) > 0:
            parts.append({})
            size = 0
        parts[-1].update(arrays)
        size += nbytes
    paths = []
    for index, arrays in enumerate(parts):
        path = out / f"part-{index:03d}.npz"
        np.savez(path, **arrays)
        paths.append(path)
    return paths


def unpack(parts: list[Path], out: Path) -> Path:
    from safetensors.numpy import save_file

    arrays: dict[str, np.ndarray] = {}
    files: dict[str, str] = {}
    for path in parts:
        with np.load(path) as data:
            for key in data.files:
                if key == "__files__":
                    files = json.loads(str(data[key]))
                else:
                    arrays[key] = data[key]
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text)
    save_file(decode(arrays), out / "model.safetensors")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("pack")
    p.add_argument("folder", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--part-mb", type=float, default=60.0)
    p.add_argument("--weights", choices=["int8", "fp16"], default="int8")
    u = sub.add_parser("unpack")
    u.add_argument("parts", type=Path, nargs="+")
    u.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.step == "pack":
        for path in pack(args.folder, args.out, args.part_mb, args.weights):
            print(f"{path} {path.stat().st_size / 1e6:.1f} MB")
    else:
        print(unpack(sorted(args.parts), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
