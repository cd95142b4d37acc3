"""Turn the sim's records into the JSON each Coder era serves (plain dicts, no shared models).

Fields that Go marshals with ``omitempty`` are left out when empty; pointer fields without it
are ``null``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .clock import rfc3339
from .eras import Era
from .model import Agent, Build, Job, LogEntry, Organization, Parameter, Resource, Template, User, Workspace
from .prebuilds import PREBUILDS_USER_ID
from .store import Store

JSON = dict[str, Any]

_WORKSPACE_STATUS = {
    ("pending", "start"): "pending",
    ("pending", "stop"): "pending",
    ("pending", "delete"): "pending",
    ("running", "start"): "starting",
    ("running", "stop"): "stopping",
    ("running", "delete"): "deleting",
    ("succeeded", "start"): "running",
    ("succeeded", "stop"): "stopped",
    ("succeeded", "delete"): "deleted",
}
AGENT_INACTIVE_AFTER = timedelta(seconds=30)


def _time(value: datetime | None) -> str | None:
    return rfc3339(value) if value is not None else None


def workspace_status(build: Build) -> str:
    return _WORKSPACE_STATUS.get((build.job.status, build.transition), build.job.status)


def agent_status(agent: Agent, now: datetime) -> str:
    """Coder's read-time connection status (coderd/database/modelmethods.go WorkspaceAgent.Status)."""
    if agent.first_connected_at is None:
        if (
            agent.connection_timeout_seconds > 0
            and (now - agent.created_at).total_seconds() > agent.connection_timeout_seconds
        ):
            return "timeout"
        return "connecting"
    if agent.disconnected_at is not None and (
        agent.last_connected_at is None or agent.disconnected_at >= agent.last_connected_at
    ):
        return "disconnected"
    return "connected"


def agent_health(agent: Agent, now: datetime) -> JSON:
    reason = {
        "connecting": "agent has not yet connected",
        "timeout": "agent is taking too long to connect",
        "disconnected": "agent has lost connection",
    }.get(agent_status(agent, now))
    return {"healthy": reason is None, "reason": reason or ""}


def _put_time(body: JSON, key: str, value: datetime | None) -> None:
    if value is not None:
        body[key] = rfc3339(value)


def render_user(user: User, store: Store, era: Era) -> JSON:
    org_ids = list(store.organizations)
    body: JSON = {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "created_at": rfc3339(user.created_at),
        "last_seen_at": rfc3339(user.created_at),
        "status": user.status,
        "organization_ids": org_ids,
        "roles": [],
        "avatar_url": f"https://www.gravatar.com/avatar/{user.username}",
    }
    if user.is_owner:
        role: JSON = {"name": "owner", "display_name": "Owner"}
        if era.name == "v2":
            role["organization_id"] = ""
        body["roles"] = [role]
    if era.name == "v2":
        body.update(
            name=user.name,
            login_type="password",
            theme_preference="",
            updated_at=rfc3339(user.created_at),
            is_service_account=False,
            has_ai_seat=False,
        )
    return body


def render_organization(org: Organization, era: Era) -> JSON:
    body: JSON = {
        "id": org.id,
        "name": org.name,
        "created_at": rfc3339(org.created_at),
        "updated_at": rfc3339(org.created_at),
    }
    if era.name == "v2":
        body.update(
            display_name=org.display_name,
            description="",
            icon="",
            is_default=True,
            default_org_member_roles=[],
        )
    return body


