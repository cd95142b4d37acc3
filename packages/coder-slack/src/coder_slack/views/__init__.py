"""Block Kit views (slack_sdk models, so Slack's limits are checked before sending)."""
