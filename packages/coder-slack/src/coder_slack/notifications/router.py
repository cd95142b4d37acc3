"""Who hears about a Coder notification, decided once, in the alert engine's process.

The intake only records notifications (``coder_notifications``, status ``received``). The router, a task of
the alert engine, claims received rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so replicas share them;
a claim expires after ``CODER_SLACK_NOTIFICATIONS_CLAIM_SECONDS`` so a dead replica's rows are taken over),
then for each:

1. finds the person: the Slack user whose linked Coder account (``identities``) is ``payload.user_id`` (or
   its username / e-mail), else the Slack user with ``payload.user_email`` (``users.lookupByEmail``, cached);
2. finds the workspace ``labels.name`` of that user names (the bot's Coder client; a deleted one is looked up
   in what the alert engine last saw of it), for the buttons and for channel filters;
3. renders the message (``render_notification``) for the DM and for channels;
4. in ONE transaction: the person's DM unless they muted the kind (``user_settings.muted_notifications``),
   every channel whose enabled subscription lists the kind (``coder:<slug>`` or ``coder:*``) and matches the
   workspace (watch) or its template/owner (subscribe) — written as alert-ledger rows (unique per
   ``notification:<msg_id>`` and destination, so two routers racing queue it once) plus outbox rows of kind
   ``notification``, and the notification marked ``routed``, ``muted`` or ``undeliverable`` (with the reason).

The alert engine's delivery worker then posts the outbox rows with the same guarantees as alerts (in order per
destination, 1 message/s per channel, Retry-After honoured, a crash verified by message metadata, permanent
errors disable the subscription and tell its creator).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from coder_client import AsyncCoderClient, CoderError, NotFound
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.orm import Session

from coder_slack.alerts.ledger import filters_match, insert_ledger_rows
from coder_slack.notifications.kinds import subscribed
from coder_slack.notifications.outbox import FAILED_BUILD_SLUGS, OUTBOX_KIND, message_payload
from coder_slack.notifications.payload import WebhookMessage
from coder_slack.notifications.render import NotificationContext, render_notification
from coder_slack.ops.metrics import METRICS, SlackBotMetrics
from coder_slack.slack_errors import SlackErrorKind, classify, error_code, retry_after
from coder_slack.slack_tokens import NoInstallation, SingleTeamTokens, SlackTokens
from coder_slack.store import (
    AlertDestination,
    AlertOutboxItem,
    AlertWorkspace,
    CoderNotification,
    Identity,
    Subscription,
    ThreadTransactions,
    Transactions,
    UserSettings,
    aware,
    dialect_insert,
    utcnow,
)

log = logging.getLogger(__name__)

BATCH = 50
CONCURRENCY = 8
EMAIL_CACHE_SECONDS = 300.0
# Coder failing to answer the workspace lookup postpones the notification this often, then it goes out
# without the workspace (no buttons; channel filters by template cannot match).
CODER_ATTEMPTS = 3
# Routing that fails for any other reason (a bug, the database) is retried every 5 s this often, then the
# notification is recorded as undeliverable with the error's type.
MAX_ATTEMPTS = 10
CODER_RETRY_SECONDS = 2.0
# How long the router lets a burst gather after the intake woke it.
GATHER_SECONDS = 0.05


# ------------------------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class Claimed:
    id: int
    msg_id: str
    body: dict[str, Any]
    received_at: datetime
    attempts: int = 1  # how often it has been claimed, this time included


@dataclass(frozen=True)
class Recipient:
    slack_user_id: str
    team_id: str


@dataclass(frozen=True)
class WorkspaceFacts:
    """What the router knows of the notification's workspace."""

    id: str
    exists: bool  # False: deleted (known from what the alert engine last saw)
    status: str = ""
    build_id: str = ""
    owner_id: str = ""
    owner_name: str = ""
    template_id: str = ""
    template_name: str = ""
    template_display_name: str = ""


@dataclass(frozen=True)
class Resolution:
    recipient: Recipient | None
    problem: str  # why there is no recipient ("" when there is one)
    workspace: WorkspaceFacts | None


@dataclass
class RouteResult:
    outcome: str  # routed | muted | undeliverable | skipped (another router did it)
    queued: set[str] = field(default_factory=set)


