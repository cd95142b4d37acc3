"""Lifecycle alerts from Coder into Slack: ready, start_error, start_timeout, build_failed and autostop
warnings, in channels (``/workspace watch`` / ``subscribe``) and owner DMs, exactly once across restarts and
replicas.

``AlertEngine(settings, session_factory, slack_client, coder)`` with ``await start()`` / ``await stop()`` /
``await idle()``; see ``README.md`` next to this file for the modules and what each owns.
"""

from coder_slack.alerts.config import AlertConfig
from coder_slack.alerts.engine import AlertEngine
from coder_slack.alerts.events import EVENT_KINDS, AlertEvent
from coder_slack.alerts.metrics import AlertMetrics

__all__ = ["EVENT_KINDS", "AlertConfig", "AlertEngine", "AlertEvent", "AlertMetrics"]
