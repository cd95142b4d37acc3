"""Rendezvous hashing of workspaces and destinations over the live replicas (``coder_slack.alerts.shares``):
even shares, and only the keys of a replica that joins or leaves move."""

from __future__ import annotations

import uuid
from collections import Counter

from coder_slack.alerts.shares import Shares, owner

KEYS = [str(uuid.UUID(int=n * 7919 + 1)) for n in range(3000)]
REPLICAS = ["bot-a:101:1a2b3c", "bot-b:202:4d5e6f", "bot-c:303:7a8b9c"]


def test_three_replicas_own_about_a_third_each() -> None:
    counts = Counter(owner(key, REPLICAS) for key in KEYS)
    assert set(counts) == set(REPLICAS)
    assert all(800 <= count <= 1200 for count in counts.values()), counts


def test_a_new_replica_takes_only_its_share_and_a_dead_ones_keys_spread() -> None:
    before = {key: owner(key, REPLICAS) for key in KEYS}
    joined = {key: owner(key, [*REPLICAS, "bot-d:404:0d0d0d"]) for key in KEYS}
    moved = [key for key in KEYS if before[key] != joined[key]]
    # Only keys the newcomer wins move (a quarter), none between the old replicas.
    assert all(joined[key] == "bot-d:404:0d0d0d" for key in moved)
    assert 600 <= len(moved) <= 900
    survivors = [r for r in REPLICAS if r != "bot-b:202:4d5e6f"]
    after = {key: owner(key, survivors) for key in KEYS}
    assert all(after[key] == before[key] for key in KEYS if before[key] != "bot-b:202:4d5e6f")
    orphaned = Counter(after[key] for key in KEYS if before[key] == "bot-b:202:4d5e6f")
    assert set(orphaned) == set(survivors) and min(orphaned.values()) > 0.35 * sum(orphaned.values())


def test_every_key_is_mine_alone_or_on_sqlite() -> None:
    alone = Shares("bot-a:101:1a2b3c")
    assert all(alone.mine(key) for key in KEYS[:50])
    single = Shares("local", shared=False)
    single.update(REPLICAS)
    assert all(single.mine(key) for key in KEYS[:50])


def test_replicas_agree_on_one_owner_per_key() -> None:
    views = [Shares(replica) for replica in REPLICAS]
    for view in views:
        assert view.update(REPLICAS) is True
        assert view.update(REPLICAS) is False  # unchanged
    for key in KEYS:
        assert sum(view.mine(key) for view in views) == 1
