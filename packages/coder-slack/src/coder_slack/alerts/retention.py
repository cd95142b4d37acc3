"""Retention: what no later alert needs, deleted in small batches so pruning never holds a write lock for
long (the rule and why it keeps exactly-once: ``retention_cutoffs``). One replica prunes at a time (lease
``prune``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Table, and_, delete, or_, select
from sqlalchemy.orm import Session

from coder_slack.alerts.config import AlertConfig
from coder_slack.alerts.ledger import CatchUp
from coder_slack.store import AlertDigest, AlertLedgerEntry, AlertOutboxItem, Transactions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionCutoffs:
    """What the pruner may delete: rows strictly older than these instants (see ``retention_cutoffs``)."""

    outbox: datetime
    """``sent`` / ``failed`` outbox rows created before this."""
    ledger: datetime
    """Ledger rows whose event happened before this ..."""
    protected: tuple[datetime, datetime] | None
    """... except events inside this window (this process's catch-up window, which its catch-up sweep may
    still re-observe)."""
    digests: datetime
    """Digests last updated before this (long closed, or idle long past the idle close)."""


def retention_cutoffs(
    now: datetime, config: AlertConfig, catch_up: CatchUp | None = None
) -> RetentionCutoffs:
    """The retention rule, chosen so pruning never changes who gets paged (exactly once still holds).

    - **Outbox**: ``sent`` and ``failed`` rows created more than ``outbox_retention_days`` ago. Nothing
      reads a delivered row again: delivery works from the unsent head of each queue, a crash check only
      looks for rows still ``sending``, cards and digests keep their own ``ts``. Unsent rows are never
      pruned.
    - **Ledger**: rows whose *event* is older than ``max(retention, stale cutoff)``. The ledger row is what
      stops a re-observed event (a restart, a forced sweep, a workspace that stays ready for weeks) from
      being queued again. Once its event is older than the stale cutoff, re-observing it decides ``stale``,
      which is not paged; it is only listed in a "while I was away" summary when it falls inside a catch-up
      window, and a catch-up window starts at the last heartbeat of a live engine, so a future window never
      reaches back past now. The one window that can reach back is this process's own (it may not have been
      swept yet), so ledger rows of events inside it are kept for the life of the process. Autostop
      warnings are never stale, but are only queued while their deadline is ahead, and the deadline is at
      most 12 h (the largest ``warn=``) after the event, less than the one-day minimum retention.
    - **Cards** (``alert_cards``) are never pruned by age: a later alert of the workspace is a reply in its
      card's thread however old the card is. There is one per workspace and destination.
    - **Digests** last updated more than the retention ago: a digest idle for ``digest_idle_close_seconds``
      (10 min) is closed and never written to again.
    """
    retention = timedelta(days=config.outbox_retention_days)
    ledger = now - max(retention, timedelta(seconds=config.stale_after_seconds))
    digests = now - max(retention, timedelta(seconds=config.digest_idle_close_seconds))
    protected = (catch_up.since, catch_up.until) if catch_up is not None else None
    return RetentionCutoffs(outbox=now - retention, ledger=ledger, protected=protected, digests=digests)


def _delete_batch(session: Session, table: Table, condition: ColumnElement[bool], limit: int) -> int:
    """Delete at most ``limit`` rows matching ``condition`` (found through an index), in this transaction.
    The DELETE checks the condition again: a row changed since it was found (on PostgreSQL) is left alone."""
    ids = list(session.scalars(select(table.c.id).where(condition).limit(limit)))
    if not ids:
        return 0
    result = session.execute(delete(table).where(table.c.id.in_(ids), condition))
    return int(getattr(result, "rowcount", len(ids)))


def prune_outbox_batch(session: Session, cutoffs: RetentionCutoffs, limit: int) -> int:
    outbox = AlertOutboxItem.__table__
    condition = and_(outbox.c.status.in_(("sent", "failed")), outbox.c.created_at < cutoffs.outbox)
    return _delete_batch(session, outbox, condition, limit)  # type: ignore[arg-type]


def prune_ledger_batch(session: Session, cutoffs: RetentionCutoffs, limit: int) -> int:
    ledger = AlertLedgerEntry.__table__
    condition: ColumnElement[bool] = ledger.c.event_at < cutoffs.ledger
    if cutoffs.protected is not None:
        since, until = cutoffs.protected
        condition = and_(condition, or_(ledger.c.event_at < since, ledger.c.event_at > until))
    return _delete_batch(session, ledger, condition, limit)  # type: ignore[arg-type]


def prune_digests_batch(session: Session, cutoffs: RetentionCutoffs, limit: int) -> int:
    digests = AlertDigest.__table__
    return _delete_batch(session, digests, digests.c.updated_at < cutoffs.digests, limit)  # type: ignore[arg-type]


async def prune(
    db: Transactions, cutoffs: RetentionCutoffs, config: AlertConfig, still_leased: Callable[[], bool]
) -> dict[str, int]:
    """One pruning pass: batches of ``prune_batch`` rows, one transaction each, until nothing old is left or
    ``still_leased()`` turns false (the ``prune`` lease was lost). How many rows went, per table."""
    deleted: dict[str, int] = {}
    for table, batch in (
        ("alert_outbox", prune_outbox_batch),
        ("alert_ledger", prune_ledger_batch),
        ("alert_digests", prune_digests_batch),
    ):
        deleted[table] = 0
        while True:
            count = await db.run(batch, cutoffs, config.prune_batch)
            deleted[table] += count
            if count < config.prune_batch or not still_leased():
                break
            await asyncio.sleep(config.prune_pause)
    if any(deleted.values()):
        log.info("alert engine: pruned %s", ", ".join(f"{n} from {t}" for t, n in deleted.items()))
    return deleted
