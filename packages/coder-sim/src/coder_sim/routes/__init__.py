"""Route tables per era; each module registers the endpoints of one resource."""

from __future__ import annotations

from aiohttp import web

from ..eras import Era
from . import agents, builds, notifications, oauth2, sharing, templates, timings, users, workspaces


def add_api_routes(app: web.Application, era: Era) -> None:
    for module in (users, templates, workspaces, builds, agents, notifications, oauth2, timings, sharing):
        module.register(app.router, era)