def render_template(template: Template, store: Store, era: Era) -> JSON:
    stats = {
        "p50": int(template.behaviour.build_seconds * 1000),
        "p95": int(template.behaviour.build_seconds * 1500),
    }
    body: JSON = {
        "id": template.id,
        "name": template.name,
        "display_name": template.display_name,
        "description": template.description,
        "icon": template.icon,
        "organization_id": template.organization_id,
        "active_version_id": template.active_version_id,
        "active_user_count": 0,
        "allow_user_autostart": template.allow_user_autostart,
        "allow_user_autostop": template.allow_user_autostop,
        "allow_user_cancel_workspace_jobs": template.allow_user_cancel_workspace_jobs,
        "build_time_stats": {"start": stats, "stop": stats, "delete": stats},
        "created_at": rfc3339(template.created_at),
        "updated_at": rfc3339(template.created_at),
        "created_by_id": template.created_by_id,
        "created_by_name": template.created_by_name,
        "default_ttl_ms": template.default_ttl_ms,
        "failure_ttl_ms": 0,
        "provisioner": "terraform",
    }
    if era.name == "v0.25":
        body.update(inactivity_ttl_ms=0, locked_ttl_ms=0, max_ttl_ms=template.max_ttl_ms)
    else:
        org = store.organizations[template.organization_id]
        body.update(
            activity_bump_ms=3600 * 1000,
            agents_allowed=True,
            autostart_requirement={
                "days_of_week": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
            },
            autostop_requirement={"days_of_week": [], "weeks": 1},
            cors_behavior="simple",
            deleted=template.deleted,
            deprecated=False,
            deprecation_message="",
            disable_module_cache=False,
            max_port_share_level="owner",
            organization_display_name=org.display_name,
            organization_icon="",
            organization_name=org.name,
            require_active_version=template.require_active_version,
            time_til_autostop_notify_ms=template.time_til_autostop_notify_ms,
            time_til_dormant_autodelete_ms=template.time_til_dormant_autodelete_ms,
            time_til_dormant_ms=template.time_til_dormant_ms,
            use_classic_parameter_flow=template.dynamic is None,
        )
    return body


def render_parameter(parameter: Parameter, era: Era) -> JSON:
    body: JSON = {
        "name": parameter.name,
        "display_name": parameter.display_name,
        "description": parameter.description,
        "description_plaintext": parameter.description,
        "type": parameter.type,
        "mutable": parameter.mutable,
        "default_value": parameter.default_value,
        "icon": parameter.icon,
        "options": [
            {"name": o.name, "description": o.description, "value": o.value, "icon": o.icon}
            for o in parameter.options
        ],
        "required": parameter.required,
        "validation_error": parameter.validation_error,
        "validation_regex": parameter.validation_regex,
    }
    if parameter.validation_min is not None:
        body["validation_min"] = parameter.validation_min
    if parameter.validation_max is not None:
        body["validation_max"] = parameter.validation_max
    if parameter.validation_monotonic:
        body["validation_monotonic"] = parameter.validation_monotonic
    if era.name == "v0.25":
        body["legacy_variable_name"] = ""
    else:
        body.update(ephemeral=False, form_type="")
    return body


def render_agent(agent: Agent, era: Era, now: datetime) -> JSON:
    logs_length = sum(len(entry.output) for entry in agent.logs.entries)
    version = era.version if agent.first_connected_at else ""
    blocking = "non-blocking" if era.name == "v0.25" else "blocking"
    body: JSON = {
        "id": agent.id,
        "name": agent.name,
        "resource_id": agent.resource_id,
        "created_at": rfc3339(agent.created_at),
        "updated_at": rfc3339(agent.updated_at or agent.created_at),
        "apps": [],
        "architecture": "amd64",
        "operating_system": "linux",
        "connection_timeout_seconds": agent.connection_timeout_seconds,
        "directory": "",
        "expanded_directory": "",
        "environment_variables": {},
        "instance_id": "",
        "lifecycle_state": agent.lifecycle_state,
        "status": agent_status(agent, now),
        "troubleshooting_url": agent.troubleshooting_url,
        "version": version,
        "startup_script_behavior": blocking,
    }
    _put_time(body, "first_connected_at", agent.first_connected_at)
    _put_time(body, "last_connected_at", agent.last_connected_at)
    _put_time(body, "disconnected_at", agent.disconnected_at)
    _put_time(body, "started_at", agent.started_at)
    _put_time(body, "ready_at", agent.ready_at)
    if agent.first_connected_at is not None:
        body["latency"] = {"Frankfurt": {"latency_ms": 12.5, "preferred": True}}
    if era.name == "v0.25":
        body.update(
            login_before_ready=True,
            shutdown_script="",
            shutdown_script_timeout_seconds=0,
            startup_script="./startup.sh",
            startup_script_timeout_seconds=agent.startup_timeout_seconds,
            startup_logs_length=logs_length,
            startup_logs_overflowed=False,
        )
    else:
        body.update(
            api_version="2.7" if agent.first_connected_at else "",
            display_apps=["vscode", "web_terminal", "ssh_helper", "port_forwarding_helper"],
            health=agent_health(agent, now),
            log_sources=[
                {
                    "id": agent.log_source_id,
                    "workspace_agent_id": agent.id,
                    "created_at": rfc3339(agent.created_at),
                    "display_name": "Startup Script",
                    "icon": "/emojis/25b6.png",
                }
            ],
            logs_length=logs_length,
            logs_overflowed=False,
            parent_id=None,
            scripts=[
                {
                    "id": agent.script_id,
                    "log_source_id": agent.log_source_id,
                    "log_path": "/tmp/coder-startup-script.log",  # noqa: S108
                    "script": "./startup.sh",
                    "cron": "",
                    "display_name": "Startup Script",
                    "run_on_start": True,
                    "run_on_stop": False,
                    "start_blocks_login": True,
                    "timeout": agent.startup_timeout_seconds,
                }
            ],
            subsystems=[],
        )
    return body