class Postpone(Exception):
    """Slack or Coder cannot answer now; try this notification again after ``seconds``."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.reason = reason


# ------------------------------------------------------------------------------------------- SQL


def claim_received(
    session: Session, replica: str, now: datetime, seconds: float, limit: int = BATCH
) -> list[Claimed]:
    """Received notifications no other router holds, oldest first, claimed by ``replica`` until now +
    ``seconds``. A replica's own claims are taken again at once (a restarted process with a stable replica id,
    as on SQLite, resumes what it was routing); a postponed row (no holder) waits until its time."""
    table = CoderNotification
    query = (
        select(table)
        .where(
            table.status == "received",
            or_(table.claimed_until.is_(None), table.claimed_until < now, table.claimed_by == replica),
        )
        .order_by(table.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = []
    for row in session.scalars(query):
        row.claimed_by = replica
        row.claimed_until = now + timedelta(seconds=seconds)
        row.attempts += 1
        received_at = aware(row.received_at) or now
        claimed.append(Claimed(row.id, row.msg_id, dict(row.body), received_at, row.attempts))
    return claimed


def received_count(session: Session) -> int:
    """Notifications recorded and not yet routed (the engine is not idle while there are any)."""
    return int(session.scalar(select(func.count()).where(CoderNotification.status == "received")) or 0)


def prune_finished(session: Session, before: datetime, limit: int = 500) -> int:
    """Delete at most ``limit`` routed, muted or undeliverable notifications received before ``before`` (Coder
    retries a message for minutes, not days: its ``msg_id`` is not needed after that)."""
    table = CoderNotification
    ids = list(
        session.scalars(
            select(table.id)
            .where(table.status != "received", table.received_at < before)
            .order_by(table.id)
            .limit(limit)
        )
    )
    if ids:
        session.execute(delete(table).where(table.id.in_(ids)))
    return len(ids)


def find_identity(session: Session, user_id: str, username: str, email: str) -> Recipient | None:
    """The Slack user linked (or matched earlier) to this Coder user."""
    conditions = []
    if user_id:
        conditions.append(Identity.coder_user_id == user_id)
    if username:
        conditions.append(func.lower(Identity.coder_username) == username.lower())
    if email:
        conditions.append(func.lower(Identity.email) == email.lower())
    for condition in conditions:
        found = session.scalars(select(Identity).where(condition).limit(1)).first()
        if found is not None:
            return Recipient(found.slack_user_id, found.team_id)
    return None


def last_seen_workspace(session: Session, owner: str, name: str) -> WorkspaceFacts | None:
    """What the alert engine last saw of a workspace that Coder no longer shows (deleted)."""
    row = session.scalars(
        select(AlertWorkspace)
        .where(func.lower(AlertWorkspace.owner_name) == owner.lower(), AlertWorkspace.name == name)
        .limit(1)
    ).first()
    if row is None:
        return None
    return WorkspaceFacts(
        id=row.workspace_id,
        exists=False,
        status="deleted",
        build_id=row.build_id,
        owner_id=row.owner_id,
        owner_name=row.owner_name,
        template_name=row.template_name,
    )


def postpone(session: Session, notification_id: int, replica: str, until: datetime, reason: str) -> None:
    """Give the notification back, to be claimed again (by any replica) from ``until`` on."""
    row = session.get(CoderNotification, notification_id)
    if row is not None and row.status == "received" and row.claimed_by == replica:
        row.claimed_by = None
        row.claimed_until = until
        row.reason = reason[:500]


def give_up(session: Session, notification_id: int, replica: str, reason: str, now: datetime) -> None:
    """Record a notification that cannot be routed as undeliverable (so it stops holding the queue)."""
    row = session.get(CoderNotification, notification_id)
    if row is not None and row.status == "received" and row.claimed_by == replica:
        row.status = "undeliverable"
        row.reason = reason[:500]
        row.routed_at = now
        row.claimed_until = None


def _sub_matches(sub: Subscription, payload_user: tuple[str, str], workspace: WorkspaceFacts | None) -> bool:
    user_id, username = payload_user
    owners = {username.lower(), user_id}
    templates: set[str] = set()
    if workspace is not None:
        owners |= {workspace.owner_name.lower(), workspace.owner_id}
        templates = {
            workspace.template_name.lower(),
            workspace.template_display_name.lower(),
            workspace.template_id,
        }
    return filters_match(
        sub.workspace_id,
        sub.template,
        sub.owner,
        workspace_id=workspace.id if workspace is not None else None,
        templates=templates,
        owners=owners,
    )


def channel_key(message: WebhookMessage, workspace: WorkspaceFacts | None, received_at: datetime) -> str:
    """The ledger key of a notification in a channel. Coder sends one message per recipient (a workspace
    created or a manual build failed goes to every template admin, each with its own ``msg_id`` and a
    greeting of its own), so a channel hears about the same event (kind, labels, workspace) once an hour."""
    kind = message.payload.kind
    labels = sorted(message.payload.labels.items())
    subject = workspace.id if workspace is not None else message.payload.workspace_owner
    digest = hashlib.sha256(repr((kind.slug, labels, subject)).encode()).hexdigest()
    return f"notification:{kind.slug}:{digest[:24]}:{received_at:%Y%m%d%H}"


class Rendered:
    """The message for a DM and for channels, each rendered when first asked for (most notifications go to
    one person: their channel variant is rarely needed). A variant carries, under ``thread``, its form for a
    reply in an alert card's thread when the notification reports a failed build (the only case the planner
    posts it there)."""

    def __init__(self, render: Callable[[bool], dict[str, Any]]) -> None:
        self._render = render
        self._variants: dict[bool, dict[str, Any]] = {}

    def variant(self, for_channel: bool) -> dict[str, Any]:
        if for_channel not in self._variants:
            self._variants[for_channel] = self._render(for_channel)
        return self._variants[for_channel]

    @property
    def dm(self) -> dict[str, Any]:
        return self.variant(False)

    @property
    def channel(self) -> dict[str, Any]:
        return self.variant(True)


# (destination, team, ledger key, payload)
Target = tuple[str, str, str, dict[str, Any]]


@dataclass
class _Routing:
    """What recording one notification writes: its row's new state and its destinations."""

    row: CoderNotification
    workspace: WorkspaceFacts | None
    targets: list[Target]
    status: str
    reason: str


