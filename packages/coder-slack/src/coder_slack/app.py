"""The slack-bolt AsyncApp: listeners ack at once and hand the work to background tasks.

``build_bot(settings)`` assembles the parts (database, Coder clients, identity, status cards);
``create_app(bot)`` registers the ``/workspace`` command, buttons and modals on a bolt ``AsyncApp``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from coder_slack.coder import CoderPool
from coder_slack.commands import account, create, subscriptions, workspaces
from coder_slack.commands.context import BackgroundTasks, Bot, Invocation, as_dicts, record_command
from coder_slack.commands.grammar import (
    ALIASES,
    ChangeSettings,
    Command,
    CommandError,
    Create,
    Extend,
    Help,
    ListSubscriptions,
    ListWorkspaces,
    Login,
    Logout,
    SetAutostart,
    SetTtl,
    Subscribe,
    TokenInCommand,
    Unsubscribe,
    WorkspaceAction,
    normalize,
    parse,
)
from coder_slack.crypto import TokenCipher
from coder_slack.identity import IdentityResolver
from coder_slack.progress import StatusCards
from coder_slack.settings import Settings, secret
from coder_slack.store import create_engine_for, create_session_factory, upgrade_database_async
from coder_slack.views.buttons import (
    BUTTON_ACTION_IDS,
    BUTTON_ACTIONS,
    ClickedCard,
    update_clicked_card,
    workspace_of,
)
from coder_slack.views.common import escape
from coder_slack.views.messages import help_message, text_message, usage_error
from coder_slack.views.modals import CREATE_CALLBACK, LOGIN_CALLBACK

log = logging.getLogger(__name__)

Ack = Callable[..., Awaitable[Any]]


def make_slack_client(settings: Settings) -> AsyncWebClient:
    return AsyncWebClient(
        token=secret(settings.slack_bot_token) or None,
        base_url=settings.slack_api_base_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )


async def build_bot(settings: Settings, *, migrate: bool = True) -> Bot:
    """Database (migrated), Coder client pool, identity resolution and status cards, ready to serve."""
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
    cards = StatusCards(slack, sessions, pool.url, timeout_seconds=settings.coder_slack_card_timeout_seconds)
    return Bot(
        settings,
        sessions,
        pool,
        IdentityResolver(pool, sessions, cipher, slack),
        slack,
        cards,
        BackgroundTasks(),
    )


async def resume_cards(bot: Bot) -> int:
    """Follow again the status cards a previous run left unfinished (a restart or a crash mid-build)."""
    resumed = 0
    for row, card in await bot.cards.unfinished():
        try:
            actor = await bot.identities.resolve(row.team_id, row.requested_by)
        except Exception as exc:
            log.info("not resuming card %s: %s", row.id, type(exc).__name__)
            continue
        bot.tasks.spawn(bot.cards.follow(card, actor.client, row.build_number or 0), name=f"card-{row.id}")
        resumed += 1
    return resumed


async def close_bot(bot: Bot) -> None:
    await bot.tasks.cancel_all()
    await bot.pool.aclose()
    engine = bot.sessions.kw.get("bind")
    if engine is not None:
        await engine.dispose()


PENDING_TEXT = {
    "create": "⏳ Looking up template `{template}`…",
    "list": "⏳ Listing workspaces…",
    "subscribe": "⏳ Saving the subscription…",
    "subscriptions": "⏳ Looking up this channel's subscriptions…",
    "unsubscribe": "⏳ Removing the subscription…",
    "settings": "⏳ Loading your settings…",
    "logout": "⏳ Unlinking…",
}


def pending_text(command: Command, verb: str) -> str:
    if isinstance(command, Create):
        return PENDING_TEXT["create"].format(template=command.template)
    if isinstance(command, WorkspaceAction | Extend | SetTtl | SetAutostart):
        return workspaces.PENDING.get(verb, "⏳ Working on it…").format(target=f"`{command.target}`")
    if isinstance(command, WorkspaceAction):
        return "⏳ Working on it…"
    return PENDING_TEXT.get(verb, "⏳ Working on it…")


def subcommand_of(command: Command) -> str:
    if isinstance(command, WorkspaceAction):
        return command.verb
    return {
        Create: "create",
        ListWorkspaces: "list",
        Extend: "extend",
        SetTtl: "ttl",
        SetAutostart: "autostart",
        Subscribe: "subscribe",
        ListSubscriptions: "subscriptions",
        Unsubscribe: "unsubscribe",
        ChangeSettings: "settings",
        Login: "login",
        Logout: "logout",
        Help: "help",
    }[type(command)]


async def run_command(inv: Invocation, command: Command) -> None:
    if isinstance(command, Create):
        await create.start_create(inv, command)
    elif isinstance(command, ListWorkspaces):
        await workspaces.list_workspaces(inv, command)
    elif isinstance(command, Extend):
        await workspaces.run_workspace_command(inv, command)
    elif isinstance(command, WorkspaceAction):
        if command.verb == "watch":
            await subscriptions.watch(inv, command.target)
        elif command.verb == "unwatch":
            await subscriptions.unwatch(inv, command.target)
        else:
            await workspaces.run_workspace_command(inv, command)
    elif isinstance(command, SetTtl):
        await workspaces.set_ttl(inv, command)
    elif isinstance(command, SetAutostart):
        await workspaces.set_autostart(inv, command)
    elif isinstance(command, Subscribe):
        await subscriptions.subscribe(inv, command)
    elif isinstance(command, ListSubscriptions):
        await subscriptions.list_subscriptions(inv)
    elif isinstance(command, Unsubscribe):
        await subscriptions.unsubscribe(inv, command)
    elif isinstance(command, ChangeSettings):
        await subscriptions.change_settings(inv, command)
    elif isinstance(command, Login):
        await account.open_login(inv)
    elif isinstance(command, Logout):
        await account.logout(inv)


def _first_word(text: str) -> str:
    words = normalize(text).split()
    word = words[0].lower() if words else "help"
    return ALIASES.get(word, word)


def _ids(body: Mapping[str, Any]) -> tuple[str, str, str]:
    """(team, user, channel) from any interaction payload."""
    user = body.get("user") or {}
    team = str((body.get("team") or {}).get("id") or user.get("team_id") or body.get("team_id") or "")
    channel = str(
        (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or ""
    )
    return team, str(user.get("id") or ""), channel


def create_app(bot: Bot, *, socket_mode: bool = False) -> AsyncApp:
    settings = bot.settings
    app = AsyncApp(
        signing_secret=None if socket_mode else secret(settings.slack_signing_secret),
        client=bot.slack,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
        request_verification_enabled=not socket_mode,
    )

    @app.command(settings.coder_slack_command)
    async def on_workspace(ack: Ack, body: dict[str, Any], respond: Any) -> None:
        text = str(body.get("text") or "")
        inv = Invocation(
            bot,
            team_id=str(body.get("team_id") or ""),
            user_id=str(body.get("user_id") or ""),
            channel_id=str(body.get("channel_id") or ""),
            subcommand=_first_word(text)[:32],
            respond=respond,
            trigger_id=body.get("trigger_id"),
        )
        try:
            command = parse(text)
        except TokenInCommand as exc:
            record_command("token_refused", "usage")
            reply_text, blocks = text_message(f":no_entry: {escape(exc.message)}")
            await ack(text=reply_text, blocks=as_dicts(blocks))
            return
        except CommandError as exc:
            known = exc.usage is not None
            record_command(inv.subcommand if known else "unknown", "usage")
            reply_text, blocks = usage_error(exc.message, exc.usage)
            await ack(text=reply_text, blocks=as_dicts(blocks))
            return
        if isinstance(command, Help):
            record_command("help", "ok")
            reply_text, blocks = help_message(command.topic)
            await ack(text=reply_text, blocks=as_dicts(blocks))
            return
        inv.subcommand = subcommand_of(command)
        if isinstance(command, Login):
            await ack()
        else:
            await ack(text=pending_text(command, inv.subcommand))
        bot.tasks.spawn(run_command(inv, command), name=f"command-{inv.subcommand}")

    def interaction(
        body: Mapping[str, Any], respond: Any, subcommand: str, *, can_replace: bool
    ) -> Invocation:
        team, user, channel = _ids(body)
        return Invocation(
            bot,
            team_id=team,
            user_id=user,
            channel_id=channel,
            subcommand=subcommand,
            respond=respond,
            trigger_id=body.get("trigger_id"),
            can_replace=can_replace,
        )

    @app.action(BUTTON_ACTION_IDS)
    async def on_workspace_button(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Any
    ) -> None:
        """Extend / Stop / Start / Restart on a status card, an alert card or an autostop warning.

        The clicker gets a private answer; when the action worked on an alert card, the card itself says
        so for everyone (the status card follows its build by itself)."""
        await ack()
        verb, duration = BUTTON_ACTIONS[action["action_id"]]
        inv = interaction(body, respond, verb, can_replace=False)
        workspace_id = workspace_of(str(action.get("value") or ""))
        card = ClickedCard.of(body, action)

        async def click() -> None:
            outcome = await workspaces.button(inv, verb, workspace_id, duration)
            if card is not None and outcome is not None:
                await update_clicked_card(bot.slack, card, outcome)

        bot.tasks.spawn(click(), name=f"button-{verb}")

    @app.action("workspace_menu")
    async def on_menu(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        await ack()
        choice = str((action.get("selected_option") or {}).get("value") or "")
        key, _, workspace_id = choice.partition(":")
        verb, duration = workspaces.MENU_VERBS.get(key, ("status", None))
        inv = interaction(body, respond, verb, can_replace=False)
        bot.tasks.spawn(workspaces.button(inv, verb, workspace_id, duration), name=f"menu-{verb}")

    @app.action(re.compile(r"^list_page_(next|prev)$"))
    async def on_page(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        await ack()
        inv = interaction(body, respond, "list", can_replace=True)
        bot.tasks.spawn(workspaces.list_page(inv, str(action.get("value") or "{}")), name="list-page")

    @app.action(re.compile(r"^(open_|alert_open$|alert_troubleshoot$)"))
    async def on_link(ack: Ack) -> None:
        await ack()  # link buttons open in the browser; Slack still expects an ack

    @app.view(CREATE_CALLBACK)
    async def on_create_submit(ack: Ack, body: dict[str, Any]) -> None:
        def make_invocation(channel: str) -> Invocation:
            team, user, _ = _ids(body)
            return Invocation(bot, team_id=team, user_id=user, channel_id=channel, subcommand="create")

        await create.submit_create(bot, ack, body, make_invocation)

    @app.view(LOGIN_CALLBACK)
    async def on_login_submit(ack: Ack, body: dict[str, Any]) -> None:
        await account.submit_login(bot, ack, body)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("unhandled error in a Slack listener: %s", type(error).__name__, exc_info=error)

    return app
