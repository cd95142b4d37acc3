"""``coder-slack``: serve (HTTP or Socket Mode), console, migrate, generate-key."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from pydantic import SecretStr, ValidationError

from coder_slack.settings import Mode, Settings, secret

USAGE = {
    "serve": "coder-slack serve [--host 0.0.0.0] [--port 3000] [--socket-mode]",
    "console": "coder-slack console [--coder-url URL] [--coder-token TOKEN] [--script FILE|-] [--user alice]",
    "migrate": "coder-slack migrate",
    "generate-key": "coder-slack generate-key",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coder-slack",
        description="A Slack bot for Coder workspaces: /workspace, status cards and lifecycle alerts.",
    )
    commands = parser.add_subparsers(dest="command", metavar="{serve,console,migrate,generate-key}")
    serve = commands.add_parser("serve", help="run the bot", usage=USAGE["serve"])
    serve.add_argument("--host", default="0.0.0.0", help="HTTP listen address (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=3000, help="HTTP port (default 3000)")
    serve.add_argument(
        "--socket-mode", action="store_true", help="connect to Slack over Socket Mode (SLACK_APP_TOKEN)"
    )
    console = commands.add_parser(
        "console", help="try the bot in a terminal against a local Slack stand-in", usage=USAGE["console"]
    )
    console.add_argument("--coder-url", help="Coder URL (default: CODER_URL)")
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
    commands.add_parser(
        "migrate", help="bring the database schema up to date and exit", usage=USAGE["migrate"]
    )
    commands.add_parser(
        "generate-key", help="print a new CODER_SLACK_ENCRYPTION_KEY", usage=USAGE["generate-key"]
    )
    return parser


def _fail(message: str) -> int:
    print(f"coder-slack: {message}", file=sys.stderr)
    return 2


def _load_settings() -> Settings | str:
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        return f"invalid settings: {problems}"
    return _with_coder_login(settings)


def _with_coder_login(settings: Settings) -> Settings:
    """Like every coderops tool: without CODER_URL, fall back to the `coder` CLI's own login files."""
    if settings.coder_url:
        return settings
    from coder_client import ConfigurationError, resolve_config

    try:
        found = resolve_config()
    except ConfigurationError:
        return settings
    token = settings.coder_session_token or SecretStr(found.token)
    return settings.model_copy(update={"coder_url": found.url, "coder_session_token": token})


def _configure_logging(settings: Settings) -> None:
    try:
        from coder_slack.ops import configure_logging
    except ImportError:
        logging.basicConfig(level=settings.coder_slack_log_level.upper())
        return
    configure_logging(settings.coder_slack_log_level.upper())


def _check(settings: Settings, mode: Mode) -> str | None:
    missing = settings.missing_for(mode)
    if missing:
        return (
            f"missing settings: {', '.join(missing)}. Set them in the environment "
            "(see packages/coder-slack/README.md; `coder login` also provides CODER_URL)."
        )
    key = secret(settings.coder_slack_encryption_key)
    if key:
        from coder_slack.crypto import EncryptionKeyError, TokenCipher

        try:
            TokenCipher(key)
        except EncryptionKeyError as exc:
            return str(exc)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "generate-key":
        from coder_slack.crypto import generate_key

        print(generate_key())
        return 0
    loaded = _load_settings()
    if isinstance(loaded, str):
        return _fail(loaded)
    settings = loaded
    if args.command == "migrate":
        from coder_slack.store import upgrade_database

        upgrade_database(settings.coder_slack_database_url)
        print("database schema is up to date")
        return 0
    if args.command == "serve":
        problem = _check(settings, "socket" if args.socket_mode else "http")
        if problem:
            return _fail(problem)
        _configure_logging(settings)
        from coder_slack.server import serve_http, serve_socket_mode

        try:
            if args.socket_mode:
                asyncio.run(serve_socket_mode(settings))
            else:
                asyncio.run(serve_http(settings, args.host, args.port))
        except OSError as exc:
            return _fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
        except KeyboardInterrupt:
            pass
        return 0
    if args.command == "console":
        coder_url = args.coder_url or settings.coder_url
        if not coder_url:
            return _fail(
                "the console needs a Coder: pass --coder-url/--coder-token or set "
                "CODER_URL/CODER_SESSION_TOKEN "
                "(for example, start coder-sim first)."
            )
        token = args.coder_token or secret(settings.coder_session_token) or None
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        from coder_slack.console import read_script, run_console

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
    return _fail(f"unknown command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