def _plan_routing(
    claimed: Claimed,
    message: WebhookMessage,
    resolution: Resolution,
    rendered: Rendered,
    row: CoderNotification,
    mutes_of: Callable[[Recipient], set[str]],
    subs: Sequence[Subscription],
) -> _Routing:
    """Everyone who hears about the notification, and the state its row takes (nothing written yet)."""
    kind = message.payload.kind
    workspace = resolution.workspace
    targets: list[Target] = []
    reasons: list[str] = []
    muted = False
    base = {
        "msg_id": message.msg_id,
        "slug": kind.slug,
        "workspace_id": workspace.id if workspace is not None else "",
        "build_id": workspace.build_id if workspace is not None else "",
        "failed_build": kind.slug in FAILED_BUILD_SLUGS and workspace is not None,
    }
    recipient = resolution.recipient
    if recipient is not None:
        if kind.slug in mutes_of(recipient):
            muted = True
            reasons.append(f"{kind.slug} is muted by its recipient")
        else:
            key = f"notification:{message.msg_id}"
            payload = {**base, **rendered.dm, "key": key, "labels": ["your Coder notifications"]}
            targets.append((recipient.slack_user_id, recipient.team_id, key, payload))
    elif resolution.problem:
        reasons.append(resolution.problem)
    user = (message.payload.user_id, message.payload.workspace_owner)
    seen_channels: set[str] = set()
    for sub in subs:
        if sub.channel_id in seen_channels or not subscribed(sub.event_list, kind):
            continue
        if not _sub_matches(sub, user, workspace):
            continue
        seen_channels.add(sub.channel_id)
        key = channel_key(message, workspace, claimed.received_at)
        label = sub.workspace_label or "Coder notifications"
        payload = {**base, **rendered.channel, "key": key, "labels": [label]}
        targets.append((sub.channel_id, sub.team_id, key, payload))
    if targets:
        status = "routed"
    elif muted:
        status = "muted"
    else:
        status = "undeliverable"
        if not reasons:
            reasons.append("no Slack user and no channel subscription hears about it")
    return _Routing(row, workspace, targets, status, "; ".join(reasons)[:500])


