"""The delivery worker: drains the outbox into Slack, one destination at a time, in order.

A replica leases a destination (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), then repeats: plan the next step
in a transaction (take a token from the destination's bucket, mark the rows ``sending``), make the Slack call,
record the outcome (``ts``, card, digest) in a second transaction. A row left ``sending`` by a crash is in
doubt: before posting again the worker looks for a message whose metadata names the row
(``conversations.history`` / ``conversations.replies``), so a crash between Slack's answer and the commit
does not post twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from coder_slack.alerts import messages
from coder_slack.alerts.config import AlertConfig
from coder_slack.alerts.db import Database, aware, insert_ignoring_conflicts, utcnow
from coder_slack.alerts.events import FAILURE_KINDS
from coder_slack.alerts.metrics import AlertMetrics
from coder_slack.alerts.tables import (
    AlertCard,
    AlertDestination,
    AlertDigest,
    AlertLedgerEntry,
    AlertOutboxItem,
)
from coder_slack.store import StatusCard, Subscription

log = logging.getLogger(__name__)

PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "token_revoked",
        "account_inactive",
        "no_permission",
        "invalid_auth",
        "user_not_found",
        "cannot_dm_bot",
    }
)
ROW_ERRORS = frozenset(
    {"invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text", "invalid_arguments"}
)
# What Slack answers about a thread whose parent message was deleted (conversations.replies, chat.update).
PARENT_GONE = frozenset({"thread_not_found", "message_not_found"})
# The token may not read the conversation: the crash check cannot work until the app is reinstalled.
SCOPE_ERRORS = frozenset({"missing_scope", "not_allowed_token_type"})
UNSENT = ("pending", "sending")
# How many rows one catch-up summary carries at most (the first sweep after a restart queues them).
SUMMARY_LIMIT = 500
# How far down the queue a digest looks for ready rows to take (so one digest step takes at most this many).
DIGEST_WINDOW = 500
# Between Coder's clock (when a build was queued) and ours (when its status card was posted).
CLOCK_SKEW = timedelta(seconds=15)


@dataclass
class Step:
    """What to do next for one destination (computed and committed before any Slack call)."""

    # "wait", "resolve", "verify", "card", "reply", "status_reply", "summary", "digest_post", "digest_update",
    # "notice"
    action: str
    wait: float = 0.0
    row_ids: list[int] = field(default_factory=list)
    channel: str = ""
    thread_ts: str | None = None
    update_ts: str | None = None
    payloads: list[dict[str, Any]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    since: datetime | None = None
    recovered: bool = False
    card_kind: str = ""
    digest_id: int | None = None
    digest_members: dict[str, Any] = field(default_factory=dict)
    digest_expected: int = 0


class LeaseLost(Exception):
    pass


def _first_unsent(session: Session, destination: str) -> AlertOutboxItem | None:
    """The destination's oldest unsent row: one index seek per status (``status IN (…) ORDER BY id`` would
    sort every unsent row of the destination first)."""
    found = [
        session.scalars(
            select(AlertOutboxItem)
            .where(AlertOutboxItem.destination == destination, AlertOutboxItem.status == status)
            .order_by(AlertOutboxItem.id)
            .limit(1)
        ).first()
        for status in UNSENT
    ]
    return min((row for row in found if row is not None), key=lambda row: row.id, default=None)


def _pending_window(destination: str, limit: int) -> Any:
    """The ids of the destination's oldest ``limit`` pending rows (an index-only range scan)."""
    return (
        select(AlertOutboxItem.id)
        .where(AlertOutboxItem.destination == destination, AlertOutboxItem.status == "pending")
        .order_by(AlertOutboxItem.id)
        .limit(limit)
    )


@dataclass(frozen=True)
class _Head:
    """What the digest needs to know of a row at the head of the queue (no payload)."""

    id: int
    workspace_id: str
    kind: str
    status: str
    catch_up: bool


def _head(session: Session, destination: str, limit: int) -> list[_Head]:
    """The destination's oldest ``limit`` unsent rows, without their payloads, oldest first."""
    heads: list[_Head] = []
    for status in UNSENT:
        heads += [
            _Head(*row)
            for row in session.execute(
                select(
                    AlertOutboxItem.id,
                    AlertOutboxItem.workspace_id,
                    AlertOutboxItem.kind,
                    AlertOutboxItem.status,
                    AlertOutboxItem.catch_up,
                )
                .where(AlertOutboxItem.destination == destination, AlertOutboxItem.status == status)
                .order_by(AlertOutboxItem.id)
                .limit(limit)
            )
        ]
    return sorted(heads, key=lambda head: head.id)[:limit]


