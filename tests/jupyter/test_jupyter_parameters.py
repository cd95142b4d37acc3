"""Launcher form logic from Coder's rich parameters: kinds, defaults, validation as Coder would do it (the
launcher draws coder_client's ParameterField; these are the launcher's cases)."""

from __future__ import annotations

from typing import Any

import pytest
from coder_client import ParameterField, TemplateVersionParameter, workspace_name_error


class ParameterSpec:
    @staticmethod
    def from_coder(raw: dict[str, Any]) -> ParameterField:
        return ParameterField.from_parameter(TemplateVersionParameter.model_validate(raw))


CPU = {
    "name": "cpu",
    "display_name": "CPU cores",
    "type": "number",
    "default_value": "4",
    "required": False,
    "mutable": True,
    "validation_min": 1,
    "validation_max": 16,
    "options": [],
}
REGION = {
    "name": "region",
    "type": "string",
    "default_value": "eu",
    "mutable": False,
    "options": [{"name": "Europe", "value": "eu"}, {"name": "US", "value": "us"}],
}
REPO = {
    "name": "repo",
    "type": "string",
    "required": True,
    "default_value": "",
    "validation_regex": "^https://",
    "validation_error": "Use an https:// URL.",
}
GPU = {"name": "gpu", "type": "bool", "default_value": "false"}
EXTENSIONS = {"name": "extensions", "type": "list(string)", "default_value": '["ms-python.python"]'}


def test_kinds_follow_type_and_options() -> None:
    kinds = [ParameterSpec.from_coder(p).form for p in (CPU, REGION, REPO, GPU, EXTENSIONS)]
    assert kinds == ["number", "select", "text", "checkbox", "tags"]


def test_defaults_become_widget_values_and_back_to_coder_strings() -> None:
    gpu, extensions, region = (ParameterSpec.from_coder(p) for p in (GPU, EXTENSIONS, REGION))
    assert gpu.initial_value is False and gpu.to_coder(True) == "true"
    assert extensions.initial_value == ["ms-python.python"]
    assert extensions.to_coder(["a", "b"]) == '["a", "b"]'
    assert region.initial_value == "eu" and not region.mutable


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("4", None),
        ("0", "CPU cores must be at least 1."),
        ("17", "CPU cores must be at most 16."),
        ("x", "number"),
    ],
)
def test_number_bounds(value: str, problem: str | None) -> None:
    found = ParameterSpec.from_coder(CPU).check(value)
    assert found == problem if problem is None or "." in problem else problem in (found or "")


def test_regex_uses_the_templates_own_message_and_required_is_enforced() -> None:
    repo = ParameterSpec.from_coder(REPO)
    assert repo.check("git@github.com:x/y") == "Use an https:// URL."
    assert repo.check("https://github.com/x/y") is None
    assert repo.check("") == "repo is required."


def test_options_are_enforced() -> None:
    assert ParameterSpec.from_coder(REGION).check("mars") == "Choose one of: eu, us."


def test_old_servers_zero_bounds_mean_unbounded() -> None:
    spec = ParameterSpec.from_coder({**CPU, "validation_min": 0, "validation_max": 0})
    assert spec.check("64") is None


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("ml-box", True),
        ("a1", True),
        ("-x", False),
        ("a--b", False),
        ("a_b", False),
        ("", False),
        ("x" * 33, False),
    ],
)
def test_workspace_name_rule(name: str, ok: bool) -> None:
    assert (workspace_name_error(name) is None) is ok
