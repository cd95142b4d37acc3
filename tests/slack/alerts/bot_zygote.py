"""A pre-imported parent that forks alert-engine processes on request, so a crash test can SIGKILL and
restart the
bot many times without paying Python's import time on every start.

Protocol on stdin/stdout, one line each: ``spawn`` → the child's pid; ``quit`` → exit. Each child runs
``coder-slack alerts`` (``coder_slack.cli.main``) with the environment this process was started with.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import sys
import traceback

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
            # SIGUSR1 writes every thread's stack to the log: how a test shows where a bot that did not
            # start is stuck.
            faulthandler.register(signal.SIGUSR1, all_threads=True)
            code = 0
            try:
                code = cli.main(["alerts"])
            except SystemExit as exit_:
                if not isinstance(exit_.code, int) and exit_.code is not None:
                    print(exit_.code, file=sys.stderr)
                code = exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 1
            except BaseException:
                traceback.print_exc()  # os._exit below would otherwise end the child without a word
                code = 1
            finally:
                sys.stderr.flush()
                os._exit(code)
        print(pid, flush=True)


if __name__ == "__main__":
    main()
