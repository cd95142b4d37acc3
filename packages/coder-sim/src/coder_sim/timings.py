"""Build timings (Coder v2.17+): recorded as the engine walks a build, served by ``routes/timings.py``.

Coder's provisioner reports each Terraform stage (init, plan, graph, apply per resource); the sim has
one "build" delay, so it splits the job's running time into those stages in fixed shares. The agent's
connection runs from the agent's creation to its first connection; each startup script (the
template's ``Behaviour.scripts``) from the end of the one before (or the connection) to its last line.
"""

from __future__ import annotations

from datetime import datetime

from .clock import rfc3339
from .model import Agent, AgentScript, Behaviour, Build, StartupLine, Transition

JSON = dict[str, object]

# Shares of the provisioner job's running time; apply's share is split among the resources.
STAGE_SHARES = (("init", 0.15), ("plan", 0.30), ("graph", 0.05))
RESOURCES: dict[Transition, tuple[tuple[str, str], ...]] = {
    "start": (("docker_volume.home", "create"), ("docker_container.dev", "create")),
    "stop": (("docker_container.dev", "delete"),),
    "delete": (("docker_container.dev", "delete"), ("docker_volume.home", "delete")),
}


def script_plan(behaviour: Behaviour) -> list[tuple[AgentScript, StartupLine, bool]]:
    """Each startup line with the script writing it, and whether it is that script's last line."""
    lines = list(behaviour.startup_lines)
    scripts = list(behaviour.scripts) or [AgentScript("Startup Script", len(lines))]
    plan: list[tuple[AgentScript, StartupLine, bool]] = []
    position = 0
    for index, script in enumerate(scripts):
        count = len(lines) - position if index == len(scripts) - 1 else script.lines
        mine = lines[position : position + count]
        position += len(mine)
        plan += [(script, line, i == len(mine) - 1) for i, line in enumerate(mine)]
    return plan


def record_provisioner(build: Build, transition: Transition) -> None:
    start, end = build.job.started_at, build.job.completed_at
    if start is None or end is None:
        return
    span = end - start
    at = start
    for stage, share in STAGE_SHARES:
        ends = at + span * share
        build.timings.provisioner.append(_provisioner(build, stage, "state", "", at, ends))
        at = ends
    resources = RESOURCES[transition]
    each = (end - at) / len(resources)
    for resource, action in resources:
        ends = at + each
        build.timings.provisioner.append(_provisioner(build, "apply", resource, action, at, ends))
        at = ends


def _provisioner(
    build: Build, stage: str, resource: str, action: str, start: datetime, end: datetime
) -> JSON:
    return {
        "job_id": build.job.id,
        "started_at": rfc3339(start),
        "ended_at": rfc3339(end),
        "stage": stage,
        "source": "terraform",
        "action": action,
        "resource": resource,
    }


def record_connection(build: Build, agent: Agent, connected_at: datetime) -> None:
    build.timings.connections.append(
        {
            "started_at": rfc3339(agent.created_at),
            "ended_at": rfc3339(connected_at),
            "stage": "connect",
            "workspace_agent_id": agent.id,
            "workspace_agent_name": agent.name,
        }
    )


def record_script(build: Build, agent: Agent, script: AgentScript, start: datetime, end: datetime) -> None:
    build.timings.scripts.append(
        {
            "started_at": rfc3339(start),
            "ended_at": rfc3339(end),
            "exit_code": script.exit_code,
            "stage": "start",
            "status": "ok" if script.exit_code == 0 else "exit_failure",
            "display_name": script.display_name,
            "workspace_agent_id": agent.id,
            "workspace_agent_name": agent.name,
        }
    )


def render_timings(build: Build) -> JSON:
    """``codersdk.WorkspaceBuildTimings``."""
    return {
        "provisioner_timings": list(build.timings.provisioner),
        "agent_script_timings": list(build.timings.scripts),
        "agent_connection_timings": list(build.timings.connections),
    }
