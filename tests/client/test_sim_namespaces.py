"""Every namespace method through the network against coder-sim, in both API eras."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from coder_client import (
    AsyncCoderClient,
    CoderClient,
    Conflict,
    ExtendRefused,
    Forbidden,
    InvalidArgument,
    InvalidParameters,
    LifecycleKind,
    NotFound,
    ValidationFailed,
    WorkspaceNotReady,
)
from coder_sim import SimServer

PROJECT = {"project_name": "demo"}


def test_users_organizations_templates(sim_any: SimServer) -> None:
    with CoderClient(sim_any.url, sim_any.token) as coder:
        version = coder.buildinfo().version
        assert version.startswith("v2.36" if sim_any.era == "v2" else "v0.25")
        me = coder.users.me()
        assert me.username == "admin" and me.email == "admin@example.com"
        assert coder.users.get("alice").username == "alice"
        (org,) = coder.organizations.list()
        assert org.name == "coder"
        names = {t.name for t in coder.templates.list()}
        assert {"python-ds", "broken-startup", "slow-start", "failing-build"} <= names
        assert {t.name for t in coder.templates.list(organization="coder")} == names
        template = coder.templates.get_by_name("python-ds")
        assert coder.templates.get(template.id).name == "python-ds"
        params = {p.name: p for p in coder.templates.parameters("python-ds")}
        assert params["project_name"].required and params["extensions"].type == "list(string)"
        with pytest.raises(NotFound):
            coder.templates.get_by_name("no-such-template")
        with pytest.raises(InvalidArgument, match=r"not a member of an organization named .nope."):
            coder.templates.list(organization="nope")


def test_create_get_list_rename_and_schedule(sim_any: SimServer) -> None:
    with CoderClient(sim_any.url, sim_any.user_tokens["alice"]) as coder:
        created = coder.workspaces.create(
            "ml-box",
            "python-ds",
            parameters={**PROJECT, "cpu": 8, "gpu": True, "extensions": ["ms-python.python"]},
            ttl="2h30m",
            autostart="9:30 mon-fri Europe/Berlin",
        )
        assert created.owner_name == "alice" and created.ttl_ms == 150 * 60_000
        assert created.autostart_schedule == "CRON_TZ=Europe/Berlin 30 9 * * 1-5"
        # sim_v025 has no /users/{user}/workspaces: the client must have used the organization route
        assert coder.features.user_create_route is (sim_any.era == "v2")
        assert coder.workspaces.get(created.id).name == "ml-box"
        assert coder.workspaces.get("alice/ml-box").id == created.id
        assert coder.workspaces.get("ml-box").id == created.id
        assert coder.workspaces.get_by_name("alice", "ml-box").id == created.id
        assert [w.id for w in coder.workspaces.list()] == [created.id]
        assert [w.name for w in coder.workspaces.list("owner:me name:ml-box")] == ["ml-box"]
        coder.workspaces.rename(created, "ml-box-2")
        assert coder.workspaces.get(created.id).name == "ml-box-2"
        coder.workspaces.set_autostart(created, "8:00 sat,sun UTC")
        coder.workspaces.set_ttl(created, "8h")
        fresh = coder.workspaces.get(created)
        assert fresh.autostart_schedule == "CRON_TZ=UTC 0 8 * * 0,6" and fresh.ttl_ms == 8 * 3_600_000
        coder.workspaces.set_autostart(created, None)
        coder.workspaces.set_ttl(created, None)
        fresh = coder.workspaces.get(created)
        assert not fresh.autostart_schedule and not fresh.ttl_ms
        with pytest.raises(Conflict):
            coder.workspaces.create("ml-box-2", "python-ds", parameters=PROJECT)


def test_create_refuses_bad_parameters_before_sending(sim: SimServer) -> None:
    with CoderClient(sim.url, sim.token) as coder:
        with pytest.raises(InvalidParameters) as caught:
            coder.workspaces.create(
                "bad", "python-ds", parameters={"project_name": "X!", "cpu": 3, "nope": 1}
            )
        assert {e.field for e in caught.value.errors} == {"project_name", "cpu", "nope"}
        with pytest.raises(InvalidArgument, match="not a valid workspace name"):
            coder.workspaces.create("-bad-", "python-ds", parameters=PROJECT)
        assert coder.workspaces.list(None) == []


def test_paging_lists_every_workspace(sim: SimServer) -> None:
    for n in range(7):
        sim.create_workspace_direct("bob", "python-ds", f"box-{n}", running=n % 2 == 0)
    with CoderClient(sim.url, sim.token) as coder:
        assert not coder.is_closed
        everything = coder.workspaces.list("owner:bob", page_size=3)
        assert sorted(w.name for w in everything) == [f"box-{n}" for n in range(7)]
        assert len(coder.workspaces.list("owner:bob", limit=4)) == 4
        running = coder.workspaces.list("owner:bob status:running")
        assert sorted(w.name for w in running) == ["box-0", "box-2", "box-4", "box-6"]
    assert coder.is_closed
    with CoderClient(sim.url, sim.user_tokens["alice"]) as alice, pytest.raises(NotFound):
        alice.workspaces.get("bob/box-0")  # members see only their own (Coder's vague 404)


def test_pages_read_the_list_one_page_at_a_time(sim: SimServer) -> None:
    """``workspaces.pages`` / ``summary_pages``: the same workspaces as ``list``, in its order, each once,
    pages no larger than asked; ``limit`` stops early; bad arguments fail at the call, before any read."""
    for n in range(7):
        sim.create_workspace_direct("bob", "python-ds", f"page-{n}")
    with CoderClient(sim.url, sim.token) as coder:
        listed = [w.id for w in coder.workspaces.list("owner:bob")]
        pages = list(coder.workspaces.pages("owner:bob", page_size=3))
        assert [len(page) for page in pages] == [3, 3, 1]
        assert [w.id for page in pages for w in page] == listed and len(set(listed)) == 7
        summaries = list(coder.workspaces.summary_pages("owner:bob", page_size=4))
        assert [[s.id for s in page] for page in summaries] == [listed[:4], listed[4:]]
        assert [len(page) for page in coder.workspaces.pages("owner:bob", limit=5, page_size=3)] == [3, 2]
        assert list(coder.workspaces.pages("owner:bob", limit=0)) == []
        assert list(coder.workspaces.pages("owner:nobody-here")) == []
        with pytest.raises(InvalidArgument, match="page_size=0"):
            coder.workspaces.pages("owner:bob", page_size=0)
        with pytest.raises(InvalidArgument, match="page_size=True"):
            coder.workspaces.summary_pages("owner:bob", page_size=True)
        with pytest.raises(InvalidArgument, match="limit=-1"):
            coder.workspaces.pages("owner:bob", limit=-1)

    async def scenario() -> list[list[str]]:
        async with AsyncCoderClient(sim.url, sim.token) as coder:
            with pytest.raises(InvalidArgument, match="page_size=-2"):
                coder.workspaces.pages("owner:bob", page_size=-2)
            assert [len(p) async for p in coder.workspaces.summary_pages("owner:bob", page_size=5)] == [5, 2]
            return [[w.id for w in page] async for page in coder.workspaces.pages("owner:bob", page_size=2)]

    assert asyncio.run(scenario()) == [listed[0:2], listed[2:4], listed[4:6], listed[6:]]


def test_summaries_agree_with_full_workspaces(sim_any: SimServer) -> None:
    """``workspaces.summaries`` reads the same list as ``workspaces.list``, keeping only the lifecycle
    position; every field it keeps equals the full workspace's, in both eras and across pages."""
    for n in range(5):
        sim_any.create_workspace_direct("bob", "python-ds", f"sum-{n}", running=n % 2 == 0)
    with CoderClient(sim_any.url, sim_any.token) as coder:
        coder.workspaces.create("sum-live", "python-ds", parameters=PROJECT, owner="bob")
        full = {w.id: w for w in coder.workspaces.list("owner:bob")}
        summaries = coder.workspaces.summaries("owner:bob", page_size=2)
        assert sorted(s.id for s in summaries) == sorted(full)
        for summary in summaries:
            workspace, build = full[summary.id], full[summary.id].latest_build
            assert (summary.name, summary.owner_name, summary.owner_id, summary.template_name) == (
                workspace.name,
                workspace.owner_name,
                workspace.owner_id,
                workspace.template_name,
            )
            assert summary.latest_build.id == build.id
            assert summary.latest_build.build_number == build.build_number
            assert summary.latest_build.transition == build.transition
            assert summary.latest_build.job.status == build.job.status
            assert summary.latest_build.deadline == build.deadline
            assert [(a.id, a.lifecycle_state) for a in summary.latest_build.agents] == [
                (a.id, a.lifecycle_state) for a in build.agents
            ]
        running = {s.name for s in coder.workspaces.summaries("owner:bob status:running")}
        assert {"sum-0", "sum-2", "sum-4"} <= running and "sum-1" not in running
        assert len(coder.workspaces.summaries("owner:bob", limit=3)) == 3


