"""login (a modal takes the token, never the command line) and logout."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from coder_client import CoderConnectionError, Unauthorized
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import update

from coder_slack.coder import explain
from coder_slack.coder_oauth import STATE_TTL, SignedIn
from coder_slack.commands.context import Bot, Invocation, record_command
from coder_slack.commands.grammar import looks_like_secret
from coder_slack.identity import IdentityProblem
from coder_slack.store import Subscription
from coder_slack.views.messages import text_message
from coder_slack.views.modals import TOKEN_BLOCK, login_modal, submitted_values
from coder_slack.views.sign_in import sign_in_message

log = logging.getLogger(__name__)

CHECK_BUDGET_SECONDS = 2.0
Ack = Callable[..., Awaitable[Any]]


async def open_login(inv: Invocation, *, with_token: bool = False) -> None:
    if inv.bot.identities.cipher is None:
        await inv.reply(
            text_message("Account linking is switched off: the bot has no CODER_SLACK_ENCRYPTION_KEY.")
        )
        return
    sign_in = inv.bot.identities.sign_in
    if sign_in is not None and not with_token:
        url = await sign_in.start(inv.team_id, inv.user_id, inv.channel_id)
        if url is not None:  # Coder offers its OAuth2 provider
            record_command("login", "ok")
            await inv.reply(sign_in_message(url, int(STATE_TTL.total_seconds() // 60)))
            return
    try:
        await inv.bot.slack.views_open(
            trigger_id=inv.trigger_id or "", view=login_modal(inv.bot.pool.url, inv.channel_id)
        )
        record_command("login", "ok")
    except SlackApiError as exc:
        record_command("login", "error")
        await inv.reply(
            text_message(
                f"I couldn't open the login form ({exc.response.get('error')}); run `/workspace login` again."
            ),
            replace=True,
        )


async def logout(inv: Invocation) -> None:
    async def work() -> None:
        outcome = await inv.bot.identities.logout(inv.team_id, inv.user_id)
        if not outcome.removed:
            await inv.reply(text_message("You had no linked Coder account."), replace=True)
            return
        async with inv.bot.sessions() as session:
            result = await session.execute(
                update(Subscription)
                .where(
                    Subscription.team_id == inv.team_id,
                    Subscription.created_by == inv.user_id,
                    Subscription.enabled.is_(True),
                )
                .values(enabled=False, disabled_reason="creator logged out")
            )
            await session.commit()
        paused = int(getattr(result, "rowcount", 0) or 0)
        await inv.audit(None, None, "logout")
        extra = f" {paused} subscription(s) you created are paused." if paused else ""
        if outcome.revoked is None:  # a pasted token: only Coder can revoke it
            text = (
                f"🔓 Your Coder token is forgotten.{extra} Revoke it in Coder too if you no longer need it."
            )
        elif outcome.revoked:
            text = f"🔓 Signed out: Coder revoked the bot's access to your account.{extra}"
        else:
            text = (
                f"🔓 Signed out here, but I couldn't reach Coder to revoke the bot's access.{extra} "
                "Remove it under Coder's account settings (OAuth2 applications)."
            )
        await inv.reply(text_message(text), replace=True)

    await inv.guarded(work)


def _notice_view(title: str, text: str) -> View:
    return View(
        type="modal",
        title=title,
        close="Close",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    )


async def submit_login(bot: Bot, ack: Ack, body: Mapping[str, Any]) -> None:
    """Check the pasted token against Coder within the 3 s budget and answer on the form itself."""
    view = body.get("view") or {}
    team_id = str((body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") or "")
    user_id = str((body.get("user") or {}).get("id") or "")
    token = (submitted_values(view).get(TOKEN_BLOCK) or "").strip()
    if not token or any(ch.isspace() for ch in token) or len(token) > 200:
        await ack(
            response_action="errors", errors={TOKEN_BLOCK: "Paste just the token: one word, no spaces."}
        )
        return
    try:
        channel = json.loads(view.get("private_metadata") or "{}").get("channel", "")
    except ValueError:
        channel = ""
    link = asyncio.ensure_future(bot.identities.link(team_id, user_id, token))
    done, _ = await asyncio.wait({link}, timeout=CHECK_BUDGET_SECONDS)
    if not done:
        await ack(
            response_action="update",
            view=_notice_view(
                "Checking your token", "Coder is slow to answer; I'll message you when it's checked."
            ),
        )
        bot.tasks.spawn(_finish_link_later(bot, link, user_id, channel), name="link-later")
        return
    error = link.exception()
    if error is None:
        user = link.result()
        record_command("login", "ok")
        await ack()
        bot.home_changed(team_id, user_id)  # the App Home shows the link
        await _tell(
            bot, user_id, channel, f"🔗 Linked: your commands now run as Coder user *{user.username}*."
        )
        return
    record_command("login", "denied" if isinstance(error, Unauthorized) else "error")
    if isinstance(error, Unauthorized):
        message = (
            "Coder didn't accept this token (wrong, expired or revoked). Create a new one and paste it here."
        )
    elif isinstance(error, IdentityProblem):
        message = error.message
    elif isinstance(error, CoderConnectionError | TimeoutError):
        message = "I can't reach Coder right now, so I couldn't check the token. Try again in a minute."
    else:
        message = explain(error, linked=True)[0]
    await ack(response_action="errors", errors={TOKEN_BLOCK: message[:150]})


async def _finish_link_later(bot: Bot, link: asyncio.Future[Any], user_id: str, channel: str) -> None:
    try:
        user = await link
    except Exception as exc:
        if isinstance(exc, Unauthorized):
            text = (
                "Coder didn't accept the token you pasted; nothing was stored. Run `/workspace login` again."
            )
        else:
            text = f"I couldn't link your account: {explain(exc, linked=True)[0]}"
        await _tell(bot, user_id, channel, text)
        return
    await _tell(bot, user_id, channel, f"🔗 Linked: your commands now run as Coder user *{user.username}*.")


def wire_sign_in(bot: Bot) -> None:
    """Tell the user in Slack when Sign in with Coder's callback has linked them (any replica's callback)."""
    sign_in = bot.identities.sign_in
    if sign_in is None:
        return

    async def signed_in(done: SignedIn) -> None:
        bot.identities.forget(done.team_id, done.slack_user_id)
        record_command("login", "ok")
        bot.home_changed(done.team_id, done.slack_user_id)  # the App Home shows the link
        try:  # the callback is no Slack request: use the team's own client (OAuth installs)
            client = await bot.tokens.client_for(done.team_id)
        except Exception as exc:
            log.warning("no Slack client for team %s: %s", done.team_id, type(exc).__name__)
            return
        await _tell(
            bot,
            done.slack_user_id,
            done.channel_id,
            f"🔗 Signed in with Coder: your commands now run as Coder user *{done.user.username}*.",
            client=client,
        )

    sign_in.on_signed_in = signed_in


async def _tell(
    bot: Bot, user_id: str, channel: str, text: str, *, client: AsyncWebClient | None = None
) -> None:
    if looks_like_secret(text):  # never echo anything token-shaped
        text = "Done."
    slack = client or bot.slack
    try:
        if channel:
            await slack.chat_postEphemeral(channel=channel, user=user_id, text=text)
            return
    except SlackApiError:
        pass
    try:
        dm = await slack.conversations_open(users=user_id)
        await slack.chat_postMessage(channel=dm["channel"]["id"], text=text)
    except SlackApiError as exc:
        log.warning("could not tell %s about their link: %s", user_id, exc.response.get("error"))
