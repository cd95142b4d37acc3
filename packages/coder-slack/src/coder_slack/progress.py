"""Status cards: post one message per build the bot starts and keep it current with ``chat.update``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from coder_client import (
    AsyncCoderClient,
    JobStatus,
    LifecycleKind,
    NotFound,
    Workspace,
    WorkspaceProgress,
    claimed_prebuild,
    progress_of,
)
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update

from coder_slack.alerts.config import default_replica_id
from coder_slack.alerts.leases import claim_leases, release_leases, renew_leases
from coder_slack.settings import Settings
from coder_slack.slack_errors import DESTINATION_ERRORS, PARENT_GONE, error_code, is_rate_limited, retry_after
from coder_slack.slack_tokens import token_of, use_token
from coder_slack.store import SessionFactory, StatusCard
from coder_slack.views.cards import CardState, status_card

if TYPE_CHECKING:
    from coder_slack.commands.context import Bot

log = logging.getLogger(__name__)


# coder_client's lifecycle stage → the card's stage word (stored in status_cards.stage, shown on the card).
CARD_STAGES: dict[LifecycleKind, str] = {
    LifecycleKind.QUEUED: "queued",
    LifecycleKind.BUILDING: "building",
    LifecycleKind.AGENT_CONNECTING: "agent starting",
    LifecycleKind.AGENT_TIMEOUT: "agent starting",
    LifecycleKind.STARTING: "agent starting",
    LifecycleKind.READY: "ready",
    LifecycleKind.START_ERROR: "start_error",
    LifecycleKind.START_TIMEOUT: "start_timeout",
    LifecycleKind.BUILD_FAILED: "build_failed",
    LifecycleKind.BUILD_CANCELED: "canceled",
    LifecycleKind.STOPPING: "stopping",
    LifecycleKind.STOPPED: "stopped",
    LifecycleKind.DELETING: "stopping",
    LifecycleKind.DELETED: "deleted",
}


def card_stage(progress: WorkspaceProgress, workspace: Workspace) -> str:
    """The card's stage for a workspace snapshot: a build waiting for a provisioner is "queued" whatever it
    does (a stop or delete too), the rest is coder_client's stage."""
    if workspace.latest_build.job.status == JobStatus.PENDING:
        return "queued"
    return CARD_STAGES[progress.stage]


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
        holder: str | None = None,
        lease_seconds: float = 15.0,
    ) -> None:
        self.slack = slack
        self.sessions = sessions
        self.coder_url = coder_url
        self.timeout_seconds = timeout_seconds
        self.min_update_interval = min_update_interval
        self.tick_seconds = tick_seconds
        self.clock = clock
        self.holder = holder or _process_id()
        self.lease_seconds = lease_seconds
        self._held: set[int] = set()  # cards whose lease this process holds
        self._following: set[int] = set()  # cards a follow() of this process is updating now
        self._lost: set[int] = set()

    # ------------------------------------------------------------------ leases (one follower per card)
    # A card is followed by the process holding its lease ``card:<row id>`` (in the alert engine's lease
    # table), so replicas sharing a database never both update it: the poster takes it with the card, the
    # CardKeeper renews it while the card is followed and takes over cards whose lease lapsed, and it is
    # given back when the card settles.

    @property
    def following(self) -> frozenset[int]:
        """Row ids of the cards this process follows now."""
        return frozenset(self._following)

    async def claim(self, row_ids: list[int]) -> set[int]:
        """The unfinished cards among ``row_ids`` whose lease this process now holds (and so may follow).

        A card is marked finished before its lease is given back, so a lease won here on a card another
        replica just finished shows the card finished: that lease is given back at once."""
        names = [_card_lease(row_id) for row_id in row_ids]
        if not names:
            return set()
        async with self.sessions() as session:
            won = await session.run_sync(
                claim_leases, names, self.holder, datetime.now(UTC), self.lease_seconds
            )
            won_ids = [int(name.removeprefix("card:")) for name in won]
            open_ids = set(
                (
                    await session.execute(
                        select(StatusCard.id).where(
                            StatusCard.id.in_(won_ids), StatusCard.finished.is_(False)
                        )
                    )
                ).scalars()
            )
            settled = [_card_lease(row_id) for row_id in won_ids if row_id not in open_ids]
            if settled:
                await session.run_sync(release_leases, settled, self.holder)
            await session.commit()
        claimed = open_ids
        self._held |= claimed
        self._lost -= claimed
        return claimed

    async def give_back(self, row_ids: list[int]) -> None:
        self._held.difference_update(row_ids)
        if not row_ids:
            return
        async with self.sessions() as session:
            await session.run_sync(release_leases, [_card_lease(row_id) for row_id in row_ids], self.holder)
            await session.commit()

    async def renew(self) -> None:
        """Renew this process's card leases; a card whose lease was lost (this process stalled past it) is
        left to its new holder."""
        async with self.sessions() as session:
            kept = await session.run_sync(renew_leases, self.holder, datetime.now(UTC), self.lease_seconds)
            await session.commit()
        lost = {row_id for row_id in self._held if _card_lease(row_id) not in kept}
        self._held -= lost
        self._lost |= lost

    async def release_all(self) -> None:
        """Give back every card lease held here (a clean shutdown: a restart resumes these cards at once)."""
        with contextlib.suppress(Exception):
            await self.give_back(list(self._held))
        self._held.clear()

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
            claimed_prebuild=action == "create" and claimed_prebuild(workspace),
        )
        card_message = status_card(state, self.clock())
        text, blocks = card_message.text, card_message.blocks
        moved = False
        try:
            response = await self.slack.chat_postMessage(channel=channel, text=text, blocks=blocks)
        except SlackApiError as exc:
            if error_code(exc) not in DESTINATION_ERRORS:
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
            await session.flush()
            row_id = row.id
            # Leased with the row, in one transaction: no other replica ever sees it unfollowed.
            await session.run_sync(
                claim_leases, [_card_lease(row_id)], self.holder, datetime.now(UTC), self.lease_seconds
            )
            await session.commit()
        self._held.add(row_id)
        return PostedCard(channel, ts, state, row_id, moved)

    async def unfinished(self) -> list[tuple[StatusCard, PostedCard]]:
        """Unfinished cards younger than the timeout that this process does not follow (a previous run's, or
        another replica's), to pick up after a restart. Only the ones whose lease this process wins get
        followed (:meth:`follow`)."""
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
            if started < cutoff or row.workspace_id is None or row.id in self._held:
                continue
            state = CardState(
                action=row.action,
                workspace_name=f"{row.owner_name}/{row.workspace_name.split('/')[-1]}",
                requested_by=row.requested_by,
                started_at=started,
                coder_url=self.coder_url,
                stage=row.stage,
                workspace_id=row.workspace_id,
                # presets: a create's first build is number 1 unless it claimed a prebuilt workspace
                claimed_prebuild=row.action == "create" and (row.build_number or 0) > 1,
            )
            found.append((row, PostedCard(row.channel_id, row.message_ts, state, row.id)))
        return found

    async def _update(self, card: PostedCard) -> bool:
        card_message = status_card(card.state, self.clock())
        text, blocks = card_message.text, card_message.blocks
        for _attempt in range(3):
            try:
                await self.slack.chat_update(channel=card.channel, ts=card.ts, text=text, blocks=blocks)
                return True
            except SlackApiError as exc:
                if is_rate_limited(exc):
                    await asyncio.sleep(retry_after(exc))
                    continue
                log.warning("status card update failed: %s", error_code(exc))
                # The card's message or its channel is gone: following it further cannot show anyone anything.
                return error_code(exc) not in PARENT_GONE | DESTINATION_ERRORS
        return True

    async def _save(self, card: PostedCard, *, finished: bool = False) -> None:
        async with self.sessions() as session:
            await session.execute(
                update(StatusCard)
                .where(StatusCard.id == card.row_id)
                .values(stage=card.state.stage, finished=finished or card.state.finished)
            )
            await session.commit()

    def _apply(self, card: PostedCard, workspace: Workspace) -> None:
        progress = progress_of(workspace)
        stage = card_stage(progress, workspace)
        card.state.stage = stage
        card.state.template = (
            card.state.template or workspace.template_display_name or workspace.template_name
        )
        card.state.error = progress.error if stage == "build_failed" else ""
        card.state.build_duration = progress.build_duration
        if card.state.finished:
            card.state.startup_duration = progress.startup_duration
            card.state.apps = workspace_apps(workspace, self.coder_url)
            for agent in workspace.agents:
                if agent.troubleshooting_url:
                    card.state.troubleshooting_url = agent.troubleshooting_url
                    break

    async def follow(self, card: PostedCard, client: AsyncCoderClient, build_number: int) -> None:
        """Update ``card`` until its build settles (or the timeout passes), when this process holds or wins
        its lease (else another replica follows it). Never raises."""
        if card.row_id in self._following:
            return
        self._following.add(card.row_id)
        try:
            if card.row_id not in self._held and not await self.claim([card.row_id]):
                return
            await self._follow(card, client, build_number)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("following status card %s failed", card.row_id)
        finally:
            self._following.discard(card.row_id)
            self._lost.discard(card.row_id)
            if card.row_id in self._held:
                with contextlib.suppress(Exception):
                    await self.give_back([card.row_id])

    async def _follow(self, card: PostedCard, client: AsyncCoderClient, build_number: int) -> None:
        assert card.state.workspace_id is not None
        queue: asyncio.Queue[Workspace | BaseException] = asyncio.Queue()

        async def pump() -> None:
            # The client's watch reconnects by itself; what ends it is final (deleted, or access refused).
            try:
                async for snapshot in client.workspaces.watch(card.state.workspace_id or ""):
                    await queue.put(snapshot)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await queue.put(exc)

        watcher = asyncio.create_task(pump())
        give_up = time.monotonic() + self.timeout_seconds
        last_sent = 0.0
        dirty = False
        shown = card.state.stage
        try:
            while not card.state.finished:
                if card.row_id in self._lost:
                    log.info("status card %s is followed elsewhere now", card.row_id)
                    return
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
                if isinstance(item, NotFound):  # Gone (410) included: deleted either way
                    card.state.stage = "deleted"
                    dirty = True
                    break
                if isinstance(item, BaseException):
                    log.warning("watch of %s ended: %s", card.state.workspace_name, type(item).__name__)
                    card.state.stage = "gave_up"
                    card.state.error = (
                        "I lost sight of this workspace (Coder stopped answering my watch); "
                        "`/workspace status` shows where it is."
                    )
                    dirty = True
                    break
                if item is not None:
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
                        await self._save(card, finished=True)  # the message is gone: nothing to follow
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


