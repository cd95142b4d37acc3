"""The outbox's SQL: reading a destination's queue for the planner, applying a plan, recording what Slack
answered. Every function runs inside one transaction (``Transactions.run``); none calls Slack.

A step is planned and committed before any Slack call (``plan_step``: the destination's lease renewed, a
token taken, the rows marked ``sending``), and its outcome recorded in a second transaction
(``record_sent``, ``record_retry``, ...). A row left ``sending`` by a crash is in doubt until the worker has
looked for it in Slack.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Row, Select, Update, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from coder_slack.alerts.config import AlertConfig
from coder_slack.alerts.events import FAILURE_KINDS
from coder_slack.alerts.leases import (
    UNSENT,
    hold_destination,
    release_destination_row,
    release_leases,
    watch_lease,
)
from coder_slack.alerts.planner import (
    SUMMARY_LIMIT,
    Bucket,
    Card,
    Decision,
    Delivery,
    DestinationState,
    Head,
    NotificationInCard,
    OpenDigest,
    PostCard,
    PostDigest,
    PostInStatusCard,
    PostNotification,
    QueuedRow,
    ReplyInCard,
    UpdateDigest,
    Verify,
    plan,
)
from coder_slack.notifications.outbox import FAILED_CARD_KIND
from coder_slack.store import (
    AlertCard,
    AlertDestination,
    AlertDigest,
    AlertLedgerEntry,
    AlertOutboxItem,
    AlertWorkspace,
    StatusCard,
    Subscription,
    any_of,
    aware,
    dialect_of,
    insert_ignoring_conflicts,
)

# Between Coder's clock (when a build was queued) and ours (when its status card was posted).
CLOCK_SKEW = timedelta(seconds=15)
_BATCH = 500

# ------------------------------------------------------------------------------------------ the queue


def _queued(row: AlertOutboxItem | Row[Any]) -> QueuedRow:
    return QueuedRow(
        id=row.id,
        workspace_id=row.workspace_id,
        kind=row.kind,
        payload=row.payload,
        status=row.status,
        catch_up=row.catch_up,
        stale=row.stale,
        sending_since=aware(row.sending_since),
        attempt_kind=row.attempt_kind,
        message_channel=row.message_channel,
        thread_ts=row.thread_ts,
    )


# What the planner reads of a row (``QueuedRow``), as plain columns.
_QUEUED_COLUMNS = (
    AlertOutboxItem.id,
    AlertOutboxItem.workspace_id,
    AlertOutboxItem.kind,
    AlertOutboxItem.payload,
    AlertOutboxItem.status,
    AlertOutboxItem.catch_up,
    AlertOutboxItem.stale,
    AlertOutboxItem.sending_since,
    AlertOutboxItem.attempt_kind,
    AlertOutboxItem.message_channel,
    AlertOutboxItem.thread_ts,
)

# The destination's oldest unsent row: one index seek per status (``status IN (…) ORDER BY id`` would sort
# every unsent row of the destination first), in one statement. Built once (it runs at every step of every
# drain: building it and loading an ORM object each time was half the CPU of planning a step in a burst).
_FIRST_UNSENT = (
    select(*_QUEUED_COLUMNS)
    .where(
        AlertOutboxItem.id.in_(
            [
                select(AlertOutboxItem.id)
                .where(
                    AlertOutboxItem.destination == bindparam("destination"), AlertOutboxItem.status == status
                )
                .order_by(AlertOutboxItem.id)
                .limit(1)
                .scalar_subquery()
                for status in UNSENT
            ]
        )
    )
    .order_by(AlertOutboxItem.id)
    .limit(1)
)


# Rows by id, the heads of the queue and the destination's open digest: plain columns, statements built once
# (per dialect where a list is bound: ``store.any_of``). Loading ORM objects for them was about a sixth of the
# CPU of planning a digest step of 50 rows (5.6 → 4.8 ms, median of 40 steps on PostgreSQL, the step alone);
# a 9:00 burst plans dozens a second. Binding the lists of ids as one array took that step from 7.1 to 5.9 ms.
@cache
def _rows_by_id(dialect: str) -> Select[Any]:
    return (
        select(*_QUEUED_COLUMNS)
        .where(any_of(AlertOutboxItem.id, "ids", dialect))
        .order_by(AlertOutboxItem.id)
    )


@cache
def _failed_cards(dialect: str) -> Select[Any]:
    return select(AlertCard.workspace_id).where(
        AlertCard.destination == bindparam("destination"),
        any_of(AlertCard.workspace_id, "workspace_ids", dialect),
        AlertCard.last_kind.in_(FAILURE_KINDS),
    )


@cache
def _mark_sending_statement(dialect: str) -> Update:
    return (
        update(AlertOutboxItem)
        .where(any_of(AlertOutboxItem.id, "ids", dialect))
        .values(
            status="sending",
            sending_since=bindparam("now"),
            attempts=AlertOutboxItem.attempts + 1,
            attempt_kind=bindparam("attempt_kind"),
            message_channel=bindparam("channel"),
            thread_ts=bindparam("thread_ts"),
        )
    )


_HEADS = (
    select(
        AlertOutboxItem.id,
        AlertOutboxItem.workspace_id,
        AlertOutboxItem.kind,
        AlertOutboxItem.status,
        AlertOutboxItem.catch_up,
    )
    .where(
        AlertOutboxItem.destination == bindparam("destination"), AlertOutboxItem.status == bindparam("status")
    )
    .order_by(AlertOutboxItem.id)
    .limit(bindparam("limit"))
)
_OPEN_DIGEST = (
    select(
        AlertDigest.id,
        AlertDigest.channel,
        AlertDigest.ts,
        AlertDigest.expected,
        AlertDigest.members,
        AlertDigest.updated_at,
    )
    .where(AlertDigest.destination == bindparam("destination"), AlertDigest.closed.is_(False))
    .order_by(AlertDigest.id.desc())
    .limit(1)
)


def first_unsent(session: Session, destination: str) -> QueuedRow | None:
    """The destination's oldest unsent row (``_FIRST_UNSENT``)."""
    row = session.execute(_FIRST_UNSENT, {"destination": destination}).first()
    return None if row is None else _queued(row)


