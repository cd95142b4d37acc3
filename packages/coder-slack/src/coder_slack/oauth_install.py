"""Installing the app into many Slack workspaces over OAuth (bolt's own flow, slack_sdk's stores).

With ``SLACK_CLIENT_ID`` and ``SLACK_CLIENT_SECRET`` (and no ``SLACK_BOT_TOKEN``), ``coder-slack serve``
serves:

- ``GET /slack/install``: the "Add to Slack" page, linking to Slack's OAuth v2 authorize URL with the bot
  scopes below and a fresh ``state`` (stored in ``slack_oauth_states`` and set as a cookie in the browser);
- ``GET /slack/oauth_redirect``: where Slack sends the browser back; bolt checks the state (cookie and store,
  single use, expiring) *before* it exchanges the code with ``oauth.v2.access``, then saves the installation.

Installations live in the bot's database (``slack_installations``, ``slack_bots``; migration 0006), read
through slack_sdk's ``AsyncSQLAlchemyInstallationStore`` by bolt for each request and by
:class:`~coder_slack.slack_tokens.InstallationTokens` for the work done outside requests. With token rotation
on, bolt and ``InstallationTokens`` refresh a team's bot token before it expires.

``app_uninstalled`` and ``tokens_revoked`` remove the team's installation and disable its subscriptions
(:func:`forget_team`); nothing of another team is touched. Installing again re-enables what an uninstall
disabled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine

from coder_slack.settings import Settings, secret
from coder_slack.slack_tokens import InstallationTokens
from coder_slack.store import AlertDestination, AlertOutboxItem, HomeTab, SessionFactory, Subscription
from coder_slack.store.slack_oauth_tables import BOTS_TABLE, INSTALLATIONS_TABLE, OAUTH_STATES_TABLE

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"

# The bot scopes the install asks for: the manifests' (deploy/slack/manifest*.yaml), which
# tests/slack/test_scopes.py keeps in step with the Web API methods the code calls.
BOT_SCOPES = (
    "commands",
    "chat:write",
    "im:write",
    "users:read",
    "users:read.email",
    "channels:history",
    "groups:history",
    "im:history",
    "mpim:history",
    "files:write",
)

UNINSTALLED = "the app was uninstalled from this Slack workspace"
REVOKED = "the app's bot token was revoked in this Slack workspace"
_FORGOTTEN = (UNINSTALLED, REVOKED)
_UNSENT = ("pending", "sending")


class InstallationStore(AsyncSQLAlchemyInstallationStore):
    """slack_sdk's store on our tables; saving an installation re-enables what an uninstall disabled."""

    def __init__(self, client_id: str, engine: AsyncEngine, sessions: SessionFactory) -> None:
        super().__init__(
            client_id,
            engine,
            bots_table_name=BOTS_TABLE,
            installations_table_name=INSTALLATIONS_TABLE,
            logger=log,
        )
        self.sessions = sessions

    async def async_save(self, installation: Installation) -> None:
        await super().async_save(installation)  # type: ignore[no-untyped-call]
        if installation.team_id:
            restored = await restore_team(self.sessions, installation.team_id)
            log.info(
                "coder-slack installed in Slack team %s (%d subscription(s) re-enabled)",
                installation.team_id,
                restored,
            )


@dataclass
class SlackOAuth:
    """OAuth mode's parts: bolt's settings (with both stores) and the per-team token source."""

    settings: AsyncOAuthSettings
    installations: InstallationStore
    states: AsyncSQLAlchemyOAuthStateStore
    tokens: InstallationTokens
    sessions: SessionFactory

    async def forget(self, team_id: str | None, enterprise_id: str | None, reason: str) -> int:
        """Remove the team's installation (bot and installers) and disable its subscriptions."""
        await self.installations.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)
        return await forget_team(self.sessions, team_id or "", reason)


def build_slack_oauth(settings: Settings, sessions: SessionFactory) -> SlackOAuth:
    """Bolt's OAuth settings over the bot's database. ``settings.oauth_mode`` must be true."""
    engine = sessions.kw.get("bind")
    if not isinstance(engine, AsyncEngine):
        raise TypeError("the OAuth stores need the bot's AsyncEngine")
    client_id = settings.slack_client_id or ""
    client_secret = secret(settings.slack_client_secret)
    installations = InstallationStore(client_id, engine, sessions)
    states = AsyncSQLAlchemyOAuthStateStore(
        expiration_seconds=settings.slack_oauth_state_seconds,
        engine=engine,
        logger=log,
        table_name=OAUTH_STATES_TABLE,
    )
    oauth_settings = AsyncOAuthSettings(
        client_id=client_id,
        client_secret=client_secret,
        scopes=list(BOT_SCOPES),
        redirect_uri=settings.slack_redirect_uri or None,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        authorization_url=settings.slack_authorize_url,
        installation_store=installations,
        installation_store_bot_only=True,
        token_rotation_expiration_minutes=settings.slack_token_rotation_minutes,
        state_store=states,
        state_expiration_seconds=settings.slack_oauth_state_seconds,
        logger=log,
    )
    tokens = InstallationTokens(
        installations,
        base_url=settings.slack_api_base_url,
        client_id=client_id,
        client_secret=client_secret,
        rotation_minutes=settings.slack_token_rotation_minutes,
    )
    return SlackOAuth(oauth_settings, installations, states, tokens, sessions)


async def forget_team(sessions: SessionFactory, team_id: str, reason: str) -> int:
    """Disable the team's subscriptions and alert destinations, fail its undelivered alerts (its tokens
    are gone: nothing can be posted there) and forget its published App Homes. How many subscriptions were
    disabled."""
    if not team_id:
        return 0
    async with sessions() as session, session.begin():
        result: Any = await session.execute(
            update(Subscription)
            .where(Subscription.team_id == team_id, Subscription.enabled.is_(True))
            .values(enabled=False, disabled_reason=reason)
        )
        await session.execute(
            update(AlertDestination).where(AlertDestination.team_id == team_id).values(disabled_reason=reason)
        )
        await session.execute(
            update(AlertOutboxItem)
            .where(AlertOutboxItem.team_id == team_id, AlertOutboxItem.status.in_(_UNSENT))
            .values(status="failed", error=reason)
        )
        await session.execute(delete(HomeTab).where(HomeTab.team_id == team_id))  # no Home to refresh
    disabled = int(result.rowcount or 0)
    log.info("Slack team %s: %s; %d subscription(s) disabled", team_id, reason, disabled)
    return disabled


async def restore_team(sessions: SessionFactory, team_id: str) -> int:
    """Undo :func:`forget_team` after the team installed the app again. How many subscriptions came back."""
    async with sessions() as session, session.begin():
        result: Any = await session.execute(
            update(Subscription)
            .where(Subscription.team_id == team_id, Subscription.disabled_reason.in_(_FORGOTTEN))
            .values(enabled=True, disabled_reason=None)
        )
        await session.execute(
            update(AlertDestination)
            .where(AlertDestination.team_id == team_id, AlertDestination.disabled_reason.in_(_FORGOTTEN))
            .values(disabled_reason=None)
        )
    return int(result.rowcount or 0)


__all__ = [
    "BOT_SCOPES",
    "INSTALL_PATH",
    "REDIRECT_PATH",
    "REVOKED",
    "UNINSTALLED",
    "InstallationStore",
    "SlackOAuth",
    "build_slack_oauth",
    "forget_team",
    "restore_team",
]
