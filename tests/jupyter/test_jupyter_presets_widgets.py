"""presets in the notebook widgets: the launcher's preset select (fills and locks the preset's fields), a
claimed prebuilt workspace said so, and prebuilt workspaces never listed (coder-sim v2; absent on v0.25)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from coder_jupyter import launcher, workspaces
from coder_jupyter.widgets import Launcher
from coder_sim import SimServer
from jupyter_test_helpers import CoderLogin, wait_until


@pytest.fixture(params=["v2", "v0.25"])
def jupyter_sim(request: pytest.FixtureRequest, make_sim: Callable[..., SimServer]) -> SimServer:
    """This module's sims: v2 with its prebuild pool on, and v0.25 (no presets at all)."""
    if request.param == "v2":
        return make_sim(era="v2", speed=20.0, prebuilds=True)
    return make_sim(era="v0.25", speed=20.0)


def python_ds_form(login: CoderLogin) -> Launcher:
    widget = launcher(url=login.url, token=login.token).wait_loaded()
    widget.template.value = "python-ds"
    wait_until(lambda: "project_name" in widget.form.fields, what="python-ds form")
    return widget


def test_the_launcher_offers_presets_that_fill_and_lock_their_fields(alice: CoderLogin) -> None:
    widget = python_ds_form(alice)
    if alice.sim.era == "v0.25":
        assert widget._preset_row not in widget._form_box.children
        assert widget.presets == []
        return
    assert widget._form_box.children[0] is widget._preset_row  # before the parameters
    assert [label for label, _ in widget.preset.options] == [
        "No preset",
        "Standard (prebuilt: ready in seconds)",
        "GPU",
    ]
    gpu = widget.preset.options[2][1]
    widget.preset.value = gpu
    cpu, flag, project = (widget.form.fields[n] for n in ("cpu", "gpu", "project_name"))
    assert cpu.value == "8" and flag.value is True
    assert cpu.input.disabled and flag.input.disabled and not project.input.disabled
    widget.preset.value = ""
    assert not cpu.input.disabled


def test_a_pooled_preset_claims_a_prebuilt_workspace(
    alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    if alice.sim.era == "v0.25":
        pytest.skip("Coder v0.25 has no presets (the test above shows none are offered)")
    widget = python_ds_form(alice)
    widget.preset.value = widget.preset.options[1][1]
    widget.form.fields["project_name"].value = "quick-one"
    widget.name.value = unique_name("pre")
    widget.create.click()
    card = wait_until(lambda: widget.monitor, what="launcher to become a monitor")
    assert widget.claimed_prebuild
    assert "Claimed a prebuilt workspace" in widget.children[1].value
    card.wait(timeout=60)
    assert card.outcome == "ready", card.error


def test_prebuilt_workspaces_are_not_listed(jupyter_sim: SimServer) -> None:
    jupyter_sim.create_workspace_direct("bob", "python-ds", "bobs", running=True)
    listing = workspaces("", url=jupyter_sim.url, token=jupyter_sim.token)
    wait_until(lambda: listing.refreshes > 0, what="the first refresh")
    assert listing.count == 1
    assert [row.view.name for row in listing.rows.values()] == ["bobs"]
    listing.close()
