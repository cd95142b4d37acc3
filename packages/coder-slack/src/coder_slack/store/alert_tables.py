"""Tables of the alert engine (revisions 0002_alerts and 0003_alert_retention), on the one ``Base``.

- ``alert_ledger``: one row per (alert key, destination) ever decided; the unique constraint is what makes an
  alert happen at most once, and the outbox row written in the same transaction is what makes it happen at
  least once.
- ``alert_outbox``: what still has to reach Slack, drained in order per destination by the delivery worker.
- ``alert_destinations``: per channel/DM delivery state shared by replicas (lease, token bucket, Retry-After).
- ``alert_cards``: the one card per (destination, workspace) that is updated in place; transitions go in
  its thread.
- ``alert_digests``: the card that coalesces a burst of ready events ("12 of 40 ready").
- ``alert_workspaces``: what the engine last saw of each workspace (catch-up diff, transitional set,
  deadlines).
- ``alert_leases``: named leases (``watch:<workspace id>``, ``sweep``, ``prune``) that share work between
  replicas (``coder_slack.alerts.leases``).
- ``alert_meta``: small key/value facts, e.g. when an engine was last alive.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from coder_slack.store.tables import Base, utcnow


class AlertLedgerEntry(Base):
    __tablename__ = "alert_ledger"
    __table_args__ = (
        UniqueConstraint("alert_key", "destination", name="uq_alert_ledger_key_destination"),
        Index("ix_alert_ledger_event_at", "event_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_key: Mapped[str] = mapped_column(String(400))
    destination: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    workspace_id: Mapped[str] = mapped_column(String(64), index=True)
    # "queued" (an outbox row carries it), "stale" (too old to page, listed in a catch-up summary or skipped),
    # "baseline" (already true when first seen; never announced).
    decision: Mapped[str] = mapped_column(String(16))
    event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AlertOutboxItem(Base):
    __tablename__ = "alert_outbox"
    __table_args__ = (
        Index("ix_alert_outbox_destination_status", "destination", "status", "id"),
        # outbox_depth (unsent rows) and the pruner (sent/failed rows older than the retention).
        Index("ix_alert_outbox_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32), default="")
    destination: Mapped[str] = mapped_column(String(64))
    workspace_id: Mapped[str] = mapped_column(String(64), default="")
    alert_key: Mapped[str] = mapped_column(String(400), default="")
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    catch_up: Mapped[bool] = mapped_column(Boolean, default=False)
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    # pending → sending (a post may be in flight: in doubt after a crash) → sent | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sending_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # What the last attempt did ("card", "reply", "summary", "digest_post", "digest_update", "notice").
    attempt_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    thread_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    message_channel: Mapped[str | None] = mapped_column(String(64), nullable=True)
    message_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error: Mapped[str | None] = mapped_column(String(512), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AlertDestination(Base):
    __tablename__ = "alert_destinations"

    destination: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), default="")
    leased_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    tokens: Mapped[float] = mapped_column(Float, default=1.0)
    tokens_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The conversation a DM destination (a user id) resolved to, learnt from the first post's response.
    resolved_channel: Mapped[str | None] = mapped_column(String(64), nullable=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(256), nullable=True)


class AlertCard(Base):
    __tablename__ = "alert_cards"

    destination: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(32))
    last_kind: Mapped[str] = mapped_column(String(32))
    last_build_id: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AlertDigest(Base):
    __tablename__ = "alert_digests"
    __table_args__ = (
        Index("ix_alert_digests_destination_open", "destination", "closed"),
        Index("ix_alert_digests_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    destination: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64), default="")
    ts: Mapped[str] = mapped_column(String(32), default="")
    expected: Mapped[int] = mapped_column(Integer, default=0)
    # workspace id → {"name", "owner", "kind", "startup_seconds"}
    members: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)


class AlertWorkspace(Base):
    __tablename__ = "alert_workspaces"
    __table_args__ = (Index("ix_alert_workspaces_transitional", "transitional"),)

    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    owner_name: Mapped[str] = mapped_column(String(128), default="")
    owner_id: Mapped[str] = mapped_column(String(64), default="")
    template_name: Mapped[str] = mapped_column(String(256), default="")
    build_id: Mapped[str] = mapped_column(String(64), default="")
    build_number: Mapped[int] = mapped_column(Integer, default=0)
    transition: Mapped[str] = mapped_column(String(16), default="")
    job_status: Mapped[str] = mapped_column(String(16), default="")
    lifecycle: Mapped[str] = mapped_column(String(32), default="")
    transitional: Mapped[bool] = mapped_column(Boolean, default=False)
    deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AlertLease(Base):
    __tablename__ = "alert_leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AlertMeta(Base):
    __tablename__ = "alert_meta"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
