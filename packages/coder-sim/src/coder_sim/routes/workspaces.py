"""Workspaces: create, list/search, get, rename, and the schedule endpoints."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from .. import dormancy, dynamic, parameters, schedule_rules, search
from ..context import (
    SimContext,
    can_see,
    context_of,
    current_user,
    page_of,
    parse_uuid,
    resolve_organization,
    resolve_user,
    resolve_workspace,
)
from ..eras import Era
from ..errors import ApiError, json_response, not_found, read_json, validation
from ..model import Preset, Template, User, Workspace
from ..prebuilds import find_preset
from ..render import render_workspace

PREFIX = "/api/v2"
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$")
IN_USE = "This value is already in use and should be unique."


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise ApiError(
            400,
            "Validation failed.",
            validations=[validation("name", 'Validation failed for tag "required" with value: ""')],
        )
    if len(name) > 32 or not NAME_PATTERN.match(name) or name.lower() in ("new", "create"):
        raise ApiError(
            400,
            "Validation failed.",
            validations=[
                validation("name", f'Validation failed for tag "workspace_name" with value: "{name}"')
            ],
        )
    return name


def _optional_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(400, "Request body must be valid JSON.", detail=f"{key} must be an integer or null")
    return value


def _template_for_create(request: web.Request, body: dict[str, Any], organization_id: str | None) -> Template:
    ctx = context_of(request)
    template_id = body.get("template_id")
    version_id = body.get("template_version_id")
    if ctx.era.name == "v2" and bool(template_id) == bool(version_id):
        raise ApiError(
            400,
            "Validation failed.",
            validations=[
                validation("template_id", 'Validation failed for tag "required_without" with value: ""')
            ],
        )
    if not template_id and ctx.era.name == "v0.25":
        raise ApiError(
            400,
            "Validation failed.",
            validations=[validation("template_id", 'Validation failed for tag "required" with value: ""')],
        )
    template: Template | None
    if template_id:
        template = ctx.store.templates.get(parse_uuid(str(template_id)))
        if template is None:
            raise ApiError(
                400,
                f'Template "{template_id}" doesn\'t exist.',
                validations=[validation("template_id", "template not found")],
            )
    else:
        template = ctx.store.template_by_version(parse_uuid(str(version_id)))
        if template is None:
            raise ApiError(
                400,
                f'Template version "{version_id}" doesn\'t exist.',
                validations=[validation("template_version_id", "template not found")],
            )
    if template.deleted:
        raise ApiError(404, f'Template "{template.name}" has been deleted!')
    if organization_id is not None and template.organization_id != organization_id:
        raise ApiError(
            403,
            f'Template is not in organization "{organization_id}".',
            validations=[validation("template_id", "")],
        )
    return template


def _preset_for_create(ctx: SimContext, template: Template, body: dict[str, Any]) -> Preset | None:
    """v2's ``template_version_preset_id`` (v0.25 knows no such field and ignores it)."""
    raw = body.get("template_version_preset_id")
    if ctx.era.name != "v2" or not raw:
        return None
    preset = find_preset(template, parse_uuid(str(raw)))
    if preset is None:
        raise ApiError(
            400,
            "Invalid template version preset ID.",
            detail=f"preset {raw} does not belong to the template version",
            validations=[validation("template_version_preset_id", "preset not found")],
        )
    return preset


