"""Knobs of the alert engine; defaults come from ``Settings`` (``CODER_SLACK_*`` environment variables)."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from coder_slack.settings import Settings


def default_replica_id() -> str:
    """This process's replica id when none is configured: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class AlertConfig:
    sweep_interval: float = 30.0
    """Seconds between full lists of workspaces (picks up builds started outside Slack)."""
    lease_seconds: float = 15.0
    """How long a replica's claim on a workspace watch or a destination lasts without renewal."""
    autostop_warning_minutes: float = 30.0
    """Default warning lead time when the owner has not chosen one."""
    stale_after_seconds: float = 3600.0
    """Transitions older than this when first seen are listed as stale, not paged."""
    catch_up_after_seconds: float = 60.0
    """Downtime longer than this turns missed transitions into one "while I was away" message per channel."""
    messages_per_second: float = 1.0
    """Per-destination token bucket for chat.postMessage."""
    burst: float = 1.0
    digest_threshold: int = 5
    """A ready event with this many matching workspaces starting together opens a digest card."""
    digest_update_interval: float = 0.5
    digest_idle_close_seconds: float = 600.0
    poll_interval: float = 1.0
    """How often the delivery worker looks for work other replicas queued or retries fell due (work this
    replica queues is started at once)."""
    watch_idle_seconds: float = 0.0
    log_tail_lines: int = 15
    slower_min_extra_seconds: float = 30.0
    """A ready start is "slower than usual" at ≥ 1.5× the template's median and this many seconds more."""
    coder_url: str = ""
    replica_id: str = field(default_factory=default_replica_id)
    slack_timeout: float = 10.0
    outbox_retention_days: float = 14.0
    """Sent and failed outbox rows, closed digests, and ledger rows of events older than this (and than the
    stale cutoff) are pruned; see ``coder_slack.alerts.engine.retention_cutoffs``."""
    prune_interval: float = 600.0
    """Seconds between pruning passes (one replica at a time, lease ``prune``)."""
    prune_batch: int = 500
    """Rows deleted per transaction, so pruning never holds a write lock for long."""
    prune_pause: float = 0.05
    """Seconds between two pruning transactions (other writers get their turn)."""
    build_feed: bool = True
    """Use Coder's watch-all-workspacebuilds feed where it is offered (``alerts.build_feed``)."""
    feed_sweep_interval: float = 300.0
    """Seconds between full lists while the feed is in use (a safety net); never less than
    ``sweep_interval``."""

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> AlertConfig:
        config = cls(
            sweep_interval=settings.coder_slack_sweep_interval_seconds,
            lease_seconds=settings.coder_slack_lease_seconds,
            autostop_warning_minutes=float(settings.coder_slack_autostop_warning_minutes),
            stale_after_seconds=settings.coder_slack_stale_after_minutes * 60.0,
            messages_per_second=settings.coder_slack_channel_messages_per_second,
            digest_threshold=settings.coder_slack_digest_threshold,
            coder_url=settings.coder_url or "",
            replica_id=settings.coder_slack_replica_id or default_replica_id(),
            catch_up_after_seconds=settings.coder_slack_catch_up_after_seconds,
            poll_interval=settings.coder_slack_alert_poll_seconds,
            digest_update_interval=settings.coder_slack_digest_update_seconds,
            outbox_retention_days=float(settings.coder_slack_outbox_retention_days),
            slower_min_extra_seconds=settings.coder_slack_slower_min_extra_seconds,
            build_feed=settings.coder_slack_build_feed,
            feed_sweep_interval=settings.coder_slack_feed_sweep_interval_seconds,
        )
        return replace(config, **overrides)
