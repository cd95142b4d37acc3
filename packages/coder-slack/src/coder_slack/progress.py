"""Status cards: post one message per build the bot starts and keep it current with ``chat.update``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from coder_client import AsyncCoderClient, NotFound, Workspace
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update

from coder_slack.store import SessionFactory, StatusCard
from coder_slack.views.cards import CardState, status_card

log = logging.getLogger(__name__)

NOT_POSTABLE = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}


def stage_of(workspace: Workspace) -> tuple[str, str]:
    """(card stage, error text) for a workspace snapshot."""
    build = workspace.latest_build
    job = str(build.job.status)
    transition = str(build.transition)
    if job == "failed":
        return "build_failed", build.job.error or "the build failed"
    if job == "canceled":
        return "canceled", ""
    if transition == "stop":
        return ("stopped" if job == "succeeded" else "queued" if job == "pending" else "stopping"), ""
    if transition == "delete":
        return ("deleted" if job == "succeeded" else "stopping"), ""
    if job == "pending":
        return "queued", ""
    if job != "succeeded":
        return "building", ""
    agents = build.agents
    if not agents:
        return "ready", ""
    states = [str(agent.lifecycle_state) for agent in agents]
    if "start_error" in states:
        return "start_error", "a startup script failed"
    if "start_timeout" in states:
        return "start_timeout", "a startup script ran past its timeout"
    if all(
        state == "ready" and str(agent.status) == "connected"
        for state, agent in zip(states, agents, strict=True)
    ):
        return "ready", ""
    return "agent starting", ""


def workspace_apps(workspace: Workspace, coder_url: str) -> list[tuple[str, str]]:
    apps: list[tuple[str, str]] = []
    base = coder_url.rstrip("/")
    for agent in workspace.agents:
        for app in agent.apps:
            label = app.display_name or app.slug
            if app.external and app.url:
                apps.append((label, app.url))
            elif app.url or app.subdomain:
                apps.append(
                    (label, f"{base}/@{workspace.owner_name}/{workspace.name}.{agent.name}/apps/{app.slug}/")
                )
    return apps


def _durations(workspace: Workspace) -> tuple[timedelta | None, timedelta | None]:
    startup = None
    for agent in workspace.agents:
        if agent.started_at and agent.ready_at:
            startup = agent.ready_at - agent.started_at
            break
    job = workspace.latest_build.job
    build = job.completed_at - job.started_at if job.completed_at and job.started_at else None
    return startup, build


@dataclass
class PostedCard:
    channel: str
    ts: str
    state: CardState
    row_id: int
    moved_to_dm: bool = False


class StatusCards:
    def __init__(
        self,
        slack: AsyncWebClient,
        sessions: SessionFactory,
        coder_url: str,
        timeout_seconds: float = 1800.0,
        min_update_interval: float = 1.0,
        tick_seconds: float = 15.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.slack = slack
        self.sessions = sessions
        self.coder_url = coder_url
        self.timeout_seconds = timeout_seconds
        self.min_update_interval = min_update_interval
        self.tick_seconds = tick_seconds
        self.clock = clock

    async def post(
        self,
        *,
        team_id: str,
        channel: str,
        requested_by: str,
        action: str,
        workspace: Workspace,
        build_number: int | None = None,
    ) -> PostedCard:
        state = CardState(
            action=action,
            workspace_name=workspace.full_name,
            requested_by=requested_by,
            started_at=self.clock(),
            coder_url=self.coder_url,
            workspace_id=workspace.id,
            template=workspace.template_display_name or workspace.template_name,
        )
        text, blocks = status_card(state, self.clock())
        moved = False
        try:
            response = await self.slack.chat_postMessage(channel=channel, text=text, blocks=blocks)
        except SlackApiError as exc:
            if exc.response.get("error") not in NOT_POSTABLE:
                raise
            dm = await self.slack.conversations_open(users=requested_by)
            channel = dm["channel"]["id"]
            response = await self.slack.chat_postMessage(channel=channel, text=text, blocks=blocks)
            moved = True
        ts = str(response["ts"])
        async with self.sessions() as session:
            row = StatusCard(
                team_id=team_id,
                channel_id=channel,
                message_ts=ts,
                requested_by=requested_by,
                action=action,
                workspace_id=workspace.id,
                workspace_name=workspace.full_name,
                owner_name=workspace.owner_name,
                build_number=build_number,
                stage=state.stage,
            )
            session.add(row)
            await session.commit()
            row_id = row.id
        return PostedCard(channel, ts, state, row_id, moved)

    async def unfinished(self) -> list[tuple[StatusCard, PostedCard]]:
        """Cards a previous run was still following (younger than the timeout), to pick up after a restart."""
        cutoff = self.clock() - timedelta(seconds=self.timeout_seconds)
        async with self.sessions() as session:
            rows = (
                (await session.execute(select(StatusCard).where(StatusCard.finished.is_(False))))
                .scalars()
                .all()
            )
        found = []
        for row in rows:
            started = row.started_at if row.started_at.tzinfo else row.started_at.replace(tzinfo=UTC)
            if started < cutoff or row.workspace_id is None:
                continue
            state = CardState(
                action=row.action,
                workspace_name=f"{row.owner_name}/{row.workspace_name.split('/')[-1]}",
                requested_by=row.requested_by,
                started_at=started,
                coder_url=self.coder_url,
                stage=row.stage,
                workspace_id=row.workspace_id,
            )
            found.append((row, PostedCard(row.channel_id, row.message_ts, state, row.id)))
        return found

    async def _update(self, card: PostedCard) -> bool:
        text, blocks = status_card(card.state, self.clock())
        for _attempt in range(3):
            try:
                await self.slack.chat_update(channel=card.channel, ts=card.ts, text=text, blocks=blocks)
                return True
            except SlackApiError as exc:
                if exc.response.status_code == 429:
                    await asyncio.sleep(float(exc.response.headers.get("Retry-After", "1")))
                    continue
                log.warning("status card update failed: %s", exc.response.get("error"))
                return exc.response.get("error") not in {"message_not_found", "channel_not_found"}
        return True

    async def _save(self, card: PostedCard) -> None:
        async with self.sessions() as session:
            await session.execute(
                update(StatusCard)
                .where(StatusCard.id == card.row_id)
                .values(stage=card.state.stage, finished=card.state.finished)
            )
            await session.commit()

    def _apply(self, card: PostedCard, workspace: Workspace) -> None:
        stage, error = stage_of(workspace)
        card.state.stage = stage
        card.state.template = (
            card.state.template or workspace.template_display_name or workspace.template_name
        )
        card.state.error = error if stage in {"build_failed"} else ""
        startup, build = _durations(workspace)
        card.state.build_duration = build
        if card.state.finished:
            card.state.startup_duration = startup
            card.state.apps = workspace_apps(workspace, self.coder_url)
            for agent in workspace.agents:
                if agent.troubleshooting_url:
                    card.state.troubleshooting_url = agent.troubleshooting_url
                    break

    async def follow(self, card: PostedCard, client: AsyncCoderClient, build_number: int) -> None:
        """Update ``card`` until its build settles (or the timeout passes). Never raises."""
        try:
            await self._follow(card, client, build_number)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("following status card %s failed", card.row_id)

    async def _follow(self, card: PostedCard, client: AsyncCoderClient, build_number: int) -> None:
        assert card.state.workspace_id is not None
        queue: asyncio.Queue[Workspace | BaseException] = asyncio.Queue()

        async def pump() -> None:
            while True:
                try:
                    async for snapshot in client.workspaces.watch(card.state.workspace_id or ""):
                        await queue.put(snapshot)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    await queue.put(exc)
                    if isinstance(exc, NotFound):
                        return
                    await asyncio.sleep(2.0)

        watcher = asyncio.create_task(pump())
        give_up = time.monotonic() + self.timeout_seconds
        last_sent = 0.0
        dirty = False
        shown = card.state.stage
        try:
            while not card.state.finished:
                now = time.monotonic()
                if now >= give_up:
                    card.state.stage = "gave_up"
                    dirty = True
                    card.state.error = (
                        f"Not settled after {self.timeout_seconds / 60:.0f} minutes; "
                        "I stopped following it. `/workspace status` shows where it is."
                    )
                    break
                wait = self.tick_seconds
                if dirty:
                    wait = max(0.0, last_sent + self.min_update_interval - now)
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=min(wait, give_up - now))
                except TimeoutError:
                    item = None
                if isinstance(item, NotFound):
                    card.state.stage = "deleted"
                    dirty = True
                    break
                if isinstance(item, BaseException):
                    log.info(
                        "watch of %s interrupted (%s); retrying",
                        card.state.workspace_name,
                        type(item).__name__,
                    )
                elif item is not None:
                    if item.latest_build.build_number < build_number:
                        continue  # a snapshot from before our build
                    self._apply(card, item)
                    dirty = dirty or card.state.stage != shown
                    if (
                        not card.state.finished
                        and dirty
                        and time.monotonic() - last_sent < self.min_update_interval
                    ):
                        continue
                if dirty or item is None:
                    if not await self._update(card):
                        return
                    last_sent = time.monotonic()
                    dirty = False
                    if card.state.stage != shown:
                        shown = card.state.stage
                        await self._save(card)
            if card.state.stage != shown or dirty:
                await self._update(card)
                await self._save(card)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
