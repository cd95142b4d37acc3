"""Rich parameter validation as codersdk/richparameters.go does it."""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import ApiError
from .model import Parameter


def _problem(parameter: Parameter, value: str, previous: str | None) -> str | None:
    if parameter.options:
        allowed = [option.value for option in parameter.options]
        if value not in allowed:
            return f"parameter value must match one of options: {', '.join(allowed)}"
        return None
    if parameter.type == "number":
        try:
            number = int(value)
        except ValueError:
            return f'value "{value}" is not a number'
        if parameter.validation_min is not None and number < parameter.validation_min:
            return (
                parameter.validation_error
                or f"value {number} is less than the minimum {parameter.validation_min}"
            )
        if parameter.validation_max is not None and number > parameter.validation_max:
            return (
                parameter.validation_error
                or f"value {number} is more than the maximum {parameter.validation_max}"
            )
        if previous is not None and parameter.validation_monotonic and previous.lstrip("-").isdigit():
            before = int(previous)
            if parameter.validation_monotonic == "increasing" and number < before:
                return f"parameter value must be equal or greater than previous value: {before}"
            if parameter.validation_monotonic == "decreasing" and number > before:
                return f"parameter value must be equal or lower than previous value: {before}"
        return None
    if parameter.type == "bool":
        if value not in ("true", "false"):
            return f'boolean value can be either "true" or "false", got "{value}"'
        return None
    if parameter.type == "list(string)":
        try:
            items = json.loads(value)
        except ValueError:
            items = None
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            return "invalid list(string) value: must be a JSON array of strings"
        return None
    if parameter.validation_regex and not re.search(parameter.validation_regex, value):
        return parameter.validation_error or f'value "{value}" does not match "{parameter.validation_regex}"'
    return None


def parse_values(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ApiError(
            400, "Request body must be valid JSON.", detail="rich_parameter_values must be an array"
        )
    values: dict[str, str] = {}
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ApiError(
                400, "Request body must be valid JSON.", detail="each parameter needs a name and a value"
            )
        value = item.get("value", "")
        if not isinstance(value, str):
            raise ApiError(
                400,
                "Request body must be valid JSON.",
                detail="parameter values are strings (JSON-encode lists)",
            )
        values[item["name"]] = value
    return values


def resolve(
    parameters: list[Parameter],
    requested: dict[str, str],
    previous: dict[str, str] | None,
) -> dict[str, str]:
    """Validate ``requested`` against the template and return the full set of values for the build."""
    known = {parameter.name for parameter in parameters}
    for name in requested:
        if name not in known:
            raise ApiError(
                400,
                "Unable to build workspace with unsupported parameters",
                detail=f'parameter "{name}" is not present in the template',
            )
    resolved: dict[str, str] = {}
    for parameter in parameters:
        before = previous.get(parameter.name) if previous else None
        if parameter.name in requested:
            value = requested[parameter.name]
            if previous is not None and not parameter.mutable and before is not None and value != before:
                raise ApiError(
                    400,
                    f'Parameter "{parameter.name}" is not mutable, '
                    "so it can't be updated after creating a workspace.",
                )
        elif before is not None:
            value = before
        elif parameter.required:
            raise ApiError(
                400,
                f'Unable to validate parameter "{parameter.name}"',
                detail=f'parameter "{parameter.name}" is required but no value was given',
            )
        else:
            value = parameter.default_value
        problem = _problem(parameter, value, before)
        if problem:
            raise ApiError(400, f'Unable to validate parameter "{parameter.name}"', detail=problem)
        resolved[parameter.name] = value
    return resolved