def _pending_window(destination: str, limit: int) -> Any:
    """The ids of the destination's oldest ``limit`` pending rows (an index-only range scan)."""
    return (
        select(AlertOutboxItem.id)
        .where(AlertOutboxItem.destination == destination, AlertOutboxItem.status == "pending")
        .order_by(AlertOutboxItem.id)
        .limit(limit)
    )


class SqlQueue:
    """The planner's ``QueueView`` over one destination's rows, in the planning transaction. Each answer
    reads from the head of the queue through an index, never the whole backlog."""

    def __init__(self, session: Session, destination: str) -> None:
        self.session = session
        self.destination = destination
        self.dialect = dialect_of(session)

    def first_unsent(self) -> QueuedRow | None:
        return first_unsent(self.session, self.destination)

    def in_doubt(self, first: QueuedRow) -> list[QueuedRow]:
        query = (
            select(AlertOutboxItem)
            .where(
                AlertOutboxItem.destination == self.destination,
                AlertOutboxItem.status == "sending",
                AlertOutboxItem.sending_since == first.sending_since,
            )
            .order_by(AlertOutboxItem.id)
            .limit(SUMMARY_LIMIT)
        )
        return [_queued(row) for row in self.session.scalars(query)]

    def catch_up_batch(self) -> list[QueuedRow]:
        # The catch-up rows among the oldest pending ones (the first sweep after a restart queues them
        # together).
        query = (
            select(AlertOutboxItem)
            .where(
                AlertOutboxItem.id.in_(_pending_window(self.destination, SUMMARY_LIMIT)),
                AlertOutboxItem.catch_up.is_(True),
            )
            .order_by(AlertOutboxItem.id)
        )
        return [_queued(row) for row in self.session.scalars(query)]

    def open_digest(self) -> OpenDigest | None:
        digest = self.session.execute(_OPEN_DIGEST, {"destination": self.destination}).first()
        if digest is None:
            return None
        return OpenDigest(
            id=digest.id,
            channel=digest.channel,
            ts=digest.ts,
            expected=digest.expected,
            members=digest.members,
            updated_at=aware(digest.updated_at) or digest.updated_at,
        )

    def heads(self, limit: int) -> list[Head]:
        heads: list[Head] = []
        for status in UNSENT:
            found = self.session.execute(
                _HEADS, {"destination": self.destination, "status": status, "limit": limit}
            )
            heads += [Head(*row) for row in found]
        return sorted(heads, key=lambda head: head.id)[:limit]

    def failed_cards(self, workspace_ids: set[str]) -> set[str]:
        found = self.session.scalars(
            _failed_cards(self.dialect),
            {"destination": self.destination, "workspace_ids": list(workspace_ids)},
        )
        return set(found)

    def rows(self, ids: list[int]) -> list[QueuedRow]:
        if not ids:
            return []
        return [_queued(row) for row in self.session.execute(_rows_by_id(self.dialect), {"ids": ids})]

    def card(self, workspace_id: str) -> Card | None:
        card = self.session.get(AlertCard, (self.destination, workspace_id))
        if card is None:
            return None
        return Card(
            channel=card.channel, ts=card.ts, last_kind=card.last_kind, last_build_id=card.last_build_id
        )

    def status_card_ts(self, channel: str, row: QueuedRow) -> str | None:
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
            # Deleted in Slack while this alert was on its way into its thread: the alert gets a card of its
            # own.
            query = query.where(StatusCard.message_ts != str(gone))
        found = self.session.scalar(query.order_by(StatusCard.id.desc()).limit(1))
        return None if found is None else str(found)


