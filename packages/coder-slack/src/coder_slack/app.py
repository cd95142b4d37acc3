"""The slack-bolt AsyncApp: listeners ack at once and hand the work to background tasks.

``create_app(bot)`` registers the ``/workspace`` command (its subcommands come from
:mod:`coder_slack.commands.registry`), buttons and modals on a bolt ``AsyncApp``; the bot itself is built by
:mod:`coder_slack.compose`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from coder_slack.commands import account, create, dynamic_form, manage, registry, workspaces
from coder_slack.commands.context import Bot, Invocation, record_command
from coder_slack.commands.grammar import CommandError, Create, TokenInCommand
from coder_slack.home import register_home
from coder_slack.oauth_install import REVOKED, UNINSTALLED, SlackOAuth
from coder_slack.settings import secret
from coder_slack.slack_tokens import set_token
from coder_slack.views.buttons import (
    BUTTON_ACTION_IDS,
    BUTTON_ACTIONS,
    SET_DEADLINE_ACTION,
    ClickedCard,
    deadline_of,
    update_clicked_card,
    workspace_of,
)
from coder_slack.views.common import escape
from coder_slack.views.dynamic_form import DYNAMIC_ACTIONS
from coder_slack.views.manage import DELETE_ACTION, PICK_TEMPLATE_CALLBACK, TEMPLATE_CREATE_ACTION
from coder_slack.views.messages import text_message, usage_error
from coder_slack.views.modals import CREATE_CALLBACK, LOGIN_CALLBACK
from coder_slack.views.presets import PRESET_ACTION

log = logging.getLogger(__name__)

Ack = Callable[..., Awaitable[Any]]


def _ids(body: Mapping[str, Any]) -> tuple[str, str, str]:
    """(team, user, channel) from any interaction payload."""
    user = body.get("user") or {}
    team = str((body.get("team") or {}).get("id") or user.get("team_id") or body.get("team_id") or "")
    channel = str(
        (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or ""
    )
    return team, str(user.get("id") or ""), channel


def create_app(bot: Bot, *, socket_mode: bool = False, oauth: SlackOAuth | None = None) -> AsyncApp:
    """The bolt app; with ``oauth`` (OAuth mode, HTTP only), bolt authorizes each request with its team's
    installation and the app serves the install flow and the uninstall events."""
    settings = bot.settings
    app = AsyncApp(
        signing_secret=None if socket_mode else secret(settings.slack_signing_secret),
        client=bot.slack,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
        request_verification_enabled=not socket_mode,
        oauth_settings=None if oauth is None else oauth.settings,
        # Given here too, bolt's authorize refreshes rotating tokens through the bot's client (its base URL),
        # not a default client of its own.
        installation_store=None if oauth is None else oauth.installations,
        installation_store_bot_only=None if oauth is None else True,
    )
    if oauth is not None:
        _add_installation_listeners(app, bot, oauth)

    @app.command(settings.coder_slack_command)
    async def on_workspace(ack: Ack, body: dict[str, Any], respond: Any) -> None:
        text = str(body.get("text") or "")
        inv = Invocation(
            bot,
            team_id=str(body.get("team_id") or ""),
            user_id=str(body.get("user_id") or ""),
            channel_id=str(body.get("channel_id") or ""),
            subcommand=registry.first_word(text)[:32],
            respond=respond,
            trigger_id=body.get("trigger_id"),
        )
        try:
            parsed = registry.parse(text)
        except TokenInCommand as exc:
            record_command("token_refused", "usage")
            await ack(**text_message(f":no_entry: {escape(exc.message)}").as_kwargs())
            return
        except CommandError as exc:
            known = exc.usage is not None
            record_command(inv.subcommand if known else "unknown", "usage")
            await ack(**usage_error(exc.message, registry.usage_line(exc.usage)).as_kwargs())
            return
        inv.subcommand = parsed.verb
        if parsed.run is None:
            record_command(parsed.verb, "ok")
            await ack(**(parsed.answer or text_message("Done.")).as_kwargs())
            return
        if parsed.pending is None:
            await ack()
        else:
            await ack(text=parsed.pending)
        bot.tasks.spawn(parsed.run(inv), name=f"command-{inv.subcommand}")

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

    @app.action(SET_DEADLINE_ACTION)
    async def on_set_deadline(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        """The confirm button of "stop earlier than planned?": the question itself is private, so the answer
        replaces it."""
        await ack()
        inv = interaction(body, respond, "extend", can_replace=True)
        wanted = deadline_of(str(action.get("value") or ""))
        if wanted is None:
            bot.tasks.spawn(inv.reply(text_message("That button has lost its stop time; ask again.")))
            return
        workspace_id, until = wanted
        bot.tasks.spawn(workspaces.confirm_earlier_stop(inv, workspace_id, until), name="extend-confirmed")

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

    @app.action(DYNAMIC_ACTIONS)
    async def on_parameter_changed(ack: Ack, body: dict[str, Any]) -> None:
        """An answer in a dynamic create form changed: Coder evaluates the form again, the modal redraws."""
        await ack()

        def make_invocation(channel: str) -> Invocation:
            team, user, _ = _ids(body)
            return Invocation(bot, team_id=team, user_id=user, channel_id=channel, subcommand="create")

        bot.tasks.spawn(dynamic_form.refresh_form(bot, body, make_invocation), name="create-form-changed")

    @app.action(PRESET_ACTION)  # presets: a preset picked in the create form refills it
    async def on_preset_choice(ack: Ack, body: dict[str, Any]) -> None:
        await ack()

        def make_invocation(channel: str) -> Invocation:
            team, user, _ = _ids(body)
            return Invocation(bot, team_id=team, user_id=user, channel_id=channel, subcommand="create")

        bot.tasks.spawn(create.choose_preset(bot, body, make_invocation), name="create-preset")

    # verbs (issue 13): the confirmed delete button, Create on the template list, the template picker
    @app.action(DELETE_ACTION)
    async def on_delete_confirmed(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Any
    ) -> None:
        await ack()  # Slack showed the confirm dialog (naming the workspace) before sending this
        inv = interaction(body, respond, "delete", can_replace=True)
        bot.tasks.spawn(manage.confirm_delete(inv, str(action.get("value") or "")), name="delete-confirmed")

    @app.action(TEMPLATE_CREATE_ACTION)
    async def on_template_create(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Any
    ) -> None:
        await ack()
        inv = interaction(body, respond, "create", can_replace=False)
        template = str(action.get("value") or "")
        bot.tasks.spawn(create.start_create(inv, Create(template)), name="template-create")

    @app.view(PICK_TEMPLATE_CALLBACK)
    async def on_pick_template(ack: Ack, body: dict[str, Any]) -> None:
        def make_invocation(channel: str) -> Invocation:
            team, user, _ = _ids(body)
            return Invocation(bot, team_id=team, user_id=user, channel_id=channel, subcommand="create")

        await manage.submit_pick(bot, ack, body, make_invocation)

    @app.view(LOGIN_CALLBACK)
    async def on_login_submit(ack: Ack, body: dict[str, Any]) -> None:
        await account.submit_login(bot, ack, body)

    register_home(app, bot)  # the App Home tab (app_home_opened, New workspace, Link)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("unhandled error in a Slack listener: %s", type(error).__name__, exc_info=error)

    return app


def _add_installation_listeners(app: AsyncApp, bot: Bot, oauth: SlackOAuth) -> None:
    """OAuth mode: every request's work (and the tasks it spawns) calls Slack with its own team's token; an
    uninstall or a revoked bot token forgets that team alone."""

    @app.middleware
    async def team_token(context: AsyncBoltContext, next: Callable[[], Awaitable[Any]]) -> Any:
        # Bolt found the team's installation (refreshing its token if it was about to expire); the bot's
        # shared client (a TeamRoutedClient) uses that token in this request and the tasks it starts.
        set_token(context.bot_token)
        return await next()

    @app.event("app_uninstalled")
    async def on_uninstalled(ack: Ack, context: AsyncBoltContext) -> None:
        await ack()
        bot.tasks.spawn(oauth.forget(context.team_id, context.enterprise_id, UNINSTALLED), name="uninstalled")

    @app.event("tokens_revoked")
    async def on_tokens_revoked(ack: Ack, event: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        bot.tasks.spawn(_revoked(event.get("tokens") or {}, context), name="tokens-revoked")

    async def _revoked(tokens: dict[str, Any], context: AsyncBoltContext) -> None:
        for user_id in tokens.get("oauth") or []:
            await oauth.installations.async_delete_installation(
                enterprise_id=context.enterprise_id, team_id=context.team_id, user_id=user_id
            )
        if tokens.get("bot"):
            await oauth.forget(context.team_id, context.enterprise_id, REVOKED)
