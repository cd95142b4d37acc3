"""Template updates and workspace sharing through coder_client against coder-sim (v2), and absent but
harmless against v0.25."""

from __future__ import annotations

import asyncio

import pytest
from coder_client import (
    AsyncCoderClient,
    CoderClient,
    FeatureUnavailable,
    InvalidArgument,
    LifecycleKind,
    SharingDisabled,
    UpdateNeedsParameters,
    UpToDate,
    WorkspaceRole,
)
from coder_sim import SimServer


def test_update_moves_a_running_workspace_to_the_active_version(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "old-box", running=True)
    with CoderClient(sim.url, sim.user_tokens["alice"]) as coder:
        assert coder.capabilities().template_updates
        with pytest.raises(UpToDate, match="already uses the active version"):
            coder.workspaces.update("old-box")
        new_version = sim.publish_template_version("python-ds", name="v2")
        before = coder.workspaces.get(workspace_id)
        assert before.outdated and before.status.value == "running"
        build = coder.workspaces.update("old-box", stop_timeout=30)  # stops first, as `coder update`
        assert build.transition.value == "start" and build.template_version_id == new_version
        ready = coder.workspaces.wait_until_ready(workspace_id, timeout=30)
        assert ready.kind is LifecycleKind.READY
        after = coder.workspaces.get(workspace_id)
        assert not after.outdated
        # parameter values carried over from the earlier build
        transitions = [b.transition.value for b in coder.workspaces.builds(workspace_id)]
        assert transitions[:2] == ["start", "stop"]


def test_update_asks_for_a_new_required_parameter_before_stopping(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "needs-team", running=True)
    sim.publish_template_version("python-ds", new_required_parameter="team")
    with CoderClient(sim.url, sim.user_tokens["alice"]) as coder:
        builds = len(coder.workspaces.builds(workspace_id))
        with pytest.raises(UpdateNeedsParameters) as refused:
            coder.workspaces.update(workspace_id)
        assert refused.value.names == ["team"] and "was not updated" in str(refused.value)
        assert len(coder.workspaces.builds(workspace_id)) == builds  # nothing stopped, nothing built
        build = coder.workspaces.update(workspace_id, {"team": "ml"}, stop_timeout=30)
        assert build.template_version_name != "v1"


def test_automatic_updates_policy(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "auto", running=False)
    with CoderClient(sim.url, sim.user_tokens["alice"]) as coder:
        coder.workspaces.set_automatic_updates("auto", "always")
        assert coder.workspaces.get(workspace_id).automatic_updates == "always"
        coder.workspaces.set_automatic_updates(workspace_id, "NEVER")
        assert coder.workspaces.get(workspace_id).automatic_updates == "never"
        with pytest.raises(InvalidArgument, match="not an auto-update policy"):
            coder.workspaces.set_automatic_updates(workspace_id, "sometimes")


def test_share_and_unshare_with_roles(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "pair", running=False)
    with (
        CoderClient(sim.url, sim.user_tokens["alice"]) as alice,
        CoderClient(sim.url, sim.user_tokens["bob"]) as bob,
    ):
        assert alice.capabilities().workspace_sharing
        assert alice.workspaces.acl("pair").users == []
        acl = alice.workspaces.share("pair", "bob")
        assert [(u.username, u.role) for u in acl.users] == [("bob", WorkspaceRole.USE)]
        assert [ws.id for ws in bob.workspaces.shared_with_me()] == [workspace_id]
        shared = bob.workspaces.get(workspace_id)
        assert [actor.name for actor in shared.shared_with] == ["bob"]
        acl = alice.workspaces.share(workspace_id, "@bob", "admin")
        assert acl.users[0].role is WorkspaceRole.ADMIN
        with pytest.raises(InvalidArgument, match="sharing role"):
            alice.workspaces.share("pair", "bob", "owner")
        with pytest.raises(InvalidArgument, match="no Coder user"):
            alice.workspaces.share("pair", "nobody-here")
        with pytest.raises(InvalidArgument, match="owns"):
            alice.workspaces.share("pair", "alice")
        assert alice.workspaces.unshare("pair", "bob").users == []
        with pytest.raises(InvalidArgument, match="not shared with bob"):
            alice.workspaces.unshare("pair", "bob")
        assert bob.workspaces.shared_with_me() == []


def test_sharing_disabled_is_a_typed_error_with_a_clear_sentence(sim: SimServer) -> None:
    sim.create_workspace_direct("alice", "python-ds", "pair", running=False)
    sim.set_workspace_sharing(False)
    with CoderClient(sim.url, sim.user_tokens["alice"]) as alice:
        with pytest.raises(SharingDisabled) as refused:
            alice.workspaces.share("pair", "bob")
        assert str(refused.value).startswith("Workspace sharing is turned off for this Coder organization")
        assert alice.workspaces.acl("pair").users == []  # reading still works


def test_async_client_updates_and_shares(sim: SimServer) -> None:
    sim.create_workspace_direct("alice", "python-ds", "async-box", running=False)
    sim.publish_template_version("python-ds")

    async def scenario() -> None:
        async with AsyncCoderClient(sim.url, sim.user_tokens["alice"]) as coder:
            build = await coder.workspaces.update("async-box")
            assert build.transition.value == "start"
            acl = await coder.workspaces.share("async-box", "bob", "use")
            assert [u.username for u in acl.users] == ["bob"]
            await coder.workspaces.set_automatic_updates("async-box", "always")
            assert (await coder.workspaces.acl("async-box")).users[0].username == "bob"

    asyncio.run(scenario())


def test_v025_has_neither_feature_and_says_so(sim_v025: SimServer) -> None:
    sim_v025.create_workspace_direct("alice", "python-ds", "old", running=False)
    with CoderClient(sim_v025.url, sim_v025.user_tokens["alice"]) as coder:
        caps = coder.capabilities()
        assert not caps.template_updates and not caps.workspace_sharing
        assert coder.workspaces.get("old").outdated is False
        with pytest.raises(UpToDate):
            coder.workspaces.update("old")
        with pytest.raises(FeatureUnavailable) as missing:
            coder.workspaces.acl("old")
        assert missing.value.feature == "workspace_sharing"
        with pytest.raises(FeatureUnavailable):
            coder.workspaces.share("old", "bob")
        with pytest.raises(FeatureUnavailable):
            coder.workspaces.shared_with_me()
        with pytest.raises(FeatureUnavailable) as no_policy:
            coder.workspaces.set_automatic_updates("old", "always")
        assert no_policy.value.feature == "template_updates"
        # the workspace itself is untouched and usable
        assert coder.workspaces.get("old").status.value == "stopped"
