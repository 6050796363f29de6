"""A conversation as the chat window, the API or `rag ask --history` hands it over:
turns of (question, answer), oldest first, within set limits."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from ..answering.draft import ABSTAIN_TEXT
from .checks import MAX_QUESTION_CHARS

# What is read of a conversation: its last turns, a question as long as one may be, and the
# start of each answer (a name is in it, or it is not an answer to read names from).
MAX_HISTORY_TURNS = 20
MAX_ANSWER_CHARS = 300
MAX_REPLY_CHARS = 20_000  # of the reply as sent (markup included), before anything is parsed
_ANSWER_DIV = re.compile(r'<div class="rag-answer">(.*?)</div>', re.S)
_MARKER_LINK = re.compile(r'<a class="rag-marker"[^>]{0,500}>[^<]{0,20}</a>')
_TAG = re.compile(r"<[^<>]{0,2000}>")


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str | None = None  # what was answered; None when unknown or refused


def message_text(content) -> str | None:
    """The text of a chat message's content: a string, or Gradio's list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list | tuple):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        texts = [p for p in parts if isinstance(p, str)]
        return " ".join(texts) if texts else None
    return None


def reply_text(reply) -> str | None:
    """An answer as plain words: no markup, citation marks or warning sign; None for a
    refusal. The chat window's HTML counts only its answer, not the sources listed below."""
    if not isinstance(reply, str):
        return None
    reply = reply[:MAX_REPLY_CHARS]
    shown = _ANSWER_DIV.search(reply)
    if shown:
        reply = shown.group(1)
    plain = html.unescape(_TAG.sub(" ", _MARKER_LINK.sub(" ", reply)))
    plain = " ".join(re.sub(r"\[\d+(?:,\s*\d+)*\]", " ", plain).split())
    plain = re.sub(r"^[^\w$€£¥]+", "", plain)  # "⚠️ The articles don't say."
    if not plain or plain.startswith(ABSTAIN_TEXT.rstrip(".")):
        return None
    return _clean(plain[:MAX_ANSWER_CHARS])


def _clean(text: str) -> str:
    """``text`` without lone surrogates (which spaCy cannot encode)."""
    return "".join(ch for ch in text if not 0xD800 <= ord(ch) <= 0xDFFF)


def conversation(history) -> list[Turn]:
    """The turns of a chat history, oldest first.

    Accepted: chat messages (``{"role", "content"}``, Gradio's or OpenAI's shape, the chat
    window's HTML included),
    ``(question, answer)`` pairs, ``{"question", "answer"}`` records (what
    ``rag ask --json`` prints) and bare question strings.
    """
    turns: list[Turn] = []
    for item in history or []:
        if isinstance(item, str):
            turns.append(Turn(item))
        elif isinstance(item, dict) and isinstance(item.get("question"), str):
            answer = None if item.get("abstained") else item.get("short_answer")
            turns.append(Turn(item["question"], reply_text(answer or item.get("answer"))))
        elif isinstance(item, dict):
            text = message_text(item.get("content"))
            metadata = item.get("metadata")
            if text is None or (isinstance(metadata, dict) and metadata.get("title")):
                continue  # nothing said, or a note beside the answer ("Follow-up read as")
            if item.get("role", "user") == "user":
                # As the chat window holds it: the question typed, shown as escaped HTML.
                turns.append(Turn(html.unescape(_TAG.sub("", text[:MAX_REPLY_CHARS]))))
            elif item.get("role") == "assistant" and turns and turns[-1].answer is None:
                turns[-1] = Turn(turns[-1].question, reply_text(text))
        elif isinstance(item, list | tuple) and item and isinstance(item[0], str):
            turns.append(Turn(item[0], reply_text(item[1]) if len(item) > 1 else None))
    # A history is the caller's to send: only its last turns are read, each question within
    # the length a question may have (answers are cut in reply_text).
    spaced = (
        Turn(" ".join(_clean(t.question[:MAX_QUESTION_CHARS]).split()), t.answer)
        for t in turns[-MAX_HISTORY_TURNS:]
    )
    return [t for t in spaced if t.question]
