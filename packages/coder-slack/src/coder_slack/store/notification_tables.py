"""Coder's own notifications (revision 0005_coder_notifications).

- ``coder_notifications``: one row per notification Coder's webhook delivered, keyed by its ``msg_id``
  (unique: Coder's retries, a restart or another replica receiving the same message change nothing). The
  intake writes it and answers Coder only once it is committed; the router (``coder_slack.notifications.
  router``) claims ``received`` rows, decides who hears about them, and writes the alert engine's ledger and
  outbox rows in the same transaction that marks the row ``routed`` (or ``undeliverable``, with a reason).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from coder_slack.store.tables import Base, utcnow

# received → routed | undeliverable | muted
NOTIFICATION_STATUSES = ("received", "routed", "undeliverable", "muted")


class CoderNotification(Base):
    __tablename__ = "coder_notifications"
    __table_args__ = (
        UniqueConstraint("msg_id", name="uq_coder_notifications_msg_id"),
        # The router's queue (received rows, oldest first) and the admin listing by status.
        Index("ix_coder_notifications_status_id", "status", "id"),
        Index("ix_coder_notifications_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    msg_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))  # the kind's slug (coder_slack.notifications.kinds)
    user_id: Mapped[str] = mapped_column(String(64), default="")
    user_username: Mapped[str] = mapped_column(String(128), default="")
    workspace_name: Mapped[str] = mapped_column(String(256), default="")
    # The webhook body as Coder sent it (parsed JSON); re-read with WebhookMessage when routed.
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="received")
    reason: Mapped[str] = mapped_column(String(512), default="")
    # Destinations it was queued for (comma list of Slack user / channel ids).
    destinations: Mapped[str] = mapped_column(String(1024), default="")
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    routed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
