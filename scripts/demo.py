"""`make demo`: coder-sim (or your real Coder), JupyterLab with coder_jupyter, and the Slack bot.

Against coder-sim by default. Give a real Coder with CODER_URL and CODER_SESSION_TOKEN; give a real Slack
with SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode), and the bot
serves Slack instead of the terminal console. Set DEMO_JUPYTER=0 to skip JupyterLab.

Every child process is stopped when the console ends (Ctrl-D) or on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(preferred: int) -> int:
    return preferred if port_is_free(preferred) else 0


class Child:
    """A child process whose stdout is echoed with a prefix and scanned for `KEY=value` facts."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.facts: dict[str, str] = {}
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, name=f"{name}-output", daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            match = re.match(r"^([A-Z_]+)=(\S+)$", line)
            if match:
                self.facts[match.group(1)] = match.group(2)
            print(f"  {self.name} | {line}", flush=True)

    def wait_for_fact(self, key: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while key not in self.facts and time.monotonic() < deadline and self.process.poll() is None:
            time.sleep(0.1)
        if key not in self.facts:
            raise SystemExit(f"[demo] {self.name} did not report {key} (exit code {self.process.poll()})")
        return self.facts[key]

    def wait_for_line(self, pattern: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if regex.search(line):
                    return line
            if self.process.poll() is not None:
                return None
            time.sleep(0.2)
        return None

    def stop(self) -> None:
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)


@contextmanager
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    try:
        yield started
    finally:
        for child in reversed(started):
            child.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--script", help="console lines to run instead of reading the terminal ('-' = stdin)")
    parser.add_argument("--sim-port", type=int, default=3000)
    parser.add_argument("--jupyter-port", type=int, default=8888)
    parser.add_argument("--speed", default=os.environ.get("DEMO_SPEED", "1.0"))
    parser.add_argument("--no-jupyter", action="store_true", default=os.environ.get("DEMO_JUPYTER") == "0")
    args = parser.parse_args(argv)

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with children() as started:
        coder_url = os.environ.get("CODER_URL")
        coder_token = os.environ.get("CODER_SESSION_TOKEN")
        user_token = coder_token
        sim_started = False
        if not (coder_url and coder_token):
            sim_started = True
            sim_port = pick_port(args.sim_port)
            sim_argv = [str(BIN / "coder-sim"), "--host", "127.0.0.1", "--port", str(sim_port)]
            sim = Child("coder-sim", [*sim_argv, "--speed", args.speed], env)
            started.append(sim)
            coder_url = sim.wait_for_fact("CODER_URL", timeout=30)
            coder_token = sim.wait_for_fact("CODER_SESSION_TOKEN", timeout=30)
            alice = sim.wait_for_line(r"^TOKEN alice", timeout=10)
            user_token = alice.rsplit(" ", 1)[-1] if alice else coder_token
            say(f"coder-sim answers at {coder_url}; try:")
            say(f'  curl -H "Coder-Session-Token: {coder_token}" {coder_url}/api/v2/users/me')
        else:
            say(f"using your Coder at {coder_url}")

        if not args.no_jupyter:
            lab = Child(
                "jupyter",
                [
                    str(BIN / "python"),
                    "-m",
                    "coder_jupyter.demo",
                    "--coder-url",
                    coder_url,
                    "--coder-token",
                    user_token or coder_token,
                    "--port",
                    str(pick_port(args.jupyter_port) or free_port()),
                    "--notebooks",
                    str(ROOT / "notebooks"),
                ],
                env,
            )
            started.append(lab)
            line = lab.wait_for_line(r"JupyterLab with coder_jupyter: http", timeout=90)
            if line:
                say("JupyterLab is up (notebooks as alice): " + line.split(": ", 1)[1])
            else:
                say("JupyterLab did not start; the rest of the demo goes on (see its output above)")

        bot_env = {**env, "CODER_URL": coder_url, "CODER_SESSION_TOKEN": coder_token}
        if sim_started:
            # coder-sim sends Coder's notifications (payload 1.1) to the bot's webhook, so the demo shows
            # them arriving as DMs: the console points the sim at itself; `serve` is pointed at here.
            bot_env.setdefault("CODER_SLACK_NOTIFICATIONS_SECRET", secrets.token_urlsafe(32))
        slack_ready = bool(os.environ.get("SLACK_BOT_TOKEN")) and bool(
            os.environ.get("SLACK_SIGNING_SECRET") or os.environ.get("SLACK_APP_TOKEN")
        )
        coder_slack = str(BIN / "coder-slack")
        if slack_ready:
            mode = ["--socket-mode"] if os.environ.get("SLACK_APP_TOKEN") else ["--port", "3030"]
            if sim_started and "--port" in mode:
                webhook = (
                    "http://127.0.0.1:3030/coder/notifications/" + bot_env["CODER_SLACK_NOTIFICATIONS_SECRET"]
                )
                set_sim_webhook(coder_url or "", webhook)
            say("serving your Slack app (Ctrl-C stops everything)")
            bot = subprocess.run([coder_slack, "serve", *mode], env=bot_env, cwd=ROOT, check=False)
            return bot.returncode
        say("no Slack settings given: the bot runs in the terminal console against a local Slack stand-in.")
        say("type for example:  /workspace create python-ds demo project_name=demo   (Ctrl-D ends the demo)")
        console = [str(BIN / "slack-sim"), "console", "--coder-url", coder_url, "--coder-token", coder_token]
        if args.script:
            console += ["--script", args.script]
        elif not sys.stdin.isatty():
            console += ["--script", "-"]
        try:
            return subprocess.run(console, env=bot_env, cwd=ROOT, check=False).returncode
        except KeyboardInterrupt:
            return 0


def set_sim_webhook(coder_url: str, webhook: str) -> None:
    """Point coder-sim's notification webhook at the bot (coder-sim's loopback-only control surface)."""
    request = urllib.request.Request(  # noqa: S310 (an http URL of the coder-sim this script started)
        coder_url.rstrip("/") + "/_sim/notifications-webhook",
        data=json.dumps({"url": webhook}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310 (a loopback URL we started)
            say("coder-sim sends Coder's notifications to the bot")
    except OSError as error:
        say(f"could not point coder-sim's notification webhook at the bot ({error})")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":
    sys.exit(main())
