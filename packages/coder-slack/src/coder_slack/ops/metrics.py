"""Prometheus metrics of the Slack bot, kept in their own registry so `/metrics` shows only ours."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# Slack gives 3 s to acknowledge: the buckets are dense below that line and stop just past it.
ACK_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0)


class SlackBotMetrics:
    """Every metric the bot exports, registered in one `CollectorRegistry`.

    One instance (`METRICS`) serves the process; tests may build their own to start from zero.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.commands_handled = Counter(
            "coderops_slack_commands_handled",
            "Slash commands handled, by subcommand and outcome (ok, usage, denied, coder_error, error).",
            ["subcommand", "outcome"],
            registry=r,
        )
        self.ack_latency = Histogram(
            "coderops_slack_ack_latency_seconds",
            "Time from receiving a Slack request to acknowledging it (Slack allows 3 s).",
            buckets=ACK_LATENCY_BUCKETS,
            registry=r,
        )
        self.alerts_delivered = Counter(
            "coderops_slack_alerts_delivered",
            "Lifecycle alerts posted to Slack, by event kind.",
            ["event"],
            registry=r,
        )
        self.alerts_deduplicated = Counter(
            "coderops_slack_alerts_deduplicated",
            "Lifecycle alerts not posted because the ledger already had them, by event kind.",
            ["event"],
            registry=r,
        )
        self.alerts_failed = Counter(
            "coderops_slack_alerts_failed",
            "Lifecycle alerts that Slack refused permanently, by event kind.",
            ["event"],
            registry=r,
        )
        self.outbox_depth = Gauge(
            "coderops_slack_outbox_depth",
            "Alerts written to the outbox and not yet delivered.",
            registry=r,
        )
        self.watches_held = Gauge(
            "coderops_slack_watches_held",
            "Workspace watch streams this process holds open.",
            registry=r,
        )
        # Replicas sharing the work (issue 14, coder_slack.alerts.shares).
        self.alert_replicas = Gauge(
            "coderops_slack_alert_replicas",
            "Alert-engine replicas this process sees alive (heartbeat within a lease), itself included.",
            registry=r,
        )
        self.watch_share = Gauge(
            "coderops_slack_watch_share",
            "This replica's share of the live workspace watch leases (0..1; 1/replicas when evenly shared).",
            registry=r,
        )
        self.watches_all_replicas = Gauge(
            "coderops_slack_watches_all_replicas",
            "Live workspace watch leases held by all replicas together.",
            registry=r,
        )
        self.destinations_held = Gauge(
            "coderops_slack_destinations_held",
            "Slack destinations (channels, DMs) this replica is draining now.",
            registry=r,
        )
        self.coder_api_errors = Counter(
            "coderops_slack_coder_api_errors",
            "Failed Coder API calls, by HTTP status ('timeout' or 'connection' when there was none).",
            ["status"],
            registry=r,
        )
        self.slack_api_errors = Counter(
            "coderops_slack_slack_api_errors",
            "Failed Slack Web API calls, by Slack's error code (ratelimited, channel_not_found, ...).",
            ["error"],
            registry=r,
        )
        self.socket_reconnects = Counter(
            "coderops_slack_socket_reconnects",
            "Socket Mode connections the watchdog replaced, by why (disconnected, ping_pong, stale).",
            ["reason"],
            registry=r,
        )

        self.notifications = Counter(
            "coderops_slack_notifications",
            "Coder notifications by outcome: received, duplicate, rejected (bad request), routed, "
            "undeliverable (no Slack user and no channel), muted, delivered (a Slack post).",
            ["outcome"],
            registry=r,
        )
        # watch-all-builds (issue 14, coder_slack.alerts.build_feed): one series, value 1
        self.build_feed = Gauge(
            "coderops_slack_build_feed",
            "Coder's watch-all-workspacebuilds feed as this replica sees it: state (active: this replica "
            "holds it; standby: another replica does; absent / refused: Coder lacks it or the token may not "
            "use it, so every replica sweeps and watches one by one) and holder (the replica holding it).",
            ["state", "holder"],
            registry=r,
        )

    def record_notification(self, outcome: str) -> None:
        self.notifications.labels(outcome=outcome).inc()

    def record_command(self, subcommand: str, outcome: str) -> None:
        self.commands_handled.labels(subcommand=subcommand or "none", outcome=outcome).inc()

    def record_socket_reconnect(self, reason: str) -> None:
        """Count one Socket Mode reconnect made by the watchdog (`reason`: disconnected, ping_pong, stale)."""
        self.socket_reconnects.labels(reason=reason).inc()

    def record_coder_error(self, status: int | str | None) -> None:
        """Count one failed Coder call; `status` is the HTTP status, or a word when no response came."""
        self.coder_api_errors.labels(status=str(status) if status is not None else "connection").inc()

    def record_slack_error(self, error: str | None) -> None:
        self.slack_api_errors.labels(error=error or "unknown").inc()

    @contextmanager
    def time_ack(self) -> Iterator[None]:
        """Observe the wrapped block's duration as one acknowledgement."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.ack_latency.observe(time.perf_counter() - started)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)

    def ack_latency_middleware(self, path: str = "/slack/events") -> Middleware:
        """An aiohttp middleware timing every request to `path` (bolt answers it once it has acked)."""

        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path != path:
                return await handler(request)
            with self.time_ack():
                return await handler(request)

        return middleware


METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST
METRICS = SlackBotMetrics()
