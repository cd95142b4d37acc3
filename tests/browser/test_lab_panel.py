"""The "Coder workspaces" sidebar in a real browser (JupyterLab + Debian Chromium + Playwright), issue 15.

What a user would notice: the tab found by its caption, the list of their workspaces (however created), a
workspace created from the panel going through its phases to ready with a JupyterLab notification, Extend
moving the stop time later, Stop asking first — all while a notebook cell sleeps for 120 s, and again with
no kernel at all. Truth about Coder is read from coder-sim through coder_client, never from the panel.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from browser.labpanel import (
    CAPTION,
    LabServer,
    Panel,
    cell_still_running,
    dialog,
    start_busy_notebook,
    toasts,
)
from coder_client import CoderClient
from coder_sim import SimServer

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

READY = re.compile(r"\bready\b", re.IGNORECASE)
STOPPED = re.compile(r"\bstopped\b", re.IGNORECASE)
RUNNING = re.compile(r"\brunning\b", re.IGNORECASE)
PYTHON_DS = ("python-ds", "Python data science")


@pytest.fixture
def coder(panel_sim: SimServer) -> Iterator[CoderClient]:
    with CoderClient(url=panel_sim.url, token=panel_sim.user_tokens["alice"]) as client:
        yield client


@pytest.fixture
def seeded(panel_sim: SimServer, coder: CoderClient) -> dict[str, str]:
    """alice's workspaces, made three ways (seeded running, seeded stopped, created through the API), by
    name → id; bob has one too, which alice's panel must not list."""
    made = {
        "seeded-running": panel_sim.create_workspace_direct(
            "alice", "python-ds", "seeded-running", parameters={"project_name": "seeded"}
        ),
        "seeded-stopped": panel_sim.create_workspace_direct("alice", "max-deadline", "seeded-stopped", False),
    }
    api_made = coder.workspaces.create("api-made", "no-user-autostop")
    coder.workspaces.wait_until_ready(api_made, timeout=60)
    made["api-made"] = api_made.id
    panel_sim.create_workspace_direct("bob", "python-ds", "bobs-box", parameters={"project_name": "bobs"})
    return made


