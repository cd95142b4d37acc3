"""The digest's denominator: which starting workspaces each destination hears about
(``ledger._peers_starting``), found through an index by template and owner rather than a pass over every
starting workspace per destination. Checked against the rule written out plainly, over a fleet with every kind
of subscription and DMs."""

from __future__ import annotations

import random
from pathlib import Path

from alerts_helpers import add_rows, identity, migrate, subscription
from coder_slack.alerts.config import AlertConfig
from coder_slack.alerts.ledger import Audience, _load_transitional
from coder_slack.store import AlertWorkspace, create_sync_engine_for
from sqlalchemy.orm import Session

OWNERS = [("u-alice", "alice"), ("u-bob", "Bob"), ("u-carol", "carol")]
TEMPLATES = ["python-ds", "Go-Dev", "rust"]


def _plain_rule(audience: Audience, destination: str, row: AlertWorkspace) -> bool:
    """Who hears about a starting workspace, as the alert rules state it."""
    if destination.startswith(("U", "W")):
        return any(
            i.slack_user_id == destination
            and (i.coder_user_id == row.owner_id or i.coder_username.lower() == row.owner_name.lower())
            for i in audience.identities
        )
    for sub in audience.by_channel.get(destination, []):
        if sub.workspace_id:
            if sub.workspace_id == row.workspace_id:
                return True
            continue
        if sub.template and sub.template.lower() != row.template_name.lower():
            continue
        if sub.owner and sub.owner.lower().lstrip("@") not in (row.owner_name.lower(), row.owner_id):
            continue
        return True
    return False


def test_each_destination_hears_about_the_starting_workspaces_its_subscriptions_and_dms_name(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'peers.db'}"
    migrate(url)
    pick = random.Random(14)
    workspaces = []
    for n in range(400):
        owner_id, owner_name = pick.choice(OWNERS)
        workspaces.append(
            AlertWorkspace(
                workspace_id=f"ws-{n}",
                owner_id=owner_id,
                owner_name=owner_name,
                template_name=pick.choice(TEMPLATES),
                transition=pick.choice(["start", "start", "stop"]),
                transitional=pick.random() < 0.7,
            )
        )
    rows: list[object] = list(workspaces)
    rows += [subscription(f"C0WATCH{n % 5}", workspace_id=f"ws-{n}") for n in range(0, 400, 3)]
    rows += [
        subscription("C0TEMPLATE", template="python-DS"),
        subscription("C0OWNER", owner="@bob"),
        subscription("C0OWNERID", owner="u-carol"),
        subscription("C0BOTH", template="go-dev", owner="alice"),
        subscription("C0ALL"),
        subscription("C0MIXED", template="rust"),
        subscription("C0MIXED", workspace_id="ws-1"),
        subscription("C0NOBODY", template="no-such-template"),
        identity("U0ALICE", "u-alice", "alice"),
        identity("U0BOB", "someone-else", "BOB"),  # found by name only
        identity("U0NOONE", "u-nobody", "nobody"),
    ]
    add_rows(url, rows)
    engine = create_sync_engine_for(url)
    with Session(engine) as session:
        audience = Audience(session, AlertConfig())
        index = _load_transitional(session, audience)
        starting = list(
            session.query(AlertWorkspace).filter(
                AlertWorkspace.transitional.is_(True), AlertWorkspace.transition == "start"
            )
        )
        destinations = [*audience.by_channel, "U0ALICE", "U0BOB", "U0NOONE", "U0UNKNOWN"]
        for destination in destinations:
            expected = {w.workspace_id for w in starting if _plain_rule(audience, destination, w)}
            assert index.heard_by(audience, destination) == expected, destination
        # The fleet exercises every rule: each of these hears about some, and not about all.
        for destination in ("C0TEMPLATE", "C0OWNER", "C0OWNERID", "C0BOTH", "C0MIXED", "U0ALICE", "U0BOB"):
            assert 0 < len(index.heard_by(audience, destination)) < len(starting), destination
        assert index.heard_by(audience, "C0ALL") == {w.workspace_id for w in starting}
        assert index.heard_by(audience, "C0NOBODY") == set()
        # A batch reads only the subscriptions that can target its workspaces, yet each channel it reaches
        # still counts every starting workspace it watches.
        batch = {"ws-0", "ws-3"}
        narrow = Audience(session, AlertConfig(), batch)
        assert {s.workspace_id for s in narrow.subscriptions if s.workspace_id} == batch
        filters = {"C0TEMPLATE", "C0OWNER", "C0OWNERID", "C0BOTH", "C0ALL", "C0MIXED", "C0NOBODY"}
        assert set(narrow.by_channel) == {"C0WATCH0", "C0WATCH3", *filters}
        narrow_index = _load_transitional(session, narrow)
        for destination in [*narrow.by_channel, "U0ALICE", "U0BOB"]:
            assert narrow_index.heard_by(narrow, destination) == index.heard_by(audience, destination), (
                destination
            )
    engine.dispose()