def _state(dest: AlertDestination, now: datetime) -> DestinationState:
    return DestinationState(
        destination=dest.destination,
        bucket=Bucket(dest.tokens, aware(dest.tokens_at) or now),
        disabled=dest.disabled_reason is not None,
        blocked_until=aware(dest.blocked_until),
        resolved_channel=dest.resolved_channel,
    )


def plan_step(
    session: Session, destination: str, replica: str, now: datetime, config: AlertConfig
) -> Decision | None:
    """Plan the next step for ``destination`` and write what it needs (lease, token, rows ``sending``) in this
    transaction; None when nothing is left (the lease is given back). ``LeaseLost`` when another replica
    holds the destination."""
    dest = session.get(AlertDestination, destination, with_for_update=True)
    if dest is None:
        return None
    hold_destination(dest, replica, now, config.lease_seconds)
    step = plan(_state(dest, now), SqlQueue(session, destination), now, config)
    if step.bucket is not None:
        dest.tokens, dest.tokens_at = step.bucket.tokens, step.bucket.at
    if step.close_digest is not None:
        session.execute(update(AlertDigest).where(AlertDigest.id == step.close_digest).values(closed=True))
    if step.release:
        release_destination_row(dest, replica)
    sending = step.sending
    if sending is not None:
        _mark_sending(session, sending, now)
    return step.decision


def record_sent_then_plan(
    session: Session,
    destination: str,
    delivery: Delivery,
    ts: str,
    replica: str,
    now: datetime,
    config: AlertConfig,
) -> Decision | None:
    """``record_sent``, then ``plan_step`` for the destination's next step, in one transaction: a post costs
    one commit (and one turn on SQLite's write lock) fewer. The post is recorded whatever the plan: when
    another replica holds the destination by now, nothing is planned and None is returned, as for an empty
    queue (the drain ends; a fresh ``plan_step`` would raise ``LeaseLost``)."""
    record_sent(session, delivery, ts, now)
    # record_sent's batch UPDATE bypasses the rows it loaded: plan from what the database says.
    session.flush()
    session.expire_all()
    dest = session.get(AlertDestination, destination, with_for_update=True)
    if dest is None:
        return None
    held_until = aware(dest.leased_until)
    if dest.leased_by != replica and held_until is not None and held_until > now:
        return None
    return plan_step(session, destination, replica, now, config)


def _mark_sending(session: Session, delivery: Delivery, now: datetime) -> None:
    """One UPDATE for the whole batch (a digest step marks dozens of rows; the ORM flushed one each)."""
    session.execute(
        _mark_sending_statement(dialect_of(session)),
        {
            "ids": list(delivery.row_ids),
            "now": now,
            "attempt_kind": delivery.attempt,
            "channel": delivery.channel,
            "thread_ts": delivery.thread_ts,
        },
        execution_options={"synchronize_session": False},
    )