async def _create(request: web.Request, owner: User, organization_id: str | None) -> web.StreamResponse:
    ctx = context_of(request)
    me = current_user(request)
    if owner.id != me.id and not me.is_owner:
        raise ApiError(403, "Forbidden.")
    body = await read_json(request)
    name = check_name(body.get("name"))
    template = _template_for_create(request, body, organization_id)
    schedule = body.get("autostart_schedule")
    if schedule:
        try:
            schedule_rules.check_cron(str(schedule))
        except schedule_rules.RuleError as exc:
            raise ApiError(
                400, "Invalid Autostart Schedule.", validations=[validation("schedule", str(exc))]
            ) from exc
    ttl_ms = _optional_int(body, "ttl_ms")
    if ttl_ms is None:
        ttl_ms = template.default_ttl_ms or None
    problem = schedule_rules.ttl_error(ttl_ms, template, ctx.era)
    if problem:
        raise ApiError(
            400, "Invalid Workspace Time to Shutdown.", validations=[validation("ttl_ms", problem)]
        )
    if ctx.store.workspace_by_name(owner.id, name) is not None:
        raise ApiError(409, f'Workspace "{name}" already exists.', validations=[validation("name", IN_USE)])
    requested = parameters.parse_values(body.get("rich_parameter_values"))
    if template.dynamic is not None and ctx.era.name == "v2":
        values = dynamic.resolve(template.dynamic, requested, None)
    else:
        values = parameters.resolve(template.parameters, requested, None)
    preset = _preset_for_create(ctx, template, body)  # presets / prebuilds (v2)
    if preset is not None:
        values.update(preset.parameters)
        if ctx.prebuilds is not None:
            claimed = ctx.prebuilds.claim(
                template,
                preset,
                owner,
                me,
                name,
                values,
                schedule_rules.normalized_ttl(ttl_ms),
                str(schedule) if schedule else None,
            )
            if claimed is not None:
                return json_response(
                    render_workspace(claimed, ctx.store, ctx.era, ctx.clock.now()), ctx.era.create_status
                )
    workspace = ctx.sim.new_workspace(
        owner, template, name, schedule_rules.normalized_ttl(ttl_ms), str(schedule) if schedule else None
    )
    ctx.sim.start_build(workspace, "start", me, values, preset_id=preset.id if preset else None)
    return json_response(
        render_workspace(workspace, ctx.store, ctx.era, ctx.clock.now()), ctx.era.create_status
    )


async def create_in_organization(request: web.Request) -> web.StreamResponse:
    org = resolve_organization(request)
    return await _create(request, resolve_user(request), org.id)


async def create_for_user(request: web.Request) -> web.StreamResponse:
    return await _create(request, resolve_user(request), None)