def _by_ids(session: Session, ids: list[int]) -> list[AlertOutboxItem]:
    if not ids:
        return []
    return list(
        session.scalars(
            select(AlertOutboxItem).where(AlertOutboxItem.id.in_(ids)).order_by(AlertOutboxItem.id)
        )
    )


def claim_destinations(session: Session, replica: str, now: datetime, config: AlertConfig) -> list[str]:
    # Per destination, one index seek per status ("any unsent row?"), rather than a scan of the whole outbox
    # (sent rows included) on every poll.
    waiting = or_(
        *(
            exists().where(
                AlertOutboxItem.destination == AlertDestination.destination,
                AlertOutboxItem.status == status,
                AlertOutboxItem.due_at <= now,
            )
            for status in UNSENT
        )
    )
    query = (
        select(AlertDestination)
        .where(
            waiting,
            AlertDestination.disabled_reason.is_(None),
            or_(
                AlertDestination.leased_until.is_(None),
                AlertDestination.leased_until < now,
                AlertDestination.leased_by == replica,
            ),
        )
        .limit(200)
        .with_for_update(skip_locked=True)
    )
    claimed = []
    for destination in session.scalars(query):
        destination.leased_by = replica
        destination.leased_until = now + timedelta(seconds=config.lease_seconds)
        claimed.append(destination.destination)
    return claimed


def release_destination(session: Session, destination: str, replica: str) -> None:
    row = session.get(AlertDestination, destination, with_for_update=True)
    if row is not None and row.leased_by == replica:
        row.leased_by = None
        row.leased_until = None


def outbox_depth(session: Session) -> int:
    """Unsent rows (``pending`` or ``sending``): two range scans of ``ix_alert_outbox_status_created``
    (revision 0003), so the cost follows the backlog, not every row ever delivered. Zero is what
    ``AlertEngine.idle`` waits for."""
    return int(session.scalar(select(func.count()).where(AlertOutboxItem.status.in_(UNSENT))) or 0)


def _take_token(dest: AlertDestination, now: datetime, config: AlertConfig) -> float:
    """0 when a token was taken, else the seconds until one is available."""
    tokens_at = aware(dest.tokens_at) or now
    elapsed = max(0.0, (now - tokens_at).total_seconds())
    tokens = min(config.burst, dest.tokens + elapsed * config.messages_per_second)
    if tokens < 1.0:
        dest.tokens, dest.tokens_at = tokens, now
        return (1.0 - tokens) / config.messages_per_second
    dest.tokens, dest.tokens_at = tokens - 1.0, now
    return 0.0


def _mark_sending(
    session: Session,
    rows: list[AlertOutboxItem],
    now: datetime,
    kind: str,
    channel: str,
    thread_ts: str | None,
) -> None:
    """One UPDATE for the whole batch (a digest step marks dozens of rows; the ORM flushed one each)."""
    session.execute(
        update(AlertOutboxItem)
        .where(AlertOutboxItem.id.in_([row.id for row in rows]))
        .values(
            status="sending",
            sending_since=now,
            attempts=AlertOutboxItem.attempts + 1,
            attempt_kind=kind,
            message_channel=channel,
            thread_ts=thread_ts,
        ),
        execution_options={"synchronize_session": False},
    )


