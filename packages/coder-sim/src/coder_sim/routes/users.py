"""/buildinfo, users and organizations."""

from __future__ import annotations

from aiohttp import web

from ..context import context_of, current_user, resolve_organization, resolve_user
from ..eras import Era
from ..errors import json_response, not_found
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


async def get_user(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    return json_response(render_user(resolve_user(request), ctx.store, ctx.era))


async def user_organizations(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    resolve_user(request)
    return json_response([render_organization(org, ctx.era) for org in ctx.store.organizations.values()])


async def user_organization_by_name(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    resolve_user(request)
    for org in ctx.store.organizations.values():
        if org.name == request.match_info["organizationname"]:
            return json_response(render_organization(org, ctx.era))
    raise not_found()


async def list_organizations(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    current_user(request)
    return json_response([render_organization(org, ctx.era) for org in ctx.store.organizations.values()])


async def get_organization(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    return json_response(render_organization(resolve_organization(request), ctx.era))


def register(router: web.UrlDispatcher, era: Era) -> None:
    router.add_get(PREFIX + "/buildinfo", buildinfo)
    router.add_get(PREFIX + "/users/{user}", get_user)
    router.add_get(PREFIX + "/users/{user}/organizations", user_organizations)
    router.add_get(PREFIX + "/users/{user}/organizations/{organizationname}", user_organization_by_name)
    router.add_get(PREFIX + "/organizations/{organization}", get_organization)
    if era.name == "v2":
        router.add_get(PREFIX + "/organizations", list_organizations)
