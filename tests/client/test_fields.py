"""Template parameters as form fields (what a form draws, its default, the check Coder would apply) and
the workspace-name rule: the one spec the Slack modal and the Jupyter launcher both use."""

from __future__ import annotations

from typing import Any

import pytest
from coder_client import ParameterField, TemplateVersionParameter, parameter_fields, workspace_name_error


def field(**fields: Any) -> ParameterField:
    return ParameterField.from_parameter(TemplateVersionParameter.model_validate(fields))


CPU = {
    "name": "cpu",
    "display_name": "CPU cores",
    "type": "number",
    "default_value": "4",
    "mutable": True,
    "validation_min": 1,
    "validation_max": 16,
}
REGION = {
    "name": "region",
    "default_value": "eu",
    "options": [{"name": "Europe", "value": "eu"}, {"name": "US", "value": "us"}],
}
REPO = {
    "name": "repo",
    "required": True,
    "validation_regex": "^https://",
    "validation_error": "Use an https:// URL.",
}


def test_the_form_kind_follows_type_options_and_form_type() -> None:
    parameters = [
        TemplateVersionParameter.model_validate(p)
        for p in (
            CPU,
            REGION,
            {**REGION, "name": "zone", "form_type": "radio"},
            REPO,
            {"name": "notes", "form_type": "textarea"},
            {"name": "gpu", "type": "bool"},
            {"name": "extensions", "type": "list(string)"},
            {"name": "tags", "type": "list(string)", "options": [{"name": "a", "value": "a"}]},
        )
    ]
    assert [f.form for f in parameter_fields(parameters)] == [
        "number",
        "select",
        "radio",
        "text",
        "textarea",
        "checkbox",
        "tags",
        "multi-select",
    ]


def test_fields_carry_what_a_form_needs() -> None:
    cpu = field(**CPU, description="Cores", validation_monotonic="increasing", ephemeral=True)
    assert (cpu.label, cpu.description, cpu.monotonic) == ("CPU cores", "Cores", "increasing")
    assert (cpu.min, cpu.max) == (1, 16)
    assert cpu.mutable and cpu.ephemeral and not cpu.required
    region = field(**REGION)
    assert region.options == (("Europe", "eu"), ("US", "us")) and region.label == "region"
    assert field(**{**CPU, "validation_min": 0, "validation_max": 0}).min is None  # v0.25: 0/0 = unbounded


def test_defaults_become_input_values_and_back_to_coders_strings() -> None:
    gpu = field(name="gpu", type="bool", default_value="false")
    assert gpu.initial_value is False and gpu.to_coder(True) == "true"
    extensions = field(name="e", type="list(string)", default_value='["ms-python.python"]')
    assert extensions.initial_value == ["ms-python.python"]
    assert extensions.to_coder(("a", "b")) == '["a", "b"]'
    assert field(**REGION).initial_value == "eu"
    assert field(**{**REGION, "default_value": "", "required": True}).initial_value == "eu"
    assert field(**{**REGION, "default_value": ""}).initial_value is None
    assert field(**CPU).to_coder("8.0") == "8" and field(**CPU).to_coder(2.5) == "2.5"


@pytest.mark.parametrize(
    ("spec", "value", "problem"),
    [
        (CPU, "4", None),
        (CPU, "", None),  # empty: the template's default
        (CPU, "0", "CPU cores must be at least 1."),
        (CPU, 17, "CPU cores must be at most 16."),
        (CPU, "x", "CPU cores must be a number, not 'x'."),
        (CPU, True, "CPU cores must be a number, not True."),
        (REGION, "mars", "Choose one of: eu, us."),
        (REPO, "git@github.com:x/y", "Use an https:// URL."),
        (REPO, "https://github.com/x/y", None),
        (REPO, "", "repo is required."),
        ({"name": "gpu", "type": "bool"}, "yes", "gpu must be true or false, not 'yes'."),
        ({"name": "n", "validation_regex": "^a"}, "b", "n must match ^a."),
        ({"name": "n", "validation_regex": "(?<x>a)"}, "b", None),  # Go syntax: the server decides
        ({**CPU, "validation_error": "{value} is not within {min}..{max}"}, "99", "99 is not within 1..16"),
        (
            {"name": "t", "type": "list(string)", "options": [{"value": "a"}, {"value": "b"}]},
            ["a", "c"],
            "Not an option: c. Choose from: a, b.",
        ),
        (
            {"name": "t", "type": "list(string)"},
            "a,b",
            """t must be a list of strings such as ["a", "b"], not 'a,b'.""",
        ),
    ],
)
def test_check_says_why_coder_would_refuse(spec: dict[str, Any], value: Any, problem: str | None) -> None:
    assert field(**spec).check(value) == problem


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("ml-box", None),
        ("a1", None),
        ("x" * 32, None),
        ("-x", "not a valid workspace name"),
        ("a--b", "not a valid workspace name"),
        ("a_b", "not a valid workspace name"),
        ("", "Give the workspace a name"),
        ("x" * 33, "at most 32 characters"),
    ],
)
def test_workspace_name_rule(name: str, problem: str | None) -> None:
    found = workspace_name_error(name)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found and found.endswith(".")
