"""The launcher widget with a template of dynamic parameters: each answer has Coder evaluate the form
again, and rows appear, disappear and show Coder's diagnostics (coder-sim v2; v0.25: the classic form)."""

from __future__ import annotations

import pytest
from coder_jupyter import launcher
from coder_jupyter.widgets import Launcher
from jupyter_test_helpers import CoderLogin, wait_until


def gpu_lab_launcher(login: CoderLogin) -> Launcher:
    widget = launcher(url=login.url, token=login.token).wait_loaded()
    assert widget.error == "", widget.error
    widget.template.value = "gpu-lab"
    wait_until(lambda: "instance_size" in widget.form.fields, what="gpu-lab form")
    return widget.wait_loaded()


def test_answers_reveal_and_invalidate_fields(alice: CoderLogin) -> None:
    widget = gpu_lab_launcher(alice)
    assert widget.form.dynamic and list(widget.form.fields) == ["region", "instance_size", "gpu"]
    widget.form.fields["gpu"].value = True
    widget.wait_evaluated()
    assert list(widget.form.fields) == ["region", "instance_size", "gpu", "gpu_type"]
    assert widget.form.fields["gpu_type"].value == "t4"

    widget.form.fields["instance_size"].value = "xl"
    widget.wait_evaluated()
    assert widget.form.fields["instance_size"].status.value == ""
    widget.form.fields["region"].value = "eu"
    widget.wait_evaluated()
    size = widget.form.fields["instance_size"]
    assert size.spec.option_values == ["small", "large"] and size.value is None
    assert "small, large" in size.status.value
    widget.name.value = "gpu-eu"
    assert widget.create.disabled and "instance_size" in widget.problems()

    size.value = "large"
    widget.wait_evaluated()
    assert widget.form.fields["instance_size"].status.value == ""
    assert not widget.create.disabled
    widget.form.fields["gpu"].value = False
    widget.wait_evaluated()
    assert "gpu_type" not in widget.form.fields
    widget.create.click()
    wait_until(lambda: widget.monitor, what="launcher to become a monitor")
    assert widget.state == "created"


@pytest.mark.parametrize("jupyter_sim", ["v0.25"], indirect=True)
def test_old_coder_shows_the_classic_form(alice: CoderLogin) -> None:
    widget = gpu_lab_launcher(alice)
    assert not widget.form.dynamic
    widget.form.fields["gpu"].value = True
    assert "gpu_type" not in widget.form.fields and widget.wait_evaluated() is widget


def test_a_preset_feeds_the_dynamic_form(alice: CoderLogin) -> None:
    """Choosing the preset evaluates the form with its values: the field its GPU answer reveals appears,
    set to the preset's value and locked like the preset's other fields."""
    widget = gpu_lab_launcher(alice)
    (preset_id,) = [value for _, value in widget.preset.options if value]
    widget.preset.value = preset_id
    widget.wait_evaluated()
    wait_until(lambda: "gpu_type" in widget.form.fields, what="the preset's GPU type")
    widget.wait_evaluated()
    gpu_type = widget.form.fields["gpu_type"]
    assert gpu_type.value == "a100" and gpu_type.input.disabled
    assert widget.form.fields["region"].value == "eu" and widget.form.fields["region"].input.disabled