def outbox_depth(session: Session) -> int:
    """Unsent rows (``pending`` or ``sending``): two range scans of ``ix_alert_outbox_status_created``
    (revision 0003), so the cost follows the backlog, not every row ever delivered. Zero is what
    ``AlertEngine.idle`` waits for."""
    return int(session.scalar(select(func.count()).where(AlertOutboxItem.status.in_(UNSENT))) or 0)


# ------------------------------------------------------------------------------------------- outcomes


def _by_ids(session: Session) -> Select[AlertOutboxItem]:
    """Outbox rows whose id is in the list bound as ``ids``."""
    return select(AlertOutboxItem).where(any_of(AlertOutboxItem.id, "ids", dialect_of(session)))


def _rows(session: Session, ids: tuple[int, ...]) -> list[AlertOutboxItem]:
    return list(session.scalars(_by_ids(session), {"ids": list(ids)}).all())


def _first_row(session: Session, ids: tuple[int, ...]) -> AlertOutboxItem | None:
    """The first of a delivery's rows (a card's only row; what a digest needs of all of its dozens)."""
    first = _by_ids(session).order_by(AlertOutboxItem.id).limit(1)
    return session.scalars(first, {"ids": list(ids)}).first()


def record_sent(session: Session, delivery: Delivery, ts: str, now: datetime) -> None:
    """The delivery's message is in Slack (``ts``): its rows are sent; the card or digest is remembered."""
    row = _first_row(session, delivery.row_ids)
    # One UPDATE for the batch (rows already sent by an earlier attempt keep their message).
    session.execute(
        update(AlertOutboxItem)
        .where(any_of(AlertOutboxItem.id, "ids", dialect_of(session)), AlertOutboxItem.status != "sent")
        .values(status="sent", message_channel=delivery.channel, message_ts=ts, delivered_at=now, error=None),
        {"ids": list(delivery.row_ids)},
        execution_options={"synchronize_session": False},
    )
    if isinstance(delivery, PostCard | ReplyInCard) and row is not None:
        card_ts = delivery.card_ts if isinstance(delivery, ReplyInCard) else ts
        card = session.get(AlertCard, (row.destination, row.workspace_id))
        if card is None:
            session.add(
                AlertCard(
                    destination=row.destination,
                    workspace_id=row.workspace_id,
                    channel=delivery.channel,
                    ts=card_ts,
                    last_kind=row.kind,
                    last_build_id=str(row.payload.get("build_id", "")),
                    updated_at=now,
                )
            )
        else:
            if isinstance(delivery, PostCard):
                # A reply whose parent was deleted: Slack posted it at the top of the channel, and it is the
                # workspace's card from now on.
                card.channel, card.ts = delivery.channel, card_ts
            card.last_kind = row.kind
            card.last_build_id = str(row.payload.get("build_id", ""))
            card.updated_at = now
    if isinstance(delivery, PostNotification) and row is not None:
        _notification_as_card(session, row, delivery.channel, ts, now)
    if isinstance(delivery, PostDigest) and row is not None:
        session.add(
            AlertDigest(
                destination=row.destination,
                channel=delivery.channel,
                ts=ts,
                expected=delivery.expected,
                members=dict(delivery.members),
                opened_at=now,
                updated_at=now,
                closed=len(delivery.members) >= delivery.expected,
            )
        )
    if isinstance(delivery, UpdateDigest):
        digest = session.get(AlertDigest, delivery.digest_id)
        if digest is not None:
            digest.members = dict(delivery.members)
            digest.expected = delivery.expected
            digest.updated_at = now
            digest.closed = len(delivery.members) >= delivery.expected


def _notification_as_card(
    session: Session, row: AlertOutboxItem, channel: str, ts: str, now: datetime
) -> None:
    """A notification of a failed build becomes the workspace's card here: the alert engine's own alert of
    that build then rewrites it and goes into its thread, instead of paging a second time."""
    build_id = str(row.payload.get("build_id") or "")
    if not row.payload.get("failed_build") or not row.workspace_id or not build_id:
        return
    card = session.get(AlertCard, (row.destination, row.workspace_id))
    if card is None:
        session.add(
            AlertCard(
                destination=row.destination,
                workspace_id=row.workspace_id,
                channel=channel,
                ts=ts,
                last_kind=FAILED_CARD_KIND,
                last_build_id=build_id,
                updated_at=now,
            )
        )
    elif card.last_build_id != build_id or card.last_kind not in FAILURE_KINDS:
        card.channel, card.ts = channel, ts
        card.last_kind, card.last_build_id, card.updated_at = FAILED_CARD_KIND, build_id, now


