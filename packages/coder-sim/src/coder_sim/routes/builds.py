"""Workspace builds: start/stop/delete, history, cancel, provisioner logs."""

from __future__ import annotations

from aiohttp import web

from .. import dormancy, dynamic, parameters, versions
from ..clock import rfc3339
from ..context import context_of, current_user, page_of, resolve_build, resolve_workspace
from ..eras import Era
from ..errors import ApiError, json_response, read_json, validation
from ..model import ProvisionerLog
from ..render import render_build
from .follow import follow_log

PREFIX = "/api/v2"
TRANSITIONS = ("start", "stop", "delete")


async def create_build(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    me = current_user(request)
    workspace = resolve_workspace(request)
    body = await read_json(request)
    transition = body.get("transition")
    if not transition:
        raise ApiError(
            400,
            "Validation failed.",
            validations=[validation("transition", 'Validation failed for tag "required" with value: ""')],
        )
    if transition not in TRANSITIONS:
        raise ApiError(
            400,
            "Validation failed.",
            validations=[
                validation("transition", f'Validation failed for tag "oneof" with value: "{transition}"')
            ],
        )
    if body.get("orphan") and transition != "delete":
        raise ApiError(400, "Orphan is only permitted when deleting a workspace.")
    if transition == "start":
        dormancy.check_start(workspace)
    if workspace.latest_build.job.active:
        raise ApiError(409, "A workspace build is already active.")
    template = ctx.store.templates[workspace.template_id]
    version_id = versions.build_version(ctx, workspace, template, body, transition, me)
    previous = workspace.latest_build.parameters
    requested = parameters.parse_values(body.get("rich_parameter_values"))
    if transition != "start":
        values = previous
    elif template.dynamic is not None and ctx.era.name == "v2":
        values = dynamic.resolve(template.dynamic, requested, previous)
    else:
        values = parameters.resolve(ctx.store.version_parameters(template, version_id), requested, previous)
    build = ctx.sim.start_build(workspace, transition, me, values, template_version_id=version_id)
    return json_response(render_build(build, workspace, ctx.store, ctx.era, ctx.clock.now()), 201)


async def list_builds(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    workspace = resolve_workspace(request)
    builds = page_of(request, sorted(workspace.builds, key=lambda b: b.build_number, reverse=True))
    now = ctx.clock.now()
    return json_response([render_build(b, workspace, ctx.store, ctx.era, now) for b in builds])


async def get_build(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    build, workspace = resolve_build(request)
    return json_response(render_build(build, workspace, ctx.store, ctx.era, ctx.clock.now()))


async def cancel_build(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    me = current_user(request)
    build, workspace = resolve_build(request)
    template = ctx.store.templates[workspace.template_id]
    if not template.allow_user_cancel_workspace_jobs and not me.is_owner:
        raise ApiError(403, "User is not allowed to cancel workspace builds. Owner role is required.")
    if build.job.status in ("canceling", "canceled"):
        raise ApiError(400, "Job has already been marked as canceled!")
    if not build.job.active:
        raise ApiError(400, "Job has already completed!")
    ctx.sim.cancel_build(workspace, build)
    return json_response({"message": "Job has been marked as canceled..."})


def _render_job_logs(logs: list[ProvisionerLog]) -> list[dict[str, object]]:
    return [
        {
            "id": log.id,
            "created_at": rfc3339(log.created_at),
            "log_source": "provisioner",
            "log_level": log.level,
            "stage": log.stage,
            "output": log.output,
        }
        for log in logs
    ]


async def build_logs(request: web.Request) -> web.StreamResponse:
    """Provisioner logs; ``?follow`` upgrades to a WebSocket that closes when the job completes."""
    build, _ = resolve_build(request)
    text = request.query.get("after") or "0"
    if not text.lstrip("-").isdigit():
        raise ApiError(
            400, 'Query param "after" must be an integer.', validations=[validation("after", text)]
        )
    backlog = [log for log in build.job.logs.entries if log.id > int(text)]
    if "follow" not in request.query:
        return json_response(_render_job_logs(backlog))
    return await follow_log(
        request, build.job.logs, backlog, build.job.active, _render_job_logs, kind="ws-build-logs"
    )


def register(router: web.UrlDispatcher, era: Era) -> None:
    router.add_post(PREFIX + "/workspaces/{workspace}/builds", create_build)
    router.add_get(PREFIX + "/workspaces/{workspace}/builds", list_builds)
    router.add_get(PREFIX + "/workspacebuilds/{workspacebuild}", get_build)
    router.add_patch(PREFIX + "/workspacebuilds/{workspacebuild}/cancel", cancel_build)
    router.add_get(PREFIX + "/workspacebuilds/{workspacebuild}/logs", build_logs)
