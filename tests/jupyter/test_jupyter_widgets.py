"""Widget behaviour without a browser: traits, `.click()`, against a real coder-sim over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from coder_client import CoderClient
from coder_jupyter import launcher, monitor, workspaces
from coder_jupyter.widgets import Launcher
from jupyter_test_helpers import CoderLogin, wait_until

READY_TIMEOUT = 60.0


def ready_launcher(login: CoderLogin) -> Launcher:
    widget = launcher(url=login.url, token=login.token).wait_loaded()
    assert widget.error == "", widget.error
    return widget


def create_running(login: CoderLogin, name: str, template: str = "python-ds", **params: str) -> str:
    with CoderClient(url=login.url, token=login.token) as coder:
        values = {"project_name": "demo-project", **params} if template == "python-ds" else params
        ws = coder.workspaces.create(name, template, parameters=values, ttl=timedelta(hours=1))
        return ws.id


def test_launcher_builds_a_form_from_the_templates_rich_parameters(alice: CoderLogin) -> None:
    widget = ready_launcher(alice)
    assert "python-ds" in [value for _, value in widget.template.options]
    widget.template.value = "python-ds"
    wait_until(lambda: "project_name" in widget.form.fields, what="python-ds form")
    kinds = {name: field.spec.form for name, field in widget.form.fields.items()}
    assert kinds["region"] == "select"
    assert kinds["gpu"] == "checkbox"
    assert kinds["extensions"] == "tags"
    assert kinds["memory_gb"] == "number"
    assert not widget.form.fields["region"].spec.mutable
    assert widget.form.fields["extensions"].value == ["ms-python.python", "ms-toolsai.jupyter"]


def test_fields_are_checked_as_you_type_and_create_waits_for_valid_input(alice: CoderLogin) -> None:
    widget = ready_launcher(alice)
    widget.template.value = "python-ds"
    wait_until(lambda: "project_name" in widget.form.fields, what="python-ds form")
    memory, project = widget.form.fields["memory_gb"], widget.form.fields["project_name"]
    memory.value = "128"
    assert "at most 64" in memory.status.value
    project.value = "No Spaces"
    assert "lowercase" in project.status.value
    widget.name.value = "bad_name"
    assert "hyphens" in widget.name_problem
    assert widget.create.disabled
    memory.value, project.value, widget.name.value = "32", "churn-model", "ok-name"
    assert memory.status.value == "" and project.status.value == ""
    assert not widget.create.disabled


@pytest.mark.parametrize("jupyter_sim", ["v2", "v0.25"], indirect=True)
def test_create_turns_the_launcher_into_a_monitor_that_reaches_ready(
    alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    widget = ready_launcher(alice)
    widget.template.value = "python-ds"
    wait_until(lambda: "project_name" in widget.form.fields, what="python-ds form")
    widget.form.fields["project_name"].value = "churn-model"
    widget.name.value = unique_name("nb")
    widget.create.click()
    card = wait_until(lambda: widget.monitor, what="launcher to become a monitor")
    assert widget.children[-1] is card
    view = card.wait(timeout=READY_TIMEOUT)
    assert card.outcome == "ready", card.error
    assert card.phase == "ready"
    assert card.startup_duration is not None and card.startup_duration > 0
    assert [p.state for p in view.phases] == ["done"] * 4
    assert "Startup took" in card.startup_text
    assert "Open in Coder" in card.links_text
    assert card.autostop_in is not None and 7 * 3600 < card.autostop_in <= 8 * 3600 + 5  # default TTL 8h


def test_coder_refusal_is_shown_in_the_widget_not_raised(
    alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    taken = unique_name("taken")
    create_running(alice, taken)
    widget = ready_launcher(alice)
    widget.template.value = "python-ds"
    wait_until(lambda: "project_name" in widget.form.fields, what="python-ds form")
    widget.form.fields["project_name"].value = "churn-model"
    widget.name.value = taken
    widget.create.click()
    wait_until(lambda: widget.error, what="an error in the widget")
    assert "already exists" in widget.error
    assert widget.monitor is None and widget.state == "ready"
    assert "already exists" in widget.displayed_error


def test_a_name_you_already_use_is_flagged_while_typing(
    alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    taken = unique_name("mine")
    create_running(alice, taken)
    widget = ready_launcher(alice)
    widget.name.value = taken
    wait_until(lambda: "already have a workspace" in widget.name_problem, what="the name check")
    assert widget.create.disabled
    widget.name.value = unique_name("free")
    assert "already have" not in widget.name_problem


def test_ttl_must_be_a_duration(alice: CoderLogin) -> None:
    widget = ready_launcher(alice)
    widget.ttl.value = "until friday"
    assert widget.ttl_problem and "ttl" in widget.problems()
    widget.ttl.value = "90m"
    assert widget.ttl_problem == ""


def test_monitor_of_a_missing_workspace_says_so(alice: CoderLogin) -> None:
    card = monitor("alice/no-such-box", url=alice.url, token=alice.token)
    wait_until(lambda: card.error, what="an error in the monitor")
    assert "not found" in card.error.lower()
    card.close()


def test_monitor_reattaches_by_owner_and_name(alice: CoderLogin, unique_name: Callable[[str], str]) -> None:
    name = unique_name("again")
    create_running(alice, name)
    card = monitor(f"alice/{name}", url=alice.url, token=alice.token)
    card.wait(timeout=READY_TIMEOUT)
    assert card.outcome == "ready"
    assert card.view is not None and card.view.name == name
    card.close()


@pytest.mark.parametrize("jupyter_sim", ["v2", "v0.25"], indirect=True)
def test_failed_startup_shows_the_log_tail(alice: CoderLogin, unique_name: Callable[[str], str]) -> None:
    ws = create_running(alice, unique_name("broken"), template="broken-startup")
    card = monitor(ws, url=alice.url, token=alice.token)
    card.wait(timeout=READY_TIMEOUT)
    assert card.outcome == "start_error"
    wait_until(lambda: card.log_tail, what="the startup log tail")
    assert card.log_tail_shown
    assert card.view is not None and card.view.phases[-1].state == "failed"
    card.close()


def test_extend_moves_the_autostop_countdown(alice: CoderLogin, unique_name: Callable[[str], str]) -> None:
    card = monitor(create_running(alice, unique_name("ext")), url=alice.url, token=alice.token)
    card.wait(timeout=READY_TIMEOUT)
    wait_until(lambda: not card.extend_2h.disabled, what="extend buttons")
    before = card.autostop_in
    assert before is not None
    card.extend_2h.click()
    wait_until(lambda: (card.autostop_in or 0) > before + 1800, what="the deadline to move", timeout=20)
    assert card.error == ""
    card.close()


def test_extend_adds_to_the_stop_time_the_workspace_has_not_to_now(
    alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    """A workspace that stops in 8 h: Extend +1h makes it 9 h, never 1 h; past the template's maximum
    (max-deadline: 12 h after the start) the stop time is capped and the card says so."""
    with CoderClient(url=alice.url, token=alice.token) as coder:
        ws = coder.workspaces.create(unique_name("eight"), "max-deadline", ttl=timedelta(hours=8))

        def deadline() -> datetime:
            moment = coder.workspaces.get(ws).latest_build.deadline
            assert moment is not None
            return moment

        card = monitor(ws.id, url=alice.url, token=alice.token)
        card.wait(timeout=READY_TIMEOUT)
        wait_until(lambda: not card.extend_1h.disabled, what="extend buttons")
        eight_hours = deadline()
        assert card.autostop_in is not None and card.autostop_in > 7.9 * 3600

        card.extend_1h.click()
        wait_until(lambda: card.extended, what="the extension", timeout=20)
        assert deadline() == eight_hours + timedelta(hours=1)
        wait_until(lambda: (card.autostop_in or 0) > 8.9 * 3600, what="the countdown to follow", timeout=20)
        assert card.error == ""

        card.extended = ""
        card.extend_2h.click()
        wait_until(lambda: card.extended, what="the second extension", timeout=20)
        card.extended = ""
        card.extend_2h.click()  # 13 h asked, 12 h allowed
        wait_until(lambda: card.extended, what="the capped extension", timeout=20)
        assert "capped at the template's maximum" in card.extended
        assert deadline() == coder.workspaces.get(ws).latest_build.max_deadline
        wait_until(lambda: "capped" in card.autostop_text, what="the card to say so", timeout=5)
        card.close()


def test_a_followed_workspace_that_is_deleted_shows_deleted_not_an_error(
    alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    ws = create_running(alice, unique_name("gone"))
    card = monitor(ws, url=alice.url, token=alice.token)
    card.wait(timeout=READY_TIMEOUT)
    with CoderClient(url=alice.url, token=alice.token) as coder:
        coder.workspaces.delete(ws)
    card.wait(lambda view: card.outcome == "deleted", timeout=READY_TIMEOUT)
    alice.sim.drop_watches()  # the next reconnect finds the workspace gone (410)
    wait_until(lambda: not card.following, what="the monitor to stop following", timeout=20)
    assert card.outcome == "deleted" and card.error == ""
    assert card.extend_1h.disabled
    card.close()


def test_monitor_keeps_updating_while_the_main_thread_is_busy(
    alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    ws = create_running(alice, unique_name("busy"))
    seen: list[str] = []
    card = monitor(ws, url=alice.url, token=alice.token)
    card.observe(lambda change: seen.append(change["new"]), names="phase")
    finished = threading.Event()
    card.observe(lambda change: finished.set() if change["new"] == "ready" else None, names="outcome")
    spins = 0
    while not finished.is_set() and spins < 50_000_000:  # a cell that never yields
        spins += 1
    assert finished.is_set(), f"phases seen while busy: {seen}"
    assert seen[-1] == "ready"
    card.close()


def test_unreachable_coder_is_an_error_in_the_widget() -> None:
    widget = launcher(url="http://127.0.0.1:9", token="not-a-real-token")
    widget.wait_loaded(timeout=60)
    assert "Could not reach Coder" in widget.error
    assert "not-a-real-token" not in widget.error


@pytest.mark.parametrize("jupyter_sim", ["v2", "v0.25"], indirect=True)
def test_workspace_list_shows_rows_and_stop_acts(
    alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("row")
    create_running(alice, name)
    listing = workspaces(url=alice.url, token=alice.token)
    listing.refresh_seconds = 0.3
    listing.refresh()
    row = wait_until(
        lambda: next((r for r in listing.rows.values() if r.view.name == name), None), what="the new row"
    )
    wait_until(
        lambda: listing.rows[row.view.workspace_id].view.status == "running",
        timeout=READY_TIMEOUT,
        what="running",
    )
    listing.rows[row.view.workspace_id].stop.click()
    wait_until(
        lambda: listing.rows[row.view.workspace_id].view.status in {"stopping", "stopped"},
        what="the row to show the stop",
    )
    listing.rows[row.view.workspace_id].watch.click()
    assert listing.monitor is not None and listing.detail == (listing.monitor,)
    listing.close()


def test_workspace_list_backs_off_while_coder_fails(alice: CoderLogin) -> None:
    listing = workspaces(url=alice.url, token=alice.token)
    listing.refresh_seconds = 0.2
    listing.wait_refreshed()
    alice.sim.inject_status(500, count=20, path_prefix="/api/v2/workspaces")
    listing.refresh()
    wait_until(lambda: listing.interval >= 0.8, what="the refresh interval to grow", timeout=20)
    assert "Retrying in" in listing.error
    alice.sim.clear_faults()
    listing.refresh()
    wait_until(lambda: listing.error == "", what="recovery", timeout=20)
    assert listing.interval == pytest.approx(0.2)
    listing.close()


def test_static_fallback_has_html_and_text(alice: CoderLogin, unique_name: Callable[[str], str]) -> None:
    card = monitor(create_running(alice, unique_name("static")), url=alice.url, token=alice.token)
    card.wait(timeout=READY_TIMEOUT)
    bundle = card._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "coder-timeline" in bundle["text/html"] and "ready" in bundle["text/html"]
    assert bundle["text/plain"].startswith("Coder workspace alice/") and "ready" in bundle["text/plain"]
    card.close()


def test_the_running_phase_counts_up_between_snapshots(
    alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    card = monitor(create_running(alice, unique_name("tick")), url=alice.url, token=alice.token)
    view = card.wait(timeout=READY_TIMEOUT)
    assert view.agent_id is not None
    alice.sim.set_agent_lifecycle(view.agent_id, "starting")  # stuck starting: no more snapshots come
    wait_until(lambda: card.phase == "starting", what="the starting phase")
    first = card.timeline_text
    wait_until(lambda: card.timeline_text != first, timeout=5, what="the timeline to tick without a snapshot")
    card.close()
