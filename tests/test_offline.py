"""Nothing leaves the machine: every command runs with the network refused and watched.

`rag index`, `rag ask`, `rag eval` and `rag chat` (start-up, the page, one question
through its HTTP API, and a request asking the server to fetch a URL) run with:

* a ``sitecustomize`` on PYTHONPATH, so in this process tree every Python process,
  children included, refuses and records each name lookup (getaddrinfo,
  gethostbyname, ...) and each connection or datagram to an address outside
  127.0.0.0/8 and ::1;
* where the machine allows, ``strace -f`` recording the connect/sendto/sendmsg
  system calls of every process (a lookup inside libc, a non-Python child) and
  ``unshare -rn``, a network namespace with only a loopback, so that whatever
  Python did not stop is refused by the kernel.

A test fails on any attempt and names its destination.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
QUESTION = "When did Xiaomi drop to third?"

GUARD = r'''
"""Test guard: refuse and record every lookup and every connection off this machine."""
import ipaddress
import os
import socket
import sys

_LOG = os.environ["RAG_NETWORK_LOG"]


def _loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(kind, target, error=OSError):
    with open(_LOG, "a", encoding="utf-8") as handle:
        handle.write(f"{kind} {target!r} (pid {os.getpid()}: {' '.join(sys.argv)[:120]})\n")
    raise error(f"network access refused by the offline test: {kind} {target!r}")


def _numeric(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    try:
        ipaddress.ip_address(str(host).split("%")[0])
        return True
    except ValueError:
        return False


def _guard_lookup(original, *, numeric_is_lookup):
    def guarded(host, *args, **kwargs):
        # None is a local bind; an address is no lookup, except when asked for its name.
        if host is None or _loopback(host) or (_numeric(host) and not numeric_is_lookup):
            return original(host, *args, **kwargs)
        return _refuse("lookup", host, socket.gaierror)

    return guarded


for _name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex"):
    setattr(socket, _name, _guard_lookup(getattr(socket, _name), numeric_is_lookup=False))
socket.gethostbyaddr = _guard_lookup(socket.gethostbyaddr, numeric_is_lookup=True)
_getnameinfo = socket.getnameinfo


def _getnameinfo_guarded(address, flags):
    if _loopback(address[0]) or flags & socket.NI_NUMERICHOST:
        return _getnameinfo(address, flags)
    return _refuse("lookup", address[0], socket.gaierror)


socket.getnameinfo = _getnameinfo_guarded


def _guard_address(original, position):
    def guarded(self, *args):
        address = args[position] if len(args) > position else None
        if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
            if not _loopback(address[0]):
                return _refuse("connect", f"{address[0]}:{address[1]}")
        return original(self, *args)

    return guarded


socket.socket.connect = _guard_address(socket.socket.connect, 0)
socket.socket.connect_ex = _guard_address(socket.socket.connect_ex, 0)
socket.socket.sendto = _guard_address(socket.socket.sendto, -1)
'''

# One HTTP question to `rag chat`, from inside the same guard (and namespace).
CHAT_DRIVER = r"""
import json, os, signal, socket, subprocess, sys, time, urllib.error, urllib.request

