"""The notebook launcher starts with no template chosen, or with the one you used last (shared with the
JupyterLab sidebar's form through the preferences file), and its Name / Stop after fields line up with
the parameter fields."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from coder_jupyter import launcher
from coder_jupyter.preferences import Preferences, load_preferences, save_preferences
from coder_jupyter.widgets.form import INPUT_WIDTH, LABEL_WIDTH
from jupyter_test_helpers import CoderLogin, wait_until


def test_the_launcher_starts_with_no_template_chosen(alice: CoderLogin) -> None:
    widget = launcher(url=alice.url, token=alice.token).wait_loaded()
    assert "Broken startup" in [label for label, _ in widget.template.options]
    assert widget.template.value is None and widget.template.index is None
    assert widget.form.fields == {}
    assert widget.problems()["template"] == "Choose a template."
    assert widget.create.disabled
    widget.template.value = "python-ds"
    wait_until(lambda: "project_name" in widget.form.fields, what="python-ds form")
    assert "template" not in widget.problems()


def test_the_launcher_starts_with_the_template_used_last(
    alice: CoderLogin, unique_name: Callable[[str], str], jupyter_data_dir: Path
) -> None:
    first = launcher(url=alice.url, token=alice.token).wait_loaded()
    first.template.value = "python-ds"
    wait_until(lambda: "project_name" in first.form.fields, what="python-ds form")
    first.form.fields["project_name"].value = "churn-model"
    first.name.value = unique_name("last")
    wait_until(lambda: not first.create.disabled, what="Create to be enabled")
    first.submit()
    wait_until(lambda: first.state == "created", what="the workspace to be created")
    assert load_preferences() == Preferences(last_template="python-ds")
    stored = json.loads((jupyter_data_dir / "coder_jupyter" / "preferences.json").read_text())
    assert stored == {"last_template": "python-ds"}

    again = launcher(url=alice.url, token=alice.token).wait_loaded()
    assert again.template.value == "python-ds"
    wait_until(lambda: "project_name" in again.form.fields, what="python-ds form")


def test_a_last_template_that_no_longer_exists_is_ignored(alice: CoderLogin) -> None:
    save_preferences(Preferences(last_template="retired-template"))
    widget = launcher(url=alice.url, token=alice.token).wait_loaded()
    assert widget.template.value is None


def test_name_and_stop_after_line_up_with_the_parameter_fields(alice: CoderLogin) -> None:
    widget = launcher(url=alice.url, token=alice.token).wait_loaded()
    widget.template.value = "python-ds"
    wait_until(lambda: "project_name" in widget.form.fields, what="python-ds form")
    project = widget.form.fields["project_name"]
    rows = [child for child in widget.children if "coder-param" in getattr(child, "_dom_classes", ())]
    by_input = {row.children[1]: row for row in rows}
    for field in (widget.template, widget.name, widget.ttl):
        label, shown, _ = by_input[field].children
        assert label.layout.width == project.label.layout.width == LABEL_WIDTH
        assert shown.layout.width == project.input.layout.width == INPUT_WIDTH
        assert not getattr(shown, "description", "")  # a built-in description would push the input right
