"""The App Home tab: each person's dashboard, published with ``views.publish`` and kept current.

``app_home_opened`` (the person opens the bot's Home tab) publishes their Home at once, with bolt's client
(the token of the team the event came from). From then on the bot *tracks* them (see below): when their
workspaces change, their Home is published again in the background with ``bot.tokens.client_for(team_id)``
(``SlackTokens.client_for``). Changes are heard from

- the bot's own commands and buttons (``Invocation.audit`` → ``Bot.home_changed``: the person who acted, and
  the owner of the workspace they acted on), and
- the alert engine's observations (``AlertEngine.on_observed``: every workspace it saw change, by owner),
  on whichever replica's engine holds that workspace's watch lease.

Refreshes are debounced per person (on each replica): at most one ``views.publish`` per ``min_interval``
seconds (10 s), a burst of changes coalesced into one publish that reads Coder after the burst. That stays far
inside Slack's ``views.publish`` rate limit (Tier 4, 100+ per minute per workspace) for any realistic number
of people.

Who is tracked: everyone whose Home the bot has published, in the ``home_tabs`` table (team, Slack user,
Coder username, when), written by every publish (``app_home_opened`` and refreshes) and read by
every change above, so with several replicas on one PostgreSQL a change observed on whichever replica holds
the workspace's watch lease refreshes a Home opened on another, and a restart keeps refreshing Homes opened
before it. A team's rows go when it uninstalls the app (``oauth_install.forget_team``) or has no installation
left; a person's row goes when Slack refuses their publish for good (``user_not_found``, ``invalid_auth``…).

The debounce is per replica (kept in memory): two replicas hearing the same change within the interval may
each publish once, which is still far inside Slack's limit.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from coder_client import Workspace, without_prebuilds
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from coder_slack.coder import explain
from coder_slack.commands import account, create_presets
from coder_slack.commands.context import Bot, Invocation, record_command
from coder_slack.identity import Actor, IdentityProblem
from coder_slack.slack_tokens import NoInstallation
from coder_slack.store import HomeTab, Subscription, UserSettings, utcnow
from coder_slack.views.dynamic_form import form_modal
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
from coder_slack.views.modals import submitted_values
from coder_slack.views.notifications import muted_slugs
from coder_slack.views.presets import with_preset_block

log = logging.getLogger(__name__)

HOME_REFRESH_SECONDS = 10.0
FETCH_BUDGET_SECONDS = 1.5  # of the ~3 s a trigger_id lives
SUBMIT_BUDGET_SECONDS = 2.0  # of the 3 s a view_submission has for its answer

Ack = Callable[..., Awaitable[Any]]
Key = tuple[str, str]  # (team id, Slack user id)

PERMANENT_ERRORS = frozenset(
    {"user_not_found", "account_inactive", "invalid_auth", "not_authed", "token_revoked", "team_not_found"}
)
"""``views.publish`` errors after which publishing that person's Home again is pointless: forget them."""