def render_resource(resource: Resource, era: Era, now: datetime) -> JSON:
    return {
        "id": resource.id,
        "job_id": resource.job_id,
        "name": resource.name,
        "type": resource.type,
        "created_at": rfc3339(resource.created_at),
        "workspace_transition": resource.transition,
        "hide": False,
        "icon": "",
        "daily_cost": 0,
        "metadata": [],
        "agents": [render_agent(agent, era, now) for agent in resource.agents],
    }


def render_job(
    job: Job, build: Build, workspace: Workspace, template: Template, era: Era, now: datetime
) -> JSON:
    body: JSON = {
        "id": job.id,
        "created_at": rfc3339(job.created_at),
        "status": job.status,
        "file_id": template.active_version_id,
        "queue_position": 0,
        "queue_size": 0,
        "tags": {"scope": "organization", "owner": ""},
    }
    _put_time(body, "started_at", job.started_at)
    _put_time(body, "completed_at", job.completed_at)
    _put_time(body, "canceled_at", job.canceled_at)
    if job.error:
        body["error"] = job.error
    if job.error_code:
        body["error_code"] = job.error_code
    if job.started_at is not None:
        body["worker_id"] = template.organization_id
    if era.name == "v2":
        body.update(
            initiator_id=build.initiator_id,
            input={"workspace_build_id": build.id},
            logs_overflowed=False,
            metadata={
                "template_id": template.id,
                "template_name": template.name,
                "template_display_name": template.display_name,
                "template_icon": template.icon,
                "template_version_name": build.template_version_name,
                "workspace_id": workspace.id,
                "workspace_name": workspace.name,
                "workspace_build_transition": build.transition,
            },
            organization_id=workspace.organization_id,
            type="workspace_build",
        )
        if job.started_at is not None:
            body["worker_name"] = "coder-sim-provisioner"
    return body


def render_build(build: Build, workspace: Workspace, store: Store, era: Era, now: datetime) -> JSON:
    owner = store.users[workspace.owner_id]
    template = store.templates[workspace.template_id]
    body: JSON = {
        "id": build.id,
        "build_number": build.build_number,
        "created_at": rfc3339(build.created_at),
        "updated_at": rfc3339(build.updated_at),
        "daily_cost": 0,
        "deadline": _time(build.deadline),
        "max_deadline": _time(build.max_deadline),
        "initiator_id": build.initiator_id,
        "initiator_name": build.initiator_name,
        "job": render_job(build.job, build, workspace, template, era, now),
        "reason": build.reason,
        "resources": [render_resource(resource, era, now) for resource in build.resources],
        "status": workspace_status(build),
        "template_version_id": build.template_version_id,
        "template_version_name": build.template_version_name,
        "transition": build.transition,
        "workspace_id": workspace.id,
        "workspace_name": workspace.name,
        "workspace_owner_id": owner.id,
        "workspace_owner_name": owner.username,
    }
    if era.name == "v2":
        body.update(
            has_ai_task=False,
            has_external_agent=False,
            matched_provisioners={"count": 1, "available": 1, "most_recently_seen": rfc3339(now)},
            template_version_preset_id=build.preset_id,
            workspace_owner_avatar_url="",
        )
    return body


