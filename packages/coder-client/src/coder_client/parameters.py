"""Client-side check of workspace parameter values against a template's rich parameters.

Mirrors Coder's own check (``codersdk/richparameters.go`` with terraform-provider-coder's validation)
so a user hears about a bad value before a build is queued. Values go out as Coder's strings: bools as
``"true"``/``"false"``, numbers as decimal text, ``list(string)`` as a JSON array.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import FieldError, InvalidParameters
from .models import TemplateVersionParameter

__all__ = ["encode_parameter_value", "validate_parameters"]


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int | float):
        return float(value)
    return float(str(value).strip())


def encode_parameter_value(parameter: TemplateVersionParameter, value: Any) -> str:
    """Coder's string form of ``value`` for ``parameter``; ``ValueError`` says what type was expected."""
    kind = parameter.type or "string"
    if kind == "bool":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower()
        raise ValueError(f"expected true or false, got {value!r}")
    if kind == "number":
        try:
            number = _number(value)
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}") from None
        return str(int(number)) if number.is_integer() else repr(number)
    if kind == "list(string)":
        items: Any = value
        if isinstance(value, str):
            try:
                items = json.loads(value)
            except json.JSONDecodeError:
                raise ValueError(f'expected a list of strings such as ["a", "b"], got {value!r}') from None
        if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
            raise ValueError(f'expected a list of strings such as ["a", "b"], got {value!r}')
        return json.dumps(list(items))
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected text, got {value!r}")
    return str(value)


def _limits(parameter: TemplateVersionParameter) -> tuple[int | None, int | None]:
    low, high = parameter.validation_min, parameter.validation_max
    if low == 0 and high == 0:  # v0.25 sends 0/0 for "no bounds"
        return None, None
    return low, high


def _rule_message(parameter: TemplateVersionParameter, value: str, fallback: str) -> str:
    if not parameter.validation_error:
        return fallback
    low, high = _limits(parameter)
    return (
        parameter.validation_error.replace("{min}", str(low))
        .replace("{max}", str(high))
        .replace("{value}", value)
    )


def _check(parameter: TemplateVersionParameter, encoded: str) -> str | None:
    allowed = [option.value for option in parameter.options]
    if allowed:
        chosen = json.loads(encoded) if parameter.type == "list(string)" else [encoded]
        wrong = [item for item in chosen if item not in allowed]
        if wrong:
            return f"{', '.join(map(repr, wrong))} is not one of the options: {', '.join(map(repr, allowed))}"
        return None
    if parameter.type == "number":
        low, high = _limits(parameter)
        number = float(encoded)
        if (low is not None and number < low) or (high is not None and number > high):
            bounds = f"between {low if low is not None else '-∞'} and {high if high is not None else '∞'}"
            return _rule_message(parameter, encoded, f"{encoded} is out of range: it must be {bounds}")
    if (
        parameter.type == "string"
        and parameter.validation_regex
        and re.search(parameter.validation_regex, encoded) is None
    ):
        return _rule_message(
            parameter, encoded, f"{encoded!r} does not match the pattern {parameter.validation_regex!r}"
        )
    return None


def validate_parameters(
    template_name: str,
    parameters: Sequence[TemplateVersionParameter],
    values: Mapping[str, Any],
) -> list[dict[str, str]]:
    """Check ``values`` and return Coder's ``rich_parameter_values``; raise :class:`InvalidParameters`.

    Parameters left out are omitted (Coder applies the template default); a required parameter without a
    value is an error. Ephemeral parameters are only accepted when given explicitly.
    """
    by_name = {parameter.name: parameter for parameter in parameters}
    errors: list[FieldError] = []
    for name in values:
        if name not in by_name:
            known = ", ".join(sorted(by_name)) or "none"
            errors.append(FieldError(name, f"this template has no such parameter (it has: {known})"))
    encoded_values: list[dict[str, str]] = []
    for parameter in parameters:
        if parameter.name not in values:
            if parameter.required:
                label = f" ({parameter.display_name})" if parameter.display_name else ""
                errors.append(FieldError(parameter.name, f"a value is required{label}"))
            continue
        try:
            encoded = encode_parameter_value(parameter, values[parameter.name])
        except ValueError as exc:
            errors.append(FieldError(parameter.name, str(exc)))
            continue
        problem = _check(parameter, encoded)
        if problem:
            errors.append(FieldError(parameter.name, problem))
            continue
        encoded_values.append({"name": parameter.name, "value": encoded})
    if errors:
        raise InvalidParameters(template_name, errors)
    return encoded_values
