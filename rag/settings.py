"""One settings object: defaults < config file < environment ``RAG_*`` < flags."""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import RagError
from .ingest import MAX_FILE_MB, MAX_TEXT_CHARS, Corpus, KnownArticles, read_corpus
from .question.checks import MAX_QUESTION_CHARS

CONFIG_FILE_NAME = "rag.toml"
ANSWERERS = ("reader",)
# The seed articles name themselves here, beside the folder they live in: only that folder gets
# this title and these examples; any other folder gets a neutral title and its own headlines.
SEEDS_FOLDER = Path(__file__).resolve().parent.parent / "seeds"
SEED_TITLE = "Xiaomi in India: ask the articles"
SEED_EXAMPLES = (
    "When did Xiaomi drop to third?",
    "How many rural stores did Xiaomi open?",
    "Who is Xiaomi's founder?",
    "Which Indian company will make Xiaomi's neckband headphones?",
)
NEUTRAL_TITLE = "Ask the articles"


@dataclass(frozen=True)
class Settings:
    articles_dir: Path = Path("seeds")
    index_dir: Path = Path("index")
    # Chunk size in cl100k tokens and sentence overlap between neighbouring
    # chunks; chosen by measuring retrieval on evals/gold.jsonl (see README).
    chunk_size: int = 96
    chunk_overlap: int = 2
    k: int = 5
    # Passages the answerer reads (the best k are shown): more costs latency, fewer misses
    # answers ranked lower; a second article that also answers is often just below the top k.
    passages_read: int = 5
    feedback_file: Path = Path("evals/feedback.jsonl")
    # Most votes the chat window keeps in feedback_file; later votes are refused and logged.
    feedback_cap: int = 10_000
    # Longest question, in characters, anywhere (CLI, chat window, API).
    max_question_chars: int = MAX_QUESTION_CHARS
    # The chat window's server: largest request body (uploads included) and how many
    # questions it answers at once (more wait in the queue).
    max_request_mb: int = 64
    chat_concurrency: int = 8
    # Articles added through the chat window: largest file, and most files in all
    # (a folder indexed from the CLI has no cap).
    upload_max_mb: int = 10
    upload_cap: int = 200
    # Any file in the articles folder: larger files are skipped with a line saying so, and so
    # is a file whose extracted text is longer (a PDF can be large for its images alone).
    max_file_mb: int = MAX_FILE_MB
    max_text_chars: int = MAX_TEXT_CHARS
    # Above this many passages the dense index is approximate (FAISS IVF; recall@10 0.992
    # and 1.4 ms a query at 1M, README "Search at scale"); at or below it exact, which
    # takes about 14 ms a query at 200k on 2 cores and never misses.
    ann_threshold: int = 200_000
    # Where dense search runs: empty for FAISS in the index folder; a Milvus Lite file
    # ("index/milvus.db") or a Milvus server ("http://host:19530"), see rag/vectorstore.py.
    vector_uri: str = ""
    # Optional LLM backend (OpenAI-compatible endpoint); empty means none.
    llm_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""
    # Which answerer drafts answers: the trained extractive reader (models/reader/); an LLM,
    # when llm_url is set, answers in front of it.
    answerer: str = "reader"
    # The reader model folder (reader.json, weights, tokenizer); default: the shipped one.
    reader_dir: Path = Path(__file__).resolve().parent.parent / "models" / "reader"
    # What the chat window calls the corpus and offers as examples; empty: the seeds' own for
    # the seed folder, else a neutral title and the newest articles' headlines (corpus_*).
    title: str = ""
    examples: tuple[str, ...] = ()
    # The token a client on another machine (or behind a share link) gives to add or remove
    # articles in the chat window; empty: changing articles is for this machine only (ui/app.py).
    api_token: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if self.chunk_size < 16 or self.chunk_size > 512:
            raise RagError(f"chunk size must be between 16 and 512 tokens, got {self.chunk_size}")
        if self.chunk_overlap < 0 or self.chunk_overlap > 5:
            raise RagError(f"chunk overlap must be 0-5 sentences, got {self.chunk_overlap}")
        if self.answerer == "rules":
            raise RagError(
                'the "rules" answerer was retired (it fit the seed articles and little else); '
                'use answerer = "reader", the default, or set llm_url for an LLM'
            )
        if self.answerer not in ANSWERERS:
            raise RagError(f"answerer must be one of {', '.join(ANSWERERS)}, got {self.answerer!r}")
        if not 20 <= self.max_question_chars <= 100_000:
            raise RagError(
                f"max_question_chars must be 20 to 100000 characters, got {self.max_question_chars}"
            )
        if self.max_request_mb < self.upload_max_mb + 1 or self.chat_concurrency < 1:
            raise RagError(
                "max_request_mb must exceed upload_max_mb and chat_concurrency be 1 or more"
            )
        if self.feedback_cap < 0:
            raise RagError(f"feedback cap must be 0 or more votes, got {self.feedback_cap}")
        if self.upload_max_mb < 1 or self.upload_cap < 0:
            raise RagError("upload_max_mb must be 1 or more and upload_cap 0 or more")
        if self.max_file_mb < 1 or self.max_text_chars < 1000:
            raise RagError("max_file_mb must be 1 or more and max_text_chars 1000 or more")
        if self.ann_threshold < 0:
            raise RagError(f"ann_threshold must be 0 or more passages, got {self.ann_threshold}")
        if not 1 <= self.passages_read <= 50:
            raise RagError(f"passages_read must be between 1 and 50, got {self.passages_read}")
        if self.k < 1 or self.k > 50:
            raise RagError(f"k must be between 1 and 50, got {self.k}")

    def _is_seed_folder(self) -> bool:
        try:
            return self.articles_dir.resolve() == SEEDS_FOLDER
        except OSError:
            return False

    def corpus_title(self) -> str:
        if self.title:
            return self.title
        return SEED_TITLE if self._is_seed_folder() else NEUTRAL_TITLE

    def corpus_examples(self, headlines: list[str], limit: int = 4) -> list[str]:
        """The examples setting; else the seeds' questions; else the given headlines (newest
        first, as the articles wrote them: nothing invented)."""
        if self.examples:
            return list(self.examples)
        if self._is_seed_folder():
            return list(SEED_EXAMPLES)
        return list(dict.fromkeys(h for h in headlines if h.strip()))[:limit]

    def read_corpus(self, known: KnownArticles | None = None) -> Corpus:
        """The articles folder, read with these settings' caps (``known``: articles read
        before, reused while their files are unchanged)."""
        return read_corpus(
            self.articles_dir,
            max_file_mb=self.max_file_mb,
            max_text_chars=self.max_text_chars,
            known=known,
        )

    def with_overrides(self, **overrides: Any) -> Settings:
        """Return a copy with the given non-None values applied (CLI flags)."""
        given = {name: value for name, value in overrides.items() if value is not None}
        return _coerce_into(self, given, source="flag")


