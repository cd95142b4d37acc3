"""What every handler needs: the bot's parts, who asked where, and how to answer them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from coder_client import Workspace
from slack_sdk.errors import SlackApiError, SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from coder_slack.coder import CoderPool, explain, outcome_of
from coder_slack.commands.grammar import WorkspaceRef
from coder_slack.identity import Actor, IdentityProblem, IdentityResolver
from coder_slack.ops import METRICS
from coder_slack.progress import StatusCards
from coder_slack.settings import Settings
from coder_slack.slack_tokens import SingleTeamTokens, SlackTokens
from coder_slack.store import AuditEntry, SessionFactory
from coder_slack.views.message import Message
from coder_slack.views.messages import problem

log = logging.getLogger(__name__)

RespondFn = Callable[..., Awaitable[Any]]


def record_command(subcommand: str, outcome: str) -> None:
    """Count the command in the ops metrics."""
    METRICS.record_command(subcommand, outcome)


def as_dicts(blocks: Sequence[Block | dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Blocks as JSON, validated by slack_sdk; None if a block breaks Slack's limits (send text only)."""
    try:
        return [block if isinstance(block, dict) else block.to_dict() for block in blocks]
    except SlackObjectFormationError as exc:
        log.warning("dropping blocks that break Block Kit limits: %s", exc)
        return None


class BackgroundTasks:
    """Tasks started after the ack; kept referenced until done, errors logged, cancelled on shutdown.

    Acks have a 3 s deadline and background work has none, so new work waits (up to ``yield_seconds``) while
    Slack requests are still being answered: under a burst, every ack goes out before the Coder calls start.
    """

    def __init__(self, yield_seconds: float = 0.5) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.yield_seconds = yield_seconds
        self._answering = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    def request_started(self) -> None:
        self._answering += 1
        self._quiet.clear()

    def request_finished(self) -> None:
        self._answering = max(0, self._answering - 1)
        if self._answering == 0:
            self._quiet.set()

    async def _after_acks(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        if not self._quiet.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._quiet.wait(), self.yield_seconds)
        return await coroutine

    def spawn(self, coroutine: Coroutine[Any, Any, Any], name: str = "") -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(self._after_acks(coroutine), name=name or None)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def wait(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Until no task is left (tasks may start others), or ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._tasks:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return
            await asyncio.wait(set(self._tasks), timeout=remaining)

    async def cancel_all(self) -> None:
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)


class AlertHooks(Protocol):
    """What the command app asks of the alert engine (``coder_slack.alerts.AlertEngine``)."""

    async def track(self, workspace_id: str) -> None: ...

    def request_sweep(self) -> None: ...


class HomeHooks(Protocol):
    """What the commands tell the App Home (``coder_slack.home.HomeTabs``): someone's workspaces changed."""

    def changed(self, team_id: str, user_id: str, target: str | None = None) -> None: ...

    def workspaces_observed(self, workspaces: list[Workspace]) -> None: ...

    def forget_team(self, team_id: str) -> None:
        """The app left the team (uninstalled, tokens revoked): stop refreshing its Homes."""
        ...


