"""How replicas share the work: which live replica owns a workspace's watch stream and a destination's
delivery.

Every replica writes a heartbeat row (``alert_meta`` ``alive:<replica id>``, ``ledger.heartbeat``) each third
of a lease; the *live* replicas are those whose heartbeat is younger than a lease and that did not say they
stopped. Ownership is rendezvous hashing (highest random weight) over the live replicas: each replica ranks
``hash(replica, key)`` and the highest wins. Every replica reads the same rows, so they agree on the owner of
each key without talking to each other; when a replica joins or leaves, only the keys it wins or held move
(about 1/N of them), and a dead replica's keys spread evenly over the others.

Ownership only decides who *tries*: the leases (``leases.py``, ``FOR UPDATE SKIP LOCKED``) still make one
replica at a time hold a watch or a destination, and the ledger's unique key still makes each alert happen
once, so two replicas that briefly disagree about the live set cost a duplicate attempt, never a duplicate
alert.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from coder_slack.alerts.ledger import heartbeat
from coder_slack.store import AlertMeta, aware

ALIVE_PREFIX = "alive:"
STOPPED = "stopped"


def alive_key(replica_id: str) -> str:
    """The heartbeat row's key (``alert_meta.key`` is 128 characters)."""
    return f"{ALIVE_PREFIX}{replica_id}"[:128]


def member_id(replica_id: str) -> str:
    """The replica's id as the heartbeat rows name it (what ownership is hashed on)."""
    return alive_key(replica_id).removeprefix(ALIVE_PREFIX)


def live_replicas(session: Session, now: datetime, lease_seconds: float) -> list[str]:
    """Replicas whose heartbeat is younger than a lease and that have not stopped, sorted."""
    since = now - timedelta(seconds=lease_seconds)
    rows = session.execute(
        select(AlertMeta.key, AlertMeta.value, AlertMeta.updated_at).where(
            AlertMeta.key.like(f"{ALIVE_PREFIX}%")
        )
    ).all()
    return sorted(
        key.removeprefix(ALIVE_PREFIX)
        for key, value, updated_at in rows
        if value != STOPPED and (aware(updated_at) or since) > since
    )


def beat(session: Session, now: datetime, replica_id: str, lease_seconds: float) -> list[str]:
    """This replica's heartbeat, and the live replicas (one transaction, every second)."""
    heartbeat(session, now, replica_id)
    return live_replicas(session, now, lease_seconds)


def mark_stopped(session: Session, replica_id: str) -> None:
    """A replica stopping cleanly leaves the live set at once (its heartbeat time stays: the catch-up after a
    downtime is measured from it)."""
    session.execute(
        update(AlertMeta).where(AlertMeta.key == alive_key(replica_id)).values(value=STOPPED),
        execution_options={"synchronize_session": False},
    )


def destination_key(destination: str) -> str:
    """The key a destination's delivery is owned by (workspaces' watches are owned by their ids)."""
    return f"destination:{destination}"


def _weight(replica: str, key: str) -> int:
    digest = hashlib.blake2b(f"{replica}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(key: str, replicas: Iterable[str]) -> str | None:
    """The replica that owns ``key`` among ``replicas`` (rendezvous hashing); None without replicas."""
    return max(replicas, key=lambda replica: _weight(replica, key), default=None)


@dataclass
class Shares:
    """This replica's view of the live replicas, refreshed by the engine's lease keeper.

    ``shared`` is False on SQLite (one replica): everything is this replica's, as before replicas shared.
    """

    me: str
    shared: bool = True
    replicas: tuple[str, ...] = ()
    _cache: dict[str, bool] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.me = member_id(self.me)
        if not self.replicas:
            self.replicas = (self.me,)

    def update(self, live: Iterable[str]) -> bool:
        """Take a new live set (this replica always counts itself); whether it changed."""
        replicas = tuple(sorted({*live, self.me}))
        if replicas == self.replicas:
            return False
        self.replicas = replicas
        self._cache.clear()
        return True

    def mine(self, key: str) -> bool:
        """Whether this replica owns ``key`` (a workspace id, a destination) in its current view."""
        if not self.shared or len(self.replicas) == 1:
            return True
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) > 50_000:
                self._cache.clear()
            found = self._cache[key] = owner(key, self.replicas) == self.me
        return found

    def owner_of(self, key: str) -> str:
        if not self.shared:
            return self.me
        return owner(key, self.replicas) or self.me


__all__ = ["Shares", "alive_key", "beat", "live_replicas", "mark_stopped", "member_id", "owner"]
