"""The composition root: settings → store → clients → bot → bolt app → alert engine, built in one place.

Every way of running coder-slack goes through :func:`compose`: ``serve`` (HTTP and Socket Mode), the
alerts-only process (``coder-slack alerts``), the console and the tests. What it returns is typed
(:class:`CoderSlack`), so the type checker follows the whole program from the settings to each listener.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from coder_slack.alerts import AlertEngine
from coder_slack.app import create_app
from coder_slack.coder import CoderPool
from coder_slack.coder_oauth import CoderOAuthConfig, CoderSignIn
from coder_slack.commands.account import wire_sign_in
from coder_slack.commands.context import BackgroundTasks, Bot
from coder_slack.crypto import TokenCipher
from coder_slack.identity import IdentityResolver
from coder_slack.notifications.intake import NotificationIntake
from coder_slack.oauth_install import SlackOAuth, build_slack_oauth
from coder_slack.progress import CardKeeper, StatusCards
from coder_slack.settings import Settings, secret
from coder_slack.slack_tokens import TeamRoutedClient
from coder_slack.store import (
    SessionFactory,
    create_engine_for,
    create_session_factory,
    upgrade_database_async,
)

log = logging.getLogger(__name__)


def make_slack_client(settings: Settings) -> AsyncWebClient:
    """The bot's shared Web API client: the pasted bot token's, or in OAuth mode one without a token of its
    own that calls Slack with the token of the team the current work is for (``slack_tokens``)."""
    kind = TeamRoutedClient if settings.oauth_mode else AsyncWebClient
    return kind(
        token=secret(settings.slack_bot_token) or None,
        base_url=settings.slack_api_base_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )


async def build_bot(settings: Settings, *, migrate: bool = True) -> Bot:
    """The bot's parts: database (migrated), Coder client pool, identity resolution and status cards."""
    if migrate:
        await upgrade_database_async(settings.coder_slack_database_url)
    engine = create_engine_for(settings.coder_slack_database_url)
    sessions = create_session_factory(engine)
    key = secret(settings.coder_slack_encryption_key)
    cipher = TokenCipher(key) if key else None
    pool = CoderPool(
        settings.coder_url or "",
        secret(settings.coder_session_token) or None,
        timeout=settings.coder_slack_coder_timeout_seconds,
    )
    slack = make_slack_client(settings)
    cards = StatusCards(
        slack,
        sessions,
        pool.url,
        timeout_seconds=settings.coder_slack_card_timeout_seconds,
        holder=CardKeeper.holder_for(settings),
        lease_seconds=settings.coder_slack_lease_seconds,
        timings_timeout=settings.coder_slack_timings_timeout_seconds,
        slower_min_extra_seconds=settings.coder_slack_slower_min_extra_seconds,
    )
    bot = Bot(
        settings,
        sessions,
        pool,
        IdentityResolver(
            pool, sessions, cipher, slack, sign_in=build_coder_sign_in(settings, sessions, cipher)
        ),
        slack,
        cards,
        BackgroundTasks(),
    )
    wire_sign_in(bot)  # Sign in with Coder: tell the user in Slack once Coder's callback linked them
    return bot


def build_coder_sign_in(
    settings: Settings, sessions: SessionFactory, cipher: TokenCipher | None
) -> CoderSignIn | None:
    """Sign in with Coder, when an OAuth2 app is configured (CODER_SLACK_CODER_OAUTH_*) and tokens can be
    stored (an encryption key); whether Coder offers its OAuth2 provider is asked at each login."""
    config = CoderOAuthConfig.from_settings(settings)
    if config is None or cipher is None or not settings.coder_url:
        return None
    return CoderSignIn(
        config, settings.coder_url, sessions, cipher, timeout=settings.coder_slack_coder_timeout_seconds
    )


def build_alert_engine(bot: Bot) -> AlertEngine | None:
    """The alert engine over the bot's store and clients (not started), or None when alerts are off."""
    if not bot.settings.coder_slack_alerts_enabled:
        return None
    if not bot.pool.has_service_token:
        log.warning(
            "lifecycle alerts are off: they need CODER_SESSION_TOKEN (a service token) to watch workspaces"
        )
        return None
    return AlertEngine(bot.settings, bot.sessions, bot.slack, bot.pool.service(), tokens=bot.slack_tokens)


