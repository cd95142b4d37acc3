"""The kinds of Coder notification people subscribe channels to and mute for themselves.

Coder names a notification by its template (``notification_template_id``, a fixed UUID per kind in
``coderd/notifications/events.go``) and by a display name (``notification_name``, e.g. "Workspace Autobuild
Failed"). Slack users type a short slug instead (``autobuild_failed``); an unknown template id still gets a
slug, derived from its name, so a kind Coder adds later can be subscribed to and muted without a release.

In a subscription's ``events`` column a Coder notification kind is stored as ``coder:<slug>``, and every
kind as ``coder:*``, beside the alert engine's own events (``ready``, ``start_error``, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EVENT_PREFIX = "coder:"
ALL_EVENTS_TOKEN = "coder:*"  # noqa: S105 (an event token, not a secret)


@dataclass(frozen=True)
class NotificationKind:
    slug: str
    name: str  # Coder's notification_name
    template_id: str  # Coder's notification_template_id ("" when only known by name)
    group: str  # "workspace", "account", "template", "prebuild", "notification", "other"
    about_workspace: bool  # the labels name a workspace of the user (labels.name), so buttons may apply


def _kind(
    slug: str, name: str, template_id: str, group: str, about_workspace: bool = False
) -> NotificationKind:
    return NotificationKind(slug, name, template_id, group, about_workspace)


# Source: coder/coder coderd/notifications/events.go and the notification_templates migrations (2024–2026).
KNOWN_KINDS: tuple[NotificationKind, ...] = (
    _kind(
        "workspace_created", "Workspace Created", "281fdf73-c6d6-4cbb-8ff5-888baf8a2fff", "workspace", True
    ),
    _kind(
        "workspace_manually_updated",
        "Workspace Manually Updated",
        "d089fe7b-d5c5-4c0c-aaf5-689859f7d392",
        "workspace",
        True,
    ),
    _kind(
        "workspace_deleted", "Workspace Deleted", "f517da0b-cdc9-410f-ab89-a86107c420ed", "workspace", True
    ),
    _kind(
        "autobuild_failed",
        "Workspace Autobuild Failed",
        "381df2a9-c0c0-4749-420f-80a9280c66f9",
        "workspace",
        True,
    ),
    _kind(
        "dormant", "Workspace Marked as Dormant", "0ea69165-ec14-4314-91f1-69566ac3c5a0", "workspace", True
    ),
    _kind(
        "auto_updated",
        "Workspace Updated Automatically",
        "c34a0c09-0704-4cac-bd1c-0c0146811c2b",
        "workspace",
        True,
    ),
    _kind(
        "marked_for_deletion",
        "Workspace Marked for Deletion",
        "51ce2fdf-c9ca-4be1-8d70-628674f9bc42",
        "workspace",
        True,
    ),
    _kind(
        "autostop_reminder",
        "Workspace Autostop Reminder",
        "6f6cb984-c167-4fa5-bb87-1058dd642779",
        "workspace",
        True,
    ),
    _kind(
        "manual_build_failed",
        "Workspace Manual Build Failed",
        "2faeee0f-26cb-4e96-821c-85ccb9f71513",
        "workspace",
        True,
    ),
    _kind(
        "out_of_memory", "Workspace Out Of Memory", "a9d027b4-ac49-4fb1-9f6d-45af15f64e7a", "workspace", True
    ),
    _kind("out_of_disk", "Workspace Out Of Disk", "f047f6a3-5713-40f7-85aa-0394cce9fa3a", "workspace", True),
    _kind("account_created", "User account created", "4e19c0ac-94e1-4532-9515-d1801aa283b2", "account"),
    _kind("account_deleted", "User account deleted", "f44d9314-ad03-4bc8-95d0-5cad491da6b6", "account"),
    _kind("account_suspended", "User account suspended", "b02ddd82-4733-4d02-a2d7-c36f3598997d", "account"),
    _kind("account_activated", "User account activated", "9f5af851-8408-4e73-a7a1-c6502ba46689", "account"),
    _kind(
        "your_account_suspended",
        "Your account has been suspended",
        "6a2f0609-9b69-4d36-a989-9f5925b6cbff",
        "account",
    ),
    _kind(
        "your_account_activated",
        "Your account has been activated",
        "1a6a6bea-ee0a-43e2-9e7c-eabdb53730e4",
        "account",
    ),
    _kind("one_time_passcode", "One-Time Passcode", "62f86a30-2330-4b61-a26d-311ff3b608cf", "account"),
    _kind("template_deleted", "Template Deleted", "29a09665-2a4c-403f-9648-54301670e7be", "template"),
    _kind("template_deprecated", "Template Deprecated", "f40fae84-55a2-42cd-99fa-b41c1ca64894", "template"),
    _kind(
        "failed_builds_report",
        "Report: Workspace Builds Failed For Template",
        "34a20db2-e9cc-4a93-b0e4-8569699d7a00",
        "template",
    ),
    _kind(
        "resource_replaced",
        "Prebuilt Workspace Resource Replaced",
        "89d9745a-816e-4695-a17f-3d0a229e2b8d",
        "template",
    ),
    _kind(
        "prebuild_failure_limit",
        "Prebuild Failure Limit Reached",
        "414d9331-c1fc-4761-b40c-d1f4702279eb",
        "prebuild",
    ),
    _kind(
        "test_notification",
        "Troubleshooting Notification",
        "c425f63e-716a-4bf4-ae24-78348f706c3f",
        "notification",
    ),
    _kind(
        "custom_notification", "Custom Notification", "39b1e189-c857-4b0c-877a-511144c18516", "notification"
    ),
)

_BY_TEMPLATE = {kind.template_id: kind for kind in KNOWN_KINDS}
_BY_SLUG = {kind.slug: kind for kind in KNOWN_KINDS}
_BY_NAME = {kind.name.casefold(): kind for kind in KNOWN_KINDS}


def slug_of_name(name: str) -> str:
    """A slug for an unknown notification name: "Workspace Foo Bar" -> "workspace_foo_bar"."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.casefold()).strip("_")
    return slug[:64] or "unnamed"


def kind_of(template_id: str, name: str) -> NotificationKind:
    """The kind of one notification: by template id, then by name; an unknown one gets a kind of its own."""
    known = _BY_TEMPLATE.get(template_id) or _BY_NAME.get(name.casefold())
    if known is not None:
        return known
    return NotificationKind(slug_of_name(name), name, template_id, "other", False)


def kind_by_slug(slug: str) -> NotificationKind | None:
    return _BY_SLUG.get(slug.strip().casefold())


def event_token(kind: NotificationKind | str) -> str:
    """The token a subscription's ``events`` column stores for this kind (``coder:<slug>``)."""
    slug = kind if isinstance(kind, str) else kind.slug
    return f"{EVENT_PREFIX}{slug}"


def subscribed(events: list[str], kind: NotificationKind) -> bool:
    """Whether a subscription's event list includes this Coder notification kind."""
    return ALL_EVENTS_TOKEN in events or event_token(kind) in events
