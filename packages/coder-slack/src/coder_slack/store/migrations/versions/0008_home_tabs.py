"""Published App Homes: who has one, so a change seen on any replica refreshes it.

Revision ID: 0008_home_tabs
Revises: 0007_coder_oauth
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_home_tabs"
down_revision = "0007_coder_oauth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "home_tabs",
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("slack_user_id", sa.String(32), primary_key=True),
        sa.Column("coder_username", sa.String(255), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_home_tabs_coder_username", "home_tabs", ["coder_username"])


def downgrade() -> None:
    op.drop_index("ix_home_tabs_coder_username", table_name="home_tabs")
    op.drop_table("home_tabs")
