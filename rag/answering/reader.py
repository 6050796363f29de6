"""The trained extractive reader: finds answer spans in passages, or says there is none.

The model (fine-tuned from all-MiniLM-L6-v2 on SQuAD 2.0-style data by
scripts/reader/train.py) ships in models/reader/ with `reader.json`, which names the weights
file, its sha256 and the no-answer threshold tuned on held-out articles. Weights are checked
before first use, like the embedder's.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..embedding import check_weights
from ..errors import RagError
from .spans import MAX_ANSWER_TOKENS, best_spans, null_score
from .verifier import Verifier

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "models" / "reader"
CARD_NAME = "reader.json"
# A question is rarely longer than this; a longer one must not crowd the passage out.
MAX_QUESTION_TOKENS = 64
# Windows scored in one forward pass; bounds memory on long passages.
BATCH = 16


@dataclass(frozen=True)
class ReaderCard:
    """What reader.json says about the model next to it."""

    weights: str
    sha256: str
    no_answer_threshold: float
    max_length: int = 256
    stride: int = 128
    max_answer_tokens: int = MAX_ANSWER_TOKENS
    require_names: bool = False
    with_title: bool = False
    verifier: Verifier | None = None  # answer/abstain weights (answering/verifier.py)
    # A second answer from another article must clear this (stricter) margin: None = threshold.
    extra_answer_threshold: float | None = None
    # Files beside the weights that hold their tensors (a model over a git host's file size
    # limit is split, scripts/reader/export.py), each with its sha256: {file name: sha256}.
    weight_parts: tuple[tuple[str, str], ...] = ()

    @classmethod
    def load(cls, directory: Path) -> ReaderCard:
        path = directory / CARD_NAME
        if not path.is_file():
            raise RagError(f"reader model not found: {path} is missing (see models/README.md)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            card = cls(
                weights=str(data["weights"]),
                sha256=str(data["sha256"]),
                no_answer_threshold=float(data["no_answer_threshold"]),
                max_length=int(data.get("max_length", 256)),
                stride=int(data.get("stride", 128)),
                max_answer_tokens=int(data.get("max_answer_tokens", MAX_ANSWER_TOKENS)),
                require_names=bool(data.get("require_names", False)),
                with_title=bool(data.get("with_title", False)),
                # Malformed weights fail here, when the card is read, not mid-answer.
                verifier=Verifier.from_card(data.get("verifier")),
                extra_answer_threshold=(
                    None
                    if data.get("extra_answer_threshold") is None
                    else float(data["extra_answer_threshold"])
                ),
                weight_parts=_weight_parts(data.get("weight_parts", {})),
            )
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as e:
            raise RagError(f"reader card {path} is unreadable: {e}") from None
        for name in [card.weights, *(part for part, _ in card.weight_parts)]:
            if Path(name).name != name:
                raise RagError(f"reader card {path} names weights outside its folder")
        return card


def _weight_parts(parts) -> tuple[tuple[str, str], ...]:
    if not isinstance(parts, dict):
        raise TypeError(f"weight_parts must map file names to sha256, not {parts!r}")
    return tuple((str(name), str(sha)) for name, sha in parts.items())


@dataclass(frozen=True)
class Candidate:
    """An answer span in one passage, with the no-answer score of the window it was read in."""

    passage: int  # index into the passages read
    start: int  # character offsets in that passage (in its title when ``in_title``)
    end: int
    score: float
    null: float
    in_title: bool = False  # the span is in the article's headline, read before the passage

    @property
    def margin(self) -> float:
        """How much more the reader believes this span than "no answer" in the same window."""
        return self.score - self.null


class Reader:
    """Loads once per process; `read` is thread-safe."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory or DEFAULT_DIR)
        self.card = ReaderCard.load(self.directory)
        weights = self.directory / self.card.weights
        for name, expected in [(self.card.weights, self.card.sha256), *self.card.weight_parts]:
            check_weights(
                self.directory / name,
                expected,
                "reader weights",
                "restore models/reader from the repository",
            )
        self._tokenizer = WindowTokenizer(self.directory, self.card.max_length, self.card.stride)
        self._model = _OnnxModel(weights) if weights.suffix == ".onnx" else _TorchModel(weights)
        self._lock = threading.Lock()

    @property
    def threshold(self) -> float:
        return self.card.no_answer_threshold

    def read(self, question: str, passages: list[str], *, per_window: int = 3) -> list[Candidate]:
        """Candidate spans over all passages, best raw score first."""
        if not passages:
            return []
        question = self._clip_question(question)
        windows = self._tokenizer.windows(question, passages)
        owners = windows.owners
        context = windows.context
        starts, ends = [], []
        with self._lock:
            for at in range(0, len(owners), BATCH):
                rows = slice(at, at + BATCH)
                start, end = self._model(
                    windows.input_ids[rows],
                    windows.attention_mask[rows],
                    windows.token_type_ids[rows],
                )
                starts.append(start)
                ends.append(end)
        start_logits, end_logits = np.concatenate(starts), np.concatenate(ends)
        candidates: list[Candidate] = []
        for window, owner in enumerate(owners):
            offsets = windows.offsets[window]
            null = null_score(start_logits[window], end_logits[window])
            for span in best_spans(
                start_logits[window],
                end_logits[window],
                context[window],
                max_tokens=self.card.max_answer_tokens,
                limit=per_window,
            ):
                candidates.append(
                    Candidate(
                        passage=int(owner),
                        start=int(offsets[span.start][0]),
                        end=int(offsets[span.end][1]),
                        score=span.score,
                        null=null,
                    )
                )
        candidates.sort(key=lambda c: (-c.score, c.passage, c.start))
        return candidates

    def _clip_question(self, question: str) -> str:
        offsets = self._tokenizer.offsets(question)
        if len(offsets) <= MAX_QUESTION_TOKENS:
            return question
        return question[: offsets[MAX_QUESTION_TOKENS - 1][1]]


