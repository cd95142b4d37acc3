"""``coder-sim``: serve the sim in the foreground and print where to reach it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
import sys

from .app import SimConfig, build_app, listen, new_sim
from .control import Controller
from .eras import ERA_NAMES, era_by_name


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coder-sim", description="A stand-in for Coder's API v2 (eras v2 and v0.25) with demo state."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3000, help="port; 0 picks a free one (default 3000)")
    parser.add_argument("--era", choices=ERA_NAMES, default="v2", help="which Coder API era to speak")
    parser.add_argument("--speed", type=float, default=1.0, help="time compression for builds and agents")
    parser.add_argument("--token", default=None, help="session token for the admin user (default: generated)")
    parser.add_argument("--seed", type=int, default=0, help="seed for ids, tokens and timing jitter")
    parser.add_argument("--rate-limit", type=int, default=0, help="requests/min per caller and path (0: off)")
    parser.add_argument("--heartbeat", type=float, default=15.0, help="watch stream ping interval, seconds")
    parser.add_argument(
        "--notifications-webhook",
        metavar="URL",
        default=None,
        help="POST Coder's notifications to URL, as CODER_NOTIFICATIONS_WEBHOOK_ENDPOINT does (v2 era)",
    )
    parser.add_argument(
        "--experiments",
        default="",
        help="Coder experiments to switch on, comma-separated (v2 era): " + ", ".join(KNOWN_EXPERIMENTS),
    )
    parser.add_argument(
        "--prebuilds",
        action="store_true",
        help="keep prebuilt workspaces ready for presets that ask for them (v2 era; Coder Premium)",
    )
    return parser


async def _serve(args: argparse.Namespace) -> None:
    config = SimConfig(
        era=era_by_name(args.era),
        speed=args.speed,
        seed=args.seed,
        token=args.token,
        rate_limit=args.rate_limit or None,
        heartbeat=args.heartbeat,
        notifications_webhook=args.notifications_webhook,
        oauth2="oauth2" in _experiments(args.experiments),
        experiments=frozenset(_experiments(args.experiments) - {"oauth2"}),
        prebuilds=args.prebuilds,
    )
    controller = Controller(*new_sim(config))
    ctx = controller.context
    try:
        runner, port = await listen(build_app(controller), args.host, args.port)
    except OSError as exc:
        print(
            f"coder-sim: cannot listen on {args.host}:{args.port}: {exc.strerror}. Try --port 0.",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    url = f"http://{args.host}:{port}"
    ctx.notifications.notifier.base_url = url
    print(f"coder-sim {config.era.name} ({config.era.version}) listening on {url}")
    print(f"CODER_URL={url}")
    print(f"PORT={port}")
    for user in ctx.store.users.values():
        role = "owner" if user.is_owner else "member"
        print(f"TOKEN {user.username} ({role}, {user.email}): {user.token}")
    print(f"CODER_SESSION_TOKEN={next(u.token for u in ctx.store.users.values() if u.is_owner)}")
    if sys.stdout.isatty():  # a person, not a parent process reading the facts above
        print(f'Try: curl -H "Coder-Session-Token: <token>" {url}/api/v2/users/me')
        print("Press Ctrl-C to stop.")
    sys.stdout.flush()
    # Out of the collector's way once serving, as coder-slack's long-running commands are (its ops/heap.py):
    # the start-up heap frozen, the young generations collected every 50,000 allocations. The fleet benchmarks
    # run this stand-in for Coder on the replicas' own cores; flipping 2,000 agents at once it used ~20 % less
    # CPU (5 paired runs), CPU that a real Coder would not take from the bot.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    controller.drop_watches()
    await runner.cleanup()


KNOWN_EXPERIMENTS = ("oauth2", "workspace-build-updates")


def _experiments(text: str) -> set[str]:
    return {item.strip() for item in text.split(",") if item.strip()}


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.speed <= 0:
        _parser().error("--speed must be a positive number")
    if not 0 <= args.port <= 65535:
        _parser().error("--port must be between 0 and 65535")
    webhook = args.notifications_webhook
    if webhook is not None:
        if not webhook.startswith(("http://", "https://")):
            _parser().error("--notifications-webhook must be an http:// or https:// URL")
        if not era_by_name(args.era).has_notifications:
            _parser().error(f"--notifications-webhook needs the v2 era: Coder {args.era} has none")
    unknown = sorted(_experiments(args.experiments) - set(KNOWN_EXPERIMENTS))
    if unknown:
        _parser().error(
            f"unknown experiment(s) {', '.join(unknown)}; the sim knows {', '.join(KNOWN_EXPERIMENTS)}"
        )
    if _experiments(args.experiments) and args.era != "v2":
        _parser().error("--experiments needs the v2 era")
    if args.prebuilds and args.era != "v2":
        _parser().error("--prebuilds needs the v2 era: Coder v0.25 has no presets or prebuilt workspaces")
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
