"""/buildinfo, users and organizations."""

from __future__ import annotations

from aiohttp import web

from .. import user_search
from ..context import context_of, current_user, page_of, parse_uuid, resolve_organization, resolve_user
from ..eras import Era
from ..errors import json_response, not_found
from ..model import User
from ..prebuilds import PREBUILDS_USER_ID
from ..render import render_organization, render_user

PREFIX = "/api/v2"


async def buildinfo(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    body = {
        "external_url": ctx.era.external_url,
        "version": ctx.era.version,
        "dashboard_url": str(request.url.origin()),
        "workspace_proxy": False,
    }
    if ctx.era.name == "v2":
        body.update(
            agent_api_version="2.7",
            provisioner_api_version="1.11",
            deployment_id="00000000-0000-4000-8000-00000000c0de",
            telemetry=False,
            upgrade_message="",
            webpush_public_key="",
        )
    return json_response(body)


async def experiments(request: web.Request) -> web.StreamResponse:
    """The experiments switched on (v0.25 lists none the sim knows); "oauth2" follows ``set_oauth2``."""
    ctx = context_of(request)
    enabled = set(ctx.experiments) - {"oauth2"}
    if ctx.store.oauth2.enabled:
        enabled.add("oauth2")
    return json_response(sorted(enabled))


async def get_user(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    return json_response(render_user(resolve_user(request), ctx.store, ctx.era))


def _can_read_user(reader: User, user: User, era: Era) -> bool:
    """v0.25's member role reads every user; v2's reads only itself (owners read everyone)."""
    return era.name == "v0.25" or reader.is_owner or reader.id == user.id


async def list_users(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    me = current_user(request)
    query = user_search.parse(request.query.get("q", ""), ctx.era)
    # Coder's system users (``prebuilds``) are not listed
    visible = [
        user
        for user in ctx.store.users.values()
        if _can_read_user(me, user, ctx.era) and user.id != PREBUILDS_USER_ID
    ]
    selected = user_search.select(query, visible)
    after_id = request.query.get("after_id", "")
    if after_id:
        after = ctx.store.users.get(parse_uuid(after_id))
        # Coder pages by username after that user's; an unknown id matches nothing.
        selected = [u for u in selected if after and u.username.lower() > after.username.lower()]
    page = page_of(request, selected)
    return json_response(
        {"users": [render_user(user, ctx.store, ctx.era) for user in page], "count": len(selected)}
    )


def _all_organizations(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    return json_response([render_organization(org, ctx.era) for org in ctx.store.organizations.values()])


async def user_organizations(request: web.Request) -> web.StreamResponse:
    resolve_user(request)  # the sim's users belong to every organization
    return _all_organizations(request)


async def user_organization_by_name(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    resolve_user(request)
    for org in ctx.store.organizations.values():
        if org.name == request.match_info["organizationname"]:
            return json_response(render_organization(org, ctx.era))
    raise not_found()


async def list_organizations(request: web.Request) -> web.StreamResponse:
    return _all_organizations(request)


async def get_organization(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    return json_response(render_organization(resolve_organization(request), ctx.era))


def register(router: web.UrlDispatcher, era: Era) -> None:
    router.add_get(PREFIX + "/buildinfo", buildinfo)
    router.add_get(PREFIX + "/experiments", experiments)
    router.add_get(PREFIX + "/users", list_users)
    router.add_get(PREFIX + "/users/{user}", get_user)
    router.add_get(PREFIX + "/users/{user}/organizations", user_organizations)
    router.add_get(PREFIX + "/users/{user}/organizations/{organizationname}", user_organization_by_name)
    router.add_get(PREFIX + "/organizations/{organization}", get_organization)
    if era.name == "v2":
        router.add_get(PREFIX + "/organizations", list_organizations)