port, command = int(sys.argv[1]), sys.argv[2:]
server = subprocess.Popen(command)
base = f"http://127.0.0.1:{port}"
outcome = {}
try:
    for _ in range(600):
        if server.poll() is not None:
            raise SystemExit(f"rag chat exited with {server.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.5)
    outcome["page"] = urllib.request.urlopen(base + "/", timeout=60).status
    request = urllib.request.Request(
        base + "/gradio_api/call/ask",
        data=json.dumps({"data": [os.environ["QUESTION"], [], 5]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    event = json.load(urllib.request.urlopen(request, timeout=60))["event_id"]
    stream = urllib.request.urlopen(f"{base}/gradio_api/call/ask/{event}", timeout=120)
    outcome["answer"] = stream.read().decode()
    # Asking the server to fetch a URL must not make it look anything up.
    try:
        urllib.request.urlopen(base + "/gradio_api/file=http://example.com/", timeout=30)
        outcome["fetch"] = 200
    except urllib.error.HTTPError as error:
        outcome["fetch"] = error.code
finally:
    server.send_signal(signal.SIGINT)
    try:
        server.wait(60)
    except subprocess.TimeoutExpired:
        server.kill()
print(json.dumps(outcome))
"""

STRACE_ADDRESS = re.compile(
    r"sa_family=AF_INET6?, sin6?_port=htons\((\d+)\).*?"
    r"(?:inet_addr\(\"([^\"]+)\"\)|inet_pton\(AF_INET6, \"([^\"]+)\")"
)


def _works(command: list[str]) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


STRACE = shutil.which("strace") is not None and _works(
    ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect", "-o", os.devnull, "true"]
)
UNSHARE = shutil.which("unshare") is not None and _works(
    ["unshare", "-rn", "sh", "-c", "ip link set lo up"]
)


def offending_syscalls(trace: Path) -> list[str]:
    """Connections and datagrams off the machine, and any DNS query, in an strace log."""
    found = []
    for line in trace.read_text(errors="replace").splitlines() if trace.exists() else []:
        match = STRACE_ADDRESS.search(line)
        if match is None:
            continue
        port, address = int(match.group(1)), match.group(2) or match.group(3)
        loopback = address.startswith("127.") or address == "::1"
        if not loopback or port == 53:  # a resolver on 127.0.0.53 is still DNS
            found.append(f"{address}:{port}  ({line.strip()[:160]})")
    return found


@pytest.fixture(scope="module")
def guard(tmp_path_factory):
    """Run a command with the network refused; returns (completed process, attempts)."""
    home = tmp_path_factory.mktemp("offline")
    guard_dir = home / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(GUARD)

    def run(args: list[str], *, name: str, timeout: int = 900, extra_env=None):
        log, trace = home / f"{name}.attempts", home / f"{name}.strace"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),  # nothing from the user's caches or config
            "PYTHONPATH": os.pathsep.join([str(guard_dir), str(ROOT)]),
            "RAG_NETWORK_LOG": str(log),
            "QUESTION": QUESTION,
            **(extra_env or {}),
        }
        prefix = []
        if UNSHARE:
            prefix += ["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$@"', "guarded"]
        if STRACE:
            prefix += ["strace", "-f", "-qq", "--seccomp-bpf", "-o", str(trace)]
            prefix += ["-e", "trace=connect,sendto,sendmsg", "-e", "signal=none"]
        result = subprocess.run(
            prefix + args, capture_output=True, text=True, timeout=timeout, env=env, cwd=home
        )
        attempts = log.read_text().splitlines() if log.exists() else []
        return result, attempts + offending_syscalls(trace)

    run.home = home
    return run


def rag(*args: str) -> list[str]:
    return [sys.executable, "-c", "from rag.cli import cli; cli(prog_name='rag')", *args]


def where(home: Path) -> list[str]:
    return ["--seeds", str(SEEDS), "--index-dir", str(home / "index")]


def check(result, attempts) -> None:
    assert attempts == [], "network access attempted:\n" + "\n".join(attempts)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def offline_index(guard):
    """`rag index` builds the index these tests share, offline like the rest."""
    result, attempts = guard(rag("index", *where(guard.home)), name="index")
    check(result, attempts)
    assert (guard.home / "index" / "current" / "manifest.json").exists()
    return guard.home / "index"


@pytest.mark.unit
def test_index(offline_index):
    assert (offline_index / "current").is_symlink()


def test_ask(guard, offline_index):
    result, attempts = guard(rag("ask", QUESTION, "--json", *where(guard.home)), name="ask")
    check(result, attempts)
    assert json.loads(result.stdout)["answer"]  # an answer or an abstention: the whole path ran


def test_eval(guard, offline_index):
    gold = guard.home / "gold.jsonl"  # three questions: the same code path, a fraction of the time
    with (ROOT / "evals" / "gold.jsonl").open() as source, gold.open("w") as target:
        target.writelines(line for _, line in zip(range(3), source, strict=False))
    out = guard.home / "eval"
    args = rag("eval", "--gold", str(gold), "--out", str(out), *where(guard.home))
    result, attempts = guard(args, name="eval")
    check(result, attempts)
    assert (out / "report.json").exists()


def test_chat_start_up_page_and_one_question(guard, offline_index):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    chat = rag("chat", "--port", str(port), "--no-rebuild", *where(guard.home))
    driver = [sys.executable, "-c", CHAT_DRIVER, str(port), *chat]
    started = time.monotonic()
    result, attempts = guard(driver, name="chat", extra_env={"GRADIO_ANALYTICS_ENABLED": "True"})
    check(result, attempts)
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["page"] == 200 and outcome["fetch"] == 403
    assert "event: complete" in outcome["answer"], outcome["answer"][-2000:]
    assert time.monotonic() - started < 900


@pytest.mark.unit
def test_the_guard_catches_lookups_connections_and_children(guard):
    """The guard itself: a lookup, a connection and a child process's lookup are all caught."""
    child = "import socket\ntry:\n    socket.gethostbyname('a.test')\nexcept OSError:\n    pass"
    code = f"""
import socket, subprocess, sys
for attempt in (lambda: socket.getaddrinfo("example.com", 443),
                lambda: socket.create_connection(("93.184.216.34", 443), timeout=2)):
    try:
        attempt()
    except OSError:
        pass
subprocess.run([sys.executable, "-c", {child!r}])
"""
    _, attempts = guard([sys.executable, "-c", code], name="self-test")
    text = "\n".join(attempts)
    assert "lookup 'example.com'" in text
    assert "connect '93.184.216.34:443'" in text
    assert "lookup 'a.test'" in text


@pytest.mark.unit
@pytest.mark.skipif(not (STRACE and UNSHARE), reason="needs strace and unshare -rn")
def test_the_guard_sees_what_python_does_not(guard):
    """A lookup made by a program that is not Python is refused and recorded too."""
    _, attempts = guard(["getent", "hosts", "example.com"], name="libc")
    assert any(":53" in attempt for attempt in attempts), attempts


def test_the_environment_cannot_turn_telemetry_back_on():
    """Gradio's usage reports and ONNX Runtime's telemetry stay off whatever the user set."""
    code = (
        "import os, ui.app, rag.embedding, gradio.analytics as a\n"
        "print(a.analytics_enabled(), os.environ['ORT_DISABLE_TELEMETRY'])"
    )
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "True", "ORT_DISABLE_TELEMETRY": "0"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=True
    )
    assert out.stdout.split() == ["False", "1"]
