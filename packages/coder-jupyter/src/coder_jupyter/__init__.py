"""coder_jupyter: launch and monitor Coder workspaces from Jupyter.

In a notebook: `coder_jupyter.launcher()`, `coder_jupyter.monitor("me/ml-box")`, `coder_jupyter.workspaces()`.
On the server: REST routes under `{base_url}coder/api/` (enabled on install; see the README).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import CoderConfig

if TYPE_CHECKING:
    from jupyter_server.serverapp import ServerApp

    from .widgets import Launcher, Monitor, WorkspaceList

__all__ = ["CoderConfig", "launcher", "monitor", "workspaces"]


def launcher(*, url: str | None = None, token: str | None = None) -> Launcher:
    """A form to create a workspace from a template; it turns into a live monitor once created."""
    from .widgets import launcher as make

    return make(url=url, token=token)


def monitor(workspace: Any, *, url: str | None = None, token: str | None = None) -> Monitor:
    """A live status card for a workspace: an id, `owner/name`, your workspace's name, or a Workspace."""
    from .widgets import monitor as make

    return make(workspace, url=url, token=token)


def workspaces(query: str = "owner:me", *, url: str | None = None, token: str | None = None) -> WorkspaceList:
    """Your workspaces (or any Coder search query) with status and Start / Stop / Monitor."""
    from .widgets import workspaces as make

    return make(query, url=url, token=token)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "coder_jupyter"}]


def _load_jupyter_server_extension(serverapp: ServerApp) -> None:
    from .extension import load

    load(serverapp)
