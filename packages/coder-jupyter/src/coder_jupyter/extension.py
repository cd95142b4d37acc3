"""Wiring the routes into a Jupyter server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .config import CoderConfig
from .routes import SETTINGS_KEY, CoderState, route_handlers

if TYPE_CHECKING:
    from jupyter_server.serverapp import ServerApp


def load(serverapp: ServerApp) -> None:
    config = CoderConfig(parent=serverapp)
    state = CoderState(config)
    web_app = serverapp.web_app
    web_app.settings[SETTINGS_KEY] = state
    web_app.add_handlers(".*$", route_handlers(web_app.settings["base_url"]))  # type: ignore[no-untyped-call]
    _close_on_stop(serverapp, state)
    where = config.resolved_url() or "discovered from CODER_URL / the coder CLI login"
    serverapp.log.info(
        "coder_jupyter | routes at %scoder/api/ (Coder: %s)", web_app.settings["base_url"], where
    )


def _close_on_stop(serverapp: ServerApp, state: CoderState) -> None:
    # Function-style extensions get no stop hook (jupyter_server only stops ExtensionApps), so the
    # shared client is closed by chaining onto the server's own extension cleanup.
    original: Callable[[], Awaitable[None]] = serverapp.cleanup_extensions

    async def cleanup_extensions() -> None:
        try:
            await state.aclose()
        finally:
            await original()

    serverapp.cleanup_extensions = cleanup_extensions  # type: ignore[method-assign]