def test_start_stop_restart_builds_and_wait(sim_any: SimServer) -> None:
    with CoderClient(sim_any.url, sim_any.token) as coder:
        ws = coder.workspaces.create("cycle", "python-ds", parameters=PROJECT)
        ready = coder.workspaces.wait_until_ready(ws, timeout=30)
        assert ready.kind is LifecycleKind.READY and ready.startup_duration is not None
        stop = coder.workspaces.stop(ws)
        assert stop.transition == "stop"
        with pytest.raises(Conflict, match="already active"):
            coder.workspaces.start(ws)  # the stop build is still running
        with pytest.raises(WorkspaceNotReady, match="start it first"):
            coder.workspaces.wait_until_ready(ws, timeout=30)
        start = coder.workspaces.restart(ws)
        assert start.transition == "start"
        assert coder.workspaces.wait_until_ready(ws, timeout=30).build_id == start.id
        builds = coder.workspaces.builds(ws)
        history = [b.transition for b in sorted(builds, key=lambda b: b.build_number)]
        assert history == ["start", "stop", "stop", "start"]  # restart of a stopped workspace stops again
        deleted = coder.workspaces.delete(ws)
        assert deleted.transition == "delete"


@pytest.mark.parametrize(
    ("template", "kind"),
    [
        ("broken-startup", LifecycleKind.START_ERROR),
        ("slow-start", LifecycleKind.START_TIMEOUT),
    ],
)
def test_wait_until_ready_reports_startup_problems(
    sim_any: SimServer, template: str, kind: LifecycleKind
) -> None:
    with CoderClient(sim_any.url, sim_any.token) as coder:
        ws = coder.workspaces.create("trouble", template)
        event = coder.workspaces.wait_until_ready(ws, timeout=30)
        assert event.kind is kind
        assert event.troubleshooting_url
        logs = coder.agents.logs(event.agent_id or "")
        assert logs and all(log.id > 0 for log in logs)
        later = coder.agents.logs(event.agent_id or "", after=logs[0].id)
        assert [log.id for log in later] == [log.id for log in logs[1:]]
        assert coder.agents.get(event.agent_id or "").lifecycle_state == kind.value


