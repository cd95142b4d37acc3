"""The ``q=`` workspace search of coderd/searchquery, for both eras."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from .eras import Era
from .errors import ApiError, validation
from .model import User, Workspace
from .render import agent_status, workspace_status
from .searchquery import collect_terms, invalid_value
from .store import Store

OLD_KEYS = frozenset({"owner", "template", "name", "status", "has-agent", "deleting_by"})
NEW_KEYS = (OLD_KEYS - {"deleting_by"}) | frozenset(
    {
        "id",
        "organization",
        "dormant",
        "outdated",
        "last_used_after",
        "last_used_before",
        "healthy",
        "param",
        "shared",
        "shared_with_user",
        "shared_with_group",
        "has-ai-task",
        "has_external_agent",
        "include_agent_metadata",
    }
)
WORKSPACE_STATUSES = frozenset(
    {
        "pending",
        "starting",
        "running",
        "stopping",
        "stopped",
        "failed",
        "canceling",
        "canceled",
        "deleting",
        "deleted",
    }
)
AGENT_STATUSES = frozenset({"connected", "connecting", "disconnected", "timeout"})
INVALID_QUERY = "Invalid workspace search query."


@dataclass
class WorkspaceFilter:
    terms: dict[str, list[str]] = field(default_factory=dict)


def _bare_term(element: str) -> list[tuple[str, str]]:
    """A bare ``owner/name`` is both keys; any other bare term is a name."""
    owner, slash, name = element.partition("/")
    return [("owner", owner), ("name", name)] if slash else [("name", element)]


def parse(query: str, era: Era) -> WorkspaceFilter:
    try:
        elements = shlex.split(query)
    except ValueError as exc:
        raise ApiError(400, INVALID_QUERY, validations=[validation("q", str(exc))]) from exc
    allowed = NEW_KEYS if era.name == "v2" else OLD_KEYS
    terms, problems = collect_terms(elements, lambda element: element.split(":"), allowed, _bare_term)
    result = WorkspaceFilter({key: [value.lower() for value in values] for key, values in terms.items()})
    for key, valid in (("status", WORKSPACE_STATUSES), ("has-agent", AGENT_STATUSES)):
        problems += [invalid_value(key, value) for value in result.terms.get(key, []) if value not in valid]
    if problems:
        raise ApiError(400, INVALID_QUERY, validations=problems)
    return result


def _matcher(
    key: str, value: str, store: Store, me: User, now: datetime
) -> Callable[[Workspace], bool] | None:
    if key == "owner":
        owner_name = me.username.lower() if value == "me" else value
        return lambda ws: store.users[ws.owner_id].username.lower() == owner_name
    if key == "template":
        return lambda ws: store.templates[ws.template_id].name.lower() == value
    if key == "name":
        return lambda ws: value in ws.name.lower()
    if key == "status":
        return lambda ws: workspace_status(ws.latest_build) == value
    if key == "has-agent":
        return lambda ws: any(agent_status(agent, now) == value for agent in ws.latest_build.agents())
    if key == "id":
        return lambda ws: ws.id == value
    if key == "organization":
        return lambda ws: (
            ws.organization_id == value or store.organizations[ws.organization_id].name.lower() == value
        )
    if key == "outdated":
        return lambda ws: (
            (ws.latest_build.template_version_id != store.templates[ws.template_id].active_version_id)
            == (value == "true")
        )
    if key == "shared":
        return lambda ws: bool(ws.acl) == (value == "true")
    if key == "shared_with_user":
        user = me if value == "me" else store.user_by_name(value) or store.users.get(value)
        return lambda ws: user is not None and user.id in ws.acl
    if key == "dormant":
        # Coder filters on dormant:true only (dormant_at set); dormant:false filters nothing.
        return lambda ws: value != "true" or ws.dormant_at is not None
    return None


def select(
    query: WorkspaceFilter, workspaces: list[Workspace], store: Store, me: User, now: datetime
) -> list[Workspace]:
    checks = [
        check
        for key, values in query.terms.items()
        for value in values
        if (check := _matcher(key, value, store, me, now)) is not None
    ]
    selected = [ws for ws in workspaces if all(check(ws) for check in checks)]

    def order(ws: Workspace) -> tuple[bool, str, str]:
        build = ws.latest_build
        running = build.transition == "start" and build.job.status == "succeeded"
        return (not running, store.users[ws.owner_id].username.lower(), ws.name.lower())

    selected.sort(key=order)
    return selected
