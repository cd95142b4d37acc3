"""A workspace's logs as people read them: the latest build's provisioner log and the primary agent's startup
log, redacted, one rule for every front end (``/workspace logs`` in Slack, the Jupyter sidebar's Logs).

Both eras: the agent log is read from ``/logs`` (v2.0+) or ``/startup-logs`` (v0.25) by ``agents.logs``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .endpoints import Op
from .models import Workspace
from .operations import Operations, WorkspaceRef
from .redaction import redact
from .stages import primary_agent

__all__ = ["WorkspaceLogs", "read_workspace_logs"]

MAX_LINE_CHARS = 2000


@dataclass(frozen=True)
class WorkspaceLogs:
    """The logs of one workspace, oldest line first, every line redacted."""

    workspace: Workspace
    build_log: list[str]
    """The latest build's provisioner log (Terraform's output)."""
    startup_log: list[str]
    """The primary agent's startup log (scripts); empty when the build has no agent."""
    agent_name: str | None = None

    @property
    def build_number(self) -> int:
        return self.workspace.latest_build.build_number

    @property
    def line_count(self) -> int:
        return len(self.build_log) + len(self.startup_log)

    def tail(self, lines: int) -> WorkspaceLogs:
        """The last ``lines`` lines of each log."""
        return replace(self, build_log=self.build_log[-lines:], startup_log=self.startup_log[-lines:])

    def text(self) -> str:
        """Both logs as one plain-text document (a file to download, a snippet to attach)."""
        header = f"# {self.workspace.full_name}: build #{self.build_number}"
        parts = [header, "", f"## Build log (build #{self.build_number})", *(self.build_log or ["(empty)"])]
        if self.agent_name is not None:
            parts += ["", f"## Startup log (agent {self.agent_name})", *(self.startup_log or ["(empty)"])]
        return "\n".join(parts) + "\n"


def _clean(line: str) -> str:
    return redact(line.rstrip())[:MAX_LINE_CHARS]


def read_workspace_logs(ops: Operations, workspace: WorkspaceRef) -> Op[WorkspaceLogs]:
    """The workspace as it is now, its latest build's log and its primary agent's startup log, redacted."""
    current = yield from ops.workspace(workspace)
    build_log = yield from ops.build_logs(current.latest_build)
    agent = primary_agent(current)
    startup_log = (yield from ops.agent_logs(agent, None)) if agent is not None else []
    return WorkspaceLogs(
        current,
        [_clean(entry.output) for entry in build_log],
        [_clean(entry.output) for entry in startup_log],
        agent.name if agent is not None else None,
    )