@dataclass(frozen=True)
class Windows:
    """Question-and-passage windows as the model reads them, padded to the longest."""

    input_ids: np.ndarray  # (windows, tokens)
    attention_mask: np.ndarray
    token_type_ids: np.ndarray
    offsets: np.ndarray  # (windows, tokens, 2): character offsets in the window's passage
    context: np.ndarray  # (windows, tokens) bool: a passage token, not question or padding
    owners: np.ndarray  # (windows,): the passage each window comes from


def pad_token(directory: Path) -> str:
    """The padding token the model's tokenizer_config.json names ("[PAD]" without one)."""
    try:
        config = json.loads((directory / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "[PAD]"
    token = config.get("pad_token") if isinstance(config, dict) else None
    if isinstance(token, dict):  # older files write AddedToken objects
        token = token.get("content")
    return token if isinstance(token, str) else "[PAD]"


class WindowTokenizer:
    """The reader's WordPiece tokenizer (``tokenizer.json``), through the ``tokenizers`` library.

    Splits each passage into overlapping windows after the question, exactly as the
    transformers tokenizer called with ``truncation="only_second"``, ``stride`` and
    ``return_overflowing_tokens`` does (tests/answering/test_reader.py compares them),
    without importing transformers, and with it torch, into every process that answers.
    Settings are fixed here and never changed, so threads may share it.
    """

    def __init__(self, directory: Path, max_length: int, stride: int) -> None:
        from tokenizers import Tokenizer

        path = directory / "tokenizer.json"
        try:
            self._pairs = Tokenizer.from_file(str(path))
            self._plain = Tokenizer.from_file(str(path))
        except Exception as error:  # tokenizers raises plain Exception for a bad file
            raise RagError(f"reader tokenizer {path} is unusable: {error}") from None
        self._pairs.no_padding()
        self._pairs.enable_truncation(max_length, stride=stride, strategy="only_second")
        self._plain.no_padding()
        self._plain.no_truncation()
        # Masked, so any id reads the same; the model's own pad token keeps the windows
        # identical to what transformers makes (MPNet's is "<pad>"; "[PAD]" is another word).
        self._pad = self._pairs.token_to_id(pad_token(directory)) or 0

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return self._plain.encode(text, add_special_tokens=False).offsets

    def windows(self, question: str, passages: list[str]) -> Windows:
        windows, owners = [], []
        for passage, encoding in enumerate(
            self._pairs.encode_batch([(question, p) for p in passages])
        ):
            for window in [encoding, *encoding.overflowing]:
                windows.append(window)
                owners.append(passage)
        width = max(len(w.ids) for w in windows)
        shape = (len(windows), width)
        ids = np.full(shape, self._pad, dtype=np.int64)
        mask, types = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
        offsets = np.zeros((*shape, 2), dtype=np.int64)
        context = np.zeros(shape, dtype=bool)
        for row, window in enumerate(windows):
            n = len(window.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = window.ids, 1, window.type_ids
            offsets[row, :n] = window.offsets
            context[row, :n] = [s == 1 for s in window.sequence_ids]
        return Windows(ids, mask, types, offsets, context, np.asarray(owners))


class _OnnxModel:
    """ONNX Runtime: the shipped reader (fp32 arithmetic); no torch needed at answer time."""

    def __init__(self, path: Path) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = min(4, os.cpu_count() or 1)
        options.log_severity_level = 3
        # Idle ORT threads spin by default, stealing the cores the embedder needs next.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own untyped errors
            raise RagError(f"reader weights {path} are not a usable ONNX model: {error}") from None
        self.inputs = {i.name for i in self.session.get_inputs()}

    def __call__(self, ids, mask, types) -> tuple[np.ndarray, np.ndarray]:
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        start, end = self.session.run(
            None, {k: v.astype(np.int64) for k, v in feed.items() if k in self.inputs}
        )
        return start, end


class _TorchModel:
    """transformers in fp32: for checkpoints straight out of training."""

    def __init__(self, path: Path) -> None:
        from transformers import AutoModelForQuestionAnswering

        self.model = AutoModelForQuestionAnswering.from_pretrained(path.parent).eval()

    def __call__(self, ids, mask, types) -> tuple[np.ndarray, np.ndarray]:
        import torch  # already imported by transformers: a lookup, not a load

        with torch.inference_mode():
            out = self.model(
                input_ids=torch.from_numpy(ids),
                attention_mask=torch.from_numpy(mask),
                token_type_ids=torch.from_numpy(types),
            )
        return out.start_logits.numpy(), out.end_logits.numpy()
