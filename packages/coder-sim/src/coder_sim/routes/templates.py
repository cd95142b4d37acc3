"""Templates and their rich parameters."""

from __future__ import annotations

import contextlib
import json

from aiohttp import WSMsgType, web

from .. import dynamic
from ..context import context_of, parse_uuid, resolve_organization, resolve_template_version
from ..eras import Era
from ..errors import ApiError, json_response, not_found, read_json
from ..model import Template
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


# dynamic parameters (v2) ----------------------------------------------------------------------------


def _evaluate(template: Template, inputs: dict[str, str]) -> dynamic.Evaluation:
    if template.dynamic is not None:
        return template.dynamic(inputs)
    return dynamic.evaluate_options(template.parameters, inputs)  # a classic template evaluates as it is


async def evaluate_dynamic_parameters(request: web.Request) -> web.StreamResponse:
    template = resolve_template_version(request)
    request_id, inputs = dynamic.parse_request(await read_json(request))
    return json_response(dynamic.render_evaluation(_evaluate(template, inputs), request_id))


async def dynamic_parameters_ws(request: web.Request) -> web.StreamResponse:
    """The form at once (id -1, no inputs), then one answer per request; a malformed request closes."""
    ctx = context_of(request)
    template = resolve_template_version(request)
    socket = web.WebSocketResponse(heartbeat=ctx.heartbeat)
    await socket.prepare(request)

    async def send(body: dynamic.JSON) -> None:
        ctx.record(request, 200, body, kind="ws-dynamic-parameters")
        await socket.send_str(dynamic.dumps(body))

    try:
        await send(dynamic.render_evaluation(_evaluate(template, {}), -1))
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                break
            try:
                request_id, inputs = dynamic.parse_request(json.loads(message.data))
            except (ValueError, ApiError):
                await socket.close(code=1003, message=b"invalid request")
                break
            await send(dynamic.render_evaluation(_evaluate(template, inputs), request_id))
    except (ConnectionResetError, ConnectionError, RuntimeError):
        pass
    finally:
        with contextlib.suppress(Exception):
            await socket.close()
    return socket


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
        # dynamic parameters
        versions = PREFIX + "/templateversions/{templateversion}/dynamic-parameters"
        router.add_post(versions + "/evaluate", evaluate_dynamic_parameters)
        router.add_get(versions, dynamic_parameters_ws)
        router.add_get(PREFIX + "/templateversions/{templateversion}/presets", presets)
