"""``coder-slack``: serve (HTTP or Socket Mode), alerts, migrate, generate-key, rotate-key."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from pydantic import SecretStr

from coder_slack.settings import Mode, Settings, SettingsError, load_settings, secret

USAGE = {
    "serve": "coder-slack serve [--host 0.0.0.0] [--port 3000] [--socket-mode [--ops-port PORT]]",
    "alerts": "coder-slack alerts",
    "migrate": "coder-slack migrate",
    "generate-key": "coder-slack generate-key",
    "generate-secret": "coder-slack generate-secret",
    "notifications": "coder-slack notifications [--status STATUS] [--limit N]",
    "rotate-key": "coder-slack rotate-key [--dry-run]",
    "register-coder-app": "coder-slack register-coder-app --callback-url URL [--name NAME]",
}
COMMANDS = "{serve,alerts,migrate,generate-key,generate-secret,rotate-key,notifications,register-coder-app}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coder-slack",
        description="A Slack bot for Coder workspaces: /workspace, status cards and lifecycle alerts.",
    )
    commands = parser.add_subparsers(dest="command", metavar=COMMANDS)
    serve = commands.add_parser("serve", help="run the bot", usage=USAGE["serve"])
    serve.add_argument("--host", default="0.0.0.0", help="HTTP listen address (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=3000, help="HTTP port (default 3000)")
    serve.add_argument(
        "--socket-mode", action="store_true", help="connect to Slack over Socket Mode (SLACK_APP_TOKEN)"
    )
    serve.add_argument(
        "--ops-port",
        type=_port,
        help=(
            "Socket Mode only: serve /healthz, /readyz and /metrics on this port, on --host "
            "(default: CODER_SLACK_OPS_PORT; unset: no HTTP at all). HTTP mode serves them on --port."
        ),
    )
    commands.add_parser(
        "alerts",
        help="run only the lifecycle alert engine (no Slack listener)",
        usage=USAGE["alerts"],
        description=(
            "Runs the alert engine alone, for a dedicated alerts deployment; `serve` runs the same engine "
            "next to the command app. Needs SLACK_BOT_TOKEN, CODER_URL and CODER_SESSION_TOKEN. Prints "
            "'ALERTS READY pid=…' once started."
        ),
    )
    commands.add_parser(
        "migrate", help="bring the database schema up to date and exit", usage=USAGE["migrate"]
    )
    commands.add_parser(
        "generate-key", help="print a new CODER_SLACK_ENCRYPTION_KEY", usage=USAGE["generate-key"]
    )
    commands.add_parser(
        "generate-secret",
        help="print a new CODER_SLACK_NOTIFICATIONS_SECRET (the secret path of Coder's notification webhook)",
        usage=USAGE["generate-secret"],
        description=(
            "Prints 43 random URL-safe characters. Set them as CODER_SLACK_NOTIFICATIONS_SECRET for the bot "
            "and point Coder at https://<bot>/coder/notifications/<secret> "
            "(CODER_NOTIFICATIONS_METHOD=webhook, CODER_NOTIFICATIONS_WEBHOOK_ENDPOINT)."
        ),
    )
    listing = commands.add_parser(
        "notifications",
        help="list the latest Coder notifications and where they went (or why nobody got them)",
        usage=USAGE["notifications"],
        description=(
            "Reads the bot's database (CODER_SLACK_DATABASE_URL). Status: received (not routed yet), routed "
            "(queued for the Slack users/channels listed), muted (its person muted the kind), undeliverable "
            "(no Slack user and no channel; the reason says why)."
        ),
    )
    listing.add_argument(
        "--status",
        choices=("received", "routed", "muted", "undeliverable"),
        help="only notifications with this status",
    )
    listing.add_argument("--limit", type=int, default=50, help="how many, newest first (default 50)")
    rotate = commands.add_parser(
        "rotate-key",
        help="re-encrypt every stored token with the first key of CODER_SLACK_ENCRYPTION_KEY",
        usage=USAGE["rotate-key"],
        description=(
            "Re-encrypts every linked user's stored Coder token with the first (newest) key of "
            "CODER_SLACK_ENCRYPTION_KEY, in one transaction; the other listed keys are only used to read. "
            "Tokens already under the first key are left alone, so running it twice is safe. Exits 1 when "
            "some tokens could not be decrypted with any listed key (those users must link again)."
        ),
    )
    rotate.add_argument(
        "--dry-run", action="store_true", help="only count what would be re-encrypted; change nothing"
    )
    register = commands.add_parser(
        "register-coder-app",
        help="register the bot as an OAuth2 app in Coder (for Sign in with Coder) and print its settings",
        usage=USAGE["register-coder-app"],
        description=(
            "Uses CODER_URL and CODER_SESSION_TOKEN (an owner's token; the `coder login` files work too). "
            "Coder must offer its OAuth2 provider (experiment oauth2). Creates the app (or reuses the one "
            "with this name and callback URL), makes a new client secret and prints the bot's "
            "CODER_SLACK_CODER_OAUTH_* settings. The secret is shown once: store it as a secret."
        ),
    )
    register.add_argument(
        "--callback-url",
        required=True,
        help="the bot's public callback, e.g. https://bot.example.com/coder/oauth/callback (exact match)",
    )
    register.add_argument(
        "--name", default="coder-slack", help="the app's name in Coder (default coder-slack)"
    )
    return parser


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (0-65535): {value!r}")
    return port


def _fail(message: str) -> int:
    print(f"coder-slack: {message}", file=sys.stderr)
    return 2


def _load_settings() -> Settings | str:
    try:
        settings = load_settings()
    except SettingsError as exc:
        return str(exc)
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
    from coder_slack.ops import configure_logging

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


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _rotate_key(settings: Settings, *, dry_run: bool) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from coder_slack.crypto import EncryptionKeyError, TokenCipher
    from coder_slack.store import rotate_link_tokens

    keys = secret(settings.coder_slack_encryption_key)
    if not keys:
        return _fail(
            "rotate-key needs CODER_SLACK_ENCRYPTION_KEY: the new key first, then the old ones, "
            "comma-separated (make a new one with `coder-slack generate-key`)."
        )
    try:
        cipher = TokenCipher(keys)
    except EncryptionKeyError as exc:
        return _fail(str(exc))
    try:
        report = rotate_link_tokens(settings.coder_slack_database_url, cipher, dry_run=dry_run)
    except SQLAlchemyError as exc:
        return _fail(
            f"cannot rotate the stored tokens: {exc.__class__.__name__} from the database ({_db_reason(exc)})"
        )
    if not report.schema_found:
        return _fail(
            "the database has no coder-slack tables, so there is nothing to rotate. Is "
            "CODER_SLACK_DATABASE_URL the database the bot uses? (Keep the old keys until this finds it.)"
        )
    verb = "would re-encrypt" if dry_run else "re-encrypted"
    lines = [
        f"{_plural(report.total, 'linked token')} stored: {verb} {report.rotated} with the first key; "
        f"{report.already_current} already used it."
    ]
    if report.changed_meanwhile:
        lines.append(
            f"{report.changed_meanwhile} changed while rotating (relinked just now) and were left as stored; "
            "run rotate-key again."
        )
    if report.undecryptable:
        who = ", ".join(f"{team}/{user}" for team, user in report.undecryptable[:20])
        more = f" and {len(report.undecryptable) - 20} more" if len(report.undecryptable) > 20 else ""
        lines.append(
            f"{_plural(len(report.undecryptable), 'token')} could not be decrypted with any of the "
            f"{_plural(cipher.key_count, 'given key')} and {'would stay' if dry_run else 'stay'} as stored "
            f"(Slack team/user: {who}{more}). Add the key they were made with to CODER_SLACK_ENCRYPTION_KEY "
            "and run rotate-key again, or ask those users to run `/workspace login`."
        )
    elif not dry_run and not report.changed_meanwhile and cipher.key_count > 1:
        lines.append("Every stored token now uses the first key; the other keys can be removed.")
    if report.grants_rotated or report.grants_undecryptable:  # Sign in with Coder's refresh tokens
        lines.append(
            f"Refresh tokens of Coder sign-ins: {verb} {report.grants_rotated}"
            + (
                f"; {report.grants_undecryptable} unreadable (those users sign in again)."
                if report.grants_undecryptable
                else "."
            )
        )
    print("\n".join(lines))
    return 1 if report.undecryptable else 0


def _list_notifications(settings: Settings, status: str | None, limit: int) -> int:
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    from coder_slack.notifications.admin import format_notifications, recent_notifications
    from coder_slack.store import create_sync_engine_for, upgrade_database

    if limit < 1:
        return _fail("--limit must be at least 1")
    try:
        upgrade_database(settings.coder_slack_database_url)
        engine = create_sync_engine_for(settings.coder_slack_database_url)
        try:
            with Session(engine) as session:
                rows = recent_notifications(session, status, limit)
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        return _fail(f"cannot read the database: {_db_reason(exc)}")
    print(format_notifications(rows))
    return 0


def _db_reason(exc: Exception) -> str:
    """The driver's first line, without the SQL or parameters SQLAlchemy appends."""
    original = getattr(exc, "orig", None) or exc
    return str(original).strip().splitlines()[0][:200] if str(original).strip() else "no detail"


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
    if args.command == "generate-secret":
        import secrets

        print(secrets.token_urlsafe(32))
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
    if args.command == "rotate-key":
        return _rotate_key(settings, dry_run=args.dry_run)
    if args.command == "notifications":
        return _list_notifications(settings, args.status, args.limit)
    if args.command == "register-coder-app":
        from coder_slack.coder_oauth import register_coder_app

        try:
            print(register_coder_app(settings, args.name, args.callback_url))
        except ValueError as exc:
            return _fail(str(exc))
        return 0
    if args.command == "serve":
        if args.ops_port is not None and not args.socket_mode:
            return _fail(
                "--ops-port is for Socket Mode (--socket-mode); in HTTP mode /healthz, /readyz and "
                "/metrics are served on --port"
            )
        problem = _check(settings, "socket" if args.socket_mode else "http")
        if problem:
            return _fail(problem)
        _configure_logging(settings)
        from coder_slack.server import serve_http, serve_socket_mode

        listening = args.port
        try:
            if args.socket_mode:
                if args.ops_port is not None:
                    settings = settings.model_copy(update={"coder_slack_ops_port": args.ops_port})
                listening = settings.coder_slack_ops_port
                asyncio.run(serve_socket_mode(settings, args.host))
            else:
                if settings.coder_slack_ops_port is not None:
                    logging.getLogger(__name__).info(
                        "CODER_SLACK_OPS_PORT is ignored in HTTP mode: the ops routes are on port %d",
                        args.port,
                    )
                asyncio.run(serve_http(settings, args.host, args.port))
        except OSError as exc:
            return _fail(f"cannot listen on {args.host}:{listening}: {exc.strerror or exc}")
        except KeyboardInterrupt:
            pass
        return 0
    if args.command == "alerts":
        problem = _check(settings, "alerts")
        if problem:
            return _fail(problem)
        _configure_logging(settings)
        # The engine's watches and sweeps would log every request to Coder; its own lines are what matter.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        from coder_slack.server import serve_alerts

        try:
            return asyncio.run(serve_alerts(settings))
        except KeyboardInterrupt:
            return 0
    return _fail(f"unknown command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
