"""The alert engine: orchestration only. It lists and watches Coder, hands what it sees to the ledger
(``ledger.record_observations``: who hears about what, queued exactly once), and runs, per replica, side by
side:

- the *sweeper* (one replica at a time, lease ``sweep``) lists every workspace every ``sweep_interval``
  seconds, records what it sees and starts watching workspaces that are in transition (builds started
  outside Slack, autostart at 9:00, ...);
- the *lease keeper* renews this replica's leases (``leases``) and takes over transitional workspaces whose
  watch lease has expired (a replica died): takeover within one lease period;
- watches (``coder_client.WatchHub``, one shared connection pool) feed snapshots into the *recorder*, which
  writes batches of observations in one transaction each;
- the *autostop timer* re-reads a workspace when its warning falls due;
- the *delivery worker* (``worker``: planner + repository + Slack) drains the outbox;
- the *pruner* (one replica at a time, lease ``prune``) deletes what no later alert needs, in small batches
  (``retention``).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from coder_client import (
    AsyncCoderClient,
    CoderError,
    NotFound,
    WatchHub,
    Workspace,
    WorkspaceSummary,
    is_transitional,
    lifecycle_summary,
    redact_tail,
    without_prebuilds,
)
from coder_client.timings import SLOWER_WINDOW
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from coder_slack.alerts import retention
from coder_slack.alerts.build_feed import BuildFeed, clear_mark
from coder_slack.alerts.config import AlertConfig
from coder_slack.alerts.events import AlertEvent, detect
from coder_slack.alerts.leases import (
    PRUNE_LEASE,
    SWEEP_LEASE,
    HeldLeases,
    orphaned_transitional,
    watch_holders,
    watch_lease,
    watched_workspace,
)
from coder_slack.alerts.ledger import (
    CatchUp,
    Observation,
    RecordResult,
    heartbeat,
    mark_started,
    record_observations,
)
from coder_slack.alerts.metrics import AlertMetrics
from coder_slack.alerts.repository import forget_workspaces, outbox_depth, unknown_keys
from coder_slack.alerts.retention import retention_cutoffs
from coder_slack.alerts.shares import Shares, beat, destination_key, live_replicas, mark_stopped
from coder_slack.alerts.wakeups import WATCHES, Wakeups, wake_owners
from coder_slack.alerts.worker import DeliveryWorker
from coder_slack.build_timings import TIMED_KINDS, TimingNote, remember_startups, timing_note
from coder_slack.notifications.router import NotificationRouter
from coder_slack.settings import Settings
from coder_slack.slack_tokens import SlackTokens
from coder_slack.store import ThreadTransactions, Transactions, utcnow

log = logging.getLogger(__name__)

_BATCH = 500
# A sweep fetches changed workspaces one by one up to this many; more (a burst of starts), and one full list
# is cheaper than the requests and keeps the event loop free for the alerts themselves.
_FETCH_SINGLY = 10
# Build timings for new alerts are fetched this many at a time (each waits at most the timings timeout). A
# batch with more new settled starts than this is a burst (the 9:00 starts): its alerts go without timings
# (a burst's alerts mostly become digests, which do not show them; fetching 2,000 builds' timings first held
# every alert for seconds), and the starts' timings are fetched afterwards for the templates' history: only as
# many per template as "slower than usual" compares against (``SLOWER_WINDOW``; the first sweep of a settled
# fleet of 10,000 is such a burst too), once the burst has settled (below). So is a small batch whose fetch
# finds the recorder falling behind (``RECORDER_BEHIND``) meanwhile: the first starts of a burst.
TIMINGS_AT_ONCE = 8
# A burst is recorded in many batches: its starts' timings are fetched for the history once no batch has added
# any for this long (at most ``HISTORY_HOLD_SECONDS`` after the first), the latest ``SLOWER_WINDOW`` per
# template. Fetched after each batch instead, a 9:00 burst of 2,000 cost each replica hundreds of timing
# requests while its alerts were still being recorded.
HISTORY_SETTLE_SECONDS = 2.0
HISTORY_HOLD_SECONDS = 30.0
# The recorder is behind (a burst) when this many snapshots are being recorded or wait: delivery then plans
# its steps after it (``DeliveryWorker.recorded``). A few at a time, as any busy morning brings, do not hold
# an alert back.
RECORDER_BEHIND = 20
# A watch given up is closed this long after (not from inside its own callback; its last frames are read); a
# settled workspace's, while this replica is busy (recording or delivering), only once it has been quiet that
# long, within ``CLOSE_AT_MOST_SECONDS``: closing a stream costs about as much CPU as recording its alert, and
# in a 9:00 burst the closes of the first workspaces took it from the alerts of the rest.
CLOSE_AFTER_SECONDS = 1.0
CLOSE_AT_MOST_SECONDS = 15.0


def _record_and_wake(
    session: Session,
    observations: list[Observation],
    config: AlertConfig,
    now: datetime,
    catch_up: CatchUp | None,
    me: str,
    replicas: tuple[str, ...] | None,
) -> tuple[RecordResult, set[str]]:
    """``record_observations``, waking the owners of the destinations it queued rows for that are not this
    replica's (``replicas``: the live replicas as this one sees them; None: one replica)."""
    result = record_observations(session, observations, config, now, catch_up)
    if replicas is None or not result.queued:
        return result, set()
    return result, wake_owners(session, (destination for destination, _ in result.queued), me, replicas)