async def list_workspaces(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    me = current_user(request)
    query = search.parse(request.query.get("q", ""), ctx.era)
    now = ctx.clock.now()
    visible = [ws for ws in ctx.store.workspaces.values() if not ws.deleted and can_see(me, ws)]
    selected = search.select(query, visible, ctx.store, me, now)
    page = page_of(request, selected)
    return json_response(
        {"workspaces": [render_workspace(ws, ctx.store, ctx.era, now) for ws in page], "count": len(selected)}
    )


async def get_workspace(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    include_deleted = request.query.get("include_deleted", "") == "true"
    workspace = resolve_workspace(request, include_deleted=include_deleted)
    return json_response(render_workspace(workspace, ctx.store, ctx.era, ctx.clock.now()))


async def workspace_by_owner_and_name(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    me = current_user(request)
    owner = resolve_user(request)
    name = request.match_info["workspacename"]
    workspace = ctx.store.workspace_by_name(owner.id, name)
    if workspace is None and request.query.get("include_deleted", "") == "true":
        workspace = ctx.store.deleted_workspace_by_name(owner.id, name)
    if workspace is None or not can_see(me, workspace):
        raise not_found()
    return json_response(render_workspace(workspace, ctx.store, ctx.era, ctx.clock.now()))


async def _change_of(request: web.Request) -> tuple[SimContext, Workspace, dict[str, Any]]:
    """What a change to one workspace starts from: the sim, the workspace (404 unless the caller sees it)
    and the request's JSON body (400 unless an object), in that order of checks."""
    return context_of(request), resolve_workspace(request), await read_json(request)


def _changed(ctx: SimContext, workspace: Workspace, answer: web.Response | None = None) -> web.Response:
    """Tell the workspace's watchers it changed; answer ``answer`` (204 No Content by default)."""
    ctx.sim.publish(workspace)
    return answer if answer is not None else web.Response(status=204)


async def rename_workspace(request: web.Request) -> web.StreamResponse:
    ctx, workspace, body = await _change_of(request)
    if "name" not in body or body.get("name") in (None, "", workspace.name):
        return web.Response(status=204)
    if not ctx.allow_renames and ctx.era.name != "v0.25":  # coderd patchWorkspace
        raise ApiError(400, "Workspace renames are not allowed.")
    name = check_name(body["name"])
    existing = ctx.store.workspace_by_name(workspace.owner_id, name)
    if existing is not None and existing.id != workspace.id:
        raise ApiError(409, f'Workspace "{name}" already exists.', validations=[validation("name", IN_USE)])
    ctx.store.rename_workspace(workspace, name)
    return _changed(ctx, workspace)


async def put_autostart(request: web.Request) -> web.StreamResponse:
    ctx, workspace, body = await _change_of(request)
    schedule = body.get("schedule")
    if schedule is not None and not isinstance(schedule, str):
        raise ApiError(400, "Request body must be valid JSON.", detail="schedule must be a string or null")
    schedule_rules.check_autostart_update(schedule, ctx.store.templates[workspace.template_id])
    workspace.autostart_schedule = schedule or None
    return _changed(ctx, workspace)


async def put_ttl(request: web.Request) -> web.StreamResponse:
    ctx, workspace, body = await _change_of(request)
    ttl_ms = _optional_int(body, "ttl_ms")
    template = ctx.store.templates[workspace.template_id]
    schedule_rules.check_ttl_update(ttl_ms, template, ctx.era)
    workspace.ttl_ms = schedule_rules.normalized_ttl(ttl_ms)
    build = workspace.latest_build
    if ctx.era.name == "v2" and workspace.ttl_ms is None and build.transition == "start" and build.deadline:
        # v2: disabling autostop moves the current deadline to max_deadline (none: manual shutdown).
        build.deadline = build.max_deadline
        ctx.sim.watch_deadline(workspace, build)
    return _changed(ctx, workspace)


async def put_extend(request: web.Request) -> web.StreamResponse:
    ctx, workspace, body = await _change_of(request)
    if "deadline" not in body:
        raise ApiError(
            400,
            "Validation failed.",
            validations=[validation("deadline", 'Validation failed for tag "required" with value: ""')],
        )
    deadline = schedule_rules.parse_deadline(body["deadline"])
    build = workspace.latest_build
    message = schedule_rules.check_extend(build, deadline, ctx.clock.now())
    build.deadline = deadline
    ctx.sim.watch_deadline(workspace, build)
    return _changed(ctx, workspace, json_response({"message": message}))


async def put_dormant(request: web.Request) -> web.StreamResponse:
    """v2: make a workspace dormant or active again; 304 when it already is (see ``dormancy``)."""
    ctx, workspace, body = await _change_of(request)
    dormant = body.get("dormant", False)
    if not isinstance(dormant, bool):
        raise ApiError(
            400,
            "Request body must be valid JSON.",
            detail="json: cannot unmarshal into Go struct field UpdateWorkspaceDormancy.dormant of type bool",
        )
    template = ctx.store.templates[workspace.template_id]
    if not dormancy.set_dormant(workspace, template, dormant, ctx.clock.now()):
        return web.Response(status=304)
    if dormant:
        ctx.notifications.mark_dormant(workspace, current_user(request))
    return _changed(
        ctx, workspace, json_response(render_workspace(workspace, ctx.store, ctx.era, ctx.clock.now()))
    )


def register(router: web.UrlDispatcher, era: Era) -> None:
    router.add_post(
        PREFIX + "/organizations/{organization}/members/{user}/workspaces", create_in_organization
    )
    if era.has_user_create_route:
        router.add_post(PREFIX + "/users/{user}/workspaces", create_for_user)
    router.add_get(PREFIX + "/workspaces", list_workspaces)
    router.add_get(PREFIX + "/workspaces/{workspace}", get_workspace)
    router.add_patch(PREFIX + "/workspaces/{workspace}", rename_workspace)
    router.add_get(PREFIX + "/users/{user}/workspace/{workspacename}", workspace_by_owner_and_name)
    router.add_put(PREFIX + "/workspaces/{workspace}/autostart", put_autostart)
    router.add_put(PREFIX + "/workspaces/{workspace}/ttl", put_ttl)
    router.add_put(PREFIX + "/workspaces/{workspace}/extend", put_extend)
    if era.name == "v2":
        router.add_put(PREFIX + "/workspaces/{workspace}/dormant", put_dormant)
