from __future__ import annotations

from typing import Any

import pytest
from coder_client import InvalidParameters, TemplateVersionParameter, validate_parameters


def param(**fields: Any) -> TemplateVersionParameter:
    return TemplateVersionParameter.model_validate(fields)


PARAMS = [
    param(name="cpu", type="number", validation_min=1, validation_max=16, required=False, default_value="2"),
    param(name="gpu", type="bool", default_value="false"),
    param(
        name="region", type="string", options=[{"name": "EU", "value": "eu"}, {"name": "US", "value": "us"}]
    ),
    param(
        name="repo", type="string", required=True, display_name="Git repository", validation_regex="^https://"
    ),
    param(name="extensions", type="list(string)", default_value="[]"),
    param(
        name="image",
        type="string",
        validation_regex="^py",
        validation_error="Image must start with py, got {value}",
    ),
]


def test_values_are_encoded_as_coder_strings() -> None:
    values = validate_parameters(
        "python-ds",
        PARAMS,
        {"cpu": 4, "gpu": True, "region": "eu", "repo": "https://x", "extensions": ["ms-python.python"]},
    )
    assert values == [
        {"name": "cpu", "value": "4"},
        {"name": "gpu", "value": "true"},
        {"name": "region", "value": "eu"},
        {"name": "repo", "value": "https://x"},
        {"name": "extensions", "value": '["ms-python.python"]'},
    ]


def test_string_forms_are_accepted_too() -> None:
    values = validate_parameters(
        "t", PARAMS, {"cpu": "8", "gpu": "False", "repo": "https://y", "extensions": '["a","b"]'}
    )
    assert {"name": "gpu", "value": "false"} in values
    assert {"name": "extensions", "value": '["a", "b"]'} in values


@pytest.mark.parametrize(
    ("values", "field", "complaint"),
    [
        ({"cpu": 32}, "cpu", "cpu must be at most 16"),
        ({"cpu": "lots"}, "cpu", "cpu must be a number, not 'lots'"),
        ({"gpu": "yes"}, "gpu", "true or false"),
        ({"region": "asia"}, "region", "Choose one of: eu, us"),
        ({"repo": "git@x"}, "repo", "Git repository must match ^https://"),
        ({"extensions": "a,b"}, "extensions", "list of strings"),
        ({"image": "node"}, "image", "Image must start with py, got node"),
        ({"colour": "red"}, "colour", "no such parameter"),
    ],
)
def test_bad_values_are_refused_before_sending(values: dict[str, Any], field: str, complaint: str) -> None:
    with pytest.raises(InvalidParameters) as caught:
        validate_parameters("python-ds", PARAMS, {"repo": "https://ok", **values})
    assert [error.field for error in caught.value.errors] == [field]
    assert complaint in str(caught.value)
    assert "python-ds" in str(caught.value)


def test_missing_required_parameter_is_named() -> None:
    with pytest.raises(InvalidParameters, match=r"repo: Git repository is required"):
        validate_parameters("python-ds", PARAMS, {})


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(InvalidParameters) as caught:
        validate_parameters("python-ds", PARAMS, {"cpu": 0, "gpu": 3})
    assert {error.field for error in caught.value.errors} == {"cpu", "gpu", "repo"}


def test_v025_zero_bounds_mean_unbounded() -> None:
    unbounded = [param(name="n", type="number", validation_min=0, validation_max=0)]
    assert validate_parameters("t", unbounded, {"n": 1000}) == [{"name": "n", "value": "1000"}]


def test_multi_select_list_is_checked_against_options() -> None:
    multi = [
        param(
            name="tags",
            type="list(string)",
            options=[{"name": "a", "value": "a"}, {"name": "b", "value": "b"}],
        )
    ]
    assert validate_parameters("t", multi, {"tags": ["a", "b"]}) == [{"name": "tags", "value": '["a", "b"]'}]
    with pytest.raises(InvalidParameters, match=r"Not an option: c\. Choose from: a, b"):
        validate_parameters("t", multi, {"tags": ["a", "c"]})
