"""Templates and their rich parameters."""

from __future__ import annotations

from aiohttp import web

from ..context import context_of, parse_uuid, resolve_organization, resolve_template_version
from ..eras import Era
from ..errors import json_response, not_found
from ..prebuilds import render_preset
from ..render import render_parameter, render_template

PREFIX = "/api/v2"


async def organization_templates(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    org = resolve_organization(request)
    templates = [t for t in ctx.store.templates.values() if t.organization_id == org.id and not t.deleted]
    templates.sort(key=lambda t: t.name)
    return json_response([render_template(t, ctx.store, ctx.era) for t in templates])


async def organization_template_by_name(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    org = resolve_organization(request)
    template = ctx.store.template_by_name(org.id, request.match_info["templatename"])
    if template is None:
        raise not_found()
    return json_response(render_template(template, ctx.store, ctx.era))


async def template_by_id(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    template = ctx.store.templates.get(parse_uuid(request.match_info["template"]))
    if template is None:
        raise not_found()
    return json_response(render_template(template, ctx.store, ctx.era))


async def all_templates(request: web.Request) -> web.StreamResponse:
    """v2's GET /templates?q=exact_name:x organization:y (the keys the CLI uses)."""
    ctx = context_of(request)
    exact_name = organization = name = ""
    for element in request.query.get("q", "").split():
        key, _, value = element.partition(":")
        value = value.strip('"')
        if key == "exact_name":
            exact_name = value
        elif key == "organization":
            organization = value
        elif key == "name" or not value:
            name = value or key
    templates = sorted((t for t in ctx.store.templates.values() if not t.deleted), key=lambda t: t.name)
    if exact_name:
        templates = [t for t in templates if t.name == exact_name]
    if name:
        templates = [t for t in templates if name.lower() in t.name.lower()]
    if organization:
        templates = [
            t
            for t in templates
            if organization in (t.organization_id, ctx.store.organizations[t.organization_id].name)
        ]
    return json_response([render_template(t, ctx.store, ctx.era) for t in templates])


async def rich_parameters(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    template = resolve_template_version(request)
    version = parse_uuid(request.match_info["templateversion"])
    return json_response(
        [render_parameter(p, ctx.era) for p in ctx.store.version_parameters(template, version)]
    )


async def presets(request: web.Request) -> web.StreamResponse:
    """v2: the presets of a template version (Coder v2.20+)."""
    template = resolve_template_version(request)
    return json_response([render_preset(preset) for preset in template.presets])


def register(router: web.UrlDispatcher, era: Era) -> None:
    router.add_get(PREFIX + "/organizations/{organization}/templates", organization_templates)
    router.add_get(
        PREFIX + "/organizations/{organization}/templates/{templatename}", organization_template_by_name
    )
    router.add_get(PREFIX + "/templates/{template}", template_by_id)
    router.add_get(PREFIX + "/templateversions/{templateversion}/rich-parameters", rich_parameters)
    if era.name == "v2":
        router.add_get(PREFIX + "/templates", all_templates)
        router.add_get(PREFIX + "/templateversions/{templateversion}/presets", presets)
