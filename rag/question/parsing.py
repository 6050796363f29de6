"""Questions parsed by spaCy, once each: follow-up reading asks about the same few often."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=256)
def parsed(text: str):
    """The spaCy doc of ``text`` (spaCy loads only when a follow-up needs reading)."""
    from ..nlp import load_pipeline

    return load_pipeline()(text)
