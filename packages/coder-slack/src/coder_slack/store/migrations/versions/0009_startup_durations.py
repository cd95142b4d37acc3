"""Recent startup durations per template, for "slower than usual" (build timings).

Revision ID: 0009_startup_durations
Revises: 0008_home_tabs
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_startup_durations"
down_revision = "0008_home_tabs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "startup_durations",
        sa.Column("build_id", sa.String(64), primary_key=True),
        sa.Column("template_id", sa.String(64), nullable=False),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_startup_durations_template", "startup_durations", ["template_id", "finished_at"])


def downgrade() -> None:
    op.drop_index("ix_startup_durations_template", table_name="startup_durations")
    op.drop_table("startup_durations")