def record_routing(
    session: Session,
    claimed: Claimed,
    message: WebhookMessage,
    resolution: Resolution,
    rendered: Rendered,
    replica: str,
    now: datetime,
    burst: float,
) -> RouteResult:
    """Queue the notification for everyone who hears about it and mark it routed, in this transaction."""
    (result,) = record_routings(
        session, [Prepared(claimed, message, resolution, rendered)], replica, now, burst
    )
    return result


def _enabled_subscriptions(session: Session) -> Sequence[Subscription]:
    return session.scalars(select(Subscription).where(Subscription.enabled.is_(True))).all()


@dataclass(frozen=True)
class Prepared:
    """A notification resolved and rendered, ready to be recorded."""

    claimed: Claimed
    message: WebhookMessage
    resolution: Resolution
    rendered: Rendered


def record_routings(
    session: Session, prepared: list[Prepared], replica: str, now: datetime, burst: float
) -> list[RouteResult]:
    """Queue a batch of notifications for everyone who hears about them and mark them routed, in one
    transaction. Everything is read first and the writes come last, a few statements for the whole batch:
    on SQLite the write lock (which the intake waits for) is held for milliseconds, not for the batch."""
    if not prepared:
        return []
    subs = _enabled_subscriptions(session)
    ids = [p.claimed.id for p in prepared]
    rows = {
        row.id: row
        for row in session.scalars(
            select(CoderNotification).where(CoderNotification.id.in_(ids)).with_for_update()
        )
    }
    people = {p.resolution.recipient for p in prepared if p.resolution.recipient is not None}
    mutes: dict[tuple[str, str], set[str]] = {}
    if people:
        for team_id, slack_user_id, muted in session.execute(
            select(UserSettings.team_id, UserSettings.slack_user_id, UserSettings.muted_notifications).where(
                UserSettings.slack_user_id.in_({person.slack_user_id for person in people})
            )
        ):
            mutes[(team_id, slack_user_id)] = {slug.strip() for slug in (muted or "").split(",")}

    def mutes_of(person: Recipient) -> set[str]:
        return mutes.get((person.team_id, person.slack_user_id), set())

    plans: list[_Routing | None] = []
    for p in prepared:
        row = rows.get(p.claimed.id)
        if row is None or row.status != "received" or row.claimed_by != replica:
            plans.append(None)
            continue
        plans.append(_plan_routing(p.claimed, p.message, p.resolution, p.rendered, row, mutes_of, subs))
    planned = [plan for plan in plans if plan is not None]
    queued = _queue(session, [(plan.workspace, plan.targets) for plan in planned], now, burst)
    results: list[RouteResult] = []
    position = 0
    for plan in plans:
        if plan is None:
            results.append(RouteResult("skipped"))
            continue
        row = plan.row
        row.destinations = ",".join(sorted({t[0] for t in plan.targets}))[:1024]
        row.routed_at = now
        row.claimed_until = None
        row.status = plan.status
        row.reason = plan.reason
        results.append(RouteResult(plan.status, queued.get(position, set())))
        position += 1
    session.flush()
    return results


def find_identities(session: Session, users: list[tuple[str, str, str]]) -> list[Recipient | None]:
    """``find_identity`` for many (user id, username, e-mail), in one query: each is matched by its linked
    Coder user id, else username, else e-mail (case-insensitive)."""
    ids = {user_id for user_id, _, _ in users if user_id}
    names = {username.lower() for _, username, _ in users if username}
    emails = {email.lower() for _, _, email in users if email}
    if not (ids or names or emails):
        return [None for _ in users]
    rows = session.execute(
        select(
            Identity.coder_user_id,
            Identity.coder_username,
            Identity.email,
            Identity.slack_user_id,
            Identity.team_id,
        )
        .where(
            or_(
                Identity.coder_user_id.in_(ids),
                func.lower(Identity.coder_username).in_(names),
                func.lower(Identity.email).in_(emails),
            )
        )
        .order_by(Identity.team_id, Identity.slack_user_id)
    ).all()
    by_id: dict[str, Recipient] = {}
    by_name: dict[str, Recipient] = {}
    by_email: dict[str, Recipient] = {}
    for user_id, username, email, slack_user_id, team_id in rows:
        found = Recipient(slack_user_id, team_id)
        by_id.setdefault(user_id, found)
        by_name.setdefault((username or "").lower(), found)
        by_email.setdefault((email or "").lower(), found)
    return [
        (by_id.get(user_id) if user_id else None)
        or (by_name.get(username.lower()) if username else None)
        or (by_email.get(email.lower()) if email else None)
        for user_id, username, email in users
    ]