def test_failing_build_raises_with_the_reason(sim_any: SimServer) -> None:
    with CoderClient(sim_any.url, sim_any.token) as coder:
        ws = coder.workspaces.create("doomed", "failing-build")
        with pytest.raises(WorkspaceNotReady, match="build failed") as caught:
            coder.workspaces.wait_until_ready(ws, timeout=30)
        assert caught.value.event.kind is LifecycleKind.BUILD_FAILED
        assert caught.value.event.error and caught.value.event.error in str(caught.value)


def test_extend_adds_to_the_current_stop_time_and_never_shortens(sim_any: SimServer) -> None:
    """The max-deadline template: stops 8 h after the start, at the latest 12 h after it."""
    with CoderClient(sim_any.url, sim_any.token) as coder:
        ws = coder.workspaces.create("ext", "max-deadline")
        coder.workspaces.wait_until_ready(ws, timeout=30)
        eight_hours = coder.workspaces.get(ws).latest_build.deadline
        assert eight_hours is not None
        assert abs(eight_hours - sim_any.now() - timedelta(hours=8)) < timedelta(minutes=1)

        plan = coder.workspaces.extend(ws, by="1h")  # 8 h left: 9 h, not 1 h
        assert plan.previous == eight_hours and plan.deadline == eight_hours + timedelta(hours=1)
        assert not (plan.capped or plan.shortens or plan.too_soon)
        assert coder.workspaces.get(ws).latest_build.deadline == plan.deadline
        assert "later than planned" in plan.message

        latest = coder.workspaces.get(ws).latest_build.max_deadline
        assert latest is not None
        capped = coder.workspaces.extend(ws, by="20h")
        assert capped.capped and capped.deadline == latest
        assert "capped at the template's maximum" in capped.message
        assert coder.workspaces.get(ws).latest_build.deadline == latest
        with pytest.raises(ExtendRefused, match="nothing to change"):
            coder.workspaces.extend(ws, by="1h")

        until = sim_any.now() + timedelta(hours=3)
        with pytest.raises(ExtendRefused, match="earlier than planned") as refused:
            coder.workspaces.set_deadline(ws, until)
        assert refused.value.plan is not None and refused.value.plan.shortens
        assert coder.workspaces.get(ws).latest_build.deadline == latest  # asked, not done
        shorter = coder.workspaces.set_deadline(ws, until, allow_earlier=True)
        assert shorter.shortens and shorter.deadline == until.astimezone(UTC)
        assert coder.workspaces.get(ws).latest_build.deadline == until.astimezone(UTC)

        with pytest.raises(ExtendRefused, match="at least 30 minutes"):
            coder.workspaces.set_deadline(ws, sim_any.now() + timedelta(minutes=10), allow_earlier=True)
        with pytest.raises(InvalidArgument, match="no time zone"):
            coder.workspaces.set_deadline(ws, datetime(2030, 1, 1))
        with pytest.raises(InvalidArgument, match="positive"):
            coder.workspaces.extend(ws, by="0m")
        coder.workspaces.stop(ws)
        with pytest.raises(ExtendRefused, match="not running"):
            coder.workspaces.extend(ws, by="1h")


