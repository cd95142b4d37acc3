"""A pre-imported parent that forks alert-engine processes on request, so a crash test can SIGKILL and
restart the
bot many times without paying Python's import time on every start.

Protocol on stdin/stdout, one line each: ``spawn`` → the child's pid; ``quit`` → exit. Each child runs
``coder-slack alerts`` (``coder_slack.cli.main``) with the environment this process was started with.
"""

from __future__ import annotations

import contextlib
import os
import sys

from coder_slack import cli
from coder_slack import server as _preloaded  # noqa: F401  (what `alerts` imports, paid once, before forks)


def main() -> None:
    print("ZYGOTE READY", flush=True)
    for line in sys.stdin:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        command = line.strip()
        if command == "quit":
            return
        if command != "spawn":
            continue
        pid = os.fork()
        if pid == 0:
            log = os.open(
                os.environ.get("ALERTS_BOT_LOG", os.devnull), os.O_WRONLY | os.O_CREAT | os.O_APPEND
            )
            os.dup2(log, 1)
            os.dup2(log, 2)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            try:
                cli.main(["alerts"])
            finally:
                os._exit(0)
        print(pid, flush=True)


if __name__ == "__main__":
    main()
