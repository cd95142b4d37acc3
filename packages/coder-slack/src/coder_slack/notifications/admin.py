"""What an admin sees of Coder's notifications: ``coder-slack notifications`` lists the latest ones with
where they went, or why nobody got them (``undeliverable``: no Slack user has the e-mail and nobody linked
that Coder account, and no channel subscribed to the kind; ``muted``: the person muted the kind)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from coder_slack.store import CoderNotification, aware


@dataclass(frozen=True)
class NotificationRow:
    received_at: datetime
    msg_id: str
    kind: str
    user: str
    workspace: str
    status: str
    destinations: str
    reason: str


def recent_notifications(
    session: Session, status: str | None = None, limit: int = 50
) -> list[NotificationRow]:
    """The latest ``limit`` notifications (of one ``status``, or all), newest first."""
    query = select(CoderNotification).order_by(CoderNotification.id.desc()).limit(limit)
    if status:
        query = query.where(CoderNotification.status == status)
    return [
        NotificationRow(
            received_at=aware(row.received_at) or row.received_at,
            msg_id=row.msg_id,
            kind=row.kind,
            user=row.user_username or row.user_id,
            workspace=row.workspace_name,
            status=row.status,
            destinations=row.destinations,
            reason=row.reason,
        )
        for row in session.scalars(query)
    ]


def format_notifications(rows: list[NotificationRow]) -> str:
    """One line per notification (a table a terminal shows), or a sentence when there are none."""
    if not rows:
        return "no Coder notifications recorded"
    lines = []
    for row in rows:
        where = row.destinations or "-"
        about = f"{row.user}/{row.workspace}" if row.workspace else row.user or "-"
        line = f"{row.received_at:%Y-%m-%d %H:%M:%S}  {row.status:<13}  {row.kind:<22}  {about:<30}  {where}"
        if row.reason:
            line += f"  ({row.reason})"
        lines.append(line)
    return "\n".join(lines)