def routing_facts(
    session: Session, users: list[tuple[str, str, str]]
) -> tuple[list[Recipient | None], list[list[str]]]:
    """The linked Slack users of a batch (``find_identities``) and the event lists of the enabled
    subscriptions (which channel variants are worth rendering), in one read."""
    lists = session.scalars(select(Subscription.events).where(Subscription.enabled.is_(True)))
    events = [[event for event in (listed or "").split(",") if event] for listed in lists]
    return find_identities(session, users), events


def _queue(
    session: Session,
    batch: list[tuple[WorkspaceFacts | None, list[Target]]],
    now: datetime,
    burst: float,
) -> dict[int, set[str]]:
    """Ledger and outbox rows for each notification's targets (a (key, destination) already in the ledger,
    from an earlier notification or another router, is not queued again); the destinations queued, by the
    notification's position in ``batch``."""
    if not any(targets for _, targets in batch):
        return {}
    rows = {
        (key, destination): {
            "alert_key": key,
            "destination": destination,
            "kind": OUTBOX_KIND,
            "workspace_id": workspace.id if workspace is not None else "",
            "decision": "queued",
            "event_at": now,
            "created_at": now,
        }
        for workspace, targets in batch
        for destination, _team, key, _payload in targets
    }
    destinations = {destination for _, targets in batch for destination, _, _, _ in targets}
    known = {
        dest.destination: dest
        for dest in session.scalars(
            select(AlertDestination).where(AlertDestination.destination.in_(destinations))
        )
    }
    # The writes, last: on SQLite the write lock is taken here.
    inserted = insert_ledger_rows(session, rows.values())
    outbox = []
    new_destinations: dict[str, dict[str, Any]] = {}
    queued: dict[int, set[str]] = {}
    for position, (_workspace, targets) in enumerate(batch):
        for destination, team_id, key, payload in targets:
            if (key, destination) not in inserted:
                continue
            inserted.discard((key, destination))  # the first notification of the batch queues it
            queued.setdefault(position, set()).add(destination)
            dest = known.get(destination)
            if dest is None:
                new_destinations.setdefault(
                    destination,
                    {"destination": destination, "team_id": team_id, "tokens": burst, "tokens_at": now},
                )
            elif dest.disabled_reason is not None:
                dest.disabled_reason = None  # an enabled subscription or a person: try again
            outbox.append(
                {
                    "team_id": team_id,
                    "destination": destination,
                    "workspace_id": payload["workspace_id"],
                    "alert_key": key,
                    "kind": OUTBOX_KIND,
                    "payload": payload,
                    "catch_up": False,
                    "stale": False,
                    "status": "pending",
                    "attempts": 0,
                    "due_at": now,
                    "created_at": now,
                }
            )
    if new_destinations:
        table = AlertDestination.__table__
        session.execute(
            dialect_insert(session, table).on_conflict_do_nothing(),  # type: ignore[arg-type]
            list(new_destinations.values()),
        )
    if outbox:
        session.execute(insert(AlertOutboxItem.__table__), outbox)  # type: ignore[arg-type]
    return queued


# ------------------------------------------------------------------------------------------- router


