"""Template rich parameters as form fields: kinds, defaults, and the validation Coder would apply.

Works on the parameter JSON Coder returns (`TemplateVersionParameter`), so the launcher's form logic is
testable without widgets. Validation mirrors Coder's server side (NOTES.md §2): options, regex, min/max,
required; values travel as Coder's strings (bool `"true"`/`"false"`, `list(string)` JSON-encoded).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

WORKSPACE_NAME_RULE = re.compile(r"^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$")
FieldKind = Literal["dropdown", "multi-select", "checkbox", "number", "text", "textarea", "tags"]


def check_workspace_name(name: str) -> str | None:
    """Coder's name rule, as an error message to show, or None when the name is fine."""
    if not name:
        return "Give the workspace a name."
    if len(name) > 32:
        return f"Names are at most 32 characters; this one has {len(name)}."
    if not WORKSPACE_NAME_RULE.match(name):
        return "Use letters, digits and single hyphens between them (for example ml-box-2)."
    return None


@dataclass(frozen=True)
class ParameterSpec:
    """One rich parameter, normalised from Coder's JSON."""

    name: str
    label: str
    description: str
    type: str
    kind: FieldKind
    default: str
    required: bool
    mutable: bool
    options: tuple[tuple[str, str], ...]  # (label, value)
    regex: str | None
    regex_error: str | None
    minimum: float | None
    maximum: float | None

    @classmethod
    def from_coder(cls, raw: Mapping[str, Any]) -> ParameterSpec:
        minimum, maximum = (
            _number_or_none(raw.get("validation_min")),
            _number_or_none(raw.get("validation_max")),
        )
        if minimum == 0 and maximum == 0:
            minimum = maximum = None  # old servers send 0/0 for "no bounds"
        options = tuple(
            (str(o.get("name") or o.get("value")), str(o.get("value"))) for o in raw.get("options") or []
        )
        param_type = str(raw.get("type") or "string")
        form_type = str(raw.get("form_type") or "")
        kind: FieldKind
        if options:
            kind = "multi-select" if param_type == "list(string)" else "dropdown"
        elif param_type == "bool":
            kind = "checkbox"
        elif param_type == "number":
            kind = "number"
        elif param_type == "list(string)":
            kind = "tags"
        else:
            kind = "textarea" if form_type == "textarea" else "text"
        return cls(
            name=str(raw["name"]),
            label=str(raw.get("display_name") or raw["name"]),
            description=str(raw.get("description_plaintext") or raw.get("description") or ""),
            type=param_type,
            kind=kind,
            default=str(raw.get("default_value") or ""),
            required=bool(raw.get("required")),
            mutable=bool(raw.get("mutable", True)),
            options=options,
            regex=str(raw["validation_regex"]) if raw.get("validation_regex") else None,
            regex_error=str(raw["validation_error"]) if raw.get("validation_error") else None,
            minimum=minimum,
            maximum=maximum,
        )

    def initial_value(self) -> Any:
        """The default in the Python type the field's widget holds."""
        if self.kind == "checkbox":
            return self.default.lower() == "true"
        if self.kind in ("tags", "multi-select"):
            return _decode_list(self.default)
        if self.kind == "dropdown":
            values = [value for _, value in self.options]
            return (
                self.default if self.default in values else (values[0] if values and self.required else None)
            )
        return self.default

    def to_coder(self, value: Any) -> str:
        """A widget value in Coder's string form."""
        if self.kind == "checkbox":
            return "true" if value else "false"
        if self.kind in ("tags", "multi-select"):
            return json.dumps([str(v) for v in value or []])
        return "" if value is None else str(value).strip()

    def _rule_message(self, value: str) -> str | None:
        return _fill(self.regex_error, self, value) if self.regex_error else None

    def check(self, value: Any) -> str | None:
        """Why Coder would refuse this value, in words; None if it would accept it."""
        text = self.to_coder(value)
        empty = text in ("", "[]") if self.kind in ("tags", "multi-select") else text == ""
        if empty:
            return f"{self.label} is required." if self.required and not self.default else None
        if self.kind == "dropdown":
            allowed = [v for _, v in self.options]
            return None if text in allowed else f"Choose one of: {', '.join(allowed)}."
        if self.kind == "multi-select":
            choices = {v for _, v in self.options}
            unknown = [v for v in value if v not in choices]
            return f"Not an option: {', '.join(unknown)}." if unknown else None
        if self.kind == "number":
            try:
                number = float(text)
            except ValueError:
                return f"{self.label} must be a number, not {text!r}."
            if self.minimum is not None and number < self.minimum:
                return self._rule_message(text) or f"{self.label} must be at least {_plain(self.minimum)}."
            if self.maximum is not None and number > self.maximum:
                return self._rule_message(text) or f"{self.label} must be at most {_plain(self.maximum)}."
            return None
        if self.regex and self.kind in ("text", "textarea"):  # regex errors are the template's own words
            try:
                matched = re.search(self.regex, text) is not None
            except re.error:
                return None  # Coder validates with Go's regexp; leave the syntax Python lacks to the server
            if not matched:
                return self._rule_message(text) or f"{self.label} must match {self.regex}."
        return None


def _fill(template: str, spec: ParameterSpec, value: str) -> str:
    bounds = {"{min}": spec.minimum, "{max}": spec.maximum}
    for key, number in bounds.items():
        template = template.replace(key, _plain(number) if number is not None else "")
    return template.replace("{value}", value)


def parameter_specs(raw_parameters: list[Mapping[str, Any]]) -> list[ParameterSpec]:
    return [ParameterSpec.from_coder(p) for p in raw_parameters]


def _number_or_none(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _plain(number: float) -> str:
    return str(int(number)) if number == int(number) else str(number)


def _decode_list(text: str) -> list[str]:
    if not text:
        return []
    try:
        decoded = json.loads(text)
    except json.JSONDecodeError:
        return [text]
    return [str(v) for v in decoded] if isinstance(decoded, list) else [str(decoded)]