@dataclass
class Bot:
    settings: Settings
    sessions: SessionFactory
    pool: CoderPool
    identities: IdentityResolver
    slack: AsyncWebClient
    cards: StatusCards
    tasks: BackgroundTasks = field(default_factory=BackgroundTasks)
    alerts: AlertHooks | None = None
    """The running alert engine, if any: told about builds the commands start, so alerts need no sweep."""
    slack_tokens: SlackTokens | None = None
    """Per-team Slack clients (OAuth mode: ``slack_tokens.InstallationTokens``); None: ``slack``."""
    home: HomeHooks | None = None
    """The App Home, once the bolt app registered it: refreshed after commands that change workspaces."""

    @property
    def tokens(self) -> SlackTokens:
        """The Slack client of a team, for work outside a bolt listener (``tokens.client_for(team_id)``)."""
        return self.slack_tokens if self.slack_tokens is not None else SingleTeamTokens(self.slack)

    def home_changed(self, team_id: str, user_id: str, target: str | None = None) -> None:
        """Have the App Home of whoever ``target`` (``owner/name``) and the user concern refresh soon."""
        if self.home is None:
            return
        try:
            self.home.changed(team_id, user_id, target)
        except Exception as exc:
            log.warning("could not schedule an App Home refresh: %s", type(exc).__name__)

    async def track_build(self, workspace_id: str) -> None:
        """Have the alert engine watch this workspace now (a build just started); never fails the command."""
        if self.alerts is None:
            return
        try:
            await self.alerts.track(workspace_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("the alert engine could not start watching %s: %s", workspace_id, type(exc).__name__)

    def request_sweep(self) -> None:
        """Have the alert engine list workspaces soon (a subscription just changed)."""
        if self.alerts is not None:
            self.alerts.request_sweep()


class NotYours(Exception):
    def __init__(self, workspace: Workspace) -> None:
        super().__init__(workspace.full_name)
        self.workspace = workspace

    @property
    def message(self) -> str:
        return (
            f"`{self.workspace.full_name}` belongs to {self.workspace.owner_name}; "
            "you can only manage your own workspaces (Coder owners can manage everyone's)."
        )


@dataclass
class Invocation:
    """One request from one Slack user in one channel."""

    bot: Bot
    team_id: str
    user_id: str
    channel_id: str
    subcommand: str
    respond: RespondFn | None = None
    trigger_id: str | None = None
    resolved: Actor | None = None
    can_replace: bool = True  # False when the "original" is a public card that must not be overwritten

    async def reply(self, message: Message, *, replace: bool = False) -> None:
        """An answer only the asking user sees (response_url, else chat.postEphemeral, else a DM)."""
        text, blocks = message.text, message.blocks
        payload = as_dicts(blocks)
        if self.respond is not None:
            try:
                await self.respond(
                    text=text,
                    blocks=payload,
                    response_type="ephemeral",
                    replace_original=replace and self.can_replace,
                )
                return
            except Exception as exc:
                log.warning(
                    "response_url failed (%s); falling back to chat.postEphemeral", type(exc).__name__
                )
        try:
            await self.bot.slack.chat_postEphemeral(
                channel=self.channel_id, user=self.user_id, text=text, blocks=payload
            )
        except SlackApiError:
            dm = await self.bot.slack.conversations_open(users=self.user_id)
            await self.bot.slack.chat_postMessage(channel=dm["channel"]["id"], text=text, blocks=payload)

    async def actor(self) -> Actor:
        if self.resolved is None:
            self.resolved = await self.bot.identities.resolve(self.team_id, self.user_id)
        return self.resolved

    async def workspace(self, actor: Actor, ref: WorkspaceRef | str) -> Workspace:
        """Look a workspace up as ``actor`` (by name, ``owner/name`` or id) and check they may touch it."""
        if isinstance(ref, WorkspaceRef):
            owner = ref.owner or ("me" if actor.linked else actor.username)
            found = await actor.client.workspaces.get_by_name(owner, ref.name)
        else:
            found = await actor.client.workspaces.get(ref)
        # a workspace shared with the person (Coder's workspace ACL) is theirs to use, too
        shared = any(entry.id == actor.user.id for entry in found.shared_with)
        if not actor.may_act_on(found.owner_name) and not shared:
            raise NotYours(found)
        return found

    async def audit(self, actor: Actor | None, target: str | None, result: str) -> None:
        try:
            async with self.bot.sessions() as session:
                session.add(
                    AuditEntry(
                        team_id=self.team_id,
                        slack_user_id=self.user_id,
                        coder_username=actor.username if actor else None,
                        command=self.subcommand[:32],
                        target=(target or "")[:256] or None,
                        result=result[:512],
                    )
                )
                await session.commit()
        except Exception:
            log.exception("could not write the audit log")
        self.bot.home_changed(self.team_id, self.user_id, target)

    async def guarded(self, work: Callable[[], Awaitable[None]], *, what: str = "") -> None:
        """Run ``work``; any failure becomes a readable ephemeral answer and a metric, never a traceback."""
        try:
            await work()
        except IdentityProblem as exc:
            record_command(self.subcommand, "denied")
            await self._safe_reply(problem(exc.message))
        except NotYours as exc:
            record_command(self.subcommand, "denied")
            await self._safe_reply(problem(exc.message))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            linked = self.resolved.linked if self.resolved is not None else False
            record_command(self.subcommand, outcome_of(exc))
            message, details = explain(exc, linked=linked, what=what)
            await self._safe_reply(problem(message, details))
        else:
            record_command(self.subcommand, "ok")

    async def _safe_reply(self, message: Message) -> None:
        try:
            await self.reply(message, replace=True)
        except Exception:
            log.exception("could not tell the user about a failure")
