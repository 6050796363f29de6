"""The chat window's state and callbacks: asking, streaming, retrying, feedback, the API's ask."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import RagError
from rag.pipeline import AskResult
from rag.question import normalise_question
from rag.question.history import message_text
from ui.articles import ArticlesView
from ui.feedback import FeedbackLog
from ui.guard import ArticleGuard
from ui.render import (
    NO_SOURCES_PANEL,
    STILL_UPDATING,
    UPDATING_PANEL,
    WAITING_PANEL,
    answer_html,
    escape_text,
    sources_html,
    text_html,
)

log = logging.getLogger(__name__)

STREAM_STEP_WORDS = 3  # the answer appears a few words at a time
FRIENDLY_FAILURE = "Sorry, something went wrong while answering. Please try again."
# The "Passages to read" slider's range: the API's k keeps to it too.
K_RANGE = (1, 10)
# How long a question waits for a re-index in progress before it is answered from the old one.
UPDATE_WAIT_SECONDS = 120


# -- conversation state ----------------------------------------------------------


def turns_shown(history: list, results: list) -> list:
    """The turns of the hidden state that the given ``history`` still shows.

    The chat history passed in (by the page or by an API caller) is the
    conversation: a hidden turn it does not show is no longer part of it.
    """
    kept = []
    for turn in results:
        start = turn["start"]
        if (
            turn["end"] <= len(history)
            and isinstance(history[start], dict)
            and history[start].get("role") == "user"
            and message_text(history[start].get("content")) == turn["shown"]
        ):
            kept.append(turn)
    return kept


def earlier_turns(history: list, turns: list) -> list:
    """The conversation so far, oldest first, for ``engine.ask``: read from ``history``
    itself.

    A question this window answered is a (question as typed, short answer) pair (no answer
    when the articles did not say); a refused one (emoji, another language) is left out;
    any other message is passed on as it is (rag/question/history.py reads it).
    """
    by_start = {turn["start"]: turn for turn in turns}
    covered = {n for turn in turns for n in range(turn["start"], turn["end"])}
    earlier: list = []
    for position, message in enumerate(history):
        turn = by_start.get(position)
        if turn is not None and turn["answered"]:
            result = turn["result"] or {}
            answer = None if result.get("abstained") else result.get("short_answer")
            earlier.append((turn["asked"], answer or result.get("answer")))
        elif position not in covered:
            earlier.append(message)
    return earlier


class ChatApp(ArticlesView):
    """State and callbacks of the chat window; one instance serves every session."""

    def __init__(
        self,
        engine,
        *,
        feedback_path: Path | None = None,
        feedback_cap: int | None = None,
        guard: ArticleGuard | None = None,
    ) -> None:
        """Votes go to ``feedback_path``, at most ``feedback_cap`` of them (default: the
        ``feedback_file`` and ``feedback_cap`` settings)."""
        self.engine = engine
        settings = engine.settings
        self.feedback_log = FeedbackLog(
            feedback_path or settings.feedback_file,
            cap=settings.feedback_cap if feedback_cap is None else feedback_cap,
        )
        self.index_notice = ""  # the latest "index updated: …" line, shown under the title
        self.guard = guard or ArticleGuard()

    # -- the watched folder ------------------------------------------------------

    def start_watching(self, stop: threading.Event | None = None) -> threading.Thread:
        """Re-index in the background whenever the articles folder changes (rag chat --watch)."""
        from rag.watch import watch_corpus

        thread = threading.Thread(
            target=watch_corpus,
            args=(self.engine.settings.articles_dir, self.refresh_index),
            kwargs={"stop": stop},
            name="rag-watch",
            daemon=True,
        )
        thread.start()
        return thread

    def refresh_index(self) -> str:
        """Bring the index up to date; questions meanwhile use the previous one."""
        from rag.watch import update_message

        before = set(self.engine.index.articles)
        try:
            report = self.engine.refresh(say=log.info)
        except RagError as error:
            self.index_notice = f"index not updated: {error}"
            log.warning(self.index_notice)
            return self.index_notice
        if report.wrote:
            articles = len(self.engine.index.articles)
            self.index_notice = (
                f"{update_message(before, report)} · {articles} articles "
                f"({time.strftime('%H:%M:%S')})"
            )
            log.info(self.index_notice)
        return self.index_notice

    def notice_html(self) -> str:
        return text_html(self.index_notice) if self.index_notice else ""

    def status_text(self) -> str:
        """How far a re-index (an upload, a removal, the watched folder) has got; "" if none."""
        if not self.engine.updating:
            return ""
        progress = getattr(self.engine, "progress", None)
        if progress is None:
            return "Re-indexing the articles: reading the folder…"
        done, total = progress
        if done >= total:
            return "Re-indexing the articles: saving the new index…"
        noun = "article" if total == 1 else "articles"
        return f"Indexing {done + 1} of {total} new or changed {noun}…"

    def status_html(self) -> str:
        text = self.status_text()
        return f'<div class="rag-status" role="status">{escape_text(text)}</div>' if text else ""

    def header_markdown(self) -> str:
        """The page's heading, with the number of articles indexed now."""
        count = len(self.engine.index.articles)
        noun = "article" if count == 1 else "articles"
        return (
            f"## {self.engine.settings.corpus_title()}\nAnswers come only from {count} indexed "
            f"{noun}, with the sentence that says so. When the articles don't say, you are told."
        )

    def examples(self) -> list[str]:
        newest = sorted(
            self.engine.index.articles.values(),
            key=lambda a: (a.date or "", a.doc_id),
            reverse=True,
        )
        return self.engine.settings.corpus_examples([a.title for a in newest])

    def api_ask(self, question: str, history: list | None = None, k: int | None = None) -> dict:
        """Answer ``question`` as the chat window does; the `rag ask --json` object, plus "html"
        (the reply as the window shows it) and, when the answer came from the index as it was
        before a re-index that outlasted the wait, "notice".

        ``history``: the conversation so far, as the chat window holds it (role/content
        messages, the assistant's answers included) or as earlier questions (strings); it
        decides what a follow-up refers to. A question the window would refuse (empty, too
        long, not in words, another language) raises an error saying so.
        """
        if k is None:
            k = self.engine.settings.k
        if isinstance(k, bool) or not isinstance(k, int) or not K_RANGE[0] <= k <= K_RANGE[1]:
            raise gr.Error(
                f"k (passages to read) must be a whole number from {K_RANGE[0]} to {K_RANGE[1]}",
                print_exception=False,
            )
        if not isinstance(question, str):
            raise gr.Error("Please type a question.", print_exception=False)
        if history is not None and not isinstance(history, list | tuple):
            raise gr.Error("history must be a list of messages", print_exception=False)
        try:
            # Empty, too long, no words: said before any waiting.
            normalise_question(question, max_chars=self.engine.settings.max_question_chars)
        except RagError as error:
            raise gr.Error(str(error), print_exception=False) from None
        stale = self._wait_for_update()
        try:
            result = self.engine.ask(question, history=list(history or []), k=k)
        except RagError as error:
            raise gr.Error(str(error), print_exception=False) from None
        except Exception:
            log.exception("answering %r failed", question)
            raise gr.Error(FRIENDLY_FAILURE, print_exception=False) from None
        answer: dict[str, Any] = result.to_json()
        answer["html"] = answer_html(result, "t" + uuid.uuid4().hex[:12])
        if stale:
            answer["notice"] = STILL_UPDATING
        return answer

    def _wait_for_update(self) -> bool:
        """Wait for a re-index in progress (an upload is being indexed: the question is most
        likely about it); True when it outlasted the wait and the old index answers."""
        if not self.engine.updating:
            return False
        return not self.engine.wait_until_updated(UPDATE_WAIT_SECONDS)

    @property
    def feedback_path(self) -> Path:
        return self.feedback_log.path

    # -- answering ---------------------------------------------------------------

    def _scores(self, result: AskResult, show: bool) -> dict[str, str]:
        if not show:
            return {}
        hits = self.engine.retriever.search(
            self.engine.query(result.rewritten_query), k=self.engine.settings.k * 2
        )
        return {
            h.chunk.chunk_id: f" · score {h.score:.4f} (dense #{h.dense_rank or '-'}, "
            f"BM25 #{h.bm25_rank or '-'})"
            for h in hits
        }

    def respond(self, message: str, history: list, results: list, k: int, show_scores: bool):
        """Stream an answer to ``message``; yields (textbox, chatbot, results, sources).

        ``history`` is the conversation so far and decides what a follow-up
        refers to. ``results`` (hidden per-session state) holds one entry per
        turn: its id, the question as typed, where the turn starts and ends in
        the chat, and the answer's JSON (None for a notice).
        """
        if not message or not message.strip():
            yield "", history, results, gr.skip()
            return
        history = list(history or [])
        results = turns_shown(history, results or [])
        earlier = earlier_turns(history, results)
        asked = message.strip()
        turn = {
            "id": "t" + uuid.uuid4().hex[:12],
            "asked": asked,
            "start": len(history),
            "shown": text_html(asked),
            "answered": False,
            "result": None,
        }
        history = history + [{"role": "user", "content": turn["shown"]}]
        # The panel never shows the previous answer's sources beside a new question.
        yield "", history, results, WAITING_PANEL
        stale = False
        if self.engine.updating:
            # An upload (or the watched folder) is being indexed: the question is about it,
            # more often than not, so it waits for the new index rather than using the old one.
            yield "", history, results, UPDATING_PANEL
            stale = self._wait_for_update()
        try:
            result = self.engine.ask(message, history=earlier, k=int(k))
        except RagError as error:
            reply = str(error)
        except Exception:  # a bug must not reach the user as a traceback
            log.exception("answering %r failed", asked)
            reply = FRIENDLY_FAILURE
        else:
            reply = None
        if reply is not None:
            history = history + [{"role": "assistant", "content": text_html(reply)}]
            turn.update(end=len(history), reply=reply)
            yield "", history, results + [turn], NO_SOURCES_PANEL
            return
        if result.rewritten_query != result.question:
            history = history + [
                {
                    "role": "assistant",
                    "content": text_html(result.rewritten_query),
                    "metadata": {"title": "Follow-up read as", "status": "done"},
                }
            ]
        sources = sources_html(result, scores=self._scores(result, show_scores))
        final = answer_html(result, turn["id"])
        history = history + [{"role": "assistant", "content": ""}]
        turn.update(end=len(history), answered=True, result=result.to_json())
        results = results + [turn]
        words = escape_text(result.answer).split(" ")
        for end in range(STREAM_STEP_WORDS, len(words), STREAM_STEP_WORDS):
            partial = f'<div class="rag-answer">{" ".join(words[:end])}</div>'
            history[-1] = {"role": "assistant", "content": partial}
            yield "", history, results, gr.skip()
        if stale:
            final += f'<div class="rag-notice">{escape_text(STILL_UPDATING)}</div>'
        history[-1] = {"role": "assistant", "content": final}
        yield "", history, results, sources

    def retry(self, history: list, results: list, k: int, show_scores: bool):
        """Ask the last question again (yields chatbot, results, sources)."""
        results = turns_shown(list(history or []), results or [])
        if not results:
            yield history, results, gr.skip()
            return
        last = results[-1]
        for _, new_history, new_results, sources in self.respond(
            last["asked"], history[: last["start"]], results[:-1], k, show_scores
        ):
            yield new_history, new_results, sources

    # -- feedback ------------------------------------------------------------------

    def feedback(self, results: list, data: gr.LikeData) -> None:
        """Record a vote on the reply whose bubble was clicked (any kind of reply).

        Gradio reports the index of the bubble's first message, which for a
        follow-up is the "Follow-up read as" line, so the vote goes to the turn
        whose messages include that index.
        """
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        turn = next((t for t in results if t["start"] < index < t["end"]), None)
        if turn is None:
            gr.Info("Feedback is recorded on answers only.")
            return
        record = {
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "answer_id": turn["id"],
            "liked": data.liked if isinstance(data.liked, str) else bool(data.liked),
            "question": turn["asked"],
        }
        result = turn["result"]
        if result is None:  # a notice ("please ask in words"): worth hearing about too
            record.update(rewritten_query=None, answer=turn["reply"], abstained=None, citations=[])
        else:
            record.update(
                rewritten_query=result["rewritten_query"],
                answer=result["answer"],
                abstained=result["abstained"],
                citations=[
                    {key: c[key] for key in ("n", "doc", "chunk_id", "quote")}
                    for c in result["citations"]
                ],
            )
        try:
            outcome = self.feedback_log.vote(record)
        except OSError as error:
            gr.Warning(f"Could not save feedback: {error.strerror}")
            return
        if outcome == FeedbackLog.FULL:
            gr.Warning("Feedback is full for now; thank you all the same.")
        elif outcome == FeedbackLog.CHANGED:
            gr.Info("Feedback changed.")
        elif outcome == FeedbackLog.WITHDRAWN:
            gr.Info("Feedback removed.")
        elif outcome == FeedbackLog.UNCHANGED:
            gr.Info("Feedback already saved for this answer.")
        else:
            gr.Info("Thanks, feedback saved.")