# Earlier names still read (config file, environment), for the settings people already have.
RENAMED = {"seeds_dir": "articles_dir"}


def _coerce_into(base: Settings, values: dict[str, Any], *, source: str) -> Settings:
    known = {f.name: f for f in fields(Settings)}
    converted: dict[str, Any] = {}
    for given, raw in values.items():
        name = RENAMED.get(given, given)
        if given in RENAMED and RENAMED[given] in values:
            continue  # the current name wins over the earlier one
        if name not in known:
            raise RagError(f"unknown setting {name!r} in {source}")
        default = getattr(Settings(), name)
        try:
            if isinstance(default, Path):
                converted[name] = Path(raw)
            elif isinstance(default, tuple):
                converted[name] = _strings(raw, name, source)
            elif isinstance(default, int):
                converted[name] = int(raw)
            else:
                converted[name] = str(raw)
        except (TypeError, ValueError):
            raise RagError(f"setting {name} from {source} must be a number, got {raw!r}") from None
    return replace(base, **converted)


def _strings(raw: Any, name: str, source: str) -> tuple[str, ...]:
    """A list of strings: a TOML array, or a JSON array in the environment."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise RagError(
                f"setting {name} from {source} must be a JSON list of strings, got {raw!r}"
            ) from None
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise RagError(f"setting {name} from {source} must be a list of strings, got {raw!r}")
    return tuple(x.strip() for x in raw if x.strip())


def load_settings(
    *, config_file: Path | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Build settings from defaults, then ``rag.toml`` (or ``RAG_CONFIG``), then ``RAG_*``."""
    environ = dict(os.environ if environ is None else environ)
    settings = Settings()
    named = config_file or environ.get("RAG_CONFIG")
    path = Path(named or CONFIG_FILE_NAME)
    # Only the default ./rag.toml may be absent; a file someone named must be there,
    # or a typo would silently run with other settings.
    if named and not path.is_file():
        named_by = "" if config_file else " (named by RAG_CONFIG)"
        raise RagError(f"config file {path} not found{named_by}")
    if path.is_file():
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise RagError(f"config file {path} is not valid TOML: {error}") from None
        except OSError as error:
            raise RagError(f"config file {path} cannot be read: {error.strerror}") from None
        settings = _coerce_into(settings, table.get("rag", table), source=str(path))
    names = [f.name for f in fields(Settings)] + list(RENAMED)
    from_env = {
        name: environ[f"RAG_{name.upper()}"] for name in names if f"RAG_{name.upper()}" in environ
    }
    return _coerce_into(settings, from_env, source="environment")