class NotificationRouter:
    """Claims received notifications and routes them (see the module's docstring)."""

    def __init__(
        self,
        db: Transactions | ThreadTransactions,
        slack: AsyncWebClient,
        coder: AsyncCoderClient,
        *,
        replica_id: str,
        claim_seconds: float = 30.0,
        burst: float = 1.0,
        poll_interval: float = 1.0,
        on_queued: Callable[[set[str]], None] | None = None,
        metrics: SlackBotMetrics | None = None,
        retention_days: float = 14.0,
        prune_interval: float = 600.0,
        gather_seconds: float = GATHER_SECONDS,
        tokens: SlackTokens | None = None,
    ) -> None:
        self.db = db
        self.slack = slack
        # Whose Slack to look people up in: the one team of SLACK_BOT_TOKEN, or every installed team (OAuth).
        self.tokens: SlackTokens = tokens or SingleTeamTokens(slack)
        self.coder = coder
        self.replica_id = replica_id
        self.claim_seconds = claim_seconds
        self.burst = burst
        self.poll_interval = poll_interval
        self.on_queued = on_queued
        self.metrics = metrics or METRICS
        self.retention = timedelta(days=retention_days)
        self.prune_interval = prune_interval
        self.gather_seconds = gather_seconds
        self._pruned_at = 0.0
        self.wake = asyncio.Event()
        self._emails: dict[str, tuple[float, Recipient | None]] = {}
        self._limit = asyncio.Semaphore(CONCURRENCY)

    async def run(self) -> None:
        while True:
            batch: list[Claimed] = []
            self.wake.clear()
            try:
                batch = await self.db.run(
                    claim_received, self.replica_id, utcnow(), self.claim_seconds, BATCH
                )
                if batch:
                    await self.route_batch(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Coder notifications: routing failed; retrying")
                await asyncio.sleep(1.0)
            if len(batch) >= BATCH:
                continue
            if time.monotonic() - self._pruned_at > self.prune_interval:
                self._pruned_at = time.monotonic()
                await self.prune()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.poll_interval)
            if self.wake.is_set() and self.gather_seconds > 0:
                # Woken by the intake: let the rest of a burst arrive, to route it in a few batches rather
                # than one small batch (three transactions) per notification.
                await asyncio.sleep(self.gather_seconds)

    async def prune(self, now: datetime | None = None) -> int:
        """Delete finished notifications older than the retention, 500 a transaction; how many went."""
        before = (now or utcnow()) - self.retention
        total = 0
        try:
            while True:
                count = await self.db.run(prune_finished, before)
                total += count
                if count < 500:
                    return total
                await asyncio.sleep(0.05)
        except Exception:
            log.exception("Coder notifications: pruning failed; retrying at the next pass")
            return total

    async def pending(self) -> int:
        return await self.db.run(received_count)

    async def route_batch(self, batch: list[Claimed]) -> None:
        """Resolve and render every claimed notification (Slack and Coder lookups side by side), then record
        them all in one transaction: a burst costs a few transactions, not several per notification."""
        readable: list[tuple[Claimed, WebhookMessage]] = []
        for claimed in batch:
            try:
                readable.append((claimed, WebhookMessage.model_validate(claimed.body)))
            except ValueError as error:  # recorded by an older intake, say: it will not read better later
                await self._failed(replace(claimed, attempts=MAX_ATTEMPTS), error)
        batch = [claimed for claimed, _ in readable]
        messages = [message for _, message in readable]
        users = [(m.payload.user_id, m.payload.user_username, m.payload.user_email) for m in messages]
        identities, events = await self.db.run(routing_facts, users)

        async def resolve(claimed: Claimed, message: WebhookMessage, identity: Recipient | None) -> Any:
            async with self._limit:
                try:
                    return await self.resolve(
                        message, patient=claimed.attempts < CODER_ATTEMPTS, identity=identity
                    )
                except Exception as error:
                    return error

        resolved = await asyncio.gather(
            *(resolve(c, m, i) for c, m, i in zip(batch, messages, identities, strict=True))
        )
        to_render = [
            (claimed, message, outcome, any(subscribed(listed, message.payload.kind) for listed in events))
            for claimed, message, outcome in zip(batch, messages, resolved, strict=True)
            if isinstance(outcome, Resolution)
        ]
        rendered = iter(await asyncio.to_thread(self._render_all, to_render))
        ready: list[Prepared] = []
        for claimed, outcome in zip(batch, resolved, strict=True):
            if isinstance(outcome, Resolution):
                outcome = next(rendered)
                if isinstance(outcome, Prepared):
                    ready.append(outcome)
            if isinstance(outcome, Exception):
                await self._failed(claimed, outcome)
        if not ready:
            return
        results = await self.db.run(record_routings, ready, self.replica_id, utcnow(), self.burst)
        queued: set[str] = set()
        for result in results:
            if result.outcome != "skipped":
                self.metrics.record_notification(result.outcome)
            queued |= result.queued
        if queued and self.on_queued is not None:
            self.on_queued(queued)

    def _render_all(
        self, batch: list[tuple[Claimed, WebhookMessage, Resolution, bool]]
    ) -> list[Prepared | Exception]:
        """``render`` for a batch, in a thread: rendering is the router's CPU work, kept off the event loop
        that answers Coder's webhook (and Slack)."""
        out: list[Prepared | Exception] = []
        for claimed, message, resolution, channels in batch:
            try:
                out.append(self.render(claimed, message, resolution, channels))
            except Exception as error:
                out.append(error)
        return out

    async def _failed(self, claimed: Claimed, error: Exception) -> None:
        if isinstance(error, Postpone):
            log.info(
                "Coder notification %s: %s; retrying in %.0fs", claimed.msg_id, error.reason, error.seconds
            )
            until = utcnow() + timedelta(seconds=error.seconds)
            await self.db.run(postpone, claimed.id, self.replica_id, until, error.reason)
            return
        if claimed.attempts >= MAX_ATTEMPTS:
            log.error(
                "Coder notification %s: routing failed %d times (%s); giving up",
                claimed.msg_id,
                MAX_ATTEMPTS,
                type(error).__name__,
            )
            reason = f"routing failed {MAX_ATTEMPTS} times ({type(error).__name__})"
            await self.db.run(give_up, claimed.id, self.replica_id, reason, utcnow())
            self.metrics.record_notification("undeliverable")
            return
        log.error(
            "Coder notification %s: routing failed (%s); another pass retries",
            claimed.msg_id,
            type(error).__name__,
            exc_info=error,
        )
        until = utcnow() + timedelta(seconds=5)
        await self.db.run(postpone, claimed.id, self.replica_id, until, "routing failed")

    async def route(self, claimed: Claimed) -> RouteResult:
        """Route one notification (what ``route_batch`` does for many)."""
        message = WebhookMessage.model_validate(claimed.body)
        payload = message.payload
        identity = await self.db.run(
            find_identity, payload.user_id, payload.user_username, payload.user_email
        )
        prepared = await self.prepare(claimed, message, identity)
        (result,) = await self.db.run(record_routings, [prepared], self.replica_id, utcnow(), self.burst)
        return result

    async def prepare(
        self,
        claimed: Claimed,
        message: WebhookMessage,
        identity: Recipient | None,
        channels: bool = True,
    ) -> Prepared:
        """Who gets it, which workspace it is about, and its message (DM and channel variants; ``channels``:
        whether a channel subscription may want it, so its channel variant is rendered now rather than in
        the transaction that records it)."""
        resolution = await self.resolve(message, patient=claimed.attempts < CODER_ATTEMPTS, identity=identity)
        return self.render(claimed, message, resolution, channels)

    def render(
        self, claimed: Claimed, message: WebhookMessage, resolution: Resolution, channels: bool = True
    ) -> Prepared:
        """The resolved notification's messages: the person's DM (when there is a person) and, when
        ``channels``, the channel variant are rendered now; any other on demand."""
        workspace = resolution.workspace
        common: dict[str, Any] = {}
        if workspace is not None and workspace.exists:
            common = {"workspace_id": workspace.id, "workspace_status": workspace.status}
        about_recipient = message.payload.workspace_owner.lower() == message.payload.user_username.lower()
        if resolution.recipient is not None and about_recipient:
            # A channel names the person the notification is about (not a template admin it was sent to).
            common["user_slack_id"] = resolution.recipient.slack_user_id
        # Only a failed build goes into an alert card's thread (the planner's ``NotificationInCard``).
        failed_build = message.payload.kind.slug in FAILED_BUILD_SLUGS and workspace is not None

        def variant(for_channel: bool) -> dict[str, Any]:
            alone = NotificationContext(**common, for_channel=for_channel)
            rendered = message_payload(render_notification(message, alone))
            if failed_build:
                in_thread = NotificationContext(**common, for_channel=for_channel, in_thread=True)
                rendered["thread"] = message_payload(render_notification(message, in_thread))
            return rendered

        rendered = Rendered(variant)
        if resolution.recipient is not None:
            rendered.variant(False)
        if channels:
            rendered.variant(True)
        return Prepared(claimed, message, resolution, rendered)

    async def resolve(
        self, message: WebhookMessage, patient: bool = False, identity: Recipient | None = None
    ) -> Resolution:
        """Who gets it (``identity``: the linked Slack user, already looked up; else by e-mail) and which
        workspace it is about. ``patient``: when Coder cannot answer, postpone the notification
        (``Postpone``) rather than send it without the workspace."""
        payload = message.payload
        recipient = identity
        problem = ""
        if recipient is None:
            if payload.user_email:
                recipient = await self._lookup_email(payload.user_email)
                if recipient is None:
                    who = payload.user_username or payload.user_id
                    problem = f"no Slack user has the e-mail of Coder user {who} and none linked that account"
            else:
                problem = "the notification names no user e-mail and no linked Slack user"
        workspace = await self._workspace(message, patient)
        return Resolution(recipient, problem, workspace)

    async def _lookup_email(self, email: str) -> Recipient | None:
        """The Slack user with this e-mail: in the one team of single-token mode, else in the first installed
        team (OAuth mode) that has one."""
        key = email.strip().lower()
        cached = self._emails.get(key)
        if cached is not None and time.monotonic() - cached[0] < EMAIL_CACHE_SECONDS:
            return cached[1]
        found: Recipient | None = None
        for team in await self.tokens.teams():
            try:
                client = await self.tokens.client_for(team)
            except NoInstallation:
                continue  # uninstalled since it was listed
            found = await self._lookup_email_in(client, email, team)
            if found is not None:
                break
        self._emails[key] = (time.monotonic(), found)
        return found

    async def _lookup_email_in(self, client: AsyncWebClient, email: str, team: str) -> Recipient | None:
        try:
            response = await client.users_lookupByEmail(email=email)
        except SlackApiError as error:
            code = error_code(error)
            if code == "users_not_found":
                return None
            kind = classify(error)
            if kind is SlackErrorKind.RATE_LIMITED:
                raise Postpone(retry_after(error), "users.lookupByEmail is rate limited") from None
            if kind in (SlackErrorKind.PERMANENT, SlackErrorKind.SCOPE):
                log.error("Coder notifications: users.lookupByEmail failed permanently (%s)", code)
                return None
            raise Postpone(5.0, f"users.lookupByEmail answered {code or 'an error'}") from None
        except (TimeoutError, OSError) as error:
            raise Postpone(5.0, f"users.lookupByEmail failed ({type(error).__name__})") from None
        user = response.get("user") or {}
        if not user.get("id"):
            return None
        # The installation that found them is the one whose token reaches them (on Enterprise Grid a user's
        # home team may be another of the organisation).
        return Recipient(str(user["id"]), team or str(user.get("team_id") or ""))

    async def _workspace(self, message: WebhookMessage, patient: bool = False) -> WorkspaceFacts | None:
        """The workspace the notification names: Coder's first target is its id (checked against the name),
        else owner/name; a deleted one from what the alert engine last saw of it."""
        payload = message.payload
        name = payload.workspace_name
        owner = payload.workspace_owner
        if not name:
            return None
        try:
            workspace = None
            if payload.targets:
                with contextlib.suppress(NotFound):
                    found = await self.coder.workspaces.get(payload.targets[0])
                    if found.name == name:
                        workspace = found
            if workspace is None:
                if not owner:
                    return None
                workspace = await self.coder.workspaces.get_by_name(owner, name)
        except NotFound:
            return await self.db.run(last_seen_workspace, owner, name)
        except CoderError as error:
            self.metrics.record_coder_error(getattr(error, "status_code", None))
            if patient:
                raise Postpone(
                    CODER_RETRY_SECONDS, f"Coder did not answer ({type(error).__name__})"
                ) from None
            log.info(
                "Coder notification %s: workspace lookup failed (%s)", message.msg_id, type(error).__name__
            )
            return await self.db.run(last_seen_workspace, owner, name)
        build = workspace.latest_build
        return WorkspaceFacts(
            id=workspace.id,
            exists=True,
            status=str(build.status),
            build_id=build.id,
            owner_id=workspace.owner_id,
            owner_name=workspace.owner_name,
            template_id=workspace.template_id,
            template_name=workspace.template_name,
            template_display_name=workspace.template_display_name,
        )
