"""Build timings (Coder v2.17+): a build's, or a workspace's latest build's. Absent (404) on v0.25."""

from __future__ import annotations

from aiohttp import web

from ..context import resolve_build, resolve_workspace
from ..eras import Era
from ..errors import json_response
from ..timings import render_timings

PREFIX = "/api/v2"


async def build_timings(request: web.Request) -> web.StreamResponse:
    build, _ = resolve_build(request)
    return json_response(render_timings(build))


async def workspace_timings(request: web.Request) -> web.StreamResponse:
    workspace = resolve_workspace(request)
    return json_response(render_timings(workspace.latest_build))


def register(router: web.UrlDispatcher, era: Era) -> None:
    if era.name == "v0.25":
        return
    router.add_get(PREFIX + "/workspacebuilds/{workspacebuild}/timings", build_timings)
    router.add_get(PREFIX + "/workspaces/{workspace}/timings", workspace_timings)