def _card_lease(row_id: int) -> str:
    return f"card:{row_id}"


def _process_id() -> str:
    return f"{default_replica_id()}:cards"


class CardKeeper:
    """Keeps this process's status-card leases alive and picks up cards nobody follows.

    Every third of a lease period: renew the leases of the cards followed here, then claim the unfinished
    cards whose lease has lapsed (a restart, or a replica that died) and follow the ones won. A card's
    follower is resolved as the user who asked for it; one that cannot be resolved is not retried."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.interval = max(0.2, bot.cards.lease_seconds / 3)
        self._given_up: set[int] = set()
        self.resumed: list[int] = []
        """Row ids of the cards this keeper took up (each followed here from then on)."""
        self._task: asyncio.Task[None] | None = None
        self._passes = 0
        self._passed = asyncio.Event()

    @staticmethod
    def holder_for(settings: Settings) -> str:
        """The lease holder of this process: the configured replica id (a restarted pod keeps it), or one
        of its own."""
        return f"{settings.coder_slack_replica_id or default_replica_id()}:cards"

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="status-cards")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def passed(self, count: int = 1, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Until ``count`` more passes have finished (tests: "the keeper has looked, and did nothing")."""
        target = self._passes + count
        async with asyncio.timeout(timeout):
            while self._passes < target:
                self._passed.clear()
                await self._passed.wait()

    async def _run(self) -> None:
        while True:
            try:
                await self.bot.cards.renew()
                resumed = await self.resume()
                if resumed:
                    log.info("following %d status card(s) nobody else follows", resumed)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("status card upkeep failed; retrying")
            self._passes += 1
            self._passed.set()
            await asyncio.sleep(self.interval)

    async def resume(self) -> int:
        """Claim the unfinished cards nobody follows and follow them; how many were taken up."""
        bot = self.bot
        found = {
            row.id: (row, card) for row, card in await bot.cards.unfinished() if row.id not in self._given_up
        }
        won = await bot.cards.claim(list(found))
        resumed = 0
        for row_id in sorted(won):
            row, card = found[row_id]
            try:
                # The card's team token (OAuth mode) for the identity lookup and the card's updates: the
                # follow task inherits it from this context.
                with use_token(await token_of(bot.tokens, row.team_id)):
                    actor = await bot.identities.resolve(row.team_id, row.requested_by)
                    bot.tasks.spawn(
                        bot.cards.follow(card, actor.client, row.build_number or 0), name=f"card-{row.id}"
                    )
            except Exception as exc:
                log.info("not resuming card %s: %s", row.id, type(exc).__name__)
                self._given_up.add(row_id)
                with contextlib.suppress(Exception):
                    await bot.cards.give_back([row_id])
                continue
            self.resumed.append(row_id)
            resumed += 1
        return resumed
