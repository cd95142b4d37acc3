"""What to do next for one destination: the delivery rules, with no database and no Slack.

``plan`` reads the head of a destination's queue through a read-only ``QueueView`` (the repository's, over
SQL, reads only what a rule asks for, so a step costs the same with 10 or 10,000 rows waiting; tests pass an
in-memory one) and returns a ``Plan``: one tagged decision (``Wait``, ``ResolveDM``, ``Verify``, or a
``Delivery`` of one kind: ``PostCard``, ``PostInStatusCard``, ``ReplyInCard``, ``PostSummary``,
``PostNotice``, ``PostDigest``, ``UpdateDigest``) plus the state the repository writes in the same
transaction (the token bucket, a digest closed for idleness, the lease given back). Decisions are frozen:
what the worker learns from Slack makes a new decision (``as_card``, ``Verify.found``), never a changed one.

The rules, in order: a disabled destination gets nothing; a ``Retry-After`` blocks it; a DM is first
resolved to its conversation; rows left ``sending`` by a crash are verified before anything else; a notice,
then a Coder notification (``PostNotification``, or ``NotificationInCard`` for a failed build whose alert card
is already here), then a catch-up summary, then a burst of ready rows coalesced into a digest, then one alert
(a card, a post into the status card of the build, or a reply in the workspace's card). Every post takes a
token from the destination's bucket (``messages_per_second``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, Protocol

from coder_slack.alerts.config import AlertConfig
from coder_slack.alerts.events import FAILURE_KINDS
from coder_slack.notifications.outbox import OUTBOX_KIND as NOTIFICATION

# How many rows one catch-up summary carries at most (the first sweep after a restart queues them).
SUMMARY_LIMIT = 500
# How far down the queue a digest looks for ready rows to take (so one digest step takes at most this many).
DIGEST_WINDOW = 500

# ------------------------------------------------------------------------------------------------ state


@dataclass(frozen=True)
class Bucket:
    """A destination's token bucket (shared by replicas: it is stored in the destination's row)."""

    tokens: float
    at: datetime


@dataclass(frozen=True)
class DestinationState:
    destination: str
    bucket: Bucket
    disabled: bool = False
    blocked_until: datetime | None = None
    resolved_channel: str | None = None
    """The conversation a DM destination (a user id) resolved to."""

    @property
    def is_dm(self) -> bool:
        return is_dm(self.destination)


@dataclass(frozen=True)
class QueuedRow:
    """An unsent outbox row."""

    id: int
    workspace_id: str
    kind: str
    payload: Mapping[str, Any]
    status: str = "pending"
    catch_up: bool = False
    stale: bool = False
    sending_since: datetime | None = None
    attempt_kind: str | None = None
    message_channel: str | None = None
    thread_ts: str | None = None


@dataclass(frozen=True)
class Head:
    """What the digest needs to know of a row at the head of the queue (no payload)."""

    id: int
    workspace_id: str
    kind: str
    status: str
    catch_up: bool


@dataclass(frozen=True)
class Card:
    """The one card of a workspace in a destination."""

    channel: str
    ts: str
    last_kind: str
    last_build_id: str = ""


@dataclass(frozen=True)
class OpenDigest:
    id: int
    channel: str
    ts: str
    expected: int
    members: Mapping[str, Any]
    updated_at: datetime


class QueueView(Protocol):
    """Read-only questions about one destination's queue, asked only when a rule needs the answer."""

    def first_unsent(self) -> QueuedRow | None:
        """The oldest ``pending`` or ``sending`` row."""

    def in_doubt(self, first: QueuedRow) -> list[QueuedRow]:
        """The ``sending`` rows of the same interrupted attempt as ``first`` (at most SUMMARY_LIMIT)."""

    def catch_up_batch(self) -> list[QueuedRow]:
        """The catch-up rows among the oldest SUMMARY_LIMIT pending ones."""

    def open_digest(self) -> OpenDigest | None: ...

    def heads(self, limit: int) -> list[Head]:
        """The oldest ``limit`` unsent rows, oldest first."""

    def failed_cards(self, workspace_ids: set[str]) -> set[str]:
        """Those of ``workspace_ids`` whose card here shows a failure."""

    def rows(self, ids: list[int]) -> list[QueuedRow]: ...

    def card(self, workspace_id: str) -> Card | None: ...

    def status_card_ts(self, channel: str, row: QueuedRow) -> str | None:
        """The status card the command app posted in ``channel`` for this row's build, if any."""


