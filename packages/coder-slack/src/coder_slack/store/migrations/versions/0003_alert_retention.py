"""Alert retention: indexes for unsent outbox rows (and pruning old sent ones), ledger and digest ages.

- ``ix_alert_outbox_status_created`` on ``alert_outbox(status, created_at)``: ``outbox_depth`` (every 2 s, and
  the engine's idle check) counts ``status IN ('pending', 'sending')`` with two index range scans instead of a
  scan of every row ever delivered; the pruner finds ``sent``/``failed`` rows older than the retention with a
  seek. The per-destination queries (``_first_unsent``, ``_head``, ``claim_destinations``) keep using
  ``ix_alert_outbox_destination_status`` (destination, status, id) from 0002.
- ``ix_alert_ledger_event_at`` and ``ix_alert_digests_updated_at``: the pruner's age conditions.

Plain (not partial) indexes: the same schema on SQLite and PostgreSQL, and SQLite's planner cannot use a
partial index for a query whose ``IN`` list is bound parameters.

Revision ID: 0003_alert_retention
Revises: 0002_alerts
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0003_alert_retention"
down_revision = "0002_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_alert_outbox_status_created", "alert_outbox", ["status", "created_at"])
    op.create_index("ix_alert_ledger_event_at", "alert_ledger", ["event_at"])
    op.create_index("ix_alert_digests_updated_at", "alert_digests", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_digests_updated_at", table_name="alert_digests")
    op.drop_index("ix_alert_ledger_event_at", table_name="alert_ledger")
    op.drop_index("ix_alert_outbox_status_created", table_name="alert_outbox")
