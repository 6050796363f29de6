"""Likes and dislikes on answers, one JSON line per vote, capped."""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from pathlib import Path

log = logging.getLogger(__name__)


class FeedbackLog:
    """Votes on answers as JSON lines: one line per answer, at most ``cap`` lines.

    A different vote on the same answer replaces the first, taking a vote back
    (clicking a selected thumb again) removes it, and the same vote again writes
    nothing. Replacing means rewriting the file, which the cap keeps small.
    """

    SAVED = "saved"
    CHANGED = "changed"
    WITHDRAWN = "withdrawn"
    UNCHANGED = "unchanged"
    FULL = "full"

    def __init__(self, path: Path, *, cap: int) -> None:
        self.path = path
        self.cap = cap
        self._lock = threading.Lock()
        self._votes: dict[str, bool | str] | None = None  # answer id -> vote; read lazily
        self._lines = 0
        self._warned_full = False

    def _load(self) -> dict[str, bool | str]:
        if self._votes is None:
            self._votes, self._lines = {}, 0
            if self.path.is_file():
                for line in self.path.read_text(encoding="utf-8").splitlines():
                    self._lines += 1
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(record, dict) and isinstance(record.get("answer_id"), str):
                        self._votes[record["answer_id"]] = record.get("liked")
        return self._votes

    def _rewrite(self, answer_id: str, record: dict | None) -> None:
        """Replace (or with None, drop) the line of ``answer_id``."""
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                mine = json.loads(line).get("answer_id") == answer_id
            except (json.JSONDecodeError, AttributeError):
                mine = False
            if not mine:
                kept.append(line)
            elif record is not None:
                kept.append(json.dumps(record, ensure_ascii=False))
        temporary = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
        temporary.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        os.replace(temporary, self.path)  # a reader never sees half a file
        self._lines = len(kept)

    def vote(self, record: dict) -> str:
        """Record ``record`` (with ``answer_id`` and ``liked``); returns what happened.

        ``liked`` is True or False, or "" when the vote is taken back.
        """
        answer_id, liked = record["answer_id"], record["liked"]
        with self._lock:
            votes = self._load()
            if answer_id in votes:
                if votes[answer_id] == liked:
                    return self.UNCHANGED
                self._rewrite(answer_id, None if liked == "" else record)
                if liked == "":
                    del votes[answer_id]
                    return self.WITHDRAWN
                votes[answer_id] = liked
                return self.CHANGED
            if liked == "":
                return self.UNCHANGED
            if self._lines >= self.cap:
                if not self._warned_full:
                    log.warning(
                        "feedback not saved: %s already holds %s votes (the feedback_cap "
                        "setting); move the file aside or raise the cap to collect more",
                        self.path,
                        f"{self._lines:,}",
                    )
                    self._warned_full = True
                return self.FULL
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            votes[answer_id] = liked
            self._lines += 1
            return self.SAVED
