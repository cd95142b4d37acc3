"""v2: a workspace's ACL (sharing) and its auto-update policy.

``GET/PATCH/DELETE /workspaces/{id}/acl``: the owner, a site owner, or a user the workspace is shared
with as ``admin`` may change who it is shared with; anyone who sees it may read the list. When sharing
is disabled for the organization, reading still works and every change answers 403 "Workspace sharing is
disabled for this organization." (coderd/workspaces.go in Coder main). v0.25 has none of these routes.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..context import SimContext, context_of, current_user, parse_uuid, resolve_workspace
from ..eras import Era
from ..errors import ApiError, json_response, read_json, validation
from ..model import User, Workspace
from ..render import render_workspace_acl

PREFIX = "/api/v2"
SHARING_DISABLED = "Workspace sharing is disabled for this organization."
ROLES = ("admin", "use", "")
AUTOMATIC_UPDATES = ("always", "never")


def _may_share(me: User, workspace: Workspace) -> bool:
    return me.is_owner or workspace.owner_id == me.id or workspace.acl.get(me.id) == "admin"


def _changeable(request: web.Request) -> tuple[SimContext, Workspace]:
    ctx = context_of(request)
    workspace = resolve_workspace(request)
    if ctx.sharing_disabled:
        raise ApiError(403, SHARING_DISABLED)
    if not _may_share(current_user(request), workspace):
        raise ApiError(403, "Forbidden.")
    return ctx, workspace


async def get_acl(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    workspace = resolve_workspace(request)
    return json_response(render_workspace_acl(workspace, ctx.store))


def _user_roles(ctx: SimContext, workspace: Workspace, body: dict[str, Any]) -> dict[str, str]:
    roles = body.get("user_roles") or {}
    if not isinstance(roles, dict) or not isinstance(body.get("group_roles") or {}, dict):
        raise ApiError(400, "Request body must be valid JSON.", detail="user_roles must be an object")
    problems: list[dict[str, str]] = []
    checked: dict[str, str] = {}
    for raw_id, role in roles.items():
        try:
            user_id = parse_uuid(str(raw_id))
        except ApiError:
            problems.append(validation("user_roles", f"{raw_id} is not a valid UUID."))
            continue
        if role not in ROLES:
            problems.append(validation("user_roles", f'role "{role}" is not a valid workspace role'))
        elif user_id not in ctx.store.users:
            problems.append(validation("user_roles", f'User "{raw_id}" does not exist'))
        elif user_id == workspace.owner_id:
            problems.append(validation("user_roles", "cannot change the role of the workspace owner"))
        else:
            checked[user_id] = str(role)
    if body.get("group_roles"):
        problems.append(validation("group_roles", "groups are not simulated; share with users"))
    if problems:
        raise ApiError(400, "Invalid request to update workspace ACL.", validations=problems)
    return checked


async def patch_acl(request: web.Request) -> web.StreamResponse:
    ctx, workspace = _changeable(request)
    body = await read_json(request)
    for user_id, role in _user_roles(ctx, workspace, body).items():
        if role:
            workspace.acl[user_id] = role
        else:
            workspace.acl.pop(user_id, None)
    ctx.sim.publish(workspace)
    return web.Response(status=204)


async def delete_acl(request: web.Request) -> web.StreamResponse:
    ctx, workspace = _changeable(request)
    workspace.acl.clear()
    ctx.sim.publish(workspace)
    return web.Response(status=204)


async def put_autoupdates(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    workspace = resolve_workspace(request)
    body = await read_json(request)
    value = body.get("automatic_updates")
    if value not in AUTOMATIC_UPDATES:
        raise ApiError(
            400,
            "Invalid request body.",
            validations=[validation("automatic_updates", f'"{value}" is not one of "always" or "never"')],
        )
    me = current_user(request)
    if not (me.is_owner or workspace.owner_id == me.id or workspace.acl.get(me.id) == "admin"):
        raise ApiError(403, "Forbidden.")
    workspace.automatic_updates = str(value)
    ctx.sim.publish(workspace)
    return web.Response(status=204)


def register(router: web.UrlDispatcher, era: Era) -> None:
    if era.name != "v2":
        return
    router.add_get(PREFIX + "/workspaces/{workspace}/acl", get_acl)
    router.add_patch(PREFIX + "/workspaces/{workspace}/acl", patch_acl)
    router.add_delete(PREFIX + "/workspaces/{workspace}/acl", delete_acl)
    router.add_put(PREFIX + "/workspaces/{workspace}/autoupdates", put_autoupdates)
