"""Presets and the prebuild pool (Coder v2.20+ presets, v2.23+ prebuilt workspaces).

Every template may carry presets (served by ``GET /templateversions/{id}/presets`` in the v2 era; the
v0.25 era has no such route and ignores ``template_version_preset_id``). With the pool on
(``SimServer(prebuilds=True)`` / ``coder-sim --prebuilds``: Coder's Premium feature), the sim keeps
``desired_instances`` ready workspaces per preset, owned by Coder's system user ``prebuilds``. A create
that names such a preset claims a ready one as Coder does: the workspace moves to the creator under the
asked name, a new start build (the creator's, build number 2) brings it up within seconds, and the pool
builds a replacement.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from .engine import Simulation
from .model import Behaviour, Preset, Template, User, Workspace
from .store import Store

# Coder's prebuilds system user (coderd/database/migrations/000290_prebuilds.up.sql)
PREBUILDS_USER_ID = "c42fdf75-3097-471c-8c33-fb52454d81c0"
PREBUILDS_USERNAME = "prebuilds"
# A claim re-runs the start build of a workspace that is already provisioned: seconds, not minutes.
CLAIM_BEHAVIOUR = Behaviour(pending_seconds=0.2, build_seconds=0.5, connect_seconds=0.3, outcome="ready")
_PRESET_NAMESPACE = uuid.UUID("6f1c7a52-0c55-4d1e-9a43-2a6f0b8c1d11")


def preset_id(template_id: str, name: str) -> str:
    """A stable id (not drawn from the seeded id source, so the seed's other ids do not move)."""
    return str(uuid.uuid5(_PRESET_NAMESPACE, f"{template_id}/{name}"))


def render_preset(preset: Preset) -> dict[str, Any]:
    """codersdk.Preset."""
    return {
        "id": preset.id,
        "name": preset.name,
        "description": preset.description,
        "icon": preset.icon,
        "default": preset.default,
        "desiredPrebuildInstances": preset.desired_instances,
        "parameters": [{"name": name, "value": value} for name, value in preset.parameters.items()],
    }


def is_prebuild(workspace: Workspace) -> bool:
    return workspace.owner_id == PREBUILDS_USER_ID


def prebuilds_user(now: datetime) -> User:
    return User(
        id=PREBUILDS_USER_ID,
        username=PREBUILDS_USERNAME,
        email="prebuilds@system",
        name="Prebuilds Owner",
        is_owner=False,
        created_at=now,
        token="",
    )


class PrebuildPool:
    """Keeps each preset's ``desired_instances`` prebuilt workspaces and hands them to creators."""

    def __init__(self, store: Store, sim: Simulation) -> None:
        self.store = store
        self.sim = sim
        self._serial = 0
        if store.users.get(PREBUILDS_USER_ID) is None:
            store.users[PREBUILDS_USER_ID] = prebuilds_user(sim.clock.now())
        self.user = store.users[PREBUILDS_USER_ID]

    def _name(self) -> str:
        self._serial += 1
        return f"prebuild-{self._serial:04d}"

    def _pool(self, template: Template, preset: Preset) -> list[Workspace]:
        return [
            ws
            for ws in self.store.workspaces.values()
            if not ws.deleted
            and ws.owner_id == PREBUILDS_USER_ID
            and ws.template_id == template.id
            and ws.latest_build.preset_id == preset.id
        ]

    def seed(self) -> None:
        """Fill every pool with workspaces that are ready already (the sim starts with a warm pool)."""
        for template in list(self.store.templates.values()):
            for preset in template.presets:
                for _ in range(preset.desired_instances - len(self._pool(template, preset))):
                    workspace = self.sim.seed_workspace(
                        self.user, template, self._name(), dict(preset.parameters), running=True
                    )
                    workspace.ttl_ms = None
                    workspace.latest_build.preset_id = preset.id
                    workspace.latest_build.deadline = None

    def refill(self, template: Template, preset: Preset) -> None:
        """Build replacements until the pool has ``desired_instances`` again (they take a full build)."""
        for _ in range(preset.desired_instances - len(self._pool(template, preset))):
            workspace = self.sim.new_workspace(self.user, template, self._name(), None, None)
            self.sim.start_build(workspace, "start", self.user, dict(preset.parameters), preset_id=preset.id)

    def claimable(self, template: Template, preset: Preset) -> Workspace | None:
        for workspace in sorted(self._pool(template, preset), key=lambda ws: ws.created_at):
            build = workspace.latest_build
            agents = build.agents()
            if (
                build.transition == "start"
                and build.job.status == "succeeded"
                and agents
                and all(agent.lifecycle_state == "ready" for agent in agents)
            ):
                return workspace
        return None

    def claim(
        self,
        template: Template,
        preset: Preset,
        owner: User,
        initiator: User,
        name: str,
        values: dict[str, str],
        ttl_ms: int | None,
        autostart_schedule: str | None,
    ) -> Workspace | None:
        """Hand a ready prebuilt workspace to ``owner`` as ``name``; None when the pool has none ready."""
        workspace = self.claimable(template, preset)
        if workspace is None:
            return None
        self.store.transfer_workspace(workspace, owner.id, name)
        workspace.ttl_ms = ttl_ms
        workspace.autostart_schedule = autostart_schedule
        workspace.last_used_at = self.sim.clock.now()
        self.sim.start_build(
            workspace, "start", initiator, values, preset_id=preset.id, behaviour=CLAIM_BEHAVIOUR
        )
        self.refill(template, preset)
        return workspace


def find_preset(template: Template, preset_id_value: str) -> Preset | None:
    return next((preset for preset in template.presets if preset.id == preset_id_value), None)
