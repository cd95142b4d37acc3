"""The notebook monitor of an outdated workspace: says so, offers Update (where Coder offers template
updates), and follows the update to ready on the new version; v0.25 offers nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from coder_client import CoderClient
from coder_jupyter import monitor
from jupyter_test_helpers import CoderLogin, wait_until

READY_TIMEOUT = 60.0


def test_an_outdated_workspace_offers_update_and_the_monitor_follows_it(
    alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    workspace_id = alice.sim.create_workspace_direct("alice", "python-ds", unique_name("old"), running=True)
    alice.sim.publish_template_version("python-ds", name="v2")
    card = monitor(workspace_id, url=alice.url, token=alice.token)
    card.wait(timeout=READY_TIMEOUT)
    wait_until(lambda: card.update_button.layout.display != "none", what="the Update button")
    assert card.outdated and "outdated" in card.snapshot_html()
    card.update_button.click()
    wait_until(
        lambda: card.view is not None and not card.view.workspace.outdated, what="the update", timeout=60
    )
    card.wait(timeout=READY_TIMEOUT)
    assert card.outcome == "ready" and card.error == ""
    assert card.update_button.layout.display == "none"
    with CoderClient(alice.url, alice.token) as coder:
        assert coder.workspaces.get(workspace_id).latest_build.template_version_name == "v2"
    card.close()


@pytest.mark.parametrize("jupyter_sim", ["v0.25"], indirect=True)
def test_v025_monitor_offers_no_update(alice: CoderLogin, unique_name: Callable[[str], str]) -> None:
    workspace_id = alice.sim.create_workspace_direct("alice", "python-ds", unique_name("old"), running=True)
    card = monitor(workspace_id, url=alice.url, token=alice.token)
    card.wait(timeout=READY_TIMEOUT)
    assert card.outcome == "ready" and not card.outdated
    assert card.update_button.layout.display == "none"
    card.close()
