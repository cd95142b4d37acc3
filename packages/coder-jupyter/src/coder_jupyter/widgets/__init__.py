"""Notebook widgets: launcher, monitor and the workspace list."""

from .launcher import Launcher, launcher
from .listing import WorkspaceList, workspaces
from .monitor import Monitor, monitor

__all__ = ["Launcher", "Monitor", "WorkspaceList", "launcher", "monitor", "workspaces"]