def wait_until(condition: Callable[[], bool], timeout: float) -> None:
    """Poll ``condition`` (a read of Coder's state) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(0.1)


def open_lab(page: Page, lab: LabServer, kernel: str) -> str | None:
    """Open JupyterLab: with a notebook whose cell runs time.sleep(120) (returns its kernel id), or with
    no notebook and no kernel at all (returns None, after checking the server runs no kernel)."""
    if kernel == "busy":
        return start_busy_notebook(page, lab)
    page.goto(lab.login_url)
    assert lab.kernels() == []
    return None


def create_from_panel(panel: Panel, template: tuple[str, str], name: str, **params: str) -> str:
    """Fill and submit the panel's New workspace form; return the new row's workspace id."""
    from playwright.sync_api import expect

    panel.root.locator('[data-action="new"]').first.click()
    panel.choose_template(*template)
    for param, value in params.items():
        field = panel.param(param)
        expect(field).to_be_visible(timeout=15_000)
        field.fill(value)
    panel.param("__name").fill(name)
    panel.root.locator('[data-action="create"]').first.click()
    row = panel.row_named(name)
    try:
        expect(row).to_have_count(1, timeout=30_000)
    except AssertionError as exc:
        # Say what the form showed (an error answer, or still submitting) and what the list held.
        errors = panel.root.locator("[data-error-for]").all_inner_texts()
        names = panel.root.locator('[data-workspace-id] [data-field="name"]').all_inner_texts()
        form = panel.root.locator("form").count()
        connection = panel.connection.get_attribute("data-connection")
        raise AssertionError(
            f"no row {name!r}: form open {form}, its errors {errors}, rows {names}, stream {connection}"
        ) from exc
    workspace_id = row.get_attribute("data-workspace-id")
    assert workspace_id
    return workspace_id


@pytest.mark.parametrize("kernel", ["busy", "none"])
def test_panel_lists_creates_extends_and_stops(
    kernel: str, lab: LabServer, page: Page, coder: CoderClient, seeded: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    streams: list[str] = []
    page.on(
        "request", lambda request: streams.append(request.url) if "workspaces/stream" in request.url else None
    )
    kernel_id = open_lab(page, lab, kernel)
    panel = Panel(page)
    # The tab is found by its caption, and opens the panel.
    expect(panel.tab).to_have_count(1, timeout=60_000)
    expect(panel.tab).to_have_attribute("title", CAPTION)
    panel.open()
    expect(panel.connection).to_have_attribute("data-connection", "live", timeout=30_000)

    # The list: alice's three workspaces, however they were made; not bob's.
    for name, workspace_id in seeded.items():
        expect(panel.field(workspace_id, "name")).to_have_text(name, timeout=30_000)
        expect(panel.field(workspace_id, "owner")).to_contain_text("alice")
    expect(panel.root.locator("[data-workspace-id]")).to_have_count(len(seeded))
    expect(panel.field(seeded["seeded-running"], "status")).to_contain_text(RUNNING)
    expect(panel.field(seeded["seeded-running"], "template")).to_contain_text(
        re.compile("Python data science|python-ds")
    )
    expect(panel.field(seeded["seeded-running"], "stage")).to_contain_text(READY)
    expect(panel.field(seeded["seeded-stopped"], "status")).to_contain_text(STOPPED)
    expect(panel.row_named("bobs-box")).to_have_count(0)

    # Create from the panel: the row goes through its phases to ready, and a notification says so.
    panel.start_recorder()
    workspace_id = create_from_panel(panel, PYTHON_DS, "panel-made", project_name="panel-project")
    expect(panel.field(workspace_id, "stage")).to_contain_text(READY, timeout=60_000)
    stages = [event["fields"].get("stage", "") for event in panel.recorded() if event["id"] == workspace_id]
    distinct = list(dict.fromkeys(stage for stage in stages if stage))
    assert READY.search(distinct[-1]), distinct
    assert len(distinct) >= 3, f"the panel showed too few phases on the way to ready: {distinct}"
    assert coder.workspaces.get(workspace_id).latest_build.resources[0].agents[0].lifecycle_state == "ready"
    toast = toasts(page).filter(has_text="panel-made").filter(has_text=READY)
    expect(toast.first).to_be_visible(timeout=30_000)

    # Extend +1h: the stop time shown moves, and Coder's deadline is one hour later.
    deadline_field = panel.field(workspace_id, "deadline")
    expect(deadline_field).not_to_be_empty()
    shown_before = deadline_field.inner_text()
    before = coder.workspaces.get(workspace_id).latest_build.deadline
    assert before is not None
    panel.action(workspace_id, "extend-1h").click()
    expect(deadline_field).not_to_have_text(shown_before, timeout=30_000)
    after = coder.workspaces.get(workspace_id).latest_build.deadline
    assert after is not None
    assert timedelta(minutes=59) <= after - before <= timedelta(minutes=61), (before, after)
    assert deadline_shown(panel, workspace_id) == after

    # Stop asks first. Cancelled: nothing happens; accepted: exactly one stop build, shown as stopped.
    builds_before = coder.workspaces.get(workspace_id).latest_build.build_number
    panel.action(workspace_id, "stop").click()
    expect(dialog(page)).to_be_visible(timeout=10_000)
    expect(dialog(page)).to_contain_text("panel-made")
    dialog(page).locator(".jp-mod-reject").first.click()
    expect(dialog(page)).to_have_count(0)
    panel.action(workspace_id, "stop").click()
    expect(dialog(page)).to_be_visible(timeout=10_000)
    dialog(page).locator(".jp-mod-accept").first.click()
    expect(panel.field(workspace_id, "status")).to_contain_text(STOPPED, timeout=60_000)
    latest = coder.workspaces.get(workspace_id).latest_build
    assert (latest.transition, latest.build_number) == ("stop", builds_before + 1)

    # One event stream for the panel, all along (no reconnects were needed, none happened).
    assert len(streams) == 1, streams

    # All of it happened while the cell slept (its kernel still busy), or with no kernel at all.
    kernels = lab.kernels()
    if kernel_id is None:
        assert kernels == []
        assert lab.api("GET", "api/sessions").json() == []
    else:
        assert [k["id"] for k in kernels] == [kernel_id]
        assert cell_still_running(page)


def open_panel_without_kernel(page: Page, lab: LabServer) -> Panel:
    from playwright.sync_api import expect

    page.goto(lab.login_url)
    panel = Panel(page).open()
    expect(panel.connection).to_have_attribute("data-connection", "live", timeout=30_000)
    return panel


def test_a_failed_start_notifies_and_its_details_show_the_log(
    lab: LabServer, page: Page, coder: CoderClient
) -> None:
    from playwright.sync_api import expect

    panel = open_panel_without_kernel(page, lab)
    workspace_id = create_from_panel(panel, ("broken-startup", "Broken startup"), "panel-broken")
    expect(panel.field(workspace_id, "stage")).to_contain_text(re.compile("error|fail", re.I), timeout=60_000)
    agent = coder.workspaces.get(workspace_id).latest_build.resources[0].agents[0]
    assert agent.lifecycle_state == "start_error"
    toast = toasts(page).filter(has_text="panel-broken").filter(has_text=re.compile("error|fail", re.I))
    expect(toast.first).to_be_visible(timeout=30_000)
    toast.first.locator(".jp-toast-button", has_text=re.compile("details", re.I)).first.click()
    details = panel.details(workspace_id)
    expect(details).to_be_visible(timeout=15_000)
    expect(details.locator('[data-field="log"]')).to_contain_text("tensorflow==1.0.0", timeout=15_000)
    expect(details.locator('[data-field="phases"]')).not_to_be_empty()


def test_details_of_a_ready_workspace_show_its_phases_and_startup_time(
    lab: LabServer, page: Page, seeded: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    panel = open_panel_without_kernel(page, lab)
    workspace_id = seeded["api-made"]
    expect(panel.field(workspace_id, "stage")).to_contain_text(READY, timeout=30_000)
    panel.action(workspace_id, "details").click()
    details = panel.details(workspace_id)
    expect(details).to_be_visible(timeout=15_000)
    expect(details.locator('[data-field="phases"]')).not_to_be_empty()
    expect(details.locator('[data-field="startup"]')).to_contain_text(re.compile(r"\d"))
    row = lab.row(workspace_id)
    assert row["startup_seconds"] is not None and row["startup_seconds"] > 0, row


def test_the_form_starts_with_no_template_shows_field_errors_and_remembers_the_last_template(
    lab: LabServer, page: Page, panel_sim: SimServer, coder: CoderClient
) -> None:
    from playwright.sync_api import expect

    panel = open_panel_without_kernel(page, lab)
    panel.root.locator('[data-action="new"]').first.click()
    template = panel.param("__template")
    expect(template).to_be_visible(timeout=15_000)
    expect(template).to_have_value("")  # not the alphabetically first ("Broken startup")

    panel.choose_template(*PYTHON_DS)
    project = panel.param("project_name")
    expect(project).to_be_visible(timeout=15_000)
    project.fill("X")  # the template's validation_regex wants 3 to 31 lowercase letters
    panel.param("__name").fill("form-check")
    panel.root.locator('[data-action="create"]').first.click()
    expect(panel.error_for("project_name")).to_contain_text("lowercase", timeout=15_000)
    assert [w.name for w in coder.workspaces.list() if w.name == "form-check"] == []

    project.fill("form-project")
    panel.root.locator('[data-action="create"]').first.click()
    expect(panel.row_named("form-check")).to_have_count(1, timeout=30_000)
    assert lab.api("GET", "coder/api/preferences").json()["last_template"] == "python-ds"

    page.reload()
    panel = Panel(page).open()
    panel.root.locator('[data-action="new"]').first.click()
    expect(panel.param("__template")).to_have_value("python-ds", timeout=15_000)


def test_the_panel_shows_when_it_lost_the_server_and_catches_up_after(
    lab: LabServer, page: Page, coder: CoderClient, seeded: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    panel = open_panel_without_kernel(page, lab)
    workspace_id = seeded["seeded-running"]
    expect(panel.field(workspace_id, "status")).to_contain_text(RUNNING, timeout=30_000)
    lab.stop()
    expect(panel.connection).to_have_attribute("data-connection", "reconnecting", timeout=30_000)
    coder.workspaces.stop(workspace_id)
    wait_until(lambda: coder.workspaces.get(workspace_id).latest_build.status == "stopped", 60)
    lab.start()
    expect(panel.connection).to_have_attribute("data-connection", "live", timeout=60_000)
    expect(panel.field(workspace_id, "status")).to_contain_text(STOPPED, timeout=60_000)


def test_commands_palette_and_launcher(lab: LabServer, page: Page) -> None:
    from playwright.sync_api import expect

    page.goto(lab.login_url)
    panel = Panel(page)
    expect(panel.tab).to_have_count(1, timeout=60_000)
    labels = page.evaluate(
        """() => ['coder:new-workspace', 'coder:show-workspaces'].map(id =>
             window.jupyterapp.commands.hasCommand(id) ? window.jupyterapp.commands.label(id) : null)"""
    )
    assert labels[0] and "New workspace" in labels[0], labels
    assert labels[1] and "workspaces" in labels[1].lower(), labels
    page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:activate')")
    expect(panel.root).to_be_hidden()
    page.evaluate("() => window.jupyterapp.commands.execute('coder:show-workspaces')")
    expect(panel.root).to_be_visible(timeout=10_000)
    page.evaluate("() => window.jupyterapp.commands.execute('coder:new-workspace')")
    expect(panel.param("__template")).to_be_visible(timeout=15_000)
    page.evaluate("() => window.jupyterapp.commands.execute('launcher:create')")
    expect(page.locator(".jp-LauncherCard", has_text=re.compile("workspace", re.I)).first).to_be_visible(
        timeout=15_000
    )


def test_start_restart_and_delete_from_the_panel(
    lab: LabServer, page: Page, coder: CoderClient, seeded: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    panel = open_panel_without_kernel(page, lab)
    stopped = seeded["seeded-stopped"]
    expect(panel.field(stopped, "status")).to_contain_text(STOPPED, timeout=30_000)
    panel.action(stopped, "start").click()
    expect(panel.field(stopped, "stage")).to_contain_text(READY, timeout=60_000)
    assert coder.workspaces.get(stopped).latest_build.transition == "start"

    running = seeded["api-made"]
    builds_before = coder.workspaces.get(running).latest_build.build_number
    panel.start_recorder()
    panel.action(running, "restart").click()
    if dialog(page).count():  # a restart may ask first; the contract leaves it open
        dialog(page).locator(".jp-mod-accept").first.click()
    panel.wait_until_ready_again(running)
    assert coder.workspaces.get(running).latest_build.build_number == builds_before + 2

    # Delete asks for the workspace's name. Cancelled: nothing; confirmed: the row goes away.
    panel.action(stopped, "delete").click()
    expect(dialog(page)).to_be_visible(timeout=10_000)
    dialog(page).locator(".jp-mod-reject").first.click()
    expect(dialog(page)).to_have_count(0)
    panel.action(stopped, "delete").click()
    expect(dialog(page)).to_be_visible(timeout=10_000)
    name_input = dialog(page).locator("input")
    if name_input.count():
        name_input.first.fill("seeded-stopped")
    dialog(page).locator(".jp-mod-accept").first.click()
    expect(panel.row(stopped)).to_have_count(0, timeout=60_000)
    assert [w.id for w in coder.workspaces.list()].count(stopped) == 0
    expect(panel.row(running)).to_have_count(1)


def test_two_panels_share_one_upstream_watch_per_workspace(
    lab: LabServer, page: Page, panel_sim: SimServer, seeded: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    first = open_panel_without_kernel(page, lab)
    second_page = page.context.new_page()
    second = open_panel_without_kernel(second_page, lab)
    for panel in (first, second):
        for workspace_id in seeded.values():
            expect(panel.row(workspace_id)).to_have_count(1, timeout=30_000)
    # A change reaches both panels ...
    running = seeded["seeded-running"]
    agent_id = panel_sim_agent(panel_sim, running)
    panel_sim.set_agent_lifecycle(agent_id, "starting")
    for panel in (first, second):
        expect(panel.field(running, "stage")).not_to_contain_text(READY, timeout=15_000)
    # ... through at most one upstream watch per workspace of alice's, however many panels are open.
    assert panel_sim.state()["open_watch_streams"] <= len(seeded)
    second_page.close()


def panel_sim_agent(sim: SimServer, workspace_id: str) -> str:
    with CoderClient(url=sim.url, token=sim.user_tokens["alice"]) as client:
        return client.workspaces.get(workspace_id).latest_build.resources[0].agents[0].id


def test_a_pinned_workspace_started_elsewhere_notifies_when_ready(
    lab: LabServer, page: Page, coder: CoderClient, seeded: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    panel = open_panel_without_kernel(page, lab)
    pinned, other = seeded["seeded-stopped"], seeded["api-made"]
    panel.action(pinned, "pin").click()
    expect(panel.row(pinned)).to_have_attribute("data-pinned", "true", timeout=10_000)
    expect(panel.row(other)).to_have_attribute("data-pinned", "false")

    # Not pinned, restarted from outside JupyterLab: the panel follows it, but says nothing.
    panel.start_recorder()
    coder.workspaces.restart(other)
    panel.wait_until_ready_again(other)
    # Pinned, started from outside JupyterLab: a notification once it is ready.
    coder.workspaces.start(pinned)
    toast = toasts(page).filter(has_text="seeded-stopped").filter(has_text=READY)
    expect(toast.first).to_be_visible(timeout=60_000)
    # The unpinned one became ready before the pinned one, and no toast ever named it.
    expect(toasts(page).filter(has_text="api-made")).to_have_count(0)


def deadline_shown(panel: Panel, workspace_id: str) -> datetime:
    """The stop time the row carries (its deadline field's raw ISO value)."""
    value = panel.field(workspace_id, "deadline").get_attribute("data-value")
    assert value, "the row shows no stop time"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_extend_moves_the_stop_time_up_to_the_templates_maximum_never_earlier(
    lab: LabServer, page: Page, panel_sim: SimServer, coder: CoderClient
) -> None:
    from playwright.sync_api import expect

    workspace_id = panel_sim.create_workspace_direct("alice", "max-deadline", "capped")  # at most 12 h
    panel = open_panel_without_kernel(page, lab)
    expect(panel.field(workspace_id, "stage")).to_contain_text(READY, timeout=30_000)
    build = coder.workspaces.get(workspace_id).latest_build
    assert build.deadline is not None and build.max_deadline is not None
    assert deadline_shown(panel, workspace_id) == build.deadline
    shown = [build.deadline]
    # 8 h + 1 h + 2 h stays under the 12-h maximum; a further +2 h is capped there, and says so.
    for action in ("extend-1h", "extend-2h", "extend-2h"):
        before = panel.field(workspace_id, "deadline").get_attribute("data-value") or ""
        panel.action(workspace_id, action).click()
        expect(panel.field(workspace_id, "deadline")).not_to_have_attribute(
            "data-value", before, timeout=30_000
        )
        shown.append(deadline_shown(panel, workspace_id))
    expect(toasts(page).filter(has_text="capped at the template's maximum")).to_have_count(1, timeout=30_000)
    assert (shown[1] - shown[0], shown[2] - shown[1]) == (timedelta(hours=1), timedelta(hours=2)), shown
    assert shown[3] == build.max_deadline, shown
    assert coder.workspaces.get(workspace_id).latest_build.deadline == build.max_deadline
    # At the maximum, Extend is offered no more (it could only keep or shorten the stop time).
    expect(panel.action(workspace_id, "extend-1h")).to_be_disabled()
    expect(panel.action(workspace_id, "extend-2h")).to_be_disabled()


@pytest.mark.parametrize("lab_settings", [{"sweep_seconds": 1.0}], ids=["sweep-1s"])
def test_the_panel_shows_when_coder_is_unreachable_and_recovers(
    lab: LabServer, panel_sim: SimServer, page: Page, seeded: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    panel = open_panel_without_kernel(page, lab)
    expect(panel.row(seeded["seeded-running"])).to_have_count(1, timeout=30_000)
    panel_sim.inject_status(503, count=100_000, path_prefix="/api/v2/workspaces")
    expect(panel.connection).to_have_attribute("data-connection", "reconnecting", timeout=60_000)
    expect(panel.row(seeded["seeded-running"])).to_have_count(1)  # the last known list stays
    assert panel_sim.user_tokens["alice"] not in page.content()
    panel_sim.clear_faults()
    expect(panel.connection).to_have_attribute("data-connection", "live", timeout=60_000)
