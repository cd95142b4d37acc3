"""Which of the sim's events notify whom, with the labels Coder sets (``notifications.Notifier`` sends).

As Coder does (coder/coder ``provisionerdserver``, ``coderd/workspaces.go``,
``autobuild/lifecycle_executor.go``):
* workspace created → every template admin (here: the sim's owners) except the one who created it;
* a failed build started by a person → "manual build failed" to every template admin; a failed
  autostart/autostop build → "autobuild failed" to the workspace's owner;
* a deleted workspace → its owner, unless the owner deleted it themselves;
* the autostop reminder → the owner, once per build and deadline, ``time_til_autostop_notify_ms``
  before the deadline (only when the template sets it);
* marked dormant → the owner (a control call: the sim has no dormancy of its own).
"""

from __future__ import annotations

import asyncio
import heapq
from datetime import datetime, timedelta
from typing import Any

from .clock import SimClock
from .engine import Simulation
from .model import Build, Template, User, Workspace
from .notifications import TEMPLATES, Message, Notifier, humanize_time
from .store import Store

DORMANT_BY_SCHEDULE_REASON = "breached the template's threshold for inactivity"


class NotificationRules:
    def __init__(self, store: Store, clock: SimClock, sim: Simulation, notifier: Notifier) -> None:
        self.store = store
        self.clock = clock
        self.sim = sim
        self.notifier = notifier
        # (when due, build id, deadline, workspace id) of the autostop reminders still to send
        self._queue: list[tuple[datetime, str, datetime, str]] = []
        self._reminded: set[tuple[str, datetime]] = set()
        self._timer: asyncio.TimerHandle | None = None
        sim.add_build_listener(self.on_build)

    # -- what the engine reports ------------------------------------------------------------------

    def on_build(self, event: str, workspace: Workspace, build: Build) -> None:
        if event == "started":
            self._started(workspace, build)
        elif event == "finished":
            self._finished(workspace, build)
        elif event == "deadline":
            self._deadline(workspace, build)

    def _started(self, workspace: Workspace, build: Build) -> None:
        if build.build_number != 1 or build.transition != "start" or build.reason != "initiator":
            return
        template = self.store.templates[workspace.template_id]
        owner = self.store.users[workspace.owner_id]
        for admin in self.template_admins():
            if admin.id == build.initiator_id:
                continue  # Coder: no notification to the one who initiated the event
            self.notifier.enqueue(
                "workspace_created",
                admin,
                self.created_labels(workspace, template, owner),
                data={
                    "workspace": {"id": workspace.id, "name": workspace.name},
                    "template": {"id": template.id, "name": template.name},
                    "template_version": {
                        "id": template.active_version_id,
                        "name": build.template_version_name,
                    },
                    "owner": {"id": owner.id, "name": owner.name, "email": owner.email},
                    "parameters": [{"name": k, "value": v} for k, v in build.parameters.items()],
                },
                targets=self.targets(workspace),
            )

    def _finished(self, workspace: Workspace, build: Build) -> None:
        if build.job.status == "failed":
            self._build_failed(workspace, build)
        elif build.job.status == "succeeded" and build.transition == "delete":
            self._deleted(workspace, build)

    def _build_failed(self, workspace: Workspace, build: Build) -> None:
        if build.reason == "initiator":
            for admin in self.template_admins():
                self.notifier.enqueue(
                    "manual_build_failed",
                    admin,
                    self.manual_build_failed_labels(workspace, build),
                    targets=self.targets(workspace),
                )
            return
        owner = self.store.users[workspace.owner_id]
        labels = {"name": workspace.name, "reason": build.reason}
        self.notifier.enqueue("autobuild_failed", owner, labels, targets=self.targets(workspace))

    def _deleted(self, workspace: Workspace, build: Build) -> None:
        initiator = build.initiator_name
        if build.reason == "initiator":
            if build.initiator_id == workspace.owner_id:
                return  # Coder: "Deletions initiated by self should not notify."
            reason = "initiated by user"
        elif build.reason == "autodelete":
            reason, initiator = "autodeleted due to dormancy", "autobuild"
        else:
            reason = build.reason
        owner = self.store.users[workspace.owner_id]
        labels = {"name": workspace.name, "reason": reason, "initiator": initiator}
        self.notifier.enqueue("workspace_deleted", owner, labels, targets=self.targets(workspace))

    # -- the autostop reminder --------------------------------------------------------------------

    def _deadline(self, workspace: Workspace, build: Build) -> None:
        template = self.store.templates[workspace.template_id]
        if not self.sim.era.has_notifications or template.time_til_autostop_notify_ms <= 0:
            return
        if build.deadline is None:
            return  # an entry for an earlier deadline finds it changed when it comes due
        due = build.deadline - timedelta(milliseconds=template.time_til_autostop_notify_ms)
        heapq.heappush(self._queue, (due, build.id, build.deadline, workspace.id))
        self._arm()

    def _arm(self) -> None:
        """One loop timer, for the earliest reminder still to send."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.sim.loop is None or not self._queue:
            return
        wait = (self._queue[0][0] - self.clock.now()).total_seconds()
        self._timer = self.sim.loop.call_later(max(0.0, min(wait, 3600.0)), self.tick)

    def tick(self) -> None:
        """Send every reminder that is due (timers call this; so does ``advance_clock``)."""
        now = self.clock.now()
        while self._queue and self._queue[0][0] <= now:
            _, build_id, deadline, workspace_id = heapq.heappop(self._queue)
            workspace = self.store.workspaces.get(workspace_id)
            if workspace is None or workspace.deleted or workspace.latest_build.id != build_id:
                continue
            build = workspace.latest_build
            if build.deadline != deadline or build.transition != "start" or build.job.status != "succeeded":
                continue
            window = self.store.templates[workspace.template_id].time_til_autostop_notify_ms
            if window <= 0:
                continue
            due = deadline - timedelta(milliseconds=window)
            if now < due:  # the template's setting shrank since: wait for the new time
                heapq.heappush(self._queue, (due, build_id, deadline, workspace_id))
                continue
            if now >= deadline or (build_id, deadline) in self._reminded:
                continue
            self._reminded.add((build_id, deadline))
            owner = self.store.users[workspace.owner_id]
            labels = {
                "workspace": workspace.name,
                "timeTilShutdown": humanize_time((deadline - now).total_seconds()),
            }
            self.notifier.enqueue("autostop_reminder", owner, labels, targets=self.targets(workspace))
        self._arm()

    # -- on demand (control calls) ----------------------------------------------------------------

    def mark_dormant(
        self, workspace: Workspace, initiator: User | None, delete_after_hours: int | None = None
    ) -> Message | None:
        owner = self.store.users[workspace.owner_id]
        if delete_after_hours is None:
            # The template's autodelete period, in whole hours (24 when the template sets none).
            autodelete_ms = self.store.templates[workspace.template_id].time_til_dormant_autodelete_ms
            delete_after_hours = autodelete_ms // 3_600_000 if autodelete_ms >= 3_600_000 else 24
        if initiator is not None:
            if initiator.id == owner.id:
                # Coder: "We don't need to notify the owner if they are the one making the request."
                return None
            labels = {
                "name": workspace.name,
                "reason": f"a {initiator.username} request",
                "timeTilDormant": humanize_time(delete_after_hours * 3600),
            }
        else:
            labels = {
                "name": workspace.name,
                "reason": DORMANT_BY_SCHEDULE_REASON,
                "initiator": "autobuild",
                "dormancyHours": str(delete_after_hours),
                "timeTilDormant": f"{delete_after_hours} hours",
            }
        return self.notifier.enqueue("dormant", owner, labels, targets=self.targets(workspace))

    def send(
        self, kind: str, user: User, workspace: Workspace | None, overrides: dict[str, str]
    ) -> Message | None:
        """Any kind on demand, for ``user`` (about ``workspace`` when the kind is about one)."""
        if kind not in TEMPLATES:
            raise ValueError(f"unknown notification kind {kind!r}; use one of {', '.join(sorted(TEMPLATES))}")
        labels: dict[str, str] = {}
        data: dict[str, Any] | None = None
        extra: dict[str, str] = {}
        if kind != "test_notification":
            if workspace is None:
                raise ValueError(f"a {kind} notification is about a workspace: pass 'workspace'")
            labels = self.default_labels(kind, workspace)
        if kind == "out_of_disk":
            extra = {
                "volume": overrides.pop("volume", "/home/coder"),
                "threshold": overrides.pop("threshold", "90%"),
            }
            data = {"volumes": [{"path": extra["volume"], "threshold": extra["threshold"]}]}
        labels.update(overrides)
        targets = self.targets(workspace) if workspace is not None else None
        return self.notifier.enqueue(kind, user, labels, data=data, targets=targets, extra=extra)

    def default_labels(self, kind: str, workspace: Workspace) -> dict[str, str]:
        template = self.store.templates[workspace.template_id]
        owner = self.store.users[workspace.owner_id]
        build = workspace.latest_build
        by_kind: dict[str, dict[str, str]] = {
            "workspace_created": self.created_labels(workspace, template, owner),
            "workspace_deleted": {
                "name": workspace.name,
                "reason": "initiated by user",
                "initiator": "admin",
            },
            "autobuild_failed": {"name": workspace.name, "reason": "autostart"},
            "manual_build_failed": self.manual_build_failed_labels(workspace, build),
            "dormant": {
                "name": workspace.name,
                "reason": DORMANT_BY_SCHEDULE_REASON,
                "initiator": "autobuild",
                "dormancyHours": "24",
                "timeTilDormant": "24 hours",
            },
            "autostop_reminder": {"workspace": workspace.name, "timeTilShutdown": "30 minutes from now"},
            "out_of_memory": {"workspace": workspace.name, "threshold": "90%"},
            "out_of_disk": {"workspace": workspace.name},
        }
        return by_kind[kind]

    # -- shared -----------------------------------------------------------------------------------

    def template_admins(self) -> list[User]:
        return sorted(
            (user for user in self.store.users.values() if user.is_owner and user.status == "active"),
            key=lambda user: user.username,
        )

    def targets(self, workspace: Workspace) -> list[str]:
        template = self.store.templates[workspace.template_id]
        return [workspace.id, workspace.owner_id, template.id, workspace.organization_id]

    @staticmethod
    def created_labels(workspace: Workspace, template: Template, owner: User) -> dict[str, str]:
        return {
            "workspace": workspace.name,
            "template": template.name,
            "version": template.active_version_name,
            "workspace_owner_username": owner.username,
        }

    def manual_build_failed_labels(self, workspace: Workspace, build: Build) -> dict[str, str]:
        template = self.store.templates[workspace.template_id]
        owner = self.store.users[workspace.owner_id]
        return {
            "name": workspace.name,
            "template_name": template.display_name or template.name,
            "template_version_name": build.template_version_name,
            "initiator": build.initiator_name,
            "workspace_owner_username": owner.username,
            "workspace_build_number": str(build.build_number),
        }
