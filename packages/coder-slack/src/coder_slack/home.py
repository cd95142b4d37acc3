"""The App Home tab: each person's dashboard, published with ``views.publish`` and kept current.

``app_home_opened`` (the person opens the bot's Home tab) publishes their Home at once, with bolt's client
(the token of the team the event came from). From then on this process *tracks* them: when their workspaces
change, their Home is published again in the background with ``bot.tokens.client_for(team_id)``
(``SlackTokens.client_for``). Changes are heard from

- the bot's own commands and buttons (``Invocation.audit`` → ``Bot.home_changed``: the person who acted, and
  the owner of the workspace they acted on), and
- the alert engine's observations (``AlertEngine.on_observed``: every workspace it saw change, by owner),
  when the engine runs in this process.

Refreshes are debounced per person: at most one ``views.publish`` per ``min_interval`` seconds (10 s), a burst
of changes coalesced into one publish that reads Coder after the burst. That stays far inside Slack's
``views.publish`` rate limit (Tier 4, 100+ per minute per workspace) for any realistic number of people.

Who is tracked: people who opened their Home since this process started (kept in memory), not a table of
published Homes. Slack sends ``app_home_opened`` every time someone opens the tab, so after a restart each
Home is rebuilt the moment its owner looks at it, which is the only time a stale Home could be seen; a table
would add a migration and per-replica bookkeeping for refreshes nobody may be looking at. The cost: with
several replicas, a change heard on one replica refreshes the Homes opened there; the others are rebuilt
when their owners next open the tab (or act through the bot on the replica that tracks them).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from coder_client import Workspace, parameter_fields
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from coder_slack.coder import explain
from coder_slack.commands import account
from coder_slack.commands.context import Bot, Invocation, record_command
from coder_slack.identity import Actor, IdentityProblem
from coder_slack.slack_tokens import NoInstallation
from coder_slack.store import Subscription, UserSettings
from coder_slack.views.home import (
    LINK_ACTION,
    NEW_WORKSPACE_ACTION,
    PICK_TEMPLATE_CALLBACK,
    TEMPLATE_BLOCK,
    AlertSettings,
    HomeData,
    home_view,
    notice,
    template_picker,
)
from coder_slack.views.modals import create_modal, submitted_values
from coder_slack.views.notifications import muted_slugs

log = logging.getLogger(__name__)

HOME_REFRESH_SECONDS = 10.0
FETCH_BUDGET_SECONDS = 1.5  # of the ~3 s a trigger_id lives
SUBMIT_BUDGET_SECONDS = 2.0  # of the 3 s a view_submission has for its answer

Ack = Callable[..., Awaitable[Any]]
Key = tuple[str, str]  # (team id, Slack user id)


class HomeTabs:
    """Publishes and refreshes the Home tab of everyone who opened it since this process started."""

    def __init__(self, bot: Bot, *, min_interval: float = HOME_REFRESH_SECONDS) -> None:
        self.bot = bot
        self.min_interval = min_interval
        self._tracked: dict[Key, str] = {}  # → their Coder username, lowercased ("" until known)
        self._by_username: dict[str, set[Key]] = {}
        self._last: dict[Key, float] = {}  # loop time of the last publish that started
        self._due: set[Key] = set()  # a refresh is scheduled and has not started yet
        self._locks: dict[Key, asyncio.Lock] = {}
        self.publishes = 0  # views.publish calls that succeeded (tests, metrics)

    # ---------------------------------------------------------------- who is tracked

    def tracks(self, team_id: str, user_id: str) -> bool:
        return (team_id, user_id) in self._tracked

    def _track(self, key: Key, username: str) -> None:
        old = self._tracked.get(key)
        if old == username:
            return
        if old:
            self._by_username.get(old, set()).discard(key)
        self._tracked[key] = username
        if username:
            self._by_username.setdefault(username, set()).add(key)

    def forget_team(self, team_id: str) -> None:
        """The app left the team (uninstalled, tokens revoked): stop refreshing its Homes."""
        for key in [key for key in self._tracked if key[0] == team_id]:
            self._track(key, "")
            del self._tracked[key]
            self._last.pop(key, None)

    # ---------------------------------------------------------------- what changed

    def changed(self, team_id: str, user_id: str, target: str | None = None) -> None:
        """The person acted through the bot (on ``target``, ``owner/name``): refresh their Home and the
        owner's, if they are tracked."""
        keys = {(team_id, user_id)} & self._tracked.keys()
        if target and "/" in target:
            keys |= self._by_username.get(target.split("/", 1)[0].lower(), set())
        for key in keys:
            self._schedule(key)

    def workspaces_observed(self, workspaces: list[Workspace]) -> None:
        """The alert engine saw these workspaces change: refresh their owners' Homes."""
        self.owners_changed(w.owner_name for w in workspaces)

    def owners_changed(self, owners: Iterable[str]) -> None:
        keys: set[Key] = set()
        for owner in {o.lower() for o in owners}:
            keys |= self._by_username.get(owner, set())
        for key in keys:
            self._schedule(key)

    def _schedule(self, key: Key) -> None:
        """One refresh, as soon as the debounce allows; a refresh already waiting covers this change too."""
        if key in self._due:
            return
        self._due.add(key)
        self.bot.tasks.spawn(self._refresh_later(key), name="home-refresh")

    async def _refresh_later(self, key: Key) -> None:
        loop = asyncio.get_running_loop()
        try:
            # Until min_interval after the last publish began and ended: one under way now moves the time on
            # when it ends, so look again after waking (a few times at most: publishes are rare).
            for _ in range(4):
                wait = self._last.get(key, -math.inf) + self.min_interval - loop.time()
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
        finally:
            # Before reading Coder: a change from now on needs (and gets) a refresh of its own.
            self._due.discard(key)
        try:
            client = await self.bot.tokens.client_for(key[0])
        except NoInstallation:
            self.forget_team(key[0])
            return
        await self.publish(client, *key)

    # ---------------------------------------------------------------- publishing

    async def opened(self, client: AsyncWebClient, team_id: str, user_id: str) -> None:
        """``app_home_opened``: publish now (debounced like any refresh), and track the person."""
        key = (team_id, user_id)
        if key not in self._tracked:
            self._track(key, "")
        last = self._last.get(key, -math.inf)
        if key in self._due or asyncio.get_running_loop().time() - last < self.min_interval:
            self._schedule(key)
            return
        await self.publish(client, team_id, user_id)

    async def publish(self, client: AsyncWebClient, team_id: str, user_id: str) -> bool:
        """Gather and publish one person's Home; False (logged) when Slack refused it."""
        key = (team_id, user_id)
        async with self._locks.setdefault(key, asyncio.Lock()):
            self._last[key] = asyncio.get_running_loop().time()
            data = await self.gather(team_id, user_id)
            try:
                await client.views_publish(user_id=user_id, view=home_view(data))
            except asyncio.CancelledError:
                raise
            except SlackApiError as exc:
                log.warning("could not publish an App Home: %s", exc.response.get("error"))
                return False
            except Exception as exc:
                log.warning("could not publish an App Home: %s", type(exc).__name__)
                return False
            finally:
                # Counted from the call's end as well: Slack sees at most one publish per interval.
                self._last[key] = asyncio.get_running_loop().time()
            self.publishes += 1
            return True

    async def gather(self, team_id: str, user_id: str) -> HomeData:
        """Everything one Home shows; whatever fails becomes a line on the Home, never an exception."""
        bot = self.bot
        data = HomeData(
            coder_url=bot.pool.url, now=datetime.now(UTC), can_link=bot.identities.cipher is not None
        )
        actor: Actor | None = None
        try:
            actor = await bot.identities.resolve(team_id, user_id)
        except IdentityProblem as exc:
            data.account_problem = exc.message
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            data.account_problem = explain(exc)[0]
        if actor is not None:
            data.username, data.linked = actor.username, actor.linked
            if (team_id, user_id) in self._tracked:
                self._track((team_id, user_id), actor.username.lower())
            query = "owner:me" if actor.linked else f"owner:{actor.username}"
            try:
                data.workspaces = await actor.client.workspaces.list(query=query)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                data.workspaces_problem = explain(exc, linked=actor.linked, what="your workspaces")[0]
        async with bot.sessions() as session:
            row = await session.get(UserSettings, (team_id, user_id))
            subscriptions = (
                (
                    await session.execute(
                        select(Subscription)
                        .where(Subscription.team_id == team_id, Subscription.created_by == user_id)
                        .order_by(Subscription.id)
                    )
                )
                .scalars()
                .all()
            )
        warning = bot.settings.coder_slack_autostop_warning_minutes
        if row is not None:
            muted = muted_slugs(row.muted_notifications or "")
            data.settings = AlertSettings(row.dm_enabled, row.autostop_warning_minutes, muted)
        else:
            data.settings = AlertSettings(True, warning)
        data.subscriptions = list(subscriptions)
        return data

    # ---------------------------------------------------------------- New workspace

    async def open_template_picker(
        self, client: AsyncWebClient, team_id: str, user_id: str, trigger_id: str
    ) -> None:
        """ "New workspace": a form to pick a template (the create form follows), opened within the trigger's
        life; when Coder is slow, a loading view first, updated when it answers."""

        async def templates() -> dict[str, Any]:
            actor = await self.bot.identities.resolve(team_id, user_id)
            found = await actor.client.templates.list()
            return template_picker(found, {}).to_dict()

        async def failed(exc: BaseException) -> dict[str, Any]:
            if isinstance(exc, IdentityProblem):
                return notice("New workspace", exc.message).to_dict()
            message, details = explain(exc, what="the templates")
            return notice("New workspace", "\n".join([message, *details])).to_dict()

        fetch = asyncio.ensure_future(templates())
        done, _ = await asyncio.wait({fetch}, timeout=FETCH_BUDGET_SECONDS)
        try:
            if done:
                error = fetch.exception()
                view = await failed(error) if error is not None else fetch.result()
                await client.views_open(trigger_id=trigger_id, view=view)
                record_command("home-new", "ok" if error is None else "error")
                return
            opened = await client.views_open(
                trigger_id=trigger_id, view=notice("New workspace", "Loading the templates…")
            )
            try:
                view = await fetch
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                view = await failed(exc)
            await client.views_update(view_id=str(opened["view"]["id"]), view=view)
            record_command("home-new", "ok")
        except SlackApiError as exc:
            fetch.cancel()
            record_command("home-new", "error")
            log.warning("could not open the New workspace form: %s", exc.response.get("error"))

    async def submit_template(self, ack: Ack, client: AsyncWebClient, body: dict[str, Any]) -> None:
        """The template was picked: the form turns into the create form (``CREATE_CALLBACK``), whose
        submission creates the workspace and posts its status card in the person's DM with the bot."""
        view = body.get("view") or {}
        team_id = str((body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") or "")
        user_id = str((body.get("user") or {}).get("id") or "")
        template = (submitted_values(view).get(TEMPLATE_BLOCK) or "").strip()
        if not template:
            await ack(response_action="errors", errors={TEMPLATE_BLOCK: "Pick a template."})
            return

        async def create_form() -> dict[str, Any]:
            actor = await self.bot.identities.resolve(team_id, user_id)
            dm, parameters = await asyncio.gather(
                client.conversations_open(users=user_id), actor.client.templates.parameters(template)
            )
            metadata = {"template": template, "ttl_seconds": None, "autostart": None}
            metadata["channel"] = str(dm["channel"]["id"])
            return create_modal(template, parameter_fields(parameters), metadata, {}, None).to_dict()

        def problem(exc: BaseException) -> str:
            if isinstance(exc, IdentityProblem):
                return exc.message[:150]
            message, details = explain(exc, what=f"template `{template}`")
            return " ".join([message, *details])[:150]

        building = asyncio.ensure_future(create_form())
        done, _ = await asyncio.wait({building}, timeout=SUBMIT_BUDGET_SECONDS)
        if done:
            error = building.exception()
            if error is not None:
                await ack(response_action="errors", errors={TEMPLATE_BLOCK: problem(error)})
            else:
                await ack(response_action="update", view=building.result())
            return
        await ack(response_action="update", view=notice("New workspace", f"Loading `{template}`…").to_dict())

        async def later() -> None:
            try:
                form = await building
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                form = notice("Can't create", problem(exc)).to_dict()
            try:
                await client.views_update(view_id=str(view.get("id") or ""), view=form)
            except SlackApiError as exc:
                log.warning("could not show the create form: %s", exc.response.get("error"))

        self.bot.tasks.spawn(later(), name="home-create-form")


def _ids(body: dict[str, Any]) -> tuple[str, str]:
    user = body.get("user") or {}
    team = str((body.get("team") or {}).get("id") or user.get("team_id") or body.get("team_id") or "")
    return team, str(user.get("id") or "")


def register_home(app: AsyncApp, bot: Bot) -> HomeTabs:
    """The App Home's listeners on the bolt app; the Home is also ``bot.home`` (commands refresh it)."""
    home = HomeTabs(bot)
    bot.home = home

    @app.event("app_home_opened")
    async def on_home_opened(body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return  # the Messages tab
        team_id = str(body.get("team_id") or event.get("view", {}).get("team_id") or "")
        await home.opened(client, team_id, str(event.get("user") or ""))

    @app.action(NEW_WORKSPACE_ACTION)
    async def on_new_workspace(ack: Ack, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        team_id, user_id = _ids(body)
        trigger = str(body.get("trigger_id") or "")
        bot.tasks.spawn(home.open_template_picker(client, team_id, user_id, trigger), name="home-new")

    @app.view(PICK_TEMPLATE_CALLBACK)
    async def on_template_picked(ack: Ack, body: dict[str, Any], client: AsyncWebClient) -> None:
        await home.submit_template(ack, client, body)

    @app.action(LINK_ACTION)
    async def on_link(ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        team_id, user_id = _ids(body)
        inv = Invocation(
            bot,
            team_id=team_id,
            user_id=user_id,
            channel_id="",
            subcommand="login",
            trigger_id=body.get("trigger_id"),
        )
        bot.tasks.spawn(account.open_login(inv), name="home-login")

    return home


__all__ = ["HOME_REFRESH_SECONDS", "HomeTabs", "register_home"]
