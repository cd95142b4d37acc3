"""Coder notifications: what each person muted, and room for ``coder:<kind>`` tokens in subscriptions.

- ``user_settings.muted_notifications``: comma-separated kind slugs (``coder_slack.notifications.kinds``) the
  person does not want as DMs; "" mutes nothing.
- ``subscriptions.events`` widens from 256 to 1024 characters: a subscription may list Coder notification
  kinds (``coder:autobuild_failed``, or ``coder:*`` for all) beside the alert events.

Revision ID: 0004_notification_settings
Revises: 0003_alert_retention
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_notification_settings"
down_revision = "0003_alert_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_settings") as batch:
        batch.add_column(sa.Column("muted_notifications", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("subscriptions") as batch:
        batch.alter_column(
            "events", type_=sa.String(1024), existing_type=sa.String(256), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.alter_column(
            "events", type_=sa.String(256), existing_type=sa.String(1024), existing_nullable=False
        )
    with op.batch_alter_table("user_settings") as batch:
        batch.drop_column("muted_notifications")
