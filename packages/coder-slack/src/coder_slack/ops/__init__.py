"""Operations support for the Slack bot: health and readiness endpoints, Prometheus metrics, JSON logs.

Wiring it into `coder-slack serve` (HTTP mode)::

    from aiohttp import web
    from coder_slack.ops import (
        METRICS, add_ops_routes, coder_check, configure_logging, database_check,
        request_id_middleware, slack_auth_check,
    )

    configure_logging(settings.log_level)            # JSON lines on stderr, secrets redacted
    ack_timer = METRICS.ack_latency_middleware("/slack/events")
    app = web.Application(middlewares=[request_id_middleware, ack_timer])
    app.router.add_post("/slack/events", bolt_handler.handle)
    add_ops_routes(app, {
        "database": database_check(engine),          # sqlalchemy Engine or AsyncEngine: SELECT 1
        "slack": slack_auth_check(bolt_app.client),  # AsyncWebClient.auth_test
        "coder": coder_check(settings.coder_url),    # GET {url}/api/v2/buildinfo (no token needed)
    })

In Socket Mode (`serve --socket-mode` with CODER_SLACK_OPS_PORT) the same routes are served on their own
port, with one more check, `socket_mode_check(watchdog)`: not ready while the Socket Mode connection is down
or its watchdog considers it dead (it reads the client's state; it does not call Slack).

Routes: `GET /healthz` answers 200 `{"status": "ok"}` while the process serves. `GET /readyz` runs every
check at once, each bounded by `check_timeout` (3 s); 200 `{"status": "ok", "failing": [], "checks": {...}}`
when all pass, else 503 with `"failing": ["slack", ...]` and `checks[name]["reason"]` saying why
(redacted). `GET /metrics` is Prometheus text from `METRICS.registry` only. A check is any
`async () -> None` that raises to fail; raise `CheckFailed("reason a person can act on")` for a clean reason.

Metrics (`METRICS`, a `SlackBotMetrics`; all names start with `coderops_slack_`):
- `METRICS.record_command(subcommand, outcome)` -> `commands_handled_total{subcommand,outcome}`
  (outcomes we use: ok, usage, denied, coder_error, error)
- `METRICS.ack_latency` histogram (seconds): observed by `ack_latency_middleware`,
  or wrap the ack yourself: `with METRICS.time_ack(): ...`
- `METRICS.alerts_delivered / alerts_deduplicated / alerts_failed.labels(event=kind).inc()`
- `METRICS.outbox_depth.set(n)`, `METRICS.watches_held.inc()` / `.dec()` / `.set(n)`
- `METRICS.record_coder_error(status)` (int status, or None / "timeout" when no response came)
- `METRICS.record_slack_error(error_code)` (Slack's `error` field, e.g. "ratelimited")
- `METRICS.record_socket_reconnect(reason)` -> `socket_reconnects_total{reason}` (disconnected, ping_pong,
  stale), counted by the Socket Mode watchdog each time it replaces the connection

Logging: `configure_logging(level, json_lines=True)` installs one redacting handler on the root logger.
`redact(text)` is public: use it for anything shown to people that may carry secrets (startup logs).
Request ids: `request_id_middleware` (aiohttp; honours X-Request-Id), or `with bind_request_id(): ...`
around work that has no HTTP request (Socket Mode); tasks started inside inherit the id.
"""

from coder_slack.ops.health import (
    DEFAULT_CHECK_TIMEOUT,
    CheckFailed,
    ReadinessCheck,
    add_ops_routes,
    coder_check,
    database_check,
    slack_auth_check,
    socket_mode_check,
)
from coder_slack.ops.logging import (
    REDACTED,
    JsonFormatter,
    RedactionFilter,
    bind_request_id,
    configure_logging,
    new_request_id,
    redact,
    request_id_middleware,
    request_id_var,
)
from coder_slack.ops.metrics import METRICS, METRICS_CONTENT_TYPE, SlackBotMetrics

__all__ = [
    "DEFAULT_CHECK_TIMEOUT",
    "METRICS",
    "METRICS_CONTENT_TYPE",
    "REDACTED",
    "CheckFailed",
    "JsonFormatter",
    "ReadinessCheck",
    "RedactionFilter",
    "SlackBotMetrics",
    "add_ops_routes",
    "bind_request_id",
    "coder_check",
    "configure_logging",
    "database_check",
    "new_request_id",
    "redact",
    "request_id_middleware",
    "request_id_var",
    "slack_auth_check",
    "socket_mode_check",
]
