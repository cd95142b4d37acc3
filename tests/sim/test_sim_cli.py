"""The ``coder-sim`` command: flags, printed facts, repeatable seeds, clear errors."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


@contextmanager
def running(*args: str) -> Iterator[dict[str, str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "coder_sim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    facts: dict[str, str] = {}
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 15
        while "CODER_SESSION_TOKEN" not in facts:
            line = process.stdout.readline()
            assert line, f"coder-sim exited early: {process.stderr.read() if process.stderr else ''}"
            if match := re.match(r"^([A-Z_]+)=(.*)$", line.strip()):
                facts[match.group(1)] = match.group(2)
            elif match := re.match(r"^TOKEN (\w+) .*: (\S+)$", line.strip()):
                facts[f"token:{match.group(1)}"] = match.group(2)
            assert time.monotonic() < deadline
        yield facts
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def test_port_zero_prints_url_and_tokens_that_work() -> None:
    with running("--port", "0", "--era", "v0.25", "--token", "cli-admin-token") as facts:
        assert facts["CODER_URL"] == f"http://127.0.0.1:{facts['PORT']}"
        assert facts["CODER_SESSION_TOKEN"] == "cli-admin-token"
        me = httpx.get(
            facts["CODER_URL"] + "/api/v2/users/me", headers={"Coder-Session-Token": facts["token:alice"]}
        )
        assert me.json()["email"] == "alice@example.com"
        assert httpx.get(facts["CODER_URL"] + "/api/v2/buildinfo").json()["version"].startswith("v0.25")


def test_same_seed_same_tokens_and_ids() -> None:
    runs = []
    for _ in range(2):
        with running("--port", "0", "--seed", "42") as facts:
            headers = {"Coder-Session-Token": facts["CODER_SESSION_TOKEN"]}
            orgs = httpx.get(facts["CODER_URL"] + "/api/v2/users/me/organizations", headers=headers).json()
            runs.append((facts["token:alice"], orgs[0]["id"]))
    assert runs[0] == runs[1]


def test_bad_flags_give_a_clear_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "coder_sim", "--era", "v1"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "invalid choice: 'v1'" in result.stderr
    assert "Traceback" not in result.stderr
    speed = subprocess.run(
        [sys.executable, "-m", "coder_sim", "--speed", "0"], capture_output=True, text=True, check=False
    )
    assert "--speed must be a positive number" in speed.stderr


def test_a_busy_port_is_reported_without_a_traceback() -> None:
    with running("--port", "0") as facts:
        result = subprocess.run(
            [sys.executable, "-m", "coder_sim", "--port", facts["PORT"]],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ},
        )
    assert result.returncode == 2
    assert "cannot listen on 127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_person_at_a_terminal_gets_a_how_to_and_a_parent_process_does_not() -> None:
    piped = subprocess.Popen(
        [sys.executable, "-m", "coder_sim", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert piped.stdout is not None
    for line in piped.stdout:
        if line.startswith(b"CODER_SESSION_TOKEN="):
            break
    else:
        raise AssertionError(f"coder-sim exited early: {piped.stderr.read() if piped.stderr else b''!r}")
    piped.send_signal(signal.SIGTERM)
    rest, _ = piped.communicate(timeout=10)  # everything it printed, now that it has exited
    assert b"Press Ctrl-C" not in rest and b"Try:" not in rest
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "coder_sim", "--port", "0"], stdout=terminal, stderr=subprocess.PIPE
    )
    os.close(terminal)
    printed = b""
    try:
        deadline = time.monotonic() + 15
        while b"Press Ctrl-C to stop." not in printed:
            assert time.monotonic() < deadline, printed
            printed += os.read(controller, 4096)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        os.close(controller)
    assert b'Try: curl -H "Coder-Session-Token: <token>" http://127.0.0.1:' in printed
