"""Small text helpers shared by every view (durations are coder_client's ``human_duration``)."""

from __future__ import annotations

from datetime import datetime


def escape(text: str) -> str:
    """Make text from Coder or a user safe inside mrkdwn (no surprise mentions or links)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_date(moment: datetime | None, fallback: str = "—") -> str:
    """A Slack date token: shown in the reader's own time zone, with plain fallback text."""
    if moment is None:
        return fallback
    stamp = int(moment.timestamp())
    plain = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{stamp}^{{date_short_pretty}} {{time}}|{plain}>"
