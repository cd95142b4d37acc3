"""``slack-sim console``: the real coder-slack bot against a Coder (coder-sim in the demo) and a local Slack
stand-in, driven from a terminal through the signed requests Slack would send.

Type ``/workspace …`` lines (or pipe a script); every message the bot posts or updates is printed as text,
including later updates of a status card. Extra console lines:

    as bob                      act as another Slack user (alice, bob, admin, nobody)
    @bob /workspace list        one command as another user
    click Extend +1h            press a button on the latest message you can see that has it
    submit name=dev cpu=8       submit the open form (name, token, or template parameters)
    wait [seconds]              wait until the bot's background work is done and alerts are sent
    sleep <seconds>             pause
    # text                      a comment, echoed (narration for demos)
    quit
"""

from __future__ import annotations

from slack_sim.console.printer import Printer
from slack_sim.console.run import (
    CONSOLE_CHANNEL,
    ConsoleSetupError,
    coder_connection,
    console_settings,
    read_script,
    run_console,
)
from slack_sim.console.session import Console, settle

__all__ = [
    "CONSOLE_CHANNEL",
    "Console",
    "ConsoleSetupError",
    "Printer",
    "coder_connection",
    "console_settings",
    "read_script",
    "run_console",
    "settle",
]