class HomeTabs:
    """Publishes and refreshes the Home tab of everyone whose Home was published (``home_tabs``)."""

    def __init__(self, bot: Bot, *, min_interval: float = HOME_REFRESH_SECONDS) -> None:
        self.bot = bot
        self.min_interval = min_interval
        self._last: dict[Key, float] = {}  # loop time of the last publish that started (this replica)
        self._due: set[Key] = set()  # a refresh is scheduled and has not started yet
        self._locks: dict[Key, asyncio.Lock] = {}
        self.publishes = 0  # views.publish calls that succeeded (tests, metrics)

    # ---------------------------------------------------------------- who is tracked

    async def tracks(self, team_id: str, user_id: str) -> bool:
        """Whether this person's Home is refreshed when their workspaces change (on any replica)."""
        async with self.bot.sessions() as session:
            return await session.get(HomeTab, (team_id, user_id)) is not None

    async def _remember(self, team_id: str, user_id: str, username: str) -> None:
        """A Home is being published: record (or update) it for every replica."""
        values = {
            "team_id": team_id,
            "slack_user_id": user_id,
            "coder_username": username,
            "published_at": utcnow(),
        }
        changes: dict[str, Any] = {"published_at": values["published_at"]}
        if username:  # an unknown username (Coder unreachable) keeps the one known before
            changes["coder_username"] = username
        keys = [HomeTab.team_id, HomeTab.slack_user_id]
        async with self.bot.sessions() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                pg = postgresql.insert(HomeTab).values(**values)
                await session.execute(pg.on_conflict_do_update(index_elements=keys, set_=changes))
            else:
                lite = sqlite.insert(HomeTab).values(**values)
                await session.execute(lite.on_conflict_do_update(index_elements=keys, set_=changes))

    async def _forget(self, team_id: str, user_id: str | None = None) -> None:
        """Stop refreshing a person's Home (or a whole team's, ``user_id`` None) on every replica."""
        statement = delete(HomeTab).where(HomeTab.team_id == team_id)
        if user_id is not None:
            statement = statement.where(HomeTab.slack_user_id == user_id)
        async with self.bot.sessions() as session, session.begin():
            await session.execute(statement)
        for key in [key for key in self._last if key[0] == team_id and user_id in (None, key[1])]:
            del self._last[key]

    def forget_team(self, team_id: str) -> None:
        """The app left the team (uninstalled, tokens revoked): stop refreshing its Homes."""
        self.bot.tasks.spawn(self._forget(team_id), name="home-forget")

    # ---------------------------------------------------------------- what changed

    def changed(self, team_id: str, user_id: str, target: str | None = None) -> None:
        """The person acted through the bot (on ``target``, ``owner/name``): refresh their Home and the
        owner's, if they have one."""
        mine = (HomeTab.team_id == team_id) & (HomeTab.slack_user_id == user_id)
        if target and "/" in target:
            owner = target.split("/", 1)[0].lower()
            self.bot.tasks.spawn(self._refresh_where(or_(mine, HomeTab.coder_username == owner)), name="home")
        else:
            self.bot.tasks.spawn(self._refresh_where(mine), name="home")

    def workspaces_observed(self, workspaces: list[Workspace]) -> None:
        """The alert engine saw these workspaces change: refresh their owners' Homes."""
        self.owners_changed(w.owner_name for w in workspaces)

    def owners_changed(self, owners: Iterable[str]) -> None:
        names = sorted({o.lower() for o in owners if o})
        if names:
            self.bot.tasks.spawn(self._refresh_where(HomeTab.coder_username.in_(names)), name="home")

    async def _refresh_where(self, condition: Any) -> None:
        """Refresh the Homes the table lists under ``condition`` (whichever replica published them)."""
        try:
            async with self.bot.sessions() as session:
                query = select(HomeTab.team_id, HomeTab.slack_user_id).where(condition)
                rows = (await session.execute(query)).all()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("could not look up the App Homes to refresh: %s", type(exc).__name__)
            return
        for team_id, user_id in rows:
            self._schedule((team_id, user_id))

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
            await self._forget(key[0])
            return
        await self.publish(client, *key)

    # ---------------------------------------------------------------- publishing

    async def opened(self, client: AsyncWebClient, team_id: str, user_id: str) -> None:
        """``app_home_opened``: publish now (debounced like any refresh); the publish records the person."""
        key = (team_id, user_id)
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
            # Recorded before the publish: once the person can see their Home, every replica refreshes it.
            await self._safely(self._remember(team_id, user_id, (data.username or "").lower()))
            try:
                await client.views_publish(user_id=user_id, view=home_view(data))
            except asyncio.CancelledError:
                raise
            except SlackApiError as exc:
                error = str(exc.response.get("error") or "")
                log.warning("could not publish an App Home: %s", error)
                if error in PERMANENT_ERRORS:
                    await self._safely(self._forget(team_id, user_id))
                return False
            except Exception as exc:
                log.warning("could not publish an App Home: %s", type(exc).__name__)
                return False
            finally:
                # Counted from the call's end as well: Slack sees at most one publish per interval.
                self._last[key] = asyncio.get_running_loop().time()
            self.publishes += 1
            return True

    async def _safely(self, work: Awaitable[None]) -> None:
        """Bookkeeping in ``home_tabs``: a database hiccup is logged, never fails the publish."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("could not update the table of published App Homes: %s", type(exc).__name__)

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
            query = "owner:me" if actor.linked else f"owner:{actor.username}"
            try:
                data.workspaces = without_prebuilds(await actor.client.workspaces.list(query=query))
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
            dm, form = await asyncio.gather(
                client.conversations_open(users=user_id), actor.client.templates.form(template)
            )
            metadata = {"template": template, "ttl_seconds": None, "autostart": None}
            metadata["channel"] = str(dm["channel"]["id"])
            modal = form_modal(template, form, metadata, {}, None)
            presets = await create_presets.template_presets(actor, template)  # presets
            return with_preset_block(modal, presets, None).to_dict()

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