def render_workspace(workspace: Workspace, store: Store, era: Era, now: datetime) -> JSON:
    owner = store.users[workspace.owner_id]
    template = store.templates[workspace.template_id]
    build = workspace.latest_build
    body: JSON = {
        "id": workspace.id,
        "name": workspace.name,
        "created_at": rfc3339(workspace.created_at),
        "updated_at": rfc3339(workspace.updated_at),
        "last_used_at": rfc3339(workspace.last_used_at),
        "owner_id": owner.id,
        "owner_name": owner.username,
        "organization_id": workspace.organization_id,
        "template_id": template.id,
        "template_name": template.name,
        "template_display_name": template.display_name,
        "template_icon": template.icon,
        "template_allow_user_cancel_workspace_jobs": template.allow_user_cancel_workspace_jobs,
        "latest_build": render_build(build, workspace, store, era, now),
        "outdated": build.template_version_id != template.active_version_id,
        "deleting_at": rfc3339(workspace.deleting_at) if workspace.deleting_at else None,
    }
    if workspace.autostart_schedule:
        body["autostart_schedule"] = workspace.autostart_schedule
    if workspace.ttl_ms:
        body["ttl_ms"] = workspace.ttl_ms
    if era.name == "v0.25":
        body["locked_at"] = None
    else:
        failing = [agent.id for agent in build.agents() if not agent_health(agent, now)["healthy"]]
        org = store.organizations[workspace.organization_id]
        body.update(
            allow_renames=True,
            automatic_updates=workspace.automatic_updates,
            dormant_at=rfc3339(workspace.dormant_at) if workspace.dormant_at else None,
            favorite=False,
            health={"healthy": not failing, "failing_agents": failing},
            is_prebuild=workspace.owner_id == PREBUILDS_USER_ID,
            latest_app_status=None,
            next_start_at=None,
            organization_name=org.name,
            owner_avatar_url="",
            shared_with=render_shared_with(workspace, store),
            task_id=None,
            template_active_version_id=template.active_version_id,
            template_require_active_version=template.require_active_version,
            template_use_classic_parameter_flow=template.dynamic is None,
        )
    return body


def render_shared_with(workspace: Workspace, store: Store) -> list[JSON]:
    """``Workspace.shared_with`` (v2): one actor per user the workspace is shared with."""
    return [
        {
            "actor_type": "user",
            "id": user_id,
            "name": store.users[user_id].username,
            "avatar_url": f"https://www.gravatar.com/avatar/{store.users[user_id].username}",
            "roles": [role],
        }
        for user_id, role in sorted(workspace.acl.items())
        if user_id in store.users
    ]


def render_workspace_acl(workspace: Workspace, store: Store) -> JSON:
    """``codersdk.WorkspaceACL`` (``GET /workspaces/{id}/acl``): the users it is shared with; no groups."""
    users = [
        {
            "id": user_id,
            "username": store.users[user_id].username,
            "name": store.users[user_id].name,
            "avatar_url": f"https://www.gravatar.com/avatar/{store.users[user_id].username}",
            "role": role,
        }
        for user_id, role in sorted(workspace.acl.items())
        if user_id in store.users
    ]
    return {"users": users, "group": []}


def render_log(entry: LogEntry, agent: Agent, era: Era) -> JSON:
    body: JSON = {
        "id": entry.id,
        "created_at": rfc3339(entry.created_at),
        "output": entry.output,
        "level": entry.level,
    }
    if era.name == "v2":
        body["source_id"] = agent.log_source_id
    return body
