"""What a question must be to be asked: words, within a length."""

from __future__ import annotations

import re
import unicodedata

from ..errors import RagError

MAX_QUESTION_CHARS = 1000


def normalise_question(text: str, *, max_chars: int = MAX_QUESTION_CHARS) -> str:
    """The question with control characters removed and spaces collapsed.

    RagError (shown to the user as a polite reply) when nothing askable is left
    or the question is longer than ``max_chars`` (the ``max_question_chars`` setting).
    """
    if text is None:
        raise RagError("Please type a question.")
    cleaned = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in str(text))
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    if not cleaned:
        raise RagError("Please type a question.")
    if len(cleaned) > max_chars:
        raise RagError(
            f"That question is {len(cleaned):,} characters long; please ask in at most "
            f"{max_chars:,} characters."
        )
    if not re.search(r"\w", cleaned):
        raise RagError("Please ask a question in words.")
    return cleaned