def plan_step(
    session: Session, destination: str, replica: str, now: datetime, config: AlertConfig
) -> Step | None:
    """The next thing to do for ``destination``, with rows marked ``sending``; None when nothing is left."""
    dest = session.get(AlertDestination, destination, with_for_update=True)
    if dest is None:
        return None
    leased_until = aware(dest.leased_until)
    if dest.leased_by != replica and leased_until is not None and leased_until > now:
        raise LeaseLost(destination)
    dest.leased_by = replica
    dest.leased_until = now + timedelta(seconds=config.lease_seconds)
    if dest.disabled_reason is not None:
        return None
    blocked = aware(dest.blocked_until)
    if blocked is not None and blocked > now:
        return Step("wait", wait=(blocked - now).total_seconds())
    # Each step reads what it needs from the head of the queue, never the whole backlog: a step costs the
    # same with 10 or 10,000 rows waiting.
    first = _first_unsent(session, destination)
    if first is None:
        dest.leased_by = None
        dest.leased_until = None
        return None
    is_dm = destination.startswith(("U", "W"))
    if is_dm and not dest.resolved_channel:
        return Step("resolve")
    channel = dest.resolved_channel if is_dm and dest.resolved_channel else destination
    if first.status == "sending":
        in_doubt = list(
            session.scalars(
                select(AlertOutboxItem)
                .where(
                    AlertOutboxItem.destination == destination,
                    AlertOutboxItem.status == "sending",
                    AlertOutboxItem.sending_since == first.sending_since,
                )
                .order_by(AlertOutboxItem.id)
                .limit(SUMMARY_LIMIT)
            )
        )
        return Step(
            "verify",
            row_ids=[row.id for row in in_doubt],
            channel=first.message_channel or channel,
            thread_ts=first.thread_ts,
            since=aware(first.sending_since),
            card_kind=first.attempt_kind or "card",
            payloads=[row.payload for row in in_doubt],
        )
    if first.kind == "notice":
        wait = _take_token(dest, now, config)
        if wait:
            return Step("wait", wait=wait)
        _mark_sending(session, [first], now, "notice", channel, None)
        return Step("notice", row_ids=[first.id], channel=channel, payloads=[first.payload], kinds=["notice"])
    if first.catch_up:
        wait = _take_token(dest, now, config)
        if wait:
            return Step("wait", wait=wait)
        # The catch-up rows among the oldest pending ones (the first sweep after a restart queues them
        # together).
        batch = list(
            session.scalars(
                select(AlertOutboxItem)
                .where(
                    AlertOutboxItem.id.in_(_pending_window(destination, SUMMARY_LIMIT)),
                    AlertOutboxItem.catch_up.is_(True),
                )
                .order_by(AlertOutboxItem.id)
            )
        )
        _mark_sending(session, batch, now, "summary", channel, None)
        since = min((datetime.fromisoformat(row.payload["event_at"]) for row in batch), default=None)
        return Step(
            "summary",
            row_ids=[row.id for row in batch],
            channel=channel,
            payloads=[{**row.payload, "stale": row.stale} for row in batch],
            kinds=[row.kind for row in batch],
            since=since,
        )
    if first.kind == "ready":
        digest_step = _plan_digest(session, dest, first, channel, now, config)
        if digest_step is not None:
            return digest_step
    return _plan_single(session, dest, first, channel, now, config)


def _open_digest(
    session: Session, destination: str, now: datetime, config: AlertConfig
) -> AlertDigest | None:
    digest = session.scalars(
        select(AlertDigest)
        .where(AlertDigest.destination == destination, AlertDigest.closed.is_(False))
        .order_by(AlertDigest.id.desc())
        .limit(1)
    ).first()
    if digest is None:
        return None
    updated = aware(digest.updated_at) or now
    if (now - updated).total_seconds() > config.digest_idle_close_seconds:
        digest.closed = True
        return None
    return digest


def _plan_digest(
    session: Session,
    dest: AlertDestination,
    first: AlertOutboxItem,
    channel: str,
    now: datetime,
    config: AlertConfig,
) -> Step | None:
    """A digest step when ``first`` (a ready row) is part of a burst: it was seen starting together with
    enough others, or enough ready rows are waiting here at once (workspaces that were already ready when the
    engine first saw them, e.g. an autostart that settled between two sweeps: nobody saw them starting)."""
    digest = _open_digest(session, dest.destination, now, config)
    if digest is not None:
        updated = aware(digest.updated_at) or now
        wait = config.digest_update_interval - (now - updated).total_seconds()
        if wait > 0:
            return Step("wait", wait=wait)
    seen_starting = int(first.payload.get("peers_starting", 0)) + 1 >= config.digest_threshold
    chosen = _digest_candidates(session, dest.destination)
    if first.id not in chosen:
        return None  # a recovery: it goes into the failed card's thread
    if digest is None and not seen_starting and len(chosen) < config.digest_threshold:
        return None
    batch = _by_ids(session, chosen)
    members: dict[str, Any] = dict(digest.members) if digest is not None else {}
    for row in batch:
        members[row.workspace_id] = {
            "name": row.payload["workspace_name"],
            "owner": row.payload["owner_name"],
            "kind": "ready",
            "startup_seconds": row.payload.get("startup_seconds"),
        }
    peers = max(int(row.payload.get("peers_starting", 0)) for row in batch)
    # At least every member; more when the batch was seen starting with others that are not ready yet.
    expected = max(digest.expected if digest else 0, len(members), len(members) + peers - len(batch) + 1)
    if digest is None:
        wait = _take_token(dest, now, config)
        if wait:
            return Step("wait", wait=wait)
        _mark_sending(session, batch, now, "digest_post", channel, None)
        return Step(
            "digest_post",
            row_ids=[row.id for row in batch],
            channel=channel,
            digest_members=members,
            digest_expected=expected,
            kinds=[row.kind for row in batch],
            payloads=[row.payload for row in batch],
        )
    _mark_sending(session, batch, now, "digest_update", digest.channel, None)
    return Step(
        "digest_update",
        row_ids=[row.id for row in batch],
        channel=digest.channel,
        update_ts=digest.ts,
        digest_id=digest.id,
        digest_members=members,
        digest_expected=expected,
        kinds=[row.kind for row in batch],
        payloads=[row.payload for row in batch],
    )


