"""The question: checked (``checks``, ``language``), analysed for what it asks (``analysis``),
and, when it leans on the conversation (``history``), made standalone (``followup``, with
``fragments`` for a bare phrase standing in for part of the last question; ``parsing`` holds
the spaCy parses both read)."""

from .analysis import (
    AMOUNT,
    DATE,
    MONEY,
    MONTH_WORDS,
    NAME,
    NUMBER,
    OTHER,
    PERCENT,
    PLACE,
    QUESTION_WORDS,
    AnalysedQuestion,
    KeyTerm,
    analyse_question,
    answer_type,
    asks_for_organisation,
    closest_word,
)
from .checks import MAX_QUESTION_CHARS, normalise_question

__all__ = [
    "AMOUNT",
    "DATE",
    "MAX_QUESTION_CHARS",
    "MONEY",
    "MONTH_WORDS",
    "NAME",
    "NUMBER",
    "OTHER",
    "PERCENT",
    "PLACE",
    "QUESTION_WORDS",
    "AnalysedQuestion",
    "KeyTerm",
    "analyse_question",
    "answer_type",
    "asks_for_organisation",
    "normalise_question",
    "closest_word",
]