# ------------------------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class Wait:
    seconds: float


@dataclass(frozen=True)
class ResolveDM:
    """Open the DM conversation of a user destination (``conversations.open``) before posting to it."""

    user: str


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """Rows (already marked ``sending``) to put into Slack with one call."""

    attempt: ClassVar[str]
    """What the outbox rows record as their attempt (``attempt_kind``), so a crash check knows it."""

    row_ids: tuple[int, ...]
    channel: str
    payloads: tuple[Mapping[str, Any], ...] = ()
    kinds: tuple[str, ...] = ()

    @property
    def thread_ts(self) -> str | None:
        """The thread the post goes into, if any."""
        return None

    @property
    def keys(self) -> list[str]:
        return [str(payload.get("key", "")) for payload in self.payloads]

    @property
    def workspace_id(self) -> str:
        return str(self.payloads[0].get("workspace_id", "")) if self.payloads else ""


@dataclass(frozen=True, kw_only=True)
class PostCard(Delivery):
    """A new card for the workspace in this destination."""

    attempt: ClassVar[str] = "card"


@dataclass(frozen=True, kw_only=True)
class PostInStatusCard(Delivery):
    """Into the thread of the status card the command app posted for this very build."""

    attempt: ClassVar[str] = "status_reply"
    status_card_ts: str

    @property
    def thread_ts(self) -> str | None:
        return self.status_card_ts


@dataclass(frozen=True, kw_only=True)
class ReplyInCard(Delivery):
    """Rewrite the workspace's card in place and post the transition into its thread."""

    attempt: ClassVar[str] = "reply"
    card_ts: str
    recovered: bool = False

    @property
    def thread_ts(self) -> str | None:
        return self.card_ts


@dataclass(frozen=True, kw_only=True)
class PostSummary(Delivery):
    """One "While I was away" message for the transitions of a downtime."""

    attempt: ClassVar[str] = "summary"
    since: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class PostNotice(Delivery):
    """Tell a subscription's creator that its channel was disabled."""

    attempt: ClassVar[str] = "notice"


@dataclass(frozen=True, kw_only=True)
class PostDigest(Delivery):
    """A new digest card for a burst of ready workspaces."""

    attempt: ClassVar[str] = "digest_post"
    members: Mapping[str, Any] = field(default_factory=dict)
    expected: int = 0


@dataclass(frozen=True, kw_only=True)
class UpdateDigest(Delivery):
    """Count more members into the open digest card (``chat.update``)."""

    attempt: ClassVar[str] = "digest_update"
    digest_id: int
    digest_ts: str
    members: Mapping[str, Any] = field(default_factory=dict)
    expected: int = 0


@dataclass(frozen=True, kw_only=True)
class PostNotification(Delivery):
    """A Coder notification as a message of its own (rendered by the router: ``payload`` has its text and
    blocks)."""

    attempt: ClassVar[str] = "notification"


@dataclass(frozen=True, kw_only=True)
class NotificationInCard(Delivery):
    """A Coder notification about a failed build into the thread of the alert card of that same build (the
    alert engine already paged about it: no second top-level message)."""

    attempt: ClassVar[str] = "note_reply"
    card_ts: str

    @property
    def thread_ts(self) -> str | None:
        return self.card_ts


