"""A chat window served on a free local port for the UI tests (one per session)."""

from __future__ import annotations

import socket

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def served(engine, tmp_path_factory):
    from ui.server import launch

    feedback = tmp_path_factory.mktemp("feedback") / "feedback.jsonl"
    port = free_port()
    demo = launch(
        engine,
        host="127.0.0.1",
        port=port,
        share=False,
        feedback_path=feedback,
        prevent_thread_lock=True,
    )
    url = f"http://127.0.0.1:{port}/"
    yield url, feedback
    demo.close()


@pytest.fixture(scope="session")
def private_engine(engine, tmp_path_factory):
    """An engine over a private copy of the seeds, which tests may add articles to and remove
    them from (the seed index's vectors are reused: only the folder's path differs)."""
    import shutil
    from dataclasses import replace

    from rag.engine import Engine

    root = tmp_path_factory.mktemp("private-seeds")
    shutil.copytree(engine.settings.articles_dir, root / "seeds")
    shutil.copytree(engine.settings.index_dir, root / "index", symlinks=True)
    settings = replace(engine.settings, articles_dir=root / "seeds", index_dir=root / "index")
    return Engine(settings, embedder=engine.embedder)


@pytest.fixture(scope="session")
def serve():
    """A function launching the chat window over an engine on a free port: (url, demo)."""
    return _serve


def _serve(engine, *, host: str = "127.0.0.1", share: bool = False, token: str | None = None):
    from ui.server import launch

    port = free_port()
    demo = launch(
        engine,
        host=host,
        port=port,
        share=share,
        feedback_path=engine.settings.index_dir.parent / "feedback.jsonl",
        prevent_thread_lock=True,
        token=token,
    )
    return f"http://{host}:{port}/", demo
