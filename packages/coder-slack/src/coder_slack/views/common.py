"""Small text helpers shared by every view."""

from __future__ import annotations

from datetime import datetime, timedelta

from slack_sdk.models.blocks import Block


def escape(text: str) -> str:
    """Make text from Coder or a user safe inside mrkdwn (no surprise mentions or links)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def human_duration(value: timedelta | float | None) -> str:
    if value is None:
        return "—"
    exact = max(0.0, value.total_seconds() if isinstance(value, timedelta) else float(value))
    if exact < 10:
        return f"{exact:.1f}s"
    seconds = round(exact)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def slack_date(moment: datetime | None, fallback: str = "—") -> str:
    """A Slack date token: shown in the reader's own time zone, with plain fallback text."""
    if moment is None:
        return fallback
    stamp = int(moment.timestamp())
    plain = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{stamp}^{{date_short_pretty}} {{time}}|{plain}>"


Message = tuple[str, list[Block]]
