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


def parse(query: str, era: Era) -> WorkspaceFilter:
    allowed = NEW_KEYS if era.name == "v2" else OLD_KEYS
    result = WorkspaceFilter()
    problems: list[dict[str, str]] = []
    try:
        elements = shlex.split(query)
    except ValueError as exc:
        raise ApiError(400, INVALID_QUERY, validations=[validation("q", str(exc))]) from exc
    for element in elements:
        parts = element.split(":")
        if len(parts) == 1:
            owner, slash, name = element.partition("/")
            if slash:
                result.terms.setdefault("owner", []).append(owner.lower())
                result.terms.setdefault("name", []).append(name.lower())
            else:
                result.terms.setdefault("name", []).append(element.lower())
            continue
        if len(parts) > 2:
            problems.append(validation("q", f"Query element \"{element}\" can only contain 1 ':'"))
            continue
        key, value = parts
        if key not in allowed:
            problems.append(validation(key, f'Query param "{key}" is not a valid query param'))
            continue
        result.terms.setdefault(key, []).append(value.lower())
    for value in result.terms.get("status", []):
        if value not in WORKSPACE_STATUSES:
            problems.append(
                validation(
                    "status", f'Query param "status" has invalid value: "{value}" is not a valid value'
                )
            )
    for value in result.terms.get("has-agent", []):
        if value not in AGENT_STATUSES:
            problems.append(
                validation(
                    "has-agent", f'Query param "has-agent" has invalid value: "{value}" is not a valid value'
                )
            )
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
    if key == "dormant":
        return lambda ws: value != "true"
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