def _fingerprint(workspace: Workspace | WorkspaceSummary) -> tuple[object, ...]:
    build = workspace.latest_build
    return (
        build.id,
        str(build.job.status),
        str(build.transition),
        lifecycle_summary(workspace),
        build.deadline,
        workspace.name,
        workspace.owner_name,
        workspace.template_name,
    )


class AlertEngine:
    """Lifecycle alerts from Coder into Slack channels and DMs, exactly once across restarts and replicas."""

    def __init__(
        self,
        settings: Settings,
        session_factory: async_sessionmaker[AsyncSession],
        slack_client: AsyncWebClient,
        coder: AsyncCoderClient,
        *,
        config: AlertConfig | None = None,
        metrics: AlertMetrics | None = None,
        tokens: SlackTokens | None = None,
    ) -> None:
        self.settings = settings
        self.db = Transactions(session_factory)
        if config is None:
            config = AlertConfig.from_settings(settings)
            if self.db.dialect == "sqlite" and not settings.coder_slack_replica_id:
                # SQLite means one replica: a stable id lets a restarted process resume its own leases at
                # once.
                config = replace(config, replica_id="local")
        self.config = config
        self.coder = coder
        self.metrics = metrics or AlertMetrics()
        # On SQLite the delivery worker's transactions run in a thread of their own: on the event loop, each
        # statement waits for the loop's next turn, so under load a transaction (and SQLite's one write lock,
        # which the notification intake needs too) would last as long as many turns of a busy loop.
        self._delivery_db: ThreadTransactions | None = (
            ThreadTransactions.beside(self.db, "alerts-delivery") if self.db.dialect == "sqlite" else None
        )
        self.delivery = DeliveryWorker(
            self._delivery_db or self.db, slack_client, self.config, self.metrics, tokens
        )
        # Coder's own notifications (recorded by the webhook intake) are routed here and delivered by the
        # same worker.
        self.notification_router = NotificationRouter(
            ThreadTransactions.beside(self.db, "notifications-router"),
            slack_client,
            coder,
            replica_id=self.config.replica_id,
            claim_seconds=settings.coder_slack_notifications_claim_seconds,
            burst=self.config.burst,
            poll_interval=self.config.poll_interval,
            on_queued=self.delivery.kick,
            metrics=self.metrics.prometheus,
            retention_days=self.config.outbox_retention_days,
            prune_interval=self.config.prune_interval,
            tokens=tokens,
        )
        self.catch_up: CatchUp | None = None
        self.on_observed: Callable[[list[Workspace]], None] | None = None
        """Told the workspaces each recording found changed (the App Home refreshes their owners' tabs)."""
        self._hub: WatchHub | None = None
        self._watched: set[str] = set()
        self.leases = HeldLeases(self.db, self.config.replica_id, self.config.lease_seconds)
        # Replicas on PostgreSQL share the watch streams and the destinations (``shares``: rendezvous hashing
        # over the live replicas); on SQLite (one replica) everything is this one's.
        self.shares = Shares(self.config.replica_id, shared=self.db.is_postgres)
        self._wakeups: Wakeups | None = None
        if self.shares.shared:
            self.delivery.owned = self._owns_destination
            self._wakeups = Wakeups(self.db, self.db.engine.url, self._woken)
            self.delivery.elsewhere = self._wakeups.send
        # Workspaces whose watch failed for good, and when (monotonic): not claimed again for a sweep
        # interval.
        self._watch_failed: dict[str, float] = {}
        # Watched because the command app asked (``track``), whoever owns them: kept until they settle.
        self._tracked: set[str] = set()
        self._rebalance_now = asyncio.Event()
        # Streams to close (``_closer``): workspace id → when it was given up (loop time), and how long it may
        # stay open at most while this replica is busy.
        self._to_close: dict[str, tuple[float, float]] = {}
        self._close_added = asyncio.Event()
        # Per workspace: its latest build and the alert keys recorded for it (a new build starts afresh, so
        # this stays as large as the fleet, not as the history).
        self._recorded: dict[str, tuple[str, set[str]]] = {}
        self._fingerprints: dict[str, tuple[object, ...]] = {}
        self._sweeps = 0
        self._autostop_due: dict[str, datetime] = {}
        # (when, workspace id), soonest first; entries whose time no longer matches _autostop_due are stale.
        self._autostop_heap: list[tuple[datetime, str]] = []
        self._snapshots: asyncio.Queue[Workspace] = asyncio.Queue()
        # Cleared while the recorder is behind (``RECORDER_BEHIND``): the delivery worker plans its next step
        # after it has caught up (``DeliveryWorker.recorded``).
        self._recorder_caught_up = asyncio.Event()
        self._recorder_caught_up.set()
        self.delivery.recorded = self._recorder_caught_up
        self._recorder_behind = asyncio.Event()  # the other side of the same state
        # Starts of a burst whose alerts went without timings, by template (the latest SLOWER_WINDOW each):
        # their timings are fetched for the history only, once the burst has settled.
        self._history_later: dict[str, deque[Workspace]] = {}
        self._history_added = asyncio.Event()
        self.history_settle = HISTORY_SETTLE_SECONDS
        self._tasks: list[asyncio.Task[Any]] = []
        self._sweep_now = asyncio.Event()
        self._swept_once = asyncio.Event()
        # Sweeper passes (a sweep, or finding another replica holds the sweep): begun and completed.
        self._passes_begun = 0
        self._passes_done = 0
        self._pass_done = asyncio.Event()
        self.started = False
        # watch-all-builds: one replica reads Coder's feed of every build change and marks workspaces in
        # transition; None where the configuration turns it off.
        self.build_feed: BuildFeed | None = (
            BuildFeed(
                self.db,
                coder,
                self.leases,
                self.metrics,
                replica_id=self.config.replica_id,
                lease_seconds=self.config.lease_seconds,
                request_sweep=self.request_sweep,
                on_marked=self.orphans_now,
            )
            if self.config.build_feed
            else None
        )

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        if self.started:
            return
        self.catch_up = await self.db.run(
            mark_started, utcnow(), self.config.replica_id, self.config.catch_up_after_seconds
        )
        if self.catch_up is not None:
            log.info("alert engine: catching up on %s .. %s", self.catch_up.since, self.catch_up.until)
        if self.shares.shared:
            # Know the other replicas before the first sweep, or this one would claim every watch at first.
            self.shares.update(await self.db.run(live_replicas, utcnow(), self.config.lease_seconds))
        # The engine works from snapshots: the hub derives no lifecycle events for it, and passes repeats
        # on (``observe`` skips a snapshot that shows nothing new by its own fingerprint; the hub's
        # comparison was a fifth of the CPU of taking a 9:00 burst's snapshots in).
        self._hub = WatchHub(
            self.coder,
            on_snapshot=self._on_snapshot,
            on_error=self._on_watch_error,
            lifecycle_events=False,
            drop_repeats=False,
        )
        self._tasks = [
            asyncio.create_task(self.delivery.run(), name="alerts-delivery"),
            asyncio.create_task(self._recorder(), name="alerts-recorder"),
            asyncio.create_task(self._history_keeper(), name="alerts-startup-history"),
            asyncio.create_task(self._sweeper(), name="alerts-sweeper"),
            asyncio.create_task(self._lease_keeper(), name="alerts-leases"),
            asyncio.create_task(self._autostop_timer(), name="alerts-autostop"),
            asyncio.create_task(self._closer(), name="alerts-stream-closer"),
            asyncio.create_task(self._pruner(), name="alerts-pruner"),
            asyncio.create_task(self.notification_router.run(), name="alerts-notifications"),
        ]
        if self.build_feed is not None:
            self._tasks.append(asyncio.create_task(self.build_feed.run(), name="alerts-build-feed"))
        if self.shares.shared:
            self._tasks.append(asyncio.create_task(self._share_keeper(), name="alerts-shares"))
        if self._wakeups is not None:
            self._tasks.append(asyncio.create_task(self._wakeups.run(), name="alerts-wakeups"))
        self.started = True

    async def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Hand the share over first: nothing of this replica watches or records any more, and the other
        # replicas should not wait for the slower closing below (in-flight Slack posts, open streams).
        with contextlib.suppress(Exception):
            await self.leases.release_all()
        if self.shares.shared:
            with contextlib.suppress(Exception):
                await self.db.run(mark_stopped, self.config.replica_id)
        await self.delivery.stop()
        if self._hub is not None:
            await self._hub.aclose()
        if self._wakeups is not None:
            await self._wakeups.aclose()
        self._watched.clear()
        self.metrics.watches_held(0)
        await self.notification_router.db.close()
        if self._delivery_db is not None:
            await self._delivery_db.close()
        await self.db.close()

    async def wait_swept(self, limit: float = 30.0) -> None:
        """Wait until this replica has finished one full sweep (tests and the console)."""
        await asyncio.wait_for(self._swept_once.wait(), limit)

    async def track(self, workspace_id: str) -> None:
        """Watch this workspace now (the command app just started a build), instead of at the next sweep;
        this replica keeps the watch until the workspace settles, whichever replica owns it."""
        self._tracked.add(workspace_id)
        await self._watch_many([workspace_id])

    def notifications_received(self) -> None:
        """The webhook intake recorded a Coder notification: route it now rather than at the next poll."""
        self.notification_router.wake.set()

    def request_sweep(self) -> None:
        """Sweep soon, e.g. after a subscription was added."""
        self._sweep_now.set()

    async def idle(self) -> bool:
        """Nothing in transition is watched here, no Coder notification waits to be routed and no alert or
        notification waits to be sent (the console settles on it)."""
        if self._watched or await self.notification_router.pending():
            return False
        return await self.db.run(outbox_depth) == 0

    async def settle(self, limit: float = 30.0) -> None:
        """Return once a sweep that began after this call is recorded and the engine is ``idle``: everything
        Coder shows now has reached Slack, and whatever was not posted by then is not going to be (tests and
        the console prove that something did not happen this way, instead of sleeping).
        ``TimeoutError`` after ``limit`` seconds."""

        async def settled() -> None:
            wanted = self._passes_begun + 1
            self.request_sweep()
            while self._passes_done < wanted:
                self._pass_done.clear()
                await self._pass_done.wait()
            while True:
                if await self.idle():
                    return
                await asyncio.sleep(0.05)  # idle() is a read of the outbox: poll it

        await asyncio.wait_for(settled(), limit)

    @property
    def watched(self) -> set[str]:
        return set(self._watched)

    def remembers(self, workspace_id: str) -> bool:
        """Whether this process keeps anything about the workspace in memory (a deleted one is forgotten at
        the next complete list)."""
        return any(
            workspace_id in memory for memory in (self._fingerprints, self._recorded, self._autostop_due)
        )

    def recorded_alerts(self, workspace_id: str) -> tuple[str, frozenset[str]] | None:
        """The build this process last recorded for the workspace and the alert keys recorded for it (only
        the latest build's are kept: memory follows the fleet, not its history)."""
        entry = self._recorded.get(workspace_id)
        return None if entry is None else (entry[0], frozenset(entry[1]))

    # ----------------------------------------------------------------- observing

    async def _on_snapshot(self, workspace: Workspace) -> None:
        self._snapshots.put_nowait(workspace)
        if self._snapshots.qsize() >= RECORDER_BEHIND:
            self._behind(True)

    def _behind(self, behind: bool) -> None:
        """The recorder is behind (``RECORDER_BEHIND``), or has caught up."""
        if behind:
            self._recorder_caught_up.clear()
            self._recorder_behind.set()
        else:
            self._recorder_behind.clear()
            self._recorder_caught_up.set()

    async def _on_watch_error(self, workspace_id: str, error: CoderError) -> None:
        log.info("alert engine: no longer watching %s (%s)", workspace_id, type(error).__name__)
        if isinstance(error, NotFound):
            # Deleted: give the lease back (as any unwatch does) rather than renew it forever, and clear
            # its mark so that no replica takes the watch up again.
            await self._unwatch(workspace_id)
            with contextlib.suppress(Exception):
                await self.db.run(clear_mark, workspace_id)
            return
        # Given back, and not claimed again for a sweep interval (the next sweep or takeover retries it).
        self._watch_failed[workspace_id] = asyncio.get_running_loop().time()
        await self._unwatch(workspace_id)

    async def _recorder(self) -> None:
        while True:
            if self._snapshots.empty():
                self._behind(False)
            first = await self._snapshots.get()
            batch = {first.id: first}
            while not self._snapshots.empty() and len(batch) < _BATCH:
                item = self._snapshots.get_nowait()
                batch[item.id] = item
            if len(batch) >= RECORDER_BEHIND:
                self._behind(True)  # caught up again once the queue is empty after a batch
            try:
                await self.observe(list(batch.values()))
            except Exception:
                log.exception(
                    "alert engine: recording %d snapshots failed; the sweep will catch up", len(batch)
                )
                await asyncio.sleep(0.5)
                for workspace in batch.values():
                    self._snapshots.put_nowait(workspace)
                continue
            await self._adjust_watches([(w.id, is_transitional(w)) for w in batch.values()])

    async def observe(
        self, workspaces: list[Workspace], catch_up: CatchUp | None = None, force: bool = False
    ) -> RecordResult:
        """Record what ``workspaces`` show: remember them and queue every alert not queued before.

        Workspaces that show nothing new since this process last recorded them are skipped (an idle sweep of
        thousands of workspaces writes nothing), unless ``force``.
        """
        observations = []
        need_tails: list[tuple[Observation, str]] = []
        fingerprints: dict[str, tuple[object, ...]] = {}
        for workspace in workspaces:
            recorded = self._recorded_for(workspace)
            events = [event for event in detect(workspace) if event.key not in recorded]
            fingerprint = _fingerprint(workspace)
            if not force and not events and self._fingerprints.get(workspace.id) == fingerprint:
                continue
            fingerprints[workspace.id] = fingerprint
            observation = Observation(workspace, events)
            observations.append(observation)
            for event in events:
                if event.kind in ("start_error", "start_timeout"):
                    need_tails.append((observation, event.key))
        # Settled starts get build timings (and failed ones their log tail): only those not alerted before.
        timed = [(o, event) for o in observations for event in o.events if event.kind in TIMED_KINDS]
        if timed:
            fresh = await self.db.run(unknown_keys, [event.key for _, event in timed])
            for observation, key in need_tails:
                if key in fresh:
                    event = next(e for e in observation.events if e.key == key)
                    observation.log_tails[event.agent_id] = await self._log_tail(event.agent_id)
            wanted = [(o, event) for o, event in timed if event.key in fresh]
            if len(wanted) > TIMINGS_AT_ONCE or not await self._add_timings(wanted):
                for observation, event in wanted:
                    template_id = observation.workspace.template_id
                    if event.kind != "ready" or not template_id:
                        continue
                    waiting = self._history_later.setdefault(template_id, deque(maxlen=SLOWER_WINDOW))
                    waiting.append(observation.workspace)
                    self._history_added.set()
        if not observations:
            return RecordResult()
        # The replicas' view now: the owners of other replicas' destinations are woken by the transaction.
        replicas = self.shares.replicas if self._wakeups is not None else None
        result, woken = await self.db.run(
            _record_and_wake, observations, self.config, utcnow(), catch_up, self.shares.me, replicas
        )
        self._fingerprints.update(fingerprints)
        if self.on_observed is not None:
            try:
                self.on_observed([observation.workspace for observation in observations])
            except Exception as exc:
                log.warning("alert engine: the observation hook failed: %s", type(exc).__name__)
        for observation in observations:
            self._recorded_for(observation.workspace).update(event.key for event in observation.events)
        for kind in result.deduplicated:
            self.metrics.deduplicated(kind)
        self._schedule_autostop(result.next_autostop_due)
        if result.queued:
            self.delivery.kick({destination for destination, _kind in result.queued} - woken)
        return result

    def _recorded_for(self, workspace: Workspace) -> set[str]:
        build_id = workspace.latest_build.id
        entry = self._recorded.get(workspace.id)
        if entry is None or entry[0] != build_id:
            entry = (build_id, set())
            self._recorded[workspace.id] = entry
        return entry[1]

    async def _add_timings(self, wanted: list[tuple[Observation, AlertEvent]]) -> bool:
        """Build timings for new ready / start_error / start_timeout alerts, fetched a few at a time and
        briefly (``coder_slack.build_timings``): without them an alert reads as it always did. The template's
        history ("slower than usual") is kept in the ledger's transaction (``ledger.record_observations``).

        False, with no timings added, when the recorder falls behind meanwhile: these were the first starts of
        a burst, whose alerts go without timings (a burst's Coder answers slowly: the fetch held the
        recorder for up to a second while hundreds of snapshots waited)."""
        if not wanted:
            return True
        fetch = asyncio.ensure_future(self._timing_notes([(o.workspace, event.kind) for o, event in wanted]))
        behind = asyncio.ensure_future(self._recorder_behind.wait())
        try:
            await asyncio.wait((fetch, behind), return_when=asyncio.FIRST_COMPLETED)
        finally:
            behind.cancel()
        if not fetch.done():
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fetch
            return False
        for (observation, event), note in zip(wanted, fetch.result(), strict=True):
            if note is not None:
                observation.timings[event.key] = note.to_payload()
        return True

    async def _timing_notes(self, wanted: list[tuple[Workspace, str]]) -> list[TimingNote | None]:
        gate = asyncio.Semaphore(TIMINGS_AT_ONCE)

        async def note_for(workspace: Workspace, kind: str) -> TimingNote | None:
            async with gate:
                return await timing_note(
                    self.coder, workspace, kind, timeout=self.settings.coder_slack_timings_timeout_seconds
                )

        notes: list[TimingNote | None] = await asyncio.gather(*(note_for(w, kind) for w, kind in wanted))
        return notes

    async def _history_keeper(self) -> None:
        """The build timings of a burst's starts, fetched after their alerts went out: the templates' startup
        history ("slower than usual") still learns from the 9:00 starts."""
        loop = asyncio.get_running_loop()
        while True:
            await self._history_added.wait()
            held_until = loop.time() + HISTORY_HOLD_SECONDS
            while loop.time() < held_until:
                self._history_added.clear()
                try:
                    await asyncio.wait_for(self._history_added.wait(), self.history_settle)
                except TimeoutError:
                    break
            self._history_added.clear()
            batch = [workspace for waiting in self._history_later.values() for workspace in waiting]
            self._history_later = {}
            try:
                notes = await self._timing_notes([(workspace, "ready") for workspace in batch])
                starts = [(w, note.seconds) for w, note in zip(batch, notes, strict=True) if note is not None]
                if starts:
                    await self.db.run(remember_startups, starts)
            except Exception as exc:  # the history is a nicety: never stop for it
                log.warning("alert engine: recording %d startups failed: %s", len(batch), type(exc).__name__)

    async def _log_tail(self, agent_id: str) -> list[str]:
        try:
            logs = await self.coder.agents.logs(agent_id)
        except CoderError as error:
            log.info(
                "alert engine: could not read startup logs of agent %s (%s)", agent_id, type(error).__name__
            )
            return []
        return redact_tail([entry.output for entry in logs], self.config.log_tail_lines)

    # ----------------------------------------------------------------- watching

    async def _adjust_watches(self, positions: Iterable[tuple[str, bool]]) -> None:
        """Watch the workspaces in transition (this replica's share), stop watching the settled ones;
        ``positions``: (workspace id, in transition)."""
        starting = []
        theirs = False
        for workspace_id, transitional in positions:
            if transitional:
                # Another replica's share is left to its owner (woken now, ``orphans_now``; else within a
                # second, ``_share_keeper``); what this replica already watches it keeps.
                if self.shares.mine(workspace_id) or workspace_id in self._watched:
                    starting.append(workspace_id)
                else:
                    theirs = True
            elif workspace_id in self._watched:
                await self._unwatch(workspace_id, settled=True)
        await self._watch_many(starting)
        if theirs:
            self.orphans_now()

    async def _watch_many(self, workspace_ids: list[str]) -> None:
        """Claim the watch leases of many workspaces in one transaction, then watch the ones won."""
        wanted = [w for w in workspace_ids if w not in self._watched and not self._failed_recently(w)]
        if not wanted or self._hub is None:
            return
        won = await self.leases.claim([watch_lease(w) for w in wanted])
        for name in won:
            workspace_id = watched_workspace(name)
            assert workspace_id is not None
            self._watched.add(workspace_id)
            await self._hub.add(workspace_id)
        self.metrics.watches_held(len(self._watched))

    def _failed_recently(self, workspace_id: str) -> bool:
        failed = self._watch_failed.get(workspace_id)
        if failed is None:
            return False
        if asyncio.get_running_loop().time() - failed < self.config.sweep_interval:
            return True
        del self._watch_failed[workspace_id]
        return False

    # ----------------------------------------------------------------- sharing between replicas

    def _owns_destination(self, destination: str) -> bool:
        return self.shares.mine(destination_key(destination))

    def orphans_now(self) -> None:
        """Workspaces were just marked transitional (``alert_workspaces``): have every replica claim its share
        of the unwatched ones now rather than at its next second (this one directly, the others through a
        wake-up)."""
        self._rebalance_now.set()
        if self._wakeups is not None:
            self._wakeups.send({WATCHES})

    def _woken(self, destinations: set[str]) -> None:
        """Another replica queued rows for these destinations: drain the ones this replica owns now (the
        others are left to polling, so replicas that briefly disagree about who owns one never ping-pong)."""
        if WATCHES in destinations:
            self._rebalance_now.set()
            destinations = destinations - {WATCHES}
        mine = {destination for destination in destinations if self._owns_destination(destination)}
        if mine:
            self.delivery.kick(mine)

    async def _share_keeper(self) -> None:
        interval = min(1.0, max(0.2, self.config.lease_seconds / 3))
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._rebalance_now.wait(), timeout=interval)
            self._rebalance_now.clear()
            try:
                await self.rebalance()
            except Exception:
                log.exception("alert engine: sharing the watches failed; retrying")

    async def rebalance(self) -> None:
        """Heartbeat and read the live replicas; when they changed, give back the watches another replica
        owns now (a new replica takes its share); then claim this replica's share of the transitional
        workspaces nobody watches (a dead replica's, after its leases expired; ones another replica
        recorded)."""
        now = utcnow()
        live = await self.db.run(beat, now, self.config.replica_id, self.config.lease_seconds)
        changed = self.shares.update(live)
        # Checked every time, not only when the live set changed: a claim decided just before the change
        # (a sweep's) may have landed just after it.
        theirs = [w for w in self._watched if w not in self._tracked and not self.shares.mine(w)]
        for workspace_id in theirs:
            await self._unwatch(workspace_id)
        if theirs:
            await self.leases.flush()
            self.orphans_now()  # their owners claim them now
        if changed or theirs:
            log.info(
                "alert engine: %d replicas alive; gave %d watches to their owners",
                len(self.shares.replicas),
                len(theirs),
            )
        orphans = [w for w in await self.db.run(orphaned_transitional, now) if self.shares.mine(w)]
        self._record_first_snapshots(orphans)
        await self._watch_many(orphans)

    def _record_first_snapshots(self, workspace_ids: list[str]) -> None:
        """The first snapshot of these orphans' watches is recorded even if this process saw it so before:
        that clears the mark of a workspace that turns out settled (``build_feed`` marks on any change)."""
        for workspace_id in workspace_ids:
            self._fingerprints.pop(workspace_id, None)

    def _busy(self) -> bool:
        """Snapshots wait to be recorded, or alerts to be delivered, here."""
        return (
            not self._snapshots.empty()
            or not self._recorder_caught_up.is_set()
            or bool(self.delivery.draining)
        )

    async def _closer(self) -> None:
        """Close the streams given up (``_unwatch``): a settled workspace's once this replica has been quiet
        for ``CLOSE_AFTER_SECONDS`` (a burst's recording and delivery pause between batches), within
        ``CLOSE_AT_MOST_SECONDS``; any other (handed over to another replica, failed) after
        ``CLOSE_AFTER_SECONDS``: its snapshots are another replica's to record now."""
        loop = asyncio.get_running_loop()
        while True:
            await self._close_added.wait()
            self._close_added.clear()
            quiet_since: float | None = None  # quiet as far as this closer has seen
            while self._to_close:
                now = loop.time()
                if self._busy():
                    quiet_since = None
                elif quiet_since is None:
                    quiet_since = now
                quiet = quiet_since is not None and now - quiet_since >= CLOSE_AFTER_SECONDS
                due = [
                    workspace_id
                    for workspace_id, (given_up, at_most) in self._to_close.items()
                    if now - given_up >= (CLOSE_AFTER_SECONDS if quiet else at_most)
                ]
                if not due:
                    await asyncio.sleep(0.2)
                    continue
                for workspace_id in due:
                    self._to_close.pop(workspace_id, None)
                    if workspace_id not in self._watched and self._hub is not None:  # not watched again since
                        await self._hub.remove(workspace_id)
                    if quiet and self._busy():
                        break  # busy again: the settled ones wait for the next quiet second

    async def _unwatch(self, workspace_id: str, settled: bool = False) -> None:
        """Stop watching (the lease goes back at once; the stream is closed by ``_closer``): ``settled``, the
        workspace has settled, else the watch was handed over or failed."""
        self._watched.discard(workspace_id)
        self._tracked.discard(workspace_id)
        self._to_close.pop(workspace_id, None)
        at_most = CLOSE_AT_MOST_SECONDS if settled else CLOSE_AFTER_SECONDS
        self._to_close[workspace_id] = (asyncio.get_running_loop().time(), at_most)
        self._close_added.set()
        # Released by the lease keeper in one batch: no transaction on the alert's hot path.
        self.leases.give_back(watch_lease(workspace_id))
        self.metrics.watches_held(len(self._watched))

    # ----------------------------------------------------------------- sweeping

    async def _sweeper(self) -> None:
        first = True
        while True:
            # Cleared before the pass, so a request made while it runs gets a pass of its own.
            self._sweep_now.clear()
            try:
                won = await self.leases.claim_one(SWEEP_LEASE)
                begun = self._passes_begun = self._passes_begun + 1
                if won:
                    await self.sweep(catch_up=self.catch_up if first else None)
                    first = False
                self._swept_once.set()
                self._passes_done = begun
                self._pass_done.set()
                delay = self._sweep_interval()
            except CoderError as error:
                self.metrics.coder_error(getattr(error, "status_code", None))
                log.warning("alert engine: listing workspaces failed (%s); retrying", type(error).__name__)
                delay = min(self.config.sweep_interval, 2.0)
            except Exception:
                log.exception("alert engine: sweep failed; retrying")
                delay = min(self.config.sweep_interval, 2.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sweep_now.wait(), timeout=delay)

    def _sweep_interval(self) -> float:
        """The normal interval, or the slow safety net while Coder's build feed is read by any replica."""
        if self.build_feed is not None and self.build_feed.in_use:
            return max(self.config.sweep_interval, self.config.feed_sweep_interval)
        return self.config.sweep_interval

    async def sweep(self, catch_up: CatchUp | None = None) -> None:
        """List every workspace, record what changed, watch the ones in transition.

        The list is read as summaries (a fifth of the parsing of full workspaces); only workspaces whose
        summary differs from what this process last recorded are fetched in full. Every tenth sweep, and a
        catch-up, reads everything in full and re-records it (settings such as a changed autostop lead time
        take effect). The list is read page by page (``_BATCH`` workspaces): of a large fleet only one page
        of workspaces is held at a time, and of the rest only their ids and whether they are in transition.
        """
        force = catch_up is not None or self._sweeps % 10 == 0
        self._sweeps += 1
        listed_at = utcnow()
        listed: dict[str, bool] = {}  # id → in transition, for every workspace listed
        # presets: prebuilt workspaces (Coder's prebuilds user's) are nobody's yet: never alerted on
        if force:
            async for page in self.coder.workspaces.pages(query=None, page_size=_BATCH):
                workspaces = without_prebuilds(page)
                listed.update((w.id, is_transitional(w)) for w in workspaces)
                await self.observe(workspaces, catch_up, force=True)
        else:
            changed: list[str] = []
            async for summaries in self.coder.workspaces.summary_pages(query=None, page_size=_BATCH):
                for summary in without_prebuilds(summaries):
                    listed[summary.id] = is_transitional(summary)
                    if self._fingerprints.get(summary.id) != _fingerprint(summary):
                        changed.append(summary.id)
            async for workspaces in self._fetch_full(changed):
                await self.observe(workspaces, catch_up)
        await self._adjust_watches(listed.items())
        await self._forget_unlisted(set(listed), listed_at)

    async def _forget_unlisted(self, listed: set[str], listed_at: datetime) -> None:
        """Workspaces the complete list no longer shows were deleted (or are out of the token's sight): drop
        what this process and the database remember of them, so a workspace deleted mid-start is not watched
        again by every replica that starts, and memory follows the fleet."""
        for memory in (self._fingerprints, self._recorded, self._autostop_due):
            for workspace_id in [w for w in memory if w not in listed and w not in self._watched]:
                del memory[workspace_id]
        gone = await self.db.run(forget_workspaces, listed, listed_at, self.config.replica_id)
        for workspace_id in gone:
            if workspace_id in self._watched:
                await self._unwatch(workspace_id)

    async def _fetch_full(self, workspace_ids: list[str]) -> AsyncIterator[list[Workspace]]:
        """These workspaces in full, in batches of at most ``_BATCH``: one by one when few, else through the
        paged list (keeping the wanted ones of each page)."""
        if not workspace_ids:
            return
        if len(workspace_ids) > _FETCH_SINGLY:
            wanted = set(workspace_ids)
            async for page in self.coder.workspaces.pages(query=None, page_size=_BATCH):
                found = [w for w in page if w.id in wanted]
                if found:
                    yield found
            return
        limit = asyncio.Semaphore(8)

        async def fetch(workspace_id: str) -> Workspace | None:
            async with limit:
                try:
                    return await self.coder.workspaces.get(workspace_id)
                except NotFound:  # deleted since the list
                    return None

        found = [w for w in await asyncio.gather(*(fetch(w) for w in workspace_ids)) if w is not None]
        if found:
            yield found

    async def _lease_keeper(self) -> None:
        interval = max(0.2, self.config.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                now = utcnow()
                if not self.shares.shared:  # sharing replicas heartbeat every second (``rebalance``)
                    await self.db.run(heartbeat, now, self.config.replica_id)
                for name in await self.leases.renew(now):
                    workspace_id = watched_workspace(name)
                    if workspace_id is not None:
                        self._watched.discard(workspace_id)
                        if self._hub is not None:
                            await self._hub.remove(workspace_id)
                if not self.shares.shared:
                    orphans = await self.db.run(orphaned_transitional, now)
                    self._record_first_snapshots(orphans)
                    await self._watch_many(orphans)
                    everyone = len(self._watched)
                else:
                    everyone = sum((await self.db.run(watch_holders, now)).values())
                self.metrics.watches_held(len(self._watched))
                self.metrics.share(len(self.shares.replicas), len(self._watched), everyone)
            except Exception:
                log.exception("alert engine: lease upkeep failed; retrying")

    def _schedule_autostop(self, due: dict[str, datetime]) -> None:
        for workspace_id, when in due.items():
            if self._autostop_due.get(workspace_id) != when:
                self._autostop_due[workspace_id] = when
                heapq.heappush(self._autostop_heap, (when, workspace_id))

    def _autostop_due_now(self, now: datetime) -> list[str]:
        """Pop the warnings due by ``now`` (a heap, not a scan of every watched workspace each second)."""
        due = []
        while self._autostop_heap and self._autostop_heap[0][0] <= now:
            when, workspace_id = heapq.heappop(self._autostop_heap)
            if self._autostop_due.get(workspace_id) == when:
                del self._autostop_due[workspace_id]
                due.append(workspace_id)
        return due

    async def _autostop_timer(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = utcnow()
            for workspace_id in self._autostop_due_now(now):
                try:
                    await self.observe([await self.coder.workspaces.get(workspace_id)], force=True)
                except Exception as error:
                    log.info(
                        "alert engine: autostop check of %s failed (%s)", workspace_id, type(error).__name__
                    )
                    self._schedule_autostop({workspace_id: now + timedelta(seconds=5)})

    # ----------------------------------------------------------------- retention

    async def _pruner(self) -> None:
        while True:
            await asyncio.sleep(self.config.prune_interval)
            try:
                # Renewed by the lease keeper while this replica lives.
                if await self.leases.claim_one(PRUNE_LEASE):
                    await self.prune()
            except Exception:
                log.exception("alert engine: pruning failed; retrying at the next pass")

    async def prune(self, now: datetime | None = None) -> dict[str, int]:
        """One pruning pass (``retention.retention_cutoffs``): batches of ``prune_batch`` rows, one
        transaction each, until nothing old is left or the ``prune`` lease is lost. How many rows went, per
        table."""
        cutoffs = retention_cutoffs(now or utcnow(), self.config, self.catch_up)
        return await retention.prune(
            self.db, cutoffs, self.config, lambda: not self.started or PRUNE_LEASE in self.leases
        )


__all__ = ["AlertEngine"]
