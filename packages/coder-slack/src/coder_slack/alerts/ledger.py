"""Deciding who hears about what: subscriptions and owner DMs matched against observed events,
written as ledger entries plus outbox rows in the caller's transaction (so an alert is recorded and queued
together, or not at all).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from coder_client import Workspace, is_transitional, lifecycle_summary
from sqlalchemy import Table, insert, or_, select
from sqlalchemy.orm import Session

from coder_slack.alerts.config import AlertConfig
from coder_slack.alerts.events import AlertEvent, autostop_warning
from coder_slack.build_timings import with_history
from coder_slack.store import (
    AlertDestination,
    AlertLedgerEntry,
    AlertMeta,
    AlertOutboxItem,
    AlertWorkspace,
    Identity,
    Subscription,
    UserSettings,
    aware,
    dialect_insert,
    insert_ignoring_conflicts,
    insert_new_rows,
)

# Subscriptions are written by the command app a moment before its confirmation; clocks of replicas differ
# a bit.
SUBSCRIPTION_GRACE = timedelta(seconds=5)
FIRST_START_KEY = "first_started_at"


@dataclass(frozen=True)
class CatchUp:
    """The engine was down from ``since`` to ``until``: what happened in between is summarised, not paged."""

    since: datetime
    until: datetime


@dataclass
class Observation:
    workspace: Workspace
    events: list[AlertEvent]
    log_tails: dict[str, list[str]] = field(default_factory=dict)
    timings: dict[str, dict[str, Any]] = field(default_factory=dict)  # event key → build timings note


@dataclass(frozen=True)
class Target:
    destination: str
    team_id: str
    not_before: datetime | None
    warn_minutes: float
    labels: tuple[str, ...] = ()


@dataclass
class RecordResult:
    queued: list[tuple[str, str]] = field(default_factory=list)  # (destination, kind)
    deduplicated: list[str] = field(default_factory=list)  # kinds
    next_autostop_due: dict[str, datetime] = field(default_factory=dict)  # workspace id → when


@dataclass(frozen=True, slots=True)
class _Sub:
    """An enabled subscription as the audience reads it: a plain row, not an ORM instance (a burst records
    in several batches, and each batch reads every subscription)."""

    channel_id: str
    team_id: str
    workspace_id: str | None
    workspace_label: str | None
    template: str | None
    owner: str | None
    created_at: datetime | None
    event_list: frozenset[str]


# A batch names at most this many workspaces in its subscription query; more, and every subscription is read.
_NAMED_AT_MOST = 1000


def _enabled_subscriptions(session: Session, workspace_ids: Collection[str] | None) -> list[_Sub]:
    """The enabled subscriptions that can target these workspaces: their watches and every filter (template=,
    owner=, all), not the watches of the rest of the fleet (None: every subscription)."""
    table = Subscription.__table__
    query = select(
        table.c.channel_id,
        table.c.team_id,
        table.c.workspace_id,
        table.c.workspace_label,
        table.c.template,
        table.c.owner,
        table.c.created_at,
        table.c.events,
    ).where(table.c.enabled.is_(True))
    if workspace_ids is not None and len(workspace_ids) <= _NAMED_AT_MOST:
        named = table.c.workspace_id.in_(list(workspace_ids))
        query = query.where(or_(table.c.workspace_id.is_(None), named))
    return [
        _Sub(
            channel_id=row.channel_id,
            team_id=row.team_id,
            workspace_id=row.workspace_id,
            workspace_label=row.workspace_label,
            template=row.template,
            owner=row.owner,
            created_at=row.created_at,
            event_list=frozenset(event for event in str(row.events or "").split(",") if event),
        )
        for row in session.execute(query).all()
    ]


class Audience:
    """Subscriptions, identities and DM settings, loaded once per transaction: the subscriptions that can
    target ``workspace_ids`` (the batch being recorded), or all of them (None). A 9:00 burst records in many
    batches, and a fleet with a watch per workspace read all its thousands of subscriptions for each."""

    def __init__(
        self, session: Session, config: AlertConfig, workspace_ids: Collection[str] | None = None
    ) -> None:
        self.config = config
        self.subscriptions = _enabled_subscriptions(session, workspace_ids)
        self.identities = list(session.scalars(select(Identity)))
        self.settings = {(s.team_id, s.slack_user_id): s for s in session.scalars(select(UserSettings))}
        self.by_channel: dict[str, list[_Sub]] = {}
        self.by_workspace: dict[str, list[_Sub]] = {}
        self.filters: list[_Sub] = []
        self.filters_by_channel: dict[str, list[_Sub]] = {}
        for sub in self.subscriptions:
            self.by_channel.setdefault(sub.channel_id, []).append(sub)
            if sub.workspace_id:
                self.by_workspace.setdefault(sub.workspace_id, []).append(sub)
            else:
                self.filters.append(sub)
                self.filters_by_channel.setdefault(sub.channel_id, []).append(sub)
        self.transitional: _StartingIndex | None = None
        self.starting_for: dict[str, set[str]] = {}
        self.candidates: list[_Candidate] = []
        first = session.get(AlertMeta, FIRST_START_KEY)
        self.first_started_at = aware(datetime.fromisoformat(first.value)) if first else None

    def targets(self, workspace: Workspace, kind: str) -> list[Target]:
        found: dict[str, Target] = {}
        for sub in [*self.by_workspace.get(workspace.id, []), *self.filters]:
            if kind not in sub.event_list or not subscription_matches(sub, workspace):
                continue
            created = aware(sub.created_at)
            not_before = created - SUBSCRIPTION_GRACE if created else None
            label = sub.workspace_label or _filter_label(sub)
            previous = found.get(sub.channel_id)
            if previous is not None:
                earliest = min(filter(None, (previous.not_before, not_before)), default=None)
                found[sub.channel_id] = Target(
                    sub.channel_id, sub.team_id, earliest, previous.warn_minutes, (*previous.labels, label)
                )
            else:
                found[sub.channel_id] = Target(
                    sub.channel_id, sub.team_id, not_before, self.config.autostop_warning_minutes, (label,)
                )
        for identity in self.identities:
            if not _is_owner(identity, workspace):
                continue
            settings = self.settings.get((identity.team_id, identity.slack_user_id))
            if settings is not None and not settings.dm_enabled:
                continue
            minutes = (
                float(settings.autostop_warning_minutes) if settings else self.config.autostop_warning_minutes
            )
            found.setdefault(
                identity.slack_user_id,
                Target(
                    identity.slack_user_id,
                    identity.team_id,
                    self.first_started_at,
                    minutes,
                    ("your workspaces",),
                ),
            )
        return list(found.values())


def _filter_label(sub: _Sub) -> str:
    parts = [f"{name}={value}" for name, value in (("template", sub.template), ("owner", sub.owner)) if value]
    return "subscription " + (" ".join(parts) if parts else "to all workspaces")


def _is_owner(identity: Identity, workspace: Workspace) -> bool:
    if workspace.owner_id and identity.coder_user_id == workspace.owner_id:
        return True
    return bool(workspace.owner_name) and identity.coder_username.lower() == workspace.owner_name.lower()


def subscription_matches(sub: _Sub, workspace: Workspace) -> bool:
    return filters_match(
        sub.workspace_id,
        sub.template,
        sub.owner,
        workspace_id=workspace.id,
        templates={
            workspace.template_name.lower(),
            workspace.template_display_name.lower(),
            workspace.template_id,
        },
        owners={workspace.owner_name.lower(), workspace.owner_id},
    )


def filters_match(
    watched: str | None,
    template: str | None,
    owner: str | None,
    *,
    workspace_id: str | None,
    templates: set[str],
    owners: set[str],
) -> bool:
    """A subscription's filters (one watched workspace, or template= / owner=) against what is known of
    the workspace an event is about: its id (None when unknown), its template's and its owner's names/ids."""
    if watched:
        return workspace_id is not None and watched == workspace_id
    if template and template.lower() not in templates:
        return False
    return not owner or owner.lower().lstrip("@") in owners - {""}


def remember_workspaces(session: Session, workspaces: list[Workspace], now: datetime) -> None:
    """Upsert what was last seen of each workspace (one statement per 300, no ORM bookkeeping)."""
    table = AlertWorkspace.__table__
    rows = []
    for workspace in workspaces:
        build = workspace.latest_build
        rows.append(
            {
                "workspace_id": workspace.id,
                "name": workspace.name,
                "owner_name": workspace.owner_name,
                "owner_id": workspace.owner_id,
                "template_name": workspace.template_name,
                "build_id": build.id,
                "build_number": build.build_number,
                "transition": str(build.transition),
                "job_status": str(build.job.status),
                "lifecycle": lifecycle_summary(workspace),
                "transitional": is_transitional(workspace),
                "deadline": build.deadline,
                "seen_at": now,
            }
        )
    if not rows:
        return
    # In one order (the workspace's), as every multi-row write here: the sweeping replica and a watching one
    # may record the same workspaces at once, and rows locked in opposite orders deadlock.
    rows.sort(key=lambda row: str(row["workspace_id"]))
    statement = dialect_insert(session, table)  # type: ignore[arg-type]
    statement = statement.on_conflict_do_update(
        index_elements=["workspace_id"],
        set_={column: statement.excluded[column] for column in rows[0] if column != "workspace_id"},
    )
    # Rows as parameters, not .values(rows): the statement compiles once and is cached (SQLAlchemy batches
    # the rows into multi-row INSERTs itself); a .values() of 300 rows was compiled anew every time, which
    # was most of the cost of recording a burst of 500 ready workspaces.
    session.execute(statement, rows)


def _peers_starting(session: Session, audience: Audience, target: Target, workspace: Workspace) -> int:
    """How many other workspaces this destination hears about are still starting (digest denominator)."""
    starting = audience.starting_for.get(target.destination)
    if starting is None:
        starting = _load_transitional(session, audience).heard_by(audience, target.destination)
        audience.starting_for[target.destination] = starting
    return len(starting - {workspace.id})


def _load_transitional(session: Session, audience: Audience) -> _StartingIndex:
    """What was starting before this batch (read before the batch is remembered): per channel the batch can
    reach, the starting workspaces it watches (a join in the database); and, for filters and DMs, every
    starting workspace (plain rows, not ORM objects: a 9:00 burst reads thousands of them for each batch)."""
    if audience.transitional is None:
        starting = (AlertWorkspace.transitional.is_(True), AlertWorkspace.transition == "start")
        watched: Sequence[Any] = ()
        if audience.by_channel:
            watched = session.execute(
                select(Subscription.channel_id, Subscription.workspace_id)
                .join(AlertWorkspace, AlertWorkspace.workspace_id == Subscription.workspace_id)
                .where(
                    Subscription.enabled.is_(True),
                    Subscription.channel_id.in_(list(audience.by_channel)),
                    *starting,
                )
            ).all()
        rows: Sequence[Any] = ()
        if audience.filters or audience.identities:
            rows = session.execute(
                select(
                    AlertWorkspace.workspace_id,
                    AlertWorkspace.owner_id,
                    AlertWorkspace.owner_name,
                    AlertWorkspace.template_name,
                ).where(*starting)
            ).all()
        audience.transitional = _StartingIndex((_Starting(*row) for row in rows), watched)
    return audience.transitional


@dataclass(frozen=True)
class _Starting:
    workspace_id: str
    owner_id: str
    owner_name: str
    template_name: str


class _StartingIndex:
    """What was starting before a batch: per channel, the starting workspaces it watches (``watched``:
    channel, workspace id); and every starting workspace (``rows``), indexed by template and owner. Each
    destination of the batch finds the ones it hears about by lookups, not by a pass over all of them (a 9:00
    burst: 40 channels × 2,000 starting workspaces, for every batch recorded)."""

    def __init__(self, rows: Iterable[_Starting], watched: Iterable[tuple[str, str]]) -> None:
        self.watched: dict[str, set[str]] = {}
        for channel, workspace_id in watched:
            self.watched.setdefault(channel, set()).add(str(workspace_id))
        self.ids: set[str] = set()
        self.by_template: dict[str, set[str]] = {}
        self.by_owner_id: dict[str, set[str]] = {}
        self.by_owner_name: dict[str, set[str]] = {}
        for row in rows:
            self.ids.add(row.workspace_id)
            self.by_template.setdefault(row.template_name.lower(), set()).add(row.workspace_id)
            self.by_owner_id.setdefault(row.owner_id, set()).add(row.workspace_id)
            self.by_owner_name.setdefault(row.owner_name.lower(), set()).add(row.workspace_id)

    def _owned_by(self, owner_id: str, owner_name: str) -> set[str]:
        return self.by_owner_id.get(owner_id, set()) | self.by_owner_name.get(owner_name, set())

    def heard_by(self, audience: Audience, destination: str) -> set[str]:
        """The starting workspaces ``destination`` hears about: a DM its user's, a channel the ones it
        watches and the ones its filters (template=, owner=) match."""
        if destination.startswith(("U", "W")):
            found: set[str] = set()
            for identity in audience.identities:
                if identity.slack_user_id == destination:
                    found |= self._owned_by(identity.coder_user_id, identity.coder_username.lower())
            return found
        found = set(self.watched.get(destination, ()))
        for sub in audience.filters_by_channel.get(destination, []):
            matched = self.by_template.get(sub.template.lower(), set()) if sub.template else self.ids
            if sub.owner:
                owner = sub.owner.lower().lstrip("@")
                matched = matched & self._owned_by(owner, owner)
            found |= matched
        return found


@dataclass
class _Candidate:
    workspace: Workspace
    event: AlertEvent
    target: Target
    payload: dict[str, Any]
    decision: str
    in_downtime: bool


def _queue(
    audience: Audience,
    workspace: Workspace,
    event: AlertEvent,
    target: Target,
    payload: dict[str, Any],
    now: datetime,
    catch_up: CatchUp | None,
) -> None:
    """Note a (event, destination) pair; ``_write`` decides against the ledger and queues it, in bulk."""
    age = (now - event.event_at).total_seconds()
    if target.not_before is not None and event.event_at < target.not_before:
        decision = "baseline"
    elif age > audience.config.stale_after_seconds and event.kind != "autostop":
        decision = "stale"
    else:
        decision = "queued"
    in_downtime = catch_up is not None and catch_up.since <= event.event_at <= catch_up.until
    audience.candidates.append(_Candidate(workspace, event, target, payload, decision, in_downtime))


def insert_ledger_rows(session: Session, rows: Iterable[dict[str, Any]]) -> set[tuple[str, str]]:
    """Insert ledger rows that are not there yet; the (key, destination) pairs that were new. (The engine's
    recorder and the notification router both queue through the ledger.)"""
    table: Table = AlertLedgerEntry.__table__  # type: ignore[assignment]
    # In key order, so replicas recording the same alerts at once lock them in one order (no deadlock).
    ordered = sorted(rows, key=lambda row: (row["alert_key"], row["destination"]))
    inserted = insert_new_rows(session, table, ordered, [table.c.alert_key, table.c.destination])
    return {(str(row[0]), str(row[1])) for row in inserted}


def _write(session: Session, audience: Audience, now: datetime, result: RecordResult) -> None:
    unique: list[_Candidate] = []
    seen: set[tuple[str, str]] = set()
    for candidate in audience.candidates:
        pair = (candidate.event.key, candidate.target.destination)
        if pair in seen:
            continue
        seen.add(pair)
        unique.append(candidate)
    if not unique:
        return
    inserted = insert_ledger_rows(
        session,
        [
            {
                "alert_key": c.event.key,
                "destination": c.target.destination,
                "kind": c.event.kind,
                "workspace_id": c.event.workspace_id,
                "decision": c.decision,
                "event_at": c.event.event_at,
                "created_at": now,
            }
            for c in unique
        ],
    )
    outbox: list[dict[str, Any]] = []
    teams: dict[str, str] = {}
    for c in unique:
        if (c.event.key, c.target.destination) not in inserted:
            result.deduplicated.append(c.event.kind)
            continue
        if c.decision == "baseline" or (c.decision == "stale" and not c.in_downtime):
            continue
        payload = c.payload
        build = c.workspace.latest_build
        if build.id == payload.get("build_id") and build.created_at is not None:
            # Lets delivery tell a status card posted for this build from one left by an earlier build.
            payload = {**payload, "build_queued_at": build.created_at.isoformat()}
        if c.event.kind == "ready" and c.decision == "queued":
            payload = {**payload, "peers_starting": _peers_starting(session, audience, c.target, c.workspace)}
        teams[c.target.destination] = c.target.team_id
        outbox.append(
            {
                "team_id": c.target.team_id,
                "destination": c.target.destination,
                "workspace_id": c.event.workspace_id,
                "alert_key": c.event.key,
                "kind": c.event.kind,
                "payload": {**payload, "labels": list(c.target.labels)},
                "catch_up": c.in_downtime,
                "stale": c.decision == "stale",
                "status": "pending",
                "attempts": 0,
                "due_at": now,
                "created_at": now,
            }
        )
        result.queued.append((c.target.destination, c.event.kind))
    if not outbox:
        return
    known = {
        row.destination: row
        for row in session.scalars(
            select(AlertDestination).where(AlertDestination.destination.in_(list(teams)))
        )
    }
    # In the destinations' order: replicas recording at once take these rows' locks in one order, so one
    # waits for the other rather than deadlock (which failed a whole batch; test_destination_order.py).
    new_destinations = []
    for destination, team_id in sorted(teams.items()):
        row = known.get(destination)
        if row is None:
            new_destinations.append(
                {
                    "destination": destination,
                    "team_id": team_id,
                    "tokens": audience.config.burst,
                    "tokens_at": now,
                }
            )
        elif row.disabled_reason is not None:
            # Only an enabled subscription (a new one, after the old was disabled) or a DM target gets here.
            row.disabled_reason = None
    if new_destinations:
        # One statement for all (executemany, in this order): a burst's first batches reach dozens of new
        # channels, and a statement each was as many round trips while the recorder was behind.
        insert_new = dialect_insert(session, AlertDestination.__table__)  # type: ignore[arg-type]
        session.execute(insert_new.on_conflict_do_nothing(), new_destinations)
    # Core, not the ORM bulk path: a burst queues hundreds of rows, and the ORM built a command for each.
    session.execute(insert(AlertOutboxItem.__table__), outbox)  # type: ignore[arg-type]


def record_observations(
    session: Session,
    observations: Iterable[Observation],
    config: AlertConfig,
    now: datetime,
    catch_up: CatchUp | None = None,
) -> RecordResult:
    """Remember what was seen and queue every alert not queued before, for every destination that wants it."""
    observations = list(observations)
    audience = Audience(session, config, {observation.workspace.id for observation in observations})
    result = RecordResult()
    if any(event.kind == "ready" for observation in observations for event in observation.events):
        # The digest's denominator counts workspaces that were starting before this batch settled them.
        _load_transitional(session, audience)
    remember_workspaces(session, [observation.workspace for observation in observations], now)
    for observation in observations:
        workspace = observation.workspace
        for event in observation.events:
            payload = event.payload()
            if event.agent_id in observation.log_tails:
                payload["log_tail"] = observation.log_tails[event.agent_id]
            if event.key in observation.timings:
                payload["timings"] = with_history(
                    session,
                    workspace,
                    event.kind,
                    observation.timings[event.key],
                    config.slower_min_extra_seconds,
                )
            for target in audience.targets(workspace, event.kind):
                _queue(audience, workspace, event, target, payload, now, catch_up)
        _queue_autostop(audience, workspace, now, result)
    _write(session, audience, now, result)
    return result


def _queue_autostop(
    audience: Audience,
    workspace: Workspace,
    now: datetime,
    result: RecordResult,
) -> None:
    deadline = workspace.latest_build.deadline
    if deadline is None or deadline <= now:
        return
    for target in audience.targets(workspace, "autostop"):
        event = autostop_warning(workspace, target.warn_minutes)
        if event is None:
            continue
        if event.event_at > now:
            due = result.next_autostop_due.get(workspace.id)
            result.next_autostop_due[workspace.id] = min(due, event.event_at) if due else event.event_at
            continue
        # The warning is about the future, so it is never stale and never part of a catch-up summary.
        always = Target(target.destination, target.team_id, None, target.warn_minutes, target.labels)
        _queue(audience, workspace, event, always, event.payload(), now, None)


def mark_started(session: Session, now: datetime, replica_id: str, catch_up_after: float) -> CatchUp | None:
    """Note this engine's start; when every engine was silent longer than ``catch_up_after`` seconds, the
    gap is a
    downtime whose transitions get summarised."""
    # Replicas starting together all find no row; the first insert wins, the others change nothing (a plain
    # INSERT failed them with a unique violation and they never started).
    insert_ignoring_conflicts(
        session,
        AlertMeta.__table__,  # type: ignore[arg-type]
        {"key": FIRST_START_KEY, "value": now.isoformat(), "updated_at": now},
    )
    alive = session.scalars(select(AlertMeta).where(AlertMeta.key.like("alive:%"))).all()
    last_alive = max(
        (
            row.updated_at.replace(tzinfo=UTC) if row.updated_at.tzinfo is None else row.updated_at
            for row in alive
        ),
        default=None,
    )
    heartbeat(session, now, replica_id)
    if last_alive is None or (now - last_alive).total_seconds() < catch_up_after:
        return None
    return CatchUp(since=last_alive, until=now)


def heartbeat(session: Session, now: datetime, replica_id: str) -> None:
    key = f"alive:{replica_id}"[:128]
    row = session.get(AlertMeta, key)
    if row is None:
        session.add(AlertMeta(key=key, value="", updated_at=now))
    else:
        row.updated_at = now
        row.value = ""  # running (again): back in the live set (``shares.live_replicas``)
    # Forget replicas that have been silent for a day so the table stays small.
    for stale_row in session.scalars(select(AlertMeta).where(AlertMeta.key.like("alive:%"))).all():
        updated = aware(stale_row.updated_at)
        if updated is not None and (now - updated) > timedelta(days=1):
            session.delete(stale_row)
