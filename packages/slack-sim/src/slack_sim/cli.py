"""``slack-sim``: serve the Slack Web API stand-in, or try the coder-slack bot in a terminal console."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

USAGE = {
    "serve": "slack-sim serve [--host 127.0.0.1] [--port 0] [--scopes chat:write,users:read,...]",
    "console": "slack-sim console [--coder-url URL] [--coder-token TOKEN] [--script FILE|-] [--user alice]",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slack-sim", description="A local stand-in for Slack's Web API, for demos and tests."
    )
    commands = parser.add_subparsers(dest="command", metavar="{serve,console}")
    serve = commands.add_parser(
        "serve",
        help="serve the stand-in; prints SLACK_API_URL=<url>/api/ once listening",
        usage=USAGE["serve"],
    )
    serve.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    serve.add_argument(
        "--scopes",
        help="comma-separated bot scopes to enforce (a manifest's, say); other calls get missing_scope",
    )
    console = commands.add_parser(
        "console",
        help="try the coder-slack bot in a terminal against a local Slack stand-in",
        usage=USAGE["console"],
    )
    console.add_argument("--coder-url", help="Coder URL (default: CODER_URL, then `coder login`'s)")
    console.add_argument("--coder-token", help="Coder service token (default: CODER_SESSION_TOKEN)")
    console.add_argument(
        "--script", help="read console lines from this file ('-' for stdin) instead of a prompt"
    )
    console.add_argument(
        "--user", default="alice", help="the Slack user you act as (alice, bob, admin, nobody)"
    )
    console.add_argument("--channel", default="C0CONSOLE", help="the Slack channel id commands come from")
    console.add_argument(
        "--settle", type=float, default=120.0, help="seconds to wait for status cards to settle at the end"
    )
    return parser


def _fail(message: str) -> int:
    print(f"slack-sim: {message}", file=sys.stderr)
    return 2


async def _serve(host: str, port: int, scopes: list[str] | None) -> None:
    from slack_sim.server import SlackStandIn

    standin = await SlackStandIn(host=host, port=port, scopes=scopes).start_async()
    print(f"SLACK_API_URL={standin.api_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await standin.stop_async()


def serve(args: argparse.Namespace) -> int:
    scopes = [scope.strip() for scope in args.scopes.split(",") if scope.strip()] if args.scopes else None
    try:
        asyncio.run(_serve(args.host, args.port, scopes))
    except OSError as exc:
        return _fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    return 0


def console(args: argparse.Namespace) -> int:
    try:
        from slack_sim.console import ConsoleSetupError, coder_connection, read_script, run_console
    except ImportError as exc:
        return _fail(
            f"the console drives the coder-slack bot, which is not installed ({exc.name} is missing): "
            "install slack-sim[console]"
        )

    try:
        coder_url, token = coder_connection(args.coder_url, args.coder_token)
    except ConsoleSetupError as exc:
        return _fail(str(exc))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    script = None
    if args.script:
        try:
            script = read_script(args.script)
        except OSError as exc:
            return _fail(f"cannot read the script {args.script}: {exc.strerror}")
    elif not sys.stdin.isatty():
        script = sys.stdin.read().splitlines()
    try:
        return asyncio.run(
            run_console(
                coder_url,
                token,
                script=script,
                user=args.user,
                channel=args.channel,
                settle_seconds=args.settle,
            )
        )
    except KeyboardInterrupt:
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "console":
        return console(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
