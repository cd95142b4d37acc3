"""Alert engine tables: ledger, outbox, destinations, cards, digests, last-seen workspaces, leases, meta.

Revision ID: 0002_alerts
Revises: 0001_core
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_alerts"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "alert_ledger",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("alert_key", sa.String(400), nullable=False),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        _when("event_at"),
        _when("created_at"),
        sa.UniqueConstraint("alert_key", "destination", name="uq_alert_ledger_key_destination"),
    )
    op.create_index("ix_alert_ledger_workspace_id", "alert_ledger", ["workspace_id"])
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("alert_key", sa.String(400), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("catch_up", sa.Boolean(), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("due_at"),
        _when("sending_since", nullable=True),
        sa.Column("attempt_kind", sa.String(16), nullable=True),
        sa.Column("thread_ts", sa.String(32), nullable=True),
        sa.Column("message_channel", sa.String(64), nullable=True),
        sa.Column("message_ts", sa.String(32), nullable=True),
        _when("delivered_at", nullable=True),
        sa.Column("error", sa.String(512), nullable=True),
        _when("created_at"),
    )
    op.create_index("ix_alert_outbox_destination_status", "alert_outbox", ["destination", "status", "id"])
    op.create_table(
        "alert_destinations",
        sa.Column("destination", sa.String(64), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("leased_by", sa.String(128), nullable=True),
        _when("leased_until", nullable=True),
        sa.Column("tokens", sa.Float(), nullable=False),
        _when("tokens_at"),
        _when("blocked_until", nullable=True),
        sa.Column("resolved_channel", sa.String(64), nullable=True),
        sa.Column("disabled_reason", sa.String(256), nullable=True),
    )
    op.create_table(
        "alert_cards",
        sa.Column("destination", sa.String(64), primary_key=True),
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("last_kind", sa.String(32), nullable=False),
        sa.Column("last_build_id", sa.String(64), nullable=False),
        _when("updated_at"),
    )
    op.create_table(
        "alert_digests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("expected", sa.Integer(), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        _when("opened_at"),
        _when("updated_at"),
        sa.Column("closed", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_alert_digests_destination_open", "alert_digests", ["destination", "closed"])
    op.create_table(
        "alert_workspaces",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("owner_name", sa.String(128), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("template_name", sa.String(256), nullable=False),
        sa.Column("build_id", sa.String(64), nullable=False),
        sa.Column("build_number", sa.Integer(), nullable=False),
        sa.Column("transition", sa.String(16), nullable=False),
        sa.Column("job_status", sa.String(16), nullable=False),
        sa.Column("lifecycle", sa.String(32), nullable=False),
        sa.Column("transitional", sa.Boolean(), nullable=False),
        _when("deadline", nullable=True),
        _when("seen_at"),
    )
    op.create_index("ix_alert_workspaces_transitional", "alert_workspaces", ["transitional"])
    op.create_table(
        "alert_leases",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        _when("expires_at"),
    )
    op.create_table(
        "alert_meta",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        _when("updated_at"),
    )


def downgrade() -> None:
    for table in (
        "alert_meta",
        "alert_leases",
        "alert_workspaces",
        "alert_digests",
        "alert_cards",
        "alert_destinations",
        "alert_outbox",
        "alert_ledger",
    ):
        op.drop_table(table)
