"""A whole index build and search with every socket connection refused."""

import subprocess
import sys
from pathlib import Path

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

SCRIPT = r"""
import socket, sys
def refuse(*args, **kwargs):
    raise OSError("network access attempted: " + repr(args))
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse

from rag.cli import cli
sys.argv = ["rag", "ask", "when did Xiaomi drop to third?", "--json",
            "--seeds", SEEDS, "--index-dir", INDEX]
cli()
"""


def test_build_and_ask_with_sockets_blocked(tmp_path):
    script = SCRIPT.replace("SEEDS", repr(str(SEEDS))).replace("INDEX", repr(str(tmp_path)))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no HF_* variables inherited
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "network access attempted" not in result.stderr
    assert '"abstained": false' in result.stdout
    assert (tmp_path / "current" / "manifest.json").exists()