def test_server_side_refusals_surface_coders_message(sim_any: SimServer) -> None:
    with CoderClient(sim_any.url, sim_any.user_tokens["alice"]) as coder:
        ws = coder.workspaces.create("locked", "no-user-autostop")
        with pytest.raises(ValidationFailed) as caught:
            coder.workspaces.set_ttl(ws, "1h")
        assert caught.value.validations and "ttl_ms" in str(caught.value)


def test_async_client_covers_the_same_surface(sim_any: SimServer) -> None:
    async def scenario() -> None:
        async with AsyncCoderClient(sim_any.url, sim_any.token) as coder:
            assert (await coder.buildinfo()).version
            assert (await coder.users.me()).username == "admin"
            assert (await coder.organizations.list())[0].name == "coder"
            assert "python-ds" in {t.name for t in await coder.templates.list()}
            assert (await coder.templates.get_by_name("python-ds")).name == "python-ds"
            assert len(await coder.templates.parameters("python-ds")) >= 5
            ws = await coder.workspaces.create("async-box", "python-ds", parameters=PROJECT, ttl=90)
            assert ws.ttl_ms == 90 * 60_000
            event = await coder.workspaces.wait_until_ready(ws, timeout=30)
            assert event.kind is LifecycleKind.READY
            assert (await coder.workspaces.get("admin/async-box")).id == ws.id
            assert [w.id for w in await coder.workspaces.list("owner:me")] == [ws.id]
            await coder.workspaces.set_autostart(ws, "7:00 mon Europe/Berlin")
            await coder.workspaces.set_ttl(ws, "4h")
            plan = await coder.workspaces.extend(ws, by="1h")
            assert plan.previous is not None and plan.deadline == plan.previous + timedelta(hours=1)
            assert (await coder.workspaces.get(ws)).latest_build.deadline == plan.deadline
            await coder.workspaces.rename(ws, "async-box-2")
            assert (await coder.workspaces.get_by_name("me", "async-box-2")).id == ws.id
            assert len(await coder.agents.logs(event.agent_id or "")) > 0
            assert (await coder.agents.get(event.agent_id or "")).lifecycle_state == "ready"
            restarted = await coder.workspaces.restart(ws)
            assert (await coder.workspaces.wait_until_ready(ws, timeout=30)).build_id == restarted.id
            assert len(await coder.workspaces.builds(ws)) >= 3
            await coder.workspaces.stop(ws)
            async for change in coder.workspaces.lifecycle(ws):
                if change.kind is LifecycleKind.STOPPED:
                    break
            await coder.workspaces.start(ws)
            await coder.workspaces.wait_until_ready(ws, timeout=30)
            await coder.workspaces.delete(ws)

    asyncio.run(scenario())