def _digest_candidates(session: Session, destination: str) -> list[int]:
    """Ready rows that are the oldest unsent row of their workspace (order per workspace is kept), among the
    oldest DIGEST_WINDOW rows: the window is a prefix of the queue, so "oldest in the window" is "oldest".
    A workspace whose card shows a failure is left out: its recovery is a reply in that card's thread."""
    blocked_workspaces: set[str] = set()
    chosen: dict[int, str] = {}
    for head in _head(session, destination, DIGEST_WINDOW):
        ready = head.status == "pending" and not head.catch_up and head.kind == "ready"
        if ready and head.workspace_id not in blocked_workspaces:
            chosen[head.id] = head.workspace_id
        blocked_workspaces.add(head.workspace_id)
    if not chosen:
        return []
    failed = set(
        session.scalars(
            select(AlertCard.workspace_id).where(
                AlertCard.destination == destination,
                AlertCard.workspace_id.in_(set(chosen.values())),
                AlertCard.last_kind.in_(FAILURE_KINDS),
            )
        )
    )
    return [row_id for row_id, workspace_id in chosen.items() if workspace_id not in failed]


def _plan_single(
    session: Session,
    dest: AlertDestination,
    row: AlertOutboxItem,
    channel: str,
    now: datetime,
    config: AlertConfig,
) -> Step:
    wait = _take_token(dest, now, config)
    if wait:
        return Step("wait", wait=wait)
    card = session.get(AlertCard, (dest.destination, row.workspace_id))
    if card is None:
        is_dm = dest.destination.startswith(("U", "W"))
        status_ts = None if is_dm else _status_card_ts(session, channel, row)
        if status_ts is not None:
            _mark_sending(session, [row], now, "status_reply", channel, status_ts)
            return Step(
                "status_reply",
                row_ids=[row.id],
                channel=channel,
                thread_ts=status_ts,
                payloads=[row.payload],
                kinds=[row.kind],
            )
        _mark_sending(session, [row], now, "card", channel, None)
        return Step("card", row_ids=[row.id], channel=channel, payloads=[row.payload], kinds=[row.kind])
    recovered = row.kind == "ready" and card.last_kind in FAILURE_KINDS
    _mark_sending(session, [row], now, "reply", card.channel, card.ts)
    return Step(
        "reply",
        row_ids=[row.id],
        channel=card.channel,
        thread_ts=card.ts,
        update_ts=card.ts,
        payloads=[row.payload],
        kinds=[row.kind],
        recovered=recovered,
    )


def _status_card_ts(session: Session, channel: str, row: AlertOutboxItem) -> str | None:
    """The status card the command app posted in ``channel`` for this alert's build, if someone started
    the build here: the alert goes into its thread rather than onto a second card with the same news."""
    same_build = StatusCard.build_number == row.payload.get("build_number")
    queued_at = row.payload.get("build_queued_at")
    if queued_at:
        # Cards that do not know their build number: one posted after this build was queued is its card.
        posted_since_queued = StatusCard.started_at >= datetime.fromisoformat(queued_at) - CLOCK_SKEW
        same_build = or_(same_build, and_(StatusCard.build_number.is_(None), posted_since_queued))
    query = select(StatusCard.message_ts).where(
        StatusCard.channel_id == channel, StatusCard.workspace_id == row.workspace_id, same_build
    )
    gone = row.payload.get("status_card_gone")
    if gone:
        # Deleted in Slack while this alert was on its way into its thread: the alert gets a card of its own.
        query = query.where(StatusCard.message_ts != str(gone))
    found = session.scalar(query.order_by(StatusCard.id.desc()).limit(1))
    return None if found is None else str(found)


