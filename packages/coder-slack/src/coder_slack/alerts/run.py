"""Run only the alert engine: ``python -m coder_slack.alerts.run`` (settings from the environment).

Useful for a dedicated alerts deployment and for crash tests; ``coder-slack serve`` runs the same engine
next to
the command app. Prints ``ALERTS READY`` once it has started.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from coder_client import AsyncCoderClient
from slack_sdk.web.async_client import AsyncWebClient

from coder_slack.alerts.engine import AlertEngine
from coder_slack.settings import Settings, SettingsError, load_settings, secret
from coder_slack.store import create_engine_for, create_session_factory, upgrade_database_async


async def serve(settings: Settings) -> None:
    await upgrade_database_async(settings.coder_slack_database_url)
    engine = create_engine_for(settings.coder_slack_database_url)
    slack = AsyncWebClient(token=secret(settings.slack_bot_token), base_url=settings.slack_api_base_url)
    coder = AsyncCoderClient(url=settings.coder_url, token=secret(settings.coder_session_token) or None)
    alerts = AlertEngine(settings, create_session_factory(engine), slack, coder)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await alerts.start()
    print(f"ALERTS READY pid={os.getpid()}", flush=True)
    try:
        await stop.wait()
    finally:
        await alerts.stop()
        await engine.dispose()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        settings = load_settings()
    except SettingsError as exc:
        sys.exit(f"coder_slack.alerts.run: {exc}")
    missing = [name for name in ("SLACK_BOT_TOKEN", "CODER_URL") if name in settings.missing_for("http")]
    if missing:
        sys.exit(f"coder_slack.alerts.run: set {', '.join(missing)} in the environment.")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