def test_following_agent_logs_streams_until_startup_is_over(sim_any: SimServer) -> None:
    with CoderClient(sim_any.url, sim_any.token) as coder:
        ws = coder.workspaces.create("chatty", "broken-startup")
        agent = None
        for event in coder.workspaces.lifecycle(ws, timeout=30):
            if event.agent is not None:
                agent = event.agent
                break
        assert agent is not None
        followed = list(coder.agents.logs(agent, follow=True))
        assert coder.agents.get(agent).lifecycle_state == "start_error"
        everything = coder.agents.logs(agent)
        assert [log.id for log in followed] == [log.id for log in everything]
        assert any("requirement" in log.output and log.level == "error" for log in followed)


def test_async_follow_streams_the_same_logs(sim: SimServer) -> None:
    async def scenario() -> tuple[list[int], list[int]]:
        async with AsyncCoderClient(sim.url, sim.token) as coder:
            ws = await coder.workspaces.create("chatty-async", "python-ds", parameters=PROJECT)
            async for event in coder.workspaces.lifecycle(ws):
                if event.agent is not None:
                    break
            assert event.agent is not None
            followed = [log.id async for log in coder.agents.follow(event.agent)]
            again = [log.id async for log in await coder.agents.logs(event.agent, follow=True)]
            assert again == followed  # startup is over: following now just drains what is there
            return followed, [log.id for log in await coder.agents.logs(event.agent)]

    followed, everything = asyncio.run(scenario())
    assert followed == everything and len(followed) > 1


def test_cancel_a_build_in_progress(sim_any: SimServer) -> None:
    with CoderClient(sim_any.url, sim_any.token) as coder:
        ws = coder.workspaces.create("cancel-me", "python-ds", parameters=PROJECT)
        coder.workspaces.cancel(ws)
        with pytest.raises(WorkspaceNotReady, match="canceled"):
            coder.workspaces.wait_until_ready(ws, timeout=30)
        with pytest.raises(InvalidArgument, match="nothing to cancel"):
            coder.workspaces.cancel(ws)
    with CoderClient(sim_any.url, sim_any.user_tokens["alice"]) as alice:
        locked = alice.workspaces.create("locked-build", "no-user-autostop")
        with pytest.raises(Forbidden, match="not allowed to cancel"):
            alice.workspaces.cancel(locked)