def record_sent(
    session: Session, step: Step, channel: str, ts: str, now: datetime, card_ts: str | None = None
) -> None:
    rows = session.scalars(select(AlertOutboxItem).where(AlertOutboxItem.id.in_(step.row_ids))).all()
    # One UPDATE for the batch (rows already sent by an earlier attempt keep their message).
    session.execute(
        update(AlertOutboxItem)
        .where(AlertOutboxItem.id.in_(step.row_ids), AlertOutboxItem.status != "sent")
        .values(status="sent", message_channel=channel, message_ts=ts, delivered_at=now, error=None),
        execution_options={"synchronize_session": False},
    )
    if step.action in ("card", "reply") and rows:
        row = rows[0]
        card = session.get(AlertCard, (row.destination, row.workspace_id))
        if card is None:
            session.add(
                AlertCard(
                    destination=row.destination,
                    workspace_id=row.workspace_id,
                    channel=channel,
                    ts=card_ts or ts,
                    last_kind=row.kind,
                    last_build_id=str(row.payload.get("build_id", "")),
                    updated_at=now,
                )
            )
        else:
            if step.action == "card":
                # A reply whose parent was deleted: Slack posted it at the top of the channel, and it is the
                # workspace's card from now on.
                card.channel, card.ts = channel, card_ts or ts
            card.last_kind = row.kind
            card.last_build_id = str(row.payload.get("build_id", ""))
            card.updated_at = now
    if step.action == "digest_post" and rows:
        session.add(
            AlertDigest(
                destination=rows[0].destination,
                channel=channel,
                ts=ts,
                expected=step.digest_expected,
                members=step.digest_members,
                opened_at=now,
                updated_at=now,
                closed=len(step.digest_members) >= step.digest_expected,
            )
        )
    if step.action == "digest_update" and step.digest_id is not None:
        digest = session.get(AlertDigest, step.digest_id)
        if digest is not None:
            digest.members = step.digest_members
            digest.expected = step.digest_expected
            digest.updated_at = now
            digest.closed = len(step.digest_members) >= step.digest_expected


def record_retry(
    session: Session,
    step: Step,
    destination: str,
    now: datetime,
    retry_after: float,
    error: str,
    still_in_doubt: bool,
) -> None:
    rows = session.scalars(select(AlertOutboxItem).where(AlertOutboxItem.id.in_(step.row_ids))).all()
    for row in rows:
        if row.status == "sent":
            continue
        row.error = error[:500]
        if not still_in_doubt:
            row.status = "pending"
            row.sending_since = None
    dest = session.get(AlertDestination, destination)
    if dest is not None:
        dest.blocked_until = now + timedelta(seconds=retry_after)


def record_row_failure(session: Session, step: Step, error: str) -> None:
    for row in session.scalars(select(AlertOutboxItem).where(AlertOutboxItem.id.in_(step.row_ids))).all():
        row.status = "failed"
        row.error = error[:500]


def record_permanent(session: Session, destination: str, error: str, now: datetime) -> list[str]:
    """Stop delivering to ``destination``: fail its rows, disable its subscriptions, tell their creators."""
    dest = session.get(AlertDestination, destination)
    if dest is not None:
        dest.disabled_reason = error
    kinds = []
    unsent = select(AlertOutboxItem).where(
        AlertOutboxItem.destination == destination, AlertOutboxItem.status.in_(UNSENT)
    )
    for row in session.scalars(unsent):
        row.status = "failed"
        row.error = f"Slack refused the destination: {error}"
        kinds.append(row.kind)
    subs = session.scalars(
        select(Subscription).where(Subscription.channel_id == destination, Subscription.enabled.is_(True))
    ).all()
    by_creator: dict[tuple[str, str], list[Subscription]] = {}
    for sub in subs:
        sub.enabled = False
        sub.disabled_reason = f"Slack answered {error} when posting an alert"
        by_creator.setdefault((sub.team_id, sub.created_by), []).append(sub)
    for (team_id, creator), created in by_creator.items():
        if creator == destination:
            continue
        key = "disabled:" + ",".join(str(sub.id) for sub in created)
        if not insert_ignoring_conflicts(
            session,
            AlertLedgerEntry.__table__,  # type: ignore[arg-type]
            {
                "alert_key": key,
                "destination": creator,
                "kind": "notice",
                "workspace_id": "",
                "decision": "queued",
                "event_at": now,
                "created_at": now,
            },
        ):
            continue
        if session.get(AlertDestination, creator) is None:
            insert_ignoring_conflicts(
                session,
                AlertDestination.__table__,  # type: ignore[arg-type]
                {"destination": creator, "team_id": team_id, "tokens": 1.0, "tokens_at": now},
            )
        labels = [sub.workspace_label or _label(sub) for sub in created]
        session.add(
            AlertOutboxItem(
                team_id=team_id,
                destination=creator,
                workspace_id="",
                alert_key=key,
                kind="notice",
                payload={"channel": destination, "reason": error, "labels": labels},
                catch_up=False,
                stale=False,
                status="pending",
                attempts=0,
                due_at=now,
                created_at=now,
            )
        )
    return kinds