@dataclass(frozen=True, kw_only=True)
class Verify(Delivery):
    """Rows a crash left ``sending``: find out whether the interrupted attempt reached Slack."""

    attempt: ClassVar[str] = "verify"
    attempted: str
    """The interrupted attempt's kind (a ``Delivery.attempt``)."""
    attempt_thread_ts: str | None = None
    since: datetime | None = None

    @property
    def thread_ts(self) -> str | None:
        return self.attempt_thread_ts

    def found(self, *, thread_gone: bool = False) -> Delivery:
        """The delivery the interrupted attempt was, to record once its message was found in Slack.

        ``thread_gone``: its thread's parent was deleted, and the message was found at the top of the channel
        (where Slack puts a reply to a deleted parent): it is the workspace's card now.
        """
        common: dict[str, Any] = {
            "row_ids": self.row_ids,
            "channel": self.channel,
            "payloads": self.payloads,
            "kinds": self.kinds,
        }
        if thread_gone or self.attempted == PostCard.attempt:
            return PostCard(**common)
        if self.attempted == ReplyInCard.attempt and self.attempt_thread_ts:
            return ReplyInCard(card_ts=self.attempt_thread_ts, **common)
        if self.attempted == PostInStatusCard.attempt and self.attempt_thread_ts:
            return PostInStatusCard(status_card_ts=self.attempt_thread_ts, **common)
        if self.attempted == PostDigest.attempt:
            members = digest_members(self.payloads)
            peers = max((int(p.get("peers_starting", 0)) for p in self.payloads), default=0)
            return PostDigest(members=members, expected=max(len(members), peers + 1), **common)
        if self.attempted == PostNotice.attempt:
            return PostNotice(**common)
        if self.attempted == PostNotification.attempt:
            return PostNotification(**common)
        if self.attempted == NotificationInCard.attempt and self.attempt_thread_ts:
            return NotificationInCard(card_ts=self.attempt_thread_ts, **common)
        return PostSummary(since=self.since, **common)


Decision = Wait | ResolveDM | Delivery

ATTEMPTS = {
    kind.attempt: kind
    for kind in (
        PostCard,
        PostInStatusCard,
        ReplyInCard,
        PostSummary,
        PostNotice,
        PostDigest,
        UpdateDigest,
        PostNotification,
        NotificationInCard,
    )
}
"""Every delivery kind by the name its rows record."""


def as_card(delivery: Delivery) -> PostCard:
    """A post into a thread whose parent was deleted: Slack does not refuse it but puts it at the top of the
    channel, so it is the workspace's card from now on (a reply carries the card's content)."""
    return PostCard(
        row_ids=delivery.row_ids, channel=delivery.channel, payloads=delivery.payloads, kinds=delivery.kinds
    )


@dataclass(frozen=True)
class Plan:
    """A decision and the state to write with it, in the transaction that planned it."""

    decision: Decision | None
    """None: nothing to do (the queue is empty, or the destination is disabled)."""
    bucket: Bucket | None = None
    """The token bucket after this step (None: unchanged)."""
    close_digest: int | None = None
    """A digest idle longer than ``digest_idle_close_seconds``: never written to again."""
    release: bool = False
    """The queue is empty: give the destination's lease back."""

    @property
    def sending(self) -> Delivery | None:
        """The delivery whose rows are to be marked ``sending`` now (before Slack is called)."""
        decision = self.decision
        return decision if isinstance(decision, Delivery) and not isinstance(decision, Verify) else None


# ------------------------------------------------------------------------------------------------ rules


def is_dm(destination: str) -> bool:
    return destination.startswith(("U", "W"))


def take_token(bucket: Bucket, now: datetime, config: AlertConfig) -> tuple[Bucket, float]:
    """The bucket after taking a token, and 0; or, when none is available, the refilled bucket and the
    seconds until one is."""
    elapsed = max(0.0, (now - bucket.at).total_seconds())
    tokens = min(config.burst, bucket.tokens + elapsed * config.messages_per_second)
    if tokens < 1.0:
        return Bucket(tokens, now), (1.0 - tokens) / config.messages_per_second
    return Bucket(tokens - 1.0, now), 0.0


def digest_members(payloads: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        str(p["workspace_id"]): {
            "name": p["workspace_name"],
            "owner": p["owner_name"],
            "kind": "ready",
            "startup_seconds": p.get("startup_seconds"),
        }
        for p in payloads
    }


