"""Coder notifications: the intake's table (``coder_notifications``, one row per Coder ``msg_id``).

Revision ID: 0005_coder_notifications
Revises: 0004_notification_settings
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_coder_notifications"
down_revision = "0004_notification_settings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coder_notifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("msg_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("user_username", sa.String(128), nullable=False, server_default=""),
        sa.Column("workspace_name", sa.String(256), nullable=False, server_default=""),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="received"),
        sa.Column("reason", sa.String(512), nullable=False, server_default=""),
        sa.Column("destinations", sa.String(1024), nullable=False, server_default=""),
        sa.Column("claimed_by", sa.String(128), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("msg_id", name="uq_coder_notifications_msg_id"),
    )
    op.create_index("ix_coder_notifications_status_id", "coder_notifications", ["status", "id"])
    op.create_index("ix_coder_notifications_received_at", "coder_notifications", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_coder_notifications_received_at", table_name="coder_notifications")
    op.drop_index("ix_coder_notifications_status_id", table_name="coder_notifications")
    op.drop_table("coder_notifications")
