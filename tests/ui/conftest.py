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
    from ui.app import launch

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