def plan(state: DestinationState, queue: QueueView, now: datetime, config: AlertConfig) -> Plan:
    """The next step for one destination (see the module's docstring for the rules, in order)."""
    if state.disabled:
        return Plan(None)
    if state.blocked_until is not None and state.blocked_until > now:
        return Plan(Wait((state.blocked_until - now).total_seconds()))
    first = queue.first_unsent()
    if first is None:
        return Plan(None, release=True)
    if state.is_dm and not state.resolved_channel:
        return Plan(ResolveDM(state.destination))
    channel = state.resolved_channel if state.is_dm and state.resolved_channel else state.destination
    if first.status == "sending":
        return Plan(_verify(first, queue.in_doubt(first), channel))
    if first.kind == "notice":
        return _with_token(
            state, now, config, lambda: PostNotice(**_rows([first], channel), kinds=("notice",))
        )
    if first.kind == NOTIFICATION:
        return _plan_notification(state, queue, first, channel, now, config)
    if first.catch_up:
        return _with_token(state, now, config, lambda: _summary(queue.catch_up_batch(), channel))
    if first.kind == "ready":
        digest_plan, closed = _plan_digest(state, queue, first, channel, now, config)
        if digest_plan is not None:
            return digest_plan
        return replace(_plan_single(state, queue, first, channel, now, config), close_digest=closed)
    return _plan_single(state, queue, first, channel, now, config)


def _rows(rows: Sequence[QueuedRow], channel: str) -> dict[str, Any]:
    return {
        "row_ids": tuple(row.id for row in rows),
        "channel": channel,
        "payloads": tuple(row.payload for row in rows),
    }


def _with_token(state: DestinationState, now: datetime, config: AlertConfig, make: Any) -> Plan:
    bucket, wait = take_token(state.bucket, now, config)
    if wait:
        return Plan(Wait(wait), bucket=bucket)
    return Plan(make(), bucket=bucket)


def _verify(first: QueuedRow, in_doubt: list[QueuedRow], channel: str) -> Verify:
    return Verify(
        row_ids=tuple(row.id for row in in_doubt),
        channel=first.message_channel or channel,
        payloads=tuple(row.payload for row in in_doubt),
        attempted=first.attempt_kind or PostCard.attempt,
        attempt_thread_ts=first.thread_ts,
        since=first.sending_since,
    )


def _summary(batch: list[QueuedRow], channel: str) -> PostSummary:
    since = min((datetime.fromisoformat(row.payload["event_at"]) for row in batch), default=None)
    return PostSummary(
        row_ids=tuple(row.id for row in batch),
        channel=channel,
        payloads=tuple({**row.payload, "stale": row.stale} for row in batch),
        kinds=tuple(row.kind for row in batch),
        since=since,
    )


def _plan_digest(
    state: DestinationState,
    queue: QueueView,
    first: QueuedRow,
    channel: str,
    now: datetime,
    config: AlertConfig,
) -> tuple[Plan | None, int | None]:
    """A digest step when ``first`` (a ready row) is part of a burst: it was seen starting together with
    enough others, or enough ready rows are waiting here at once (workspaces that were already ready when the
    engine first saw them, e.g. an autostart that settled between two sweeps: nobody saw them starting).
    Also the id of an open digest closed for idleness."""
    digest = queue.open_digest()
    closed: int | None = None
    if digest is not None and (now - digest.updated_at).total_seconds() > config.digest_idle_close_seconds:
        closed, digest = digest.id, None
    if digest is not None:
        wait = config.digest_update_interval - (now - digest.updated_at).total_seconds()
        if wait > 0:
            return Plan(Wait(wait)), None
    seen_starting = int(first.payload.get("peers_starting", 0)) + 1 >= config.digest_threshold
    chosen = _digest_candidates(queue)
    if first.id not in chosen:
        return None, closed  # a recovery: it goes into the failed card's thread
    if digest is None and not seen_starting and len(chosen) < config.digest_threshold:
        return None, closed
    batch = queue.rows(chosen)
    members: dict[str, Any] = dict(digest.members) if digest is not None else {}
    members.update(digest_members([row.payload for row in batch]))
    peers = max(int(row.payload.get("peers_starting", 0)) for row in batch)
    # At least every member; more when the batch was seen starting with others that are not ready yet.
    expected = max(digest.expected if digest else 0, len(members), len(members) + peers - len(batch) + 1)
    kinds = tuple(row.kind for row in batch)
    if digest is None:
        bucket, wait = take_token(state.bucket, now, config)
        if wait:
            return Plan(Wait(wait), bucket=bucket, close_digest=closed), None
        post = PostDigest(**_rows(batch, channel), kinds=kinds, members=members, expected=expected)
        return Plan(post, bucket=bucket, close_digest=closed), None
    update = UpdateDigest(
        **_rows(batch, digest.channel),
        kinds=kinds,
        digest_id=digest.id,
        digest_ts=digest.ts,
        members=members,
        expected=expected,
    )
    return Plan(update), None


