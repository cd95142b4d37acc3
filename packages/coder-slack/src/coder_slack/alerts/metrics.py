"""The engine's view of the bot's Prometheus metrics (``coder_slack.ops.metrics``), plus in-process
counters that
tests and the benchmark read."""

from __future__ import annotations

from collections import Counter

from coder_slack.ops.metrics import METRICS, SlackBotMetrics


class AlertMetrics:
    def __init__(self, registry: SlackBotMetrics | None = None) -> None:
        self.prometheus = registry if registry is not None else METRICS
        self.counts: Counter[str] = Counter()
        self.watches = 0
        self.replicas = 1

    def delivered(self, kind: str, seconds: float) -> None:
        self.counts[f"delivered:{kind}"] += 1
        self.prometheus.alerts_delivered.labels(event=kind).inc()

    def deduplicated(self, kind: str) -> None:
        self.counts[f"deduplicated:{kind}"] += 1
        self.prometheus.alerts_deduplicated.labels(event=kind).inc()

    def failed(self, kind: str) -> None:
        self.counts[f"failed:{kind}"] += 1
        self.prometheus.alerts_failed.labels(event=kind).inc()

    def outbox_depth(self, depth: int) -> None:
        self.prometheus.outbox_depth.set(depth)

    def watches_held(self, count: int) -> None:
        self.watches = count
        self.prometheus.watches_held.set(count)

    def share(self, replicas: int, held: int, everyone: int) -> None:
        """How the watching is shared out (``shares``): replicas seen, this one's streams, all streams."""
        self.replicas = replicas
        self.prometheus.alert_replicas.set(replicas)
        self.prometheus.watches_all_replicas.set(everyone)
        self.prometheus.watch_share.set(held / everyone if everyone else 0.0)

    def destinations_held(self, count: int) -> None:
        self.prometheus.destinations_held.set(count)

    def slack_error(self, code: str) -> None:
        self.prometheus.record_slack_error(code)

    def coder_error(self, status: int | str | None) -> None:
        self.prometheus.record_coder_error(status)
