"""Which Slack token serves which team: one pasted bot token, or one installation per team (OAuth).

Everything that calls Slack outside a bolt listener (status cards, the alert worker, App Home refreshes,
identity lookups) asks ``SlackTokens.client_for(team_id)`` for the client of the team the channel or person
belongs to. Inside a listener, bolt's own ``client`` argument already carries the team's token.

In OAuth mode the bot's shared client (``Bot.slack``) is a :class:`TeamRoutedClient`: it has no token of
its own and calls Slack with the token of the team whose request (or card, or outbox row) the current task
serves, set with :func:`use_token` — bolt's middleware sets it for every request (``coder_slack.app``), and
tasks spawned from a listener inherit it (``asyncio`` copies context variables into new tasks), so the
command handlers' ``bot.slack`` calls go to the right team without each one passing a client around.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, Protocol

import sqlalchemy
from slack_sdk.oauth.installation_store.models.bot import Bot as InstalledBot
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

_TEAM_TOKEN: ContextVar[str | None] = ContextVar("coder_slack_team_token", default=None)


class NoInstallation(Exception):
    """The team has no (longer an) installation of the app: it was uninstalled or its tokens revoked."""

    def __init__(self, team_id: str) -> None:
        super().__init__(f"coder-slack is not installed in Slack team {team_id or '(unknown)'}")
        self.team_id = team_id


class SlackTokens(Protocol):
    async def client_for(self, team_id: str, enterprise_id: str | None = None) -> AsyncWebClient:
        """The Web API client with the bot token of ``team_id``; raises ``NoInstallation``."""
        ...

    async def teams(self) -> list[str]:
        """The teams the app is installed in ("" alone in single-token mode: the token decides the team)."""
        ...


class SingleTeamTokens:
    """Single-token mode (``SLACK_BOT_TOKEN``): one client serves every request, whatever its team id."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def client_for(self, team_id: str, enterprise_id: str | None = None) -> AsyncWebClient:
        return self.client

    async def teams(self) -> list[str]:
        return [""]


class TeamRoutedClient(AsyncWebClient):
    """An ``AsyncWebClient`` whose token is the current task's team token (:func:`use_token`), falling back
    to the one it was made with (None in OAuth mode: a call outside any team's work is ``not_authed``)."""

    _own_token: str | None = None

    @property  # type: ignore[override]
    def token(self) -> str | None:
        return _TEAM_TOKEN.get() or self._own_token

    @token.setter
    def token(self, value: str | None) -> None:
        self._own_token = value


def current_token() -> str | None:
    """The team token the current task serves (None outside a team's work)."""
    return _TEAM_TOKEN.get()


@contextlib.contextmanager
def use_token(token: str | None) -> Iterator[None]:
    """Within the block (and in tasks created in it), ``TeamRoutedClient`` calls use ``token``."""
    reset = _TEAM_TOKEN.set(token)
    try:
        yield
    finally:
        _TEAM_TOKEN.reset(reset)


def set_token(token: str | None) -> None:
    """Set the current task's team token until the task ends (bolt's middleware: the request's task)."""
    _TEAM_TOKEN.set(token)


class InstallationTokens:
    """OAuth mode: each team's bot token from slack_sdk's installation store, refreshed before it expires
    when Slack's token rotation is on (``refresh_token`` stored with the installation)."""

    def __init__(
        self,
        store: AsyncSQLAlchemyInstallationStore,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        rotation_minutes: int = 120,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.base_url = base_url
        self.rotation_minutes = rotation_minutes
        self.client_options = dict(client_options or {})
        self.rotator = AsyncTokenRotator(
            client_id=client_id, client_secret=client_secret, client=AsyncWebClient(base_url=base_url)
        )
        self._clients: dict[str, AsyncWebClient] = {}

    async def bot_for(self, team_id: str, enterprise_id: str | None = None) -> InstalledBot:
        """The team's installed bot, its token refreshed first when it expires within the rotation window."""
        bot = await self.store.async_find_bot(enterprise_id=enterprise_id, team_id=team_id or None)
        if bot is None and enterprise_id:
            # An org-wide (Enterprise Grid) installation serves every team of the organisation.
            bot = await self.store.async_find_bot(
                enterprise_id=enterprise_id, team_id=None, is_enterprise_install=True
            )
        if bot is None or not bot.bot_token:
            raise NoInstallation(team_id)
        if bot.bot_refresh_token:
            refreshed = await self.rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=self.rotation_minutes
            )
            if refreshed is not None:
                log.info("Slack bot token of team %s refreshed", team_id)
                await self.store.async_save_bot(refreshed)
                bot = refreshed
        return bot

    async def token_for(self, team_id: str, enterprise_id: str | None = None) -> str:
        return str((await self.bot_for(team_id, enterprise_id)).bot_token)

    async def client_for(self, team_id: str, enterprise_id: str | None = None) -> AsyncWebClient:
        token = await self.token_for(team_id, enterprise_id)
        client = self._clients.get(token)
        if client is None:
            if len(self._clients) > 256:
                self._clients.clear()  # old (rotated, uninstalled) tokens; no need for LRU precision
            client = AsyncWebClient(token=token, base_url=self.base_url, **self.client_options)
            self._clients[token] = client
        return client

    async def teams(self) -> list[str]:
        """Every team with an installed bot, oldest installation first."""
        bots = self.store.bots
        query = (
            sqlalchemy.select(bots.c.team_id)
            .where(bots.c.client_id == self.store.client_id, bots.c.team_id.is_not(None))
            .group_by(bots.c.team_id)
            .order_by(sqlalchemy.func.min(bots.c.installed_at))
        )
        async with self.store.engine.connect() as connection:
            return [str(row.team_id) for row in await connection.execute(query) if row.team_id]


async def token_of(tokens: SlackTokens, team_id: str) -> str | None:
    """The bot token ``tokens`` gives ``team_id`` (for :func:`use_token`); raises ``NoInstallation``."""
    client = await tokens.client_for(team_id)
    return client.token


__all__ = [
    "InstallationTokens",
    "NoInstallation",
    "SingleTeamTokens",
    "SlackTokens",
    "TeamRoutedClient",
    "current_token",
    "set_token",
    "token_of",
    "use_token",
]