def _digest_candidates(queue: QueueView) -> list[int]:
    """Ready rows that are the oldest unsent row of their workspace (order per workspace is kept), among the
    oldest DIGEST_WINDOW rows: the window is a prefix of the queue, so "oldest in the window" is "oldest".
    A workspace whose card shows a failure is left out: its recovery is a reply in that card's thread."""
    blocked_workspaces: set[str] = set()
    chosen: dict[int, str] = {}
    for head in queue.heads(DIGEST_WINDOW):
        ready = head.status == "pending" and not head.catch_up and head.kind == "ready"
        if ready and head.workspace_id not in blocked_workspaces:
            chosen[head.id] = head.workspace_id
        blocked_workspaces.add(head.workspace_id)
    if not chosen:
        return []
    failed = queue.failed_cards(set(chosen.values()))
    return [row_id for row_id, workspace_id in chosen.items() if workspace_id not in failed]


def _plan_single(
    state: DestinationState,
    queue: QueueView,
    row: QueuedRow,
    channel: str,
    now: datetime,
    config: AlertConfig,
) -> Plan:
    bucket, wait = take_token(state.bucket, now, config)
    if wait:
        return Plan(Wait(wait), bucket=bucket)
    kinds = (row.kind,)
    card = queue.card(row.workspace_id)
    if card is None:
        status_ts = None if state.is_dm else queue.status_card_ts(channel, row)
        if status_ts is not None:
            post = PostInStatusCard(**_rows([row], channel), kinds=kinds, status_card_ts=status_ts)
            return Plan(post, bucket=bucket)
        return Plan(PostCard(**_rows([row], channel), kinds=kinds), bucket=bucket)
    recovered = row.kind == "ready" and card.last_kind in FAILURE_KINDS
    reply = ReplyInCard(**_rows([row], card.channel), kinds=kinds, card_ts=card.ts, recovered=recovered)
    return Plan(reply, bucket=bucket)


def _plan_notification(
    state: DestinationState,
    queue: QueueView,
    row: QueuedRow,
    channel: str,
    now: datetime,
    config: AlertConfig,
) -> Plan:
    """A Coder notification: its own message, unless it reports a failed build that the workspace's alert
    card here already shows failed (same build): then into that card's thread. (The other way round, an
    alert after the notification, goes into the notification's thread: it is recorded as the card.)"""
    bucket, wait = take_token(state.bucket, now, config)
    if wait:
        return Plan(Wait(wait), bucket=bucket)
    kinds = (row.kind,)
    build_id = str(row.payload.get("build_id") or "")
    if row.payload.get("failed_build") and row.workspace_id and build_id:
        card = queue.card(row.workspace_id)
        if card is not None and card.last_kind in FAILURE_KINDS and card.last_build_id == build_id:
            reply = NotificationInCard(**_rows([row], card.channel), kinds=kinds, card_ts=card.ts)
            return Plan(reply, bucket=bucket)
    return Plan(PostNotification(**_rows([row], channel), kinds=kinds), bucket=bucket)
