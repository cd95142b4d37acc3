"""Core tables of the command surface: links, identities, subscriptions, settings, status cards, audit.

Revision ID: 0001_core
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None

DEFAULT_EVENTS = "ready,start_error,start_timeout,build_failed,autostop"


def upgrade() -> None:
    op.create_table(
        "user_links",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("slack_user_id", sa.String(32), nullable=False),
        sa.Column("coder_user_id", sa.String(64), nullable=False),
        sa.Column("coder_username", sa.String(128), nullable=False),
        sa.Column("coder_url", sa.String(512), nullable=False),
        sa.Column("token_ciphertext", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("team_id", "slack_user_id", name="uq_user_links_team_user"),
    )
    op.create_table(
        "identities",
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("slack_user_id", sa.String(32), primary_key=True),
        sa.Column("coder_user_id", sa.String(64), nullable=False),
        sa.Column("coder_username", sa.String(128), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_identities_coder_user_id", "identities", ["coder_user_id"])
    op.create_index("ix_identities_coder_username", "identities", ["coder_username"])
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("workspace_id", sa.String(64), nullable=True),
        sa.Column("workspace_label", sa.String(256), nullable=True),
        sa.Column("template", sa.String(256), nullable=True),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("events", sa.String(256), nullable=False, server_default=DEFAULT_EVENTS),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("disabled_reason", sa.String(256), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_subscriptions_team_channel", "subscriptions", ["team_id", "channel_id"])
    op.create_index("ix_subscriptions_workspace", "subscriptions", ["workspace_id"])
    op.create_table(
        "user_settings",
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("slack_user_id", sa.String(32), primary_key=True),
        sa.Column("dm_enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("autostop_warning_minutes", sa.Integer(), nullable=False, server_default="30"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "status_cards",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("message_ts", sa.String(32), nullable=False),
        sa.Column("requested_by", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("workspace_id", sa.String(64), nullable=True),
        sa.Column("workspace_name", sa.String(256), nullable=False),
        sa.Column("owner_name", sa.String(128), nullable=False),
        sa.Column("build_number", sa.Integer(), nullable=True),
        sa.Column("stage", sa.String(32), nullable=False, server_default="queued"),
        sa.Column("finished", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("channel_id", "message_ts", name="uq_status_cards_message"),
    )
    op.create_index("ix_status_cards_unfinished", "status_cards", ["finished"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("slack_user_id", sa.String(32), nullable=False),
        sa.Column("coder_username", sa.String(128), nullable=True),
        sa.Column("command", sa.String(32), nullable=False),
        sa.Column("target", sa.String(256), nullable=True),
        sa.Column("result", sa.String(512), nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("status_cards")
    op.drop_table("user_settings")
    op.drop_table("subscriptions")
    op.drop_table("identities")
    op.drop_table("user_links")
