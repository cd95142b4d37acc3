"""The delivery rules on their own: ``coder_slack.alerts.planner.plan`` with an in-memory queue and a fake
clock, no database and no Slack. Each test is one situation a destination can be in and the one thing the
worker must do next."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from coder_slack.alerts.config import AlertConfig
from coder_slack.alerts.planner import (
    Bucket,
    Card,
    DestinationState,
    Head,
    OpenDigest,
    Plan,
    PostCard,
    PostDigest,
    PostInStatusCard,
    PostNotice,
    PostSummary,
    QueuedRow,
    ReplyInCard,
    ResolveDM,
    UpdateDigest,
    Verify,
    Wait,
    as_card,
    plan,
    take_token,
)

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
CONFIG = AlertConfig(messages_per_second=1.0, burst=1.0, digest_threshold=5, replica_id="test")
CHANNEL = "C0TEAM"


def _payload(workspace: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "workspace_id": workspace,
        "workspace_name": workspace.removeprefix("ws-"),
        "owner_name": "alice",
        "build_id": f"b-{workspace}",
        "build_number": 3,
        "event_at": (T0 - timedelta(minutes=5)).isoformat(),
        "key": f"{workspace}:b-{workspace}:a:{kind}",
        "startup_seconds": 12.0,
        **extra,
    }


def _row(row_id: int, workspace: str, kind: str = "ready", **fields: Any) -> QueuedRow:
    payload = _payload(workspace, kind, **fields.pop("payload", {}))
    return QueuedRow(id=row_id, workspace_id=workspace, kind=kind, payload=payload, **fields)


@dataclass
class FakeQueue:
    """The planner's ``QueueView`` over plain lists: what a destination's tables hold."""

    unsent: list[QueuedRow] = field(default_factory=list)
    cards: dict[str, Card] = field(default_factory=dict)
    status_cards: dict[str, str] = field(default_factory=dict)  # workspace id → status card ts
    digest: OpenDigest | None = None
    asked: list[str] = field(default_factory=list)

    def first_unsent(self) -> QueuedRow | None:
        return min(self.unsent, key=lambda row: row.id, default=None)

    def in_doubt(self, first: QueuedRow) -> list[QueuedRow]:
        return [r for r in self.unsent if r.status == "sending" and r.sending_since == first.sending_since]

    def catch_up_batch(self) -> list[QueuedRow]:
        return [r for r in self.unsent if r.status == "pending" and r.catch_up]

    def open_digest(self) -> OpenDigest | None:
        return self.digest

    def heads(self, limit: int) -> list[Head]:
        rows = sorted(self.unsent, key=lambda row: row.id)[:limit]
        return [Head(r.id, r.workspace_id, r.kind, r.status, r.catch_up) for r in rows]

    def failed_cards(self, workspace_ids: set[str]) -> set[str]:
        failures = ("start_error", "start_timeout", "build_failed")
        return {w for w in workspace_ids if w in self.cards and self.cards[w].last_kind in failures}

    def rows(self, ids: list[int]) -> list[QueuedRow]:
        return sorted((r for r in self.unsent if r.id in ids), key=lambda row: row.id)

    def card(self, workspace_id: str) -> Card | None:
        return self.cards.get(workspace_id)

    def status_card_ts(self, channel: str, row: QueuedRow) -> str | None:
        self.asked.append(row.workspace_id)
        return self.status_cards.get(row.workspace_id)


def _state(destination: str = CHANNEL, **fields: Any) -> DestinationState:
    fields.setdefault("bucket", Bucket(1.0, T0))
    return DestinationState(destination=destination, **fields)


def test_a_disabled_destination_gets_nothing_and_keeps_its_lease() -> None:
    step = plan(_state(disabled=True), FakeQueue([_row(1, "ws-a")]), T0, CONFIG)
    assert step == Plan(None)


def test_an_empty_queue_gives_the_lease_back() -> None:
    assert plan(_state(), FakeQueue(), T0, CONFIG) == Plan(None, release=True)


def test_retry_after_blocks_the_destination_until_it_passes() -> None:
    state = _state(blocked_until=T0 + timedelta(seconds=30))
    queue = FakeQueue([_row(1, "ws-a", "build_failed")])
    assert plan(state, queue, T0, CONFIG).decision == Wait(30.0)
    assert isinstance(plan(state, queue, T0 + timedelta(seconds=30), CONFIG).decision, PostCard)


def test_a_dm_is_resolved_to_its_conversation_before_anything_is_posted() -> None:
    queue = FakeQueue([_row(1, "ws-a", "build_failed")])
    assert plan(_state("U0ALICE"), queue, T0, CONFIG).decision == ResolveDM("U0ALICE")
    step = plan(_state("U0ALICE", resolved_channel="D0ALICE"), queue, T0, CONFIG).decision
    assert isinstance(step, PostCard) and step.channel == "D0ALICE"
    assert queue.asked == [], "a DM has no status cards to look for"


def test_one_post_per_second_per_destination() -> None:
    queue = FakeQueue([_row(1, "ws-a", "build_failed"), _row(2, "ws-b", "build_failed")])
    first = plan(_state(), queue, T0, CONFIG)
    assert isinstance(first.decision, PostCard) and first.decision.row_ids == (1,)
    assert first.bucket == Bucket(0.0, T0)
    queue.unsent.pop(0)
    half_a_second = plan(_state(bucket=first.bucket), queue, T0 + timedelta(seconds=0.5), CONFIG)
    assert half_a_second.decision == Wait(pytest.approx(0.5))
    assert half_a_second.bucket is not None
    later = plan(_state(bucket=half_a_second.bucket), queue, T0 + timedelta(seconds=1), CONFIG)
    assert isinstance(later.decision, PostCard) and later.decision.row_ids == (2,)


def test_the_bucket_never_holds_more_than_its_burst() -> None:
    bucket, wait = take_token(Bucket(0.0, T0), T0 + timedelta(hours=1), CONFIG)
    assert (bucket.tokens, wait) == (0.0, 0.0)
    assert take_token(bucket, T0 + timedelta(hours=1), CONFIG)[1] == pytest.approx(1.0)


def test_rows_left_sending_by_a_crash_are_verified_before_anything_else() -> None:
    since = T0 - timedelta(seconds=3)
    in_doubt = _row(
        1,
        "ws-a",
        status="sending",
        sending_since=since,
        attempt_kind="reply",
        thread_ts="111.0001",
        message_channel=CHANNEL,
    )
    step = plan(_state(), FakeQueue([in_doubt, _row(2, "ws-b")]), T0, CONFIG)
    assert step.sending is None, "verifying marks nothing and takes no token"
    assert step.decision == Verify(
        row_ids=(1,),
        channel=CHANNEL,
        payloads=(in_doubt.payload,),
        attempted="reply",
        attempt_thread_ts="111.0001",
        since=since,
    )


def test_a_verified_reply_is_recorded_as_a_reply_into_its_card() -> None:
    verify = Verify(row_ids=(1,), channel=CHANNEL, attempted="reply", attempt_thread_ts="111.0001")
    assert verify.found() == ReplyInCard(row_ids=(1,), channel=CHANNEL, card_ts="111.0001")
    assert verify.found(thread_gone=True) == PostCard(row_ids=(1,), channel=CHANNEL)


def test_a_verified_digest_counts_its_members_from_the_rows() -> None:
    payloads = tuple(_payload(f"ws-{n}", "ready", peers_starting=6) for n in range(3))
    found = Verify(row_ids=(1, 2, 3), channel=CHANNEL, payloads=payloads, attempted="digest_post").found()
    assert isinstance(found, PostDigest)
    assert sorted(found.members) == ["ws-0", "ws-1", "ws-2"]
    assert found.expected == 7


def test_a_failure_gets_a_card_and_its_recovery_a_reply_in_that_card() -> None:
    queue = FakeQueue([_row(1, "ws-a", "start_error")])
    assert isinstance(plan(_state(), queue, T0, CONFIG).decision, PostCard)
    queue = FakeQueue([_row(2, "ws-a", "ready")], cards={"ws-a": Card(CHANNEL, "100.0001", "start_error")})
    step = plan(_state(), queue, T0, CONFIG).decision
    assert step == ReplyInCard(
        row_ids=(2,),
        channel=CHANNEL,
        payloads=(queue.unsent[0].payload,),
        kinds=("ready",),
        card_ts="100.0001",
        recovered=True,
    )


def test_an_alert_for_a_build_started_here_goes_into_its_status_card() -> None:
    queue = FakeQueue([_row(1, "ws-a", "ready")], status_cards={"ws-a": "200.0002"})
    step = plan(_state(), queue, T0, CONFIG)
    assert isinstance(step.decision, PostInStatusCard)
    assert step.decision.thread_ts == "200.0002"
    assert step.sending is step.decision


def test_a_notice_and_a_catch_up_summary_are_posted_in_queue_order() -> None:
    notice = QueuedRow(id=1, workspace_id="", kind="notice", payload={"channel": "C0OLD"})
    missed = [
        _row(2, "ws-a", "ready", catch_up=True),
        _row(3, "ws-b", "start_error", catch_up=True, stale=True),
    ]
    queue = FakeQueue([notice, *missed])
    first = plan(_state(), queue, T0, CONFIG).decision
    assert isinstance(first, PostNotice) and first.row_ids == (1,)
    queue.unsent.remove(notice)
    summary = plan(_state(), queue, T0, CONFIG).decision
    assert isinstance(summary, PostSummary)
    assert summary.row_ids == (2, 3)
    assert [p.get("stale") for p in summary.payloads] == [False, True]
    assert summary.since == T0 - timedelta(minutes=5)


def test_five_ready_workspaces_waiting_at_once_get_one_digest() -> None:
    queue = FakeQueue([_row(n, f"ws-{n}") for n in range(1, 6)])
    step = plan(_state(), queue, T0, CONFIG).decision
    assert isinstance(step, PostDigest)
    assert step.row_ids == (1, 2, 3, 4, 5)
    assert step.expected == 5 and sorted(step.members) == [f"ws-{n}" for n in range(1, 6)]


def test_four_ready_workspaces_are_no_burst() -> None:
    queue = FakeQueue([_row(n, f"ws-{n}") for n in range(1, 5)])
    assert isinstance(plan(_state(), queue, T0, CONFIG).decision, PostCard)


def test_a_ready_workspace_seen_starting_with_others_opens_a_digest_counting_them() -> None:
    queue = FakeQueue([_row(1, "ws-1", payload={"peers_starting": 9})])
    step = plan(_state(), queue, T0, CONFIG).decision
    assert isinstance(step, PostDigest) and step.expected == 10


def test_an_open_digest_is_updated_at_most_every_update_interval() -> None:
    digest = OpenDigest(
        id=7, channel=CHANNEL, ts="300.0003", expected=10, members={"ws-0": {}}, updated_at=T0
    )
    queue = FakeQueue([_row(1, "ws-1")], digest=digest)
    soon = plan(_state(), queue, T0 + timedelta(seconds=0.2), CONFIG)
    assert soon.decision == Wait(pytest.approx(CONFIG.digest_update_interval - 0.2))
    later = plan(_state(), queue, T0 + timedelta(seconds=1), CONFIG)
    assert isinstance(later.decision, UpdateDigest)
    assert later.decision.digest_ts == "300.0003" and set(later.decision.members) == {"ws-0", "ws-1"}
    assert later.bucket is None, "an update of the digest is not a new post"


def test_an_idle_digest_is_closed_and_a_new_burst_gets_a_new_one() -> None:
    idle = OpenDigest(id=7, channel=CHANNEL, ts="300.0003", expected=10, members={}, updated_at=T0)
    queue = FakeQueue([_row(n, f"ws-{n}") for n in range(1, 6)], digest=idle)
    step = plan(_state(), queue, T0 + timedelta(seconds=CONFIG.digest_idle_close_seconds + 1), CONFIG)
    assert step.close_digest == 7
    assert isinstance(step.decision, PostDigest)


def test_a_recovery_is_never_swallowed_by_a_digest() -> None:
    rows = [_row(n, f"ws-{n}") for n in range(1, 7)]
    queue = FakeQueue(rows, cards={"ws-1": Card(CHANNEL, "100.0001", "build_failed")})
    step = plan(_state(), queue, T0, CONFIG).decision
    assert isinstance(step, ReplyInCard) and step.recovered and step.row_ids == (1,)
    queue.unsent.pop(0)
    digest = plan(_state(), queue, T0, CONFIG).decision
    assert isinstance(digest, PostDigest) and digest.row_ids == (2, 3, 4, 5, 6)


def test_order_per_workspace_is_kept_when_a_burst_is_coalesced() -> None:
    """A workspace whose older alert still waits is left out of the digest: it comes after that one."""
    rows = [
        _row(1, "ws-2"),
        _row(2, "ws-1", "build_failed"),
        *(_row(n, f"ws-{n}") for n in range(3, 7)),
        _row(7, "ws-1"),
    ]
    digest = plan(_state(), FakeQueue(rows), T0, CONFIG).decision
    assert isinstance(digest, PostDigest)
    assert digest.row_ids == (1, 3, 4, 5, 6)


def test_a_post_whose_thread_was_deleted_becomes_the_card() -> None:
    reply = ReplyInCard(row_ids=(4,), channel=CHANNEL, kinds=("ready",), card_ts="100.0001")
    assert as_card(reply) == PostCard(row_ids=(4,), channel=CHANNEL, kinds=("ready",))
    assert replace(reply, recovered=True) != reply, "decisions are values: changing one makes a new one"
