"""Which Slack token serves which team: one pasted bot token, or one installation per team (OAuth).

Everything that calls Slack outside a bolt listener (status cards, the alert worker, App Home refreshes,
identity lookups) asks ``SlackTokens.client_for(team_id)`` for the client of the team the channel or person
belongs to. Inside a listener, bolt's own ``client`` argument already carries the team's token.
"""

from __future__ import annotations

from typing import Protocol

from slack_sdk.web.async_client import AsyncWebClient


class NoInstallation(Exception):
    """The team has no (longer an) installation of the app: it was uninstalled or its tokens revoked."""

    def __init__(self, team_id: str) -> None:
        super().__init__(f"coder-slack is not installed in Slack team {team_id or '(unknown)'}")
        self.team_id = team_id


class SlackTokens(Protocol):
    async def client_for(self, team_id: str, enterprise_id: str | None = None) -> AsyncWebClient:
        """The Web API client with the bot token of ``team_id``; raises ``NoInstallation``."""
        ...


class SingleTeamTokens:
    """Single-token mode (``SLACK_BOT_TOKEN``): one client serves every request, whatever its team id."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def client_for(self, team_id: str, enterprise_id: str | None = None) -> AsyncWebClient:
        return self.client