def _label(sub: Subscription) -> str:
    parts = [f"{name}={value}" for name, value in (("template", sub.template), ("owner", sub.owner)) if value]
    return "alerts for " + (" ".join(parts) if parts else "all workspaces")


def record_resolved(session: Session, destination: str, channel: str) -> None:
    dest = session.get(AlertDestination, destination)
    if dest is not None:
        dest.resolved_channel = channel


class DeliveryWorker:
    def __init__(
        self, db: Database, slack: AsyncWebClient, config: AlertConfig, metrics: AlertMetrics
    ) -> None:
        self.db = db
        self.config = config
        self.metrics = metrics
        # Our own client without slack_sdk's retry handlers: a blind retry of chat.postMessage could post
        # twice.
        self.slack = AsyncWebClient(
            token=slack.token, base_url=slack.base_url, timeout=int(config.slack_timeout), retry_handlers=[]
        )
        self.wake = asyncio.Event()
        self._active: dict[str, asyncio.Task[None]] = {}
        self._stopping = False
        self._depth_measured = 0.0
        self._again: set[str] = set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                claimed = await self.db.run(claim_destinations, self.config.replica_id, utcnow(), self.config)
                for destination in claimed:
                    if destination not in self._active:
                        self._start(destination)
                now = asyncio.get_running_loop().time()
                if now - self._depth_measured > 2.0:
                    self._depth_measured = now
                    self.metrics.outbox_depth(await self.db.run(outbox_depth))
            except Exception:
                log.exception("alert delivery: claiming work failed; retrying")
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.config.poll_interval)

    def kick(self, destinations: set[str]) -> None:
        """Start draining these destinations now (they just got rows), without waiting for the next poll."""
        for destination in destinations:
            if self._stopping:
                return
            if destination in self._active:
                # The running drain may just have found nothing; have it look once more before it ends.
                self._again.add(destination)
            else:
                self._start(destination)

    def _start(self, destination: str) -> None:
        task = asyncio.create_task(self._drain(destination), name=f"alerts-drain-{destination}")
        self._active[destination] = task
        task.add_done_callback(self._forget_task)

    def _forget_task(self, task: asyncio.Task[None]) -> None:
        for destination, running in list(self._active.items()):
            if running is task:
                del self._active[destination]

    async def stop(self) -> None:
        self._stopping = True
        self.wake.set()
        tasks = list(self._active.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _drain(self, destination: str) -> None:
        try:
            while not self._stopping:
                step = await self.db.run(
                    plan_step, destination, self.config.replica_id, utcnow(), self.config
                )
                if step is None:  # plan_step released the lease
                    if destination in self._again:
                        self._again.discard(destination)
                        continue
                    # Leave the active set in this same step, so a kick from now on starts a new drain.
                    if self._active.get(destination) is asyncio.current_task():
                        del self._active[destination]
                    return
                if step.action == "wait":
                    await asyncio.sleep(min(step.wait, self.config.lease_seconds / 3))
                    continue
                await self._execute(destination, step)
        except LeaseLost:
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("alert delivery to %s failed; another pass will retry", destination)

    async def _execute(self, destination: str, step: Step) -> None:
        try:
            if step.action == "resolve":
                response = await self.slack.conversations_open(users=destination)
                await self.db.run(record_resolved, destination, str(response["channel"]["id"]))
            elif step.action == "verify":
                await self._verify(destination, step)
            else:
                await self._deliver(destination, step)
        except SlackApiError as error:
            await self._handle_error(destination, step, error)
        except (TimeoutError, OSError) as error:
            # The request may or may not have reached Slack: leave the rows in doubt and verify before
            # retrying.
            log.warning("alert delivery to %s: %s; will verify and retry", destination, type(error).__name__)
            await self.db.run(
                record_retry, step, destination, utcnow(), 1.0, type(error).__name__, step.action != "resolve"
            )

    async def _handle_error(self, destination: str, step: Step, error: SlackApiError) -> None:
        code = str(error.response.get("error", "") or "")
        self.metrics.slack_error(code)
        if step.action == "verify" and code not in PERMANENT_ERRORS:
            await self._verify_failed(destination, step, error, code)
            return
        if error.response.status_code == 429 or code == "ratelimited":
            await self.db.run(
                record_retry, step, destination, utcnow(), _retry_after(error), "ratelimited", False
            )
            return
        if code in PERMANENT_ERRORS:
            log.warning("alerts to %s disabled: Slack answered %s", destination, code)
            kinds = await self.db.run(record_permanent, destination, code, utcnow())
            for kind in kinds:
                self.metrics.failed(kind)
            self.wake.set()
            return
        if code in ROW_ERRORS:
            log.error("alert rows %s refused by Slack (%s); dropping them", step.row_ids, code)
            await self.db.run(record_row_failure, step, code)
            for kind in step.kinds:
                self.metrics.failed(kind)
            return
        if code in PARENT_GONE and step.action in ("reply", "status_reply", "digest_update"):
            await self.db.run(_forget_parent, step)
            return
        in_doubt = error.response.status_code >= 500 and step.action != "verify"
        await self.db.run(record_retry, step, destination, utcnow(), 2.0, code or "error", in_doubt)

    async def _verify_failed(self, destination: str, step: Step, error: SlackApiError, code: str) -> None:
        """Slack would not say whether an interrupted post arrived. Posting again could post it twice, so
        the rows stay in doubt and the check is repeated later (after Retry-After on a 429) — unless this
        token may not read the conversation at all (an app installed from an older manifest): then waiting
        cannot help, and the alert is posted again, which may repeat it, with an error naming the scope."""
        if code in SCOPE_ERRORS:
            needed = str(error.response.get("needed", "") or "a history scope")
            log.error(
                "alert delivery to %s: cannot check whether an interrupted post arrived: Slack answered %s "
                "(needs %s). Add the scope to the Slack app (deploy/slack/manifest.yaml lists them) and "
                "reinstall it; until then an alert interrupted by a crash may be posted twice.",
                destination,
                code,
                needed,
            )
            await self.db.run(record_retry, step, destination, utcnow(), 0.0, code, False)
            return
        wait = _retry_after(error) if error.response.status_code == 429 or code == "ratelimited" else 2.0
        await self.db.run(record_retry, step, destination, utcnow(), wait, code or "error", True)

    @staticmethod
    def _metadata(step: Step) -> dict[str, Any]:
        keys = [str(p.get("key", "")) for p in step.payloads]
        workspace_id = str(step.payloads[0].get("workspace_id", "")) if step.payloads else ""
        return messages.metadata(step.row_ids, keys, workspace_id)

    async def _post(
        self, channel: str, message: messages.Message, step: Step, thread_ts: str | None = None
    ) -> str:
        response = await self.slack.chat_postMessage(
            channel=channel,
            text=message.text,
            blocks=message.blocks_json(),
            thread_ts=thread_ts,
            metadata=self._metadata(step),
            unfurl_links=False,
        )
        if thread_ts is not None and not _in_thread(response.data):
            # The parent was deleted: Slack does not refuse the reply, it posts it at the top of the
            # channel. That message is the workspace's card now (a reply carries the card's content).
            log.info(
                "alert delivery to %s: the thread %s is gone; the post became the card", channel, thread_ts
            )
            step.action = "card"
        return str(response["ts"])

    async def _deliver(self, destination: str, step: Step) -> None:
        now = utcnow()
        coder_url = self.config.coder_url
        if step.action == "card":
            ts = await self._post(step.channel, messages.alert_card(step.payloads[0], coder_url), step)
            await self.db.run(record_sent, step, step.channel, ts, utcnow())
        elif step.action == "status_reply":
            reply = messages.alert_card(step.payloads[0], coder_url)
            ts = await self._post(step.channel, reply, step, thread_ts=step.thread_ts)
            await self.db.run(record_sent, step, step.channel, ts, utcnow())
        elif step.action == "reply":
            payload = step.payloads[0]
            assert step.update_ts is not None
            card = messages.alert_card(payload, coder_url, recovered=step.recovered)
            await self.slack.chat_update(
                channel=step.channel, ts=step.update_ts, text=card.text, blocks=card.blocks_json()
            )
            reply = messages.thread_reply(payload, coder_url, recovered=step.recovered)
            ts = await self._post(step.channel, reply, step, thread_ts=step.thread_ts)
            await self.db.run(record_sent, step, step.channel, ts, utcnow())
        elif step.action == "summary":
            fresh = [p for p in step.payloads if not p.get("stale")]
            stale = [p for p in step.payloads if p.get("stale")]
            ts = await self._post(step.channel, messages.while_away(fresh, stale, step.since), step)
            await self.db.run(record_sent, step, step.channel, ts, utcnow())
        elif step.action == "notice":
            payload = step.payloads[0]
            notice = messages.subscription_disabled(payload["channel"], payload["reason"], payload["labels"])
            ts = await self._post(step.channel, notice, step)
            await self.db.run(record_sent, step, step.channel, ts, utcnow())
        elif step.action == "digest_post":
            digest = messages.digest_card(step.digest_members, step.digest_expected)
            ts = await self._post(step.channel, digest, step)
            await self.db.run(record_sent, step, step.channel, ts, utcnow())
        elif step.action == "digest_update":
            assert step.update_ts is not None
            digest = messages.digest_card(step.digest_members, step.digest_expected)
            await self.slack.chat_update(
                channel=step.channel,
                ts=step.update_ts,
                text=digest.text,
                blocks=digest.blocks_json(),
                metadata=self._metadata(step),
            )
            await self.db.run(record_sent, step, step.channel, step.update_ts, utcnow())
        for kind in step.kinds:
            self.metrics.delivered(kind, (utcnow() - now).total_seconds())

    async def _find_in_history(self, step: Step, wanted: set[int]) -> str | None:
        oldest = (step.since or utcnow()) - timedelta(seconds=60)
        response = await self.slack.conversations_history(
            channel=step.channel, oldest=f"{oldest.timestamp():.6f}", include_all_metadata=True, limit=200
        )
        return _find(response.get("messages") or [], wanted)

    async def _verify(self, destination: str, step: Step) -> None:
        """Find out whether an interrupted attempt reached Slack; record it if so, else make the rows
        pending."""
        wanted = set(step.row_ids)
        found_ts: str | None = None
        if step.card_kind == "digest_update":
            found_ts = None  # chat.update is idempotent: simply do it again
        elif step.thread_ts:
            try:
                response = await self.slack.conversations_replies(
                    channel=step.channel, ts=step.thread_ts, include_all_metadata=True, limit=200
                )
                found_ts = _find(response.get("messages") or [], wanted)
            except SlackApiError as error:
                if str(error.response.get("error", "")) not in PARENT_GONE:
                    raise
                # The card or status card was deleted. Slack posts a reply to a deleted parent at the top of
                # the channel, so the interrupted post is either there or nowhere.
                found_ts = await self._find_in_history(step, wanted)
                if found_ts is None:
                    log.info("alert delivery to %s: the thread %s is gone", destination, step.thread_ts)
                    await self.db.run(_forget_parent, step)
                    return
                step.card_kind, step.thread_ts = "card", None
        else:
            found_ts = await self._find_in_history(step, wanted)
        if found_ts is None:
            await self.db.run(
                record_retry, step, destination, utcnow(), 0.0, "retrying after an interruption", False
            )
            return
        step.action = step.card_kind
        if step.action == "digest_post":
            step.digest_members = {
                p["workspace_id"]: {
                    "name": p["workspace_name"],
                    "owner": p["owner_name"],
                    "kind": "ready",
                    "startup_seconds": p.get("startup_seconds"),
                }
                for p in step.payloads
            }
            peers = max((int(p.get("peers_starting", 0)) for p in step.payloads), default=0)
            step.digest_expected = max(len(step.digest_members), peers + 1)
        await self.db.run(record_sent, step, step.channel, found_ts, utcnow(), step.thread_ts)


def _in_thread(response: Any) -> bool:
    """Whether chat.postMessage put the message into the thread it was asked to (its answer's message names
    the thread; a reply to a deleted parent comes back without one). An answer without a message is taken at
    its word."""
    message = response.get("message") if isinstance(response, dict) else None
    return not isinstance(message, dict) or bool(message.get("thread_ts"))


def _retry_after(error: SlackApiError) -> float:
    headers = error.response.headers
    return float(headers.get("Retry-After", headers.get("retry-after", 1)))


def _find(found: list[dict[str, Any]], wanted: set[int]) -> str | None:
    for message in found:
        if messages.outbox_ids_of(message.get("metadata")) & wanted:
            return str(message.get("ts"))
    return None


def _forget_parent(session: Session, step: Step) -> None:
    """The card, status card or digest the rows were going into was deleted in Slack: forget it, so the next
    attempt posts a new one (the rows were not delivered: a post into a deleted thread is nowhere to be
    found)."""
    kind = step.card_kind if step.action == "verify" else step.action
    rows = session.scalars(select(AlertOutboxItem).where(AlertOutboxItem.id.in_(step.row_ids))).all()
    for row in rows:
        if row.status == "sent":
            continue
        row.status = "pending"
        row.sending_since = None
        row.error = "the message it belongs under was deleted in Slack"
        if kind == "reply":
            card = session.get(AlertCard, (row.destination, row.workspace_id))
            if card is not None and card.ts == step.thread_ts:
                session.delete(card)
        elif kind == "status_reply" and step.thread_ts:
            row.payload = {**row.payload, "status_card_gone": step.thread_ts}
    if step.digest_id is not None:
        digest = session.get(AlertDigest, step.digest_id)
        if digest is not None:
            digest.closed = True
