"""Leases that share the work between replicas: named leases in ``alert_leases`` (``watch:<workspace id>``,
``sweep``, ``prune``) and the destinations' own leases in ``alert_destinations``.

Rows are claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has one writer and ignores
it), so two replicas never wait on each other for the same lease and never both win it. A lease lasts
``lease_seconds`` unless renewed; a replica that dies loses its leases after that and another takes over.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, func, literal, or_, select, update
from sqlalchemy.orm import Session

from coder_slack.store import (
    AlertDestination,
    AlertLease,
    AlertOutboxItem,
    AlertWorkspace,
    Transactions,
    aware,
    insert_ignoring_conflicts,
    utcnow,
)

SWEEP_LEASE = "sweep"
PRUNE_LEASE = "prune"
_WATCH_PREFIX = "watch:"
UNSENT = ("pending", "sending")


def watch_lease(workspace_id: str) -> str:
    return f"{_WATCH_PREFIX}{workspace_id}"


def watched_workspace(lease: str) -> str | None:
    """The workspace a watch lease is for (None for other leases)."""
    return lease.removeprefix(_WATCH_PREFIX) if lease.startswith(_WATCH_PREFIX) else None


class LeaseLost(Exception):
    """Another replica holds the destination now; this one stops draining it."""


# ------------------------------------------------------------------------------------------ named leases


def claim_leases(session: Session, names: list[str], holder: str, now: datetime, seconds: float) -> list[str]:
    """The leases among ``names`` this holder now has (new, already its own, or expired elsewhere)."""
    if not names:
        return []
    until = now + timedelta(seconds=seconds)
    rows = {
        lease.name: lease
        for lease in session.scalars(
            select(AlertLease).where(AlertLease.name.in_(names)).with_for_update(skip_locked=True)
        )
    }
    won = []
    for name in names:
        lease = rows.get(name)
        if lease is None:
            if insert_ignoring_conflicts(
                session,
                AlertLease.__table__,  # type: ignore[arg-type]
                {"name": name, "holder": holder, "expires_at": until},
            ):
                won.append(name)
            continue
        expires = aware(lease.expires_at)
        if lease.holder == holder or expires is None or expires < now:
            lease.holder, lease.expires_at = holder, until
            won.append(name)
    return won


def release_leases(session: Session, names: list[str], holder: str) -> None:
    """Give back those of ``names`` this holder holds, in one DELETE (loading each lease to delete it was
    about a twentieth of a replica's CPU, sampled with py-spy, while a 9:00 burst settled its 650 watches)."""
    if names:
        session.execute(delete(AlertLease).where(AlertLease.name.in_(names), AlertLease.holder == holder))


def renew_leases(session: Session, holder: str, now: datetime, seconds: float) -> set[str]:
    """Extend every lease this holder still has (one UPDATE); the names it still holds."""
    statement = (
        update(AlertLease)
        .where(AlertLease.holder == holder)
        .values(expires_at=now + timedelta(seconds=seconds))
        .returning(AlertLease.name)
    )
    return set(session.scalars(statement, execution_options={"synchronize_session": False}))


def orphaned_transitional(session: Session, now: datetime) -> list[str]:
    """Transitional workspaces nobody holds a live watch lease for (one anti-join)."""
    query = (
        select(AlertWorkspace.workspace_id)
        .outerjoin(
            AlertLease,
            and_(
                AlertLease.name == literal(_WATCH_PREFIX) + AlertWorkspace.workspace_id,
                AlertLease.expires_at > now,
            ),
        )
        .where(AlertWorkspace.transitional.is_(True), AlertLease.name.is_(None))
    )
    return list(session.scalars(query))


def watch_holders(session: Session, now: datetime) -> dict[str, int]:
    """Live watch leases per holder (how the streams are shared out; ``/metrics`` and the tests)."""
    query = (
        select(AlertLease.holder, func.count())
        .where(AlertLease.name.like(f"{_WATCH_PREFIX}%"), AlertLease.expires_at > now)
        .group_by(AlertLease.holder)
    )
    return {holder: int(count) for holder, count in session.execute(query).all()}


class HeldLeases:
    """The named leases this replica holds, kept in step with ``alert_leases``: claimed in batches, renewed
    together by the engine's lease keeper, given back in batches (no transaction on an alert's hot path)."""

    def __init__(self, db: Transactions, holder: str, seconds: float) -> None:
        self.db = db
        self.holder = holder
        self.seconds = seconds
        self._held: set[str] = set()
        self._to_release: set[str] = set()

    def __contains__(self, name: object) -> bool:
        return name in self._held

    async def claim(self, names: list[str]) -> list[str]:
        """Claim ``names`` in one transaction; the ones this replica holds now."""
        won = await self.db.run(claim_leases, names, self.holder, utcnow(), self.seconds)
        self._held.update(won)
        return won

    async def claim_one(self, name: str) -> bool:
        """Claim (or keep) one lease; forget it when another replica holds it."""
        if await self.claim([name]):
            return True
        self._held.discard(name)
        return False

    def give_back(self, name: str) -> None:
        """Stop holding ``name``; the lease keeper releases it with the next ``renew``."""
        if name in self._held:
            self._held.discard(name)
            self._to_release.add(name)

    async def flush(self) -> None:
        """Release what was given back now (rather than with the next ``renew``)."""
        if self._to_release:
            released = list(self._to_release - self._held)
            self._to_release.clear()
            await self.db.run(release_leases, released, self.holder)

    async def renew(self, now: datetime) -> set[str]:
        """Release what was given back, extend the rest; the leases lost meanwhile (expired, taken over)."""
        await self.flush()
        mine = set(self._held)
        kept = await self.db.run(renew_leases, self.holder, now, self.seconds)
        lost = mine - kept
        self._held -= lost
        return lost

    async def release_all(self) -> None:
        held, self._held = list(self._held), set()
        await self.db.run(release_leases, held, self.holder)


# ------------------------------------------------------------------------------------ destination leases


def claim_destinations(
    session: Session,
    replica: str,
    now: datetime,
    seconds: float,
    owned: Callable[[str], bool] | None = None,
    steal_after: float = 3.0,
) -> list[str]:
    """Destinations with rows due that no other replica holds; leased to ``replica`` now.

    With ``owned`` (replicas share the delivery, ``shares.Shares.mine``), only the destinations it accepts:
    they are found first without a lock, so the rows of other replicas' destinations are never locked here
    (``SKIP LOCKED`` would make their owners skip them). A destination whose rows have waited ``steal_after``
    seconds with nobody holding it is taken whoever owns it: its owner may have died, and the live set only
    forgets a dead replica after a lease."""
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
    free = (
        waiting,
        AlertDestination.disabled_reason.is_(None),
        or_(
            AlertDestination.leased_until.is_(None),
            AlertDestination.leased_until < now,
            AlertDestination.leased_by == replica,
        ),
    )
    query = select(AlertDestination).where(*free).limit(200).with_for_update(skip_locked=True)
    if owned is not None:
        oldest = (
            select(func.min(AlertOutboxItem.due_at))
            .where(
                AlertOutboxItem.destination == AlertDestination.destination,
                AlertOutboxItem.status.in_(UNSENT),
            )
            .scalar_subquery()
        )
        candidates = session.execute(
            select(AlertDestination.destination, oldest).where(*free).limit(1000)
        ).all()
        abandoned = now - timedelta(seconds=steal_after)
        mine = [
            destination
            for destination, due in candidates
            if owned(destination) or (due is not None and (aware(due) or now) < abandoned)
        ]
        if not mine:
            return []
        query = query.where(AlertDestination.destination.in_(mine))
    claimed = []
    for destination in session.scalars(query):
        destination.leased_by = replica
        destination.leased_until = now + timedelta(seconds=seconds)
        claimed.append(destination.destination)
    return claimed


def hold_destination(row: AlertDestination, replica: str, now: datetime, seconds: float) -> None:
    """Renew ``replica``'s lease on a destination row locked by the caller; ``LeaseLost`` when another
    replica holds it."""
    leased_until = aware(row.leased_until)
    if row.leased_by != replica and leased_until is not None and leased_until > now:
        raise LeaseLost(row.destination)
    row.leased_by = replica
    row.leased_until = now + timedelta(seconds=seconds)


def release_destination_row(row: AlertDestination, replica: str) -> None:
    if row.leased_by == replica:
        row.leased_by = None
        row.leased_until = None
