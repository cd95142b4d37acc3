"""Workspace agents and their startup logs (``/startup-logs`` on v0.25, ``/logs`` on v2 with the alias)."""

from __future__ import annotations

from aiohttp import web

from ..clock import rfc3339
from ..context import context_of, resolve_agent
from ..eras import Era
from ..errors import ApiError, json_response, validation
from ..model import LogEntry
from ..render import JSON, render_agent, render_log
from .follow import follow_log

PREFIX = "/api/v2"


async def get_agent(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    agent, _, _ = resolve_agent(request)
    return json_response(render_agent(agent, ctx.era, ctx.clock.now()))


def _after(request: web.Request) -> int:
    text = request.query.get("after", "")
    if not text:
        return 0
    try:
        return int(text)
    except ValueError as exc:
        raise ApiError(
            400,
            'Query param "after" must be an integer.',
            validations=[validation("after", "Must be an integer")],
        ) from exc


async def agent_logs(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    agent, build, workspace = resolve_agent(request)
    after = _after(request)
    backlog = [entry for entry in agent.logs.entries if entry.id > after]

    def render(entries: list[LogEntry]) -> list[JSON]:
        return [render_log(entry, agent, ctx.era) for entry in entries]

    if "follow" not in request.query:
        if request.query.get("format") == "text" and ctx.era.name == "v2":
            lines = "".join(f"{rfc3339(entry.created_at)} {entry.output}\n" for entry in backlog)
            return web.Response(text=lines, content_type="text/plain")
        return json_response(render(backlog))

    still_following = (
        agent.lifecycle_state in ("created", "starting", "start_timeout") and agent.ready_at is None
        if ctx.era.name == "v0.25"
        else workspace.latest_build.id == build.id and agent.lifecycle_state != "off"
    )
    return await follow_log(request, agent.logs, backlog, still_following, render, kind="ws-logs")


def register(router: web.UrlDispatcher, era: Era) -> None:
    router.add_get(PREFIX + "/workspaceagents/{workspaceagent}", get_agent)
    router.add_get(PREFIX + "/workspaceagents/{workspaceagent}/startup-logs", agent_logs)
    if era.has_agent_logs_route:
        router.add_get(PREFIX + "/workspaceagents/{workspaceagent}/logs", agent_logs)