def record_retry(
    session: Session,
    row_ids: tuple[int, ...],
    destination: str,
    now: datetime,
    retry_after: float,
    error: str,
    still_in_doubt: bool,
) -> None:
    """Try again after ``retry_after`` seconds; rows ``still_in_doubt`` stay ``sending`` (verified first)."""
    for row in _rows(session, row_ids):
        if row.status == "sent":
            continue
        row.error = error[:500]
        if not still_in_doubt:
            row.status = "pending"
            row.sending_since = None
    dest = session.get(AlertDestination, destination)
    if dest is not None:
        dest.blocked_until = now + timedelta(seconds=retry_after)


def record_row_failure(session: Session, row_ids: tuple[int, ...], error: str) -> None:
    for row in _rows(session, row_ids):
        row.status = "failed"
        row.error = error[:500]


def record_resolved(session: Session, destination: str, channel: str) -> None:
    dest = session.get(AlertDestination, destination)
    if dest is not None:
        dest.resolved_channel = channel


def forget_parent(session: Session, delivery: Delivery) -> None:
    """The card, status card or digest the rows were going into was deleted in Slack: forget it, so the next
    attempt posts a new one (the rows were not delivered: a post into a deleted thread is nowhere to be
    found)."""
    attempt = delivery.attempted if isinstance(delivery, Verify) else delivery.attempt
    for row in _rows(session, delivery.row_ids):
        if row.status == "sent":
            continue
        row.status = "pending"
        row.sending_since = None
        row.error = "the message it belongs under was deleted in Slack"
        if attempt in (ReplyInCard.attempt, NotificationInCard.attempt):
            card = session.get(AlertCard, (row.destination, row.workspace_id))
            if card is not None and card.ts == delivery.thread_ts:
                session.delete(card)
        elif attempt == PostInStatusCard.attempt and delivery.thread_ts:
            row.payload = {**row.payload, "status_card_gone": delivery.thread_ts}
    if isinstance(delivery, UpdateDigest):
        digest = session.get(AlertDigest, delivery.digest_id)
        if digest is not None:
            digest.closed = True


def record_permanent(session: Session, destination: str, error: str, now: datetime) -> list[str]:
    """Stop delivering to ``destination``: fail its rows, disable its subscriptions, tell their creators.
    The kinds of the rows failed."""
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


# ------------------------------------------------------------------------------------------ workspaces


def forget_workspaces(session: Session, listed: set[str], listed_at: datetime, holder: str) -> list[str]:
    """Delete what the engine remembers of workspaces missing from a complete list taken at ``listed_at``
    (rows written since then are of workspaces the list could not show yet, and stay); release their watch
    leases. The ids forgotten."""
    known = session.execute(select(AlertWorkspace.workspace_id, AlertWorkspace.seen_at)).all()
    gone = [
        workspace_id
        for workspace_id, seen_at in known
        if workspace_id not in listed and (aware(seen_at) or listed_at) < listed_at
    ]
    for start in range(0, len(gone), _BATCH):
        chunk = gone[start : start + _BATCH]
        session.execute(
            delete(AlertWorkspace).where(
                AlertWorkspace.workspace_id.in_(chunk), AlertWorkspace.seen_at < listed_at
            )
        )
        release_leases(session, [watch_lease(w) for w in chunk], holder)
    return gone


def unknown_keys(session: Session, keys: list[str]) -> set[str]:
    """Those of ``keys`` the ledger has not seen (their alerts are new)."""
    if not keys:
        return set()
    query = select(AlertLedgerEntry.alert_key).where(
        any_of(AlertLedgerEntry.alert_key, "keys", dialect_of(session))
    )
    known = set(session.scalars(query, {"keys": keys}))
    return set(keys) - known