def build_notification_intake(bot: Bot) -> NotificationIntake | None:
    """The Coder notification webhook's intake, or None when CODER_SLACK_NOTIFICATIONS_SECRET is unset (then
    the route does not exist)."""
    shared = secret(bot.settings.coder_slack_notifications_secret)
    if not shared:
        return None
    return NotificationIntake(bot.settings.coder_slack_database_url, shared)


@dataclass
class CoderSlack:
    """The composed service: the bot's parts, its bolt app and its alert engine (built, not yet started).

    :meth:`start` resumes the status cards a previous run left unfinished (leased, so that of several
    replicas one follows each card) and starts the alert engine; :meth:`close` stops everything it started
    and closes the bot's clients and database."""

    settings: Settings
    bot: Bot
    app: AsyncApp
    alert_engine: AlertEngine | None
    card_keeper: CardKeeper
    notifications: NotificationIntake | None = None
    """Coder's notification webhook (served by ``server``); its router runs in the alert engine."""
    oauth: SlackOAuth | None = None
    """OAuth mode: the install flow and the installation store (``server`` serves its routes)."""

    async def start(self, *, alerts: bool = True, cards: bool = True) -> None:
        if cards:
            self.card_keeper.start()
        if alerts:
            await self.start_alerts()

    async def start_alerts(self) -> AlertEngine | None:
        """Start the alert engine; the commands then tell it about the builds they start. None when there is
        none, or when it failed to start (logged: commands still work without it)."""
        engine = self.alert_engine
        if engine is None or engine.started:
            return engine
        try:
            await engine.start()
        except Exception:
            log.exception("the alert engine did not start; commands still work")
            self.alert_engine = None
            return None
        self.bot.alerts = engine
        if self.bot.home is not None:  # the App Home refreshes when the engine sees workspaces change
            engine.on_observed = self.bot.home.workspaces_observed
        if self.notifications is not None:
            self.notifications.on_received = engine.notifications_received
        return engine

    @property
    def alerts_running(self) -> bool:
        return self.alert_engine is not None and self.alert_engine.started

    async def close(self) -> None:
        await self.card_keeper.stop()
        if self.notifications is not None:
            self.notifications.on_received = None
        if self.alert_engine is not None and self.alert_engine.started:
            self.bot.alerts = None
            with contextlib.suppress(Exception):
                await self.alert_engine.stop()
        if self.notifications is not None:
            with contextlib.suppress(Exception):
                await self.notifications.close()
        await close_bot(self.bot)


async def close_bot(bot: Bot) -> None:
    await bot.tasks.cancel_all()
    await bot.cards.release_all()
    await bot.pool.aclose()
    await bot.identities.aclose()
    engine = bot.sessions.kw.get("bind")
    if engine is not None:
        await engine.dispose()


async def compose(settings: Settings, *, socket_mode: bool = False, migrate: bool = True) -> CoderSlack:
    """Build coder-slack from its settings: store (migrated) → Coder clients → bot → bolt app → alert engine.

    Nothing runs yet: the caller serves ``app`` (HTTP or Socket Mode) or not at all (the alerts-only
    process), then calls :meth:`CoderSlack.start`."""
    bot = await build_bot(settings, migrate=migrate)
    try:
        oauth = None
        if settings.oauth_mode and not socket_mode:
            oauth = build_slack_oauth(settings, bot.sessions)
            bot.slack_tokens = oauth.tokens
        app = create_app(bot, socket_mode=socket_mode, oauth=oauth)
        engine = build_alert_engine(bot)
        intake = build_notification_intake(bot)
        if intake is not None and engine is None:
            log.warning(
                "Coder notifications are recorded but not delivered: routing them to Slack runs in the alert "
                "engine, which is off (see above)"
            )
    except BaseException:
        await close_bot(bot)
        raise
    return CoderSlack(settings, bot, app, engine, CardKeeper(bot), intake, oauth)


__all__ = [
    "CoderSlack",
    "build_alert_engine",
    "build_bot",
    "build_notification_intake",
    "close_bot",
    "compose",
    "make_slack_client",
]
