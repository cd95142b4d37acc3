"""Run the Slack Web API stand-in as its own process: prints ``SLACK_API_URL=<url>/api/`` once listening."""

from __future__ import annotations

import argparse
import asyncio
import signal

from coder_slack.standin.server import SlackStandIn


async def _serve(host: str, port: int, scopes: list[str] | None = None) -> None:
    standin = await SlackStandIn(host=host, port=port, scopes=scopes).start_async()
    print(f"SLACK_API_URL={standin.api_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await standin.stop_async()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m coder_slack.standin", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--scopes",
        help="comma-separated bot scopes to enforce (a manifest's, say); other calls get missing_scope",
    )
    args = parser.parse_args()
    scopes = [scope.strip() for scope in args.scopes.split(",") if scope.strip()] if args.scopes else None
    asyncio.run(_serve(args.host, args.port, scopes))


if __name__ == "__main__":
    main()
