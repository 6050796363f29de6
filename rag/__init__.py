"""Local, offline-first retrieval-augmented Q&A over news articles.

import rag
result = rag.ask("when did Xiaomi drop to third?")
print(result.answer)
rag.ask("and who took the top spot?", history=["when did Xiaomi drop to third?"]).to_json()
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .engine import Engine
    from .pipeline import AskResult
    from .settings import Settings

__version__ = "0.1.0"


@lru_cache(maxsize=4)
def get_engine(settings: Settings | None = None) -> Engine:
    """The loaded pipeline for ``settings`` (default: config file and environment), built once."""
    from .engine import Engine
    from .settings import load_settings

    return Engine(settings or load_settings())


def ask(question: str, *, history=None, settings: Settings | None = None) -> AskResult:
    """Answer ``question`` from the indexed articles (same object as ``rag ask --json``)."""
    from .question import normalise_question
    from .settings import load_settings

    settings = settings or load_settings()
    # RagError for unusable input before anything loads.
    normalise_question(question, max_chars=settings.max_question_chars)
    return get_engine(settings).ask(question, history=history)
