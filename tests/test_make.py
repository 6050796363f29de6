"""The Makefile's commands take the settings the README promises."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(target: str, **env: str) -> str:
    """The commands `make TARGET` would run with ``env`` (and no PORT of the caller's)."""
    base = {key: value for key, value in os.environ.items() if key != "PORT"}
    result = subprocess.run(
        ["make", "-n", target],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


@pytest.mark.parametrize("env,port", [({}, "7860"), ({"PORT": "8123"}, "8123")])
def test_make_demo_serves_the_chat_on_port(env, port):
    assert f"rag chat --port {port}" in dry_run("demo", **env)
