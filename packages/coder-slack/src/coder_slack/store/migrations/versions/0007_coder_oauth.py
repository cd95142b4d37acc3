"""Sign in with Coder: OAuth states (single use, expiring) and refresh tokens of signed-in links.

Revision ID: 0007_coder_oauth
Revises: 0006_slack_installations
Create Date: 2026-12-03

(Relinked after 0006_slack_installations when the branches were merged.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_coder_oauth"
down_revision = "0006_slack_installations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coder_oauth_states",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("slack_user_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("verifier_ciphertext", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_coder_oauth_states_expires_at", "coder_oauth_states", ["expires_at"])
    op.create_table(
        "coder_oauth_grants",
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("slack_user_id", sa.String(32), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("refresh_token_ciphertext", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("coder_oauth_grants")
    op.drop_index("ix_coder_oauth_states_expires_at", table_name="coder_oauth_states")
    op.drop_table("coder_oauth_states")
