"""Follow the corpus folder: re-index within seconds of an article being added, changed or removed.

``watchfiles`` reports changes as they happen; a file still being written (its size or mtime
changed within the last second) is waited for until it settles, so a half-copied PDF is never
indexed. Builds take turns under the index's build lock, and the engine swaps the new index
in whole, so questions asked during a rebuild are answered from the previous one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from .index import BuildReport

# A file whose size or mtime changed more recently than this is still being written.
SETTLE_SECONDS = 1.0


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    state = {}
    for path in folder.iterdir():
        try:
            if path.is_file() and not path.name.startswith("."):
                stat = path.stat()
                state[path.name] = (stat.st_size, stat.st_mtime_ns)
        except OSError:  # removed while we looked: the next snapshot tells
            continue
    return state


def wait_until_settled(
    folder: Path,
    *,
    settle: float = SETTLE_SECONDS,
    stop: threading.Event | None = None,
    poll: float = 0.2,
) -> bool:
    """Block until no file in ``folder`` has changed for ``settle`` seconds (False if stopped)."""
    stop = stop or threading.Event()
    previous = _snapshot(folder)
    quiet_since = time.monotonic()
    while not stop.is_set():
        now_ns = time.time_ns()
        fresh = any(now_ns - mtime < settle * 1e9 for _, mtime in previous.values())
        if not fresh and time.monotonic() - quiet_since >= settle:
            return True
        if stop.wait(poll):
            break
        current = _snapshot(folder)
        if current != previous:
            previous, quiet_since = current, time.monotonic()
    return False


def update_message(before: set[str], report: BuildReport) -> str:
    """ "index updated: +1 article, 1 changed, 1 removed" for a build that wrote something."""
    added = [d for d in report.embedded if d not in before]
    changed = [d for d in report.embedded if d in before]
    parts = []
    if added:
        parts.append(f"+{len(added)} article{'s' if len(added) != 1 else ''}")
    if changed:
        parts.append(f"{len(changed)} changed")
    if report.removed:
        parts.append(f"{len(report.removed)} removed")
    return "index updated: " + (", ".join(parts) or "rebuilt")


def watch_corpus(
    folder: Path,
    on_change: Callable[[], None],
    *,
    stop: threading.Event | None = None,
    settle: float = SETTLE_SECONDS,
) -> None:
    """Call ``on_change`` after every settled batch of changes in ``folder``, until ``stop``."""
    from watchfiles import watch

    stop = stop or threading.Event()
    for _changes in watch(folder, stop_event=stop, debounce=400, step=100, recursive=False):
        if wait_until_settled(folder, settle=settle, stop=stop):
            on_change()
