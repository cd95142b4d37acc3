"""Template rich parameters as form fields, and the check Coder would apply to their values, written once.

:class:`ParameterField` is what a form needs to draw a parameter (its kind of input, options, default,
bounds) and to check a value the way Coder's server would (``codersdk/richparameters.go`` with
terraform-provider-coder's validation: options, regex, min/max, required), so a user hears about a bad
value before a build is queued. :func:`validate_parameters` applies the same fields to the values given to
``workspaces.create``. Values travel as Coder's strings: bools ``"true"``/``"false"``, numbers as decimal
text, ``list(string)`` as a JSON array.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .errors import FieldError, InvalidParameters
from .models import TemplateVersionParameter

__all__ = ["FormKind", "ParameterField", "encode_parameter_value", "parameter_fields", "validate_parameters"]

FormKind = Literal["text", "textarea", "number", "select", "radio", "checkbox", "multi-select", "tags"]
_LIST = "list(string)"
_LIST_EXAMPLE = '["a", "b"]'


@dataclass(frozen=True)
class ParameterField:
    """One rich parameter, ready for a form: what to draw, its default, and how to check a value."""

    name: str
    display_name: str
    description: str
    type: str  # Coder's: string, number, bool, list(string)
    form: FormKind
    options: tuple[tuple[str, str], ...]  # (label, value)
    default: str  # Coder's string form
    required: bool
    mutable: bool
    ephemeral: bool
    min: float | None
    max: float | None
    regex: str | None
    error: str | None  # the template's own message for a failed regex or bound ({min}, {max}, {value})
    monotonic: str | None  # "increasing" / "decreasing": a number may only move one way on updates
    # A form's current answer in Coder's string form (None: not answered, the default applies) and why
    # Coder refuses it (dynamic parameters' diagnostics, or this module's check): ``dynamic.ParameterForm``.
    value: str | None = None
    diagnostic: str | None = None

    @classmethod
    def from_parameter(cls, parameter: TemplateVersionParameter) -> ParameterField:
        low, high = parameter.validation_min, parameter.validation_max
        if low == 0 and high == 0:  # v0.25 sends 0/0 for "no bounds"
            low = high = None
        options = tuple((option.name or option.value, option.value) for option in parameter.options)
        kind = parameter.type or "string"
        return cls(
            name=parameter.name,
            display_name=parameter.display_name,
            description=parameter.description_plaintext or parameter.description,
            type=kind,
            form=form_kind(kind, parameter.form_type, bool(options)),
            options=options,
            default=parameter.default_value,
            required=parameter.required,
            mutable=parameter.mutable,
            ephemeral=parameter.ephemeral,
            min=float(low) if low is not None else None,
            max=float(high) if high is not None else None,
            regex=parameter.validation_regex or None,
            error=parameter.validation_error or None,
            monotonic=parameter.validation_monotonic or None,
        )

    @property
    def label(self) -> str:
        return self.display_name or self.name

    @property
    def option_values(self) -> list[str]:
        return [value for _, value in self.options]

    @property
    def initial_value(self) -> Any:
        """The current value (else the default) in the Python type the field's input holds (bool, list of
        str, str or None)."""
        current = self.default if self.value is None else self.value
        if self.form == "checkbox":
            return current.strip().lower() == "true"
        if self.type == _LIST:
            return _decode_list(current)
        if self.form in ("select", "radio"):
            values = self.option_values
            if current in values or (self.value is not None and current):
                return current
            return values[0] if values and self.required else None
        return current

    @property
    def current(self) -> str:
        """The answer a form shows, in Coder's string form: the current value, else the default."""
        return self.default if self.value is None else self.value

    def to_coder(self, value: Any) -> str:
        """``value`` (a form input's value, or a plain Python value) in Coder's string form; ``ValueError``
        says, in a sentence naming the field, what kind of value was expected."""
        if self.type == "bool":
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower()
            raise ValueError(f"{self.label} must be true or false, not {value!r}.")
        if self.type == "number":
            if value is None or (isinstance(value, str) and not value.strip()):
                return ""
            try:
                if isinstance(value, bool):
                    raise ValueError
                number = float(value) if isinstance(value, int | float) else float(str(value).strip())
            except ValueError:
                raise ValueError(f"{self.label} must be a number, not {value!r}.") from None
            return str(int(number)) if number.is_integer() else repr(number)
        if self.type == _LIST:
            items: Any = [] if value is None else value
            if isinstance(value, str):
                try:
                    items = json.loads(value) if value.strip() else []
                except json.JSONDecodeError:
                    items = None
            if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
                expected = f"a list of strings such as {_LIST_EXAMPLE}"
                raise ValueError(f"{self.label} must be {expected}, not {value!r}.")
            return json.dumps(list(items))
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(f"{self.label} must be text, not {value!r}.")
        return str(value).strip()

    def is_empty(self, encoded: str) -> bool:
        return encoded in ("", "[]") if self.type == _LIST else encoded == ""

    def check(self, value: Any) -> str | None:
        """Why Coder would refuse ``value``, in one sentence; None if it would accept it (an empty value
        means "use the template's default", which is fine unless the parameter is required)."""
        try:
            encoded = self.to_coder(value)
        except ValueError as exc:
            return str(exc)
        if self.is_empty(encoded):
            return f"{self.label} is required." if self.required and not self.default else None
        return self._problem(encoded)

    def _problem(self, encoded: str) -> str | None:
        allowed = self.option_values
        if allowed:
            chosen = json.loads(encoded) if self.type == _LIST else [encoded]
            wrong = [item for item in chosen if item not in allowed]
            if not wrong:
                return None
            if self.type == _LIST:
                return f"Not an option: {', '.join(wrong)}. Choose from: {', '.join(allowed)}."
            return f"Choose one of: {', '.join(allowed)}."
        if self.type == "number":
            number = float(encoded)
            if self.min is not None and number < self.min:
                return self._own_words(encoded) or f"{self.label} must be at least {_plain(self.min)}."
            if self.max is not None and number > self.max:
                return self._own_words(encoded) or f"{self.label} must be at most {_plain(self.max)}."
            return None
        if self.type == "string" and self.regex:
            try:
                matched = re.search(self.regex, encoded) is not None
            except re.error:
                return None  # Coder validates with Go's regexp; leave the syntax Python lacks to the server
            if not matched:
                return self._own_words(encoded) or f"{self.label} must match {self.regex}."
        return None

    def _own_words(self, value: str) -> str | None:
        if not self.error:
            return None
        text = self.error
        for key, number in (("{min}", self.min), ("{max}", self.max)):
            text = text.replace(key, _plain(number) if number is not None else "")
        return text.replace("{value}", value)


def form_kind(kind: str, form_type: str, has_options: bool) -> FormKind:
    """The input that draws a parameter of Coder type ``kind`` (``form_type``: the template's hint)."""
    if has_options:
        if kind == _LIST:
            return "multi-select"
        return "radio" if form_type == "radio" else "select"
    if kind == "bool":
        return "checkbox"
    if kind == "number":
        return "number"
    if kind == _LIST:
        return "tags"
    return "textarea" if form_type == "textarea" else "text"


def parameter_fields(parameters: Iterable[TemplateVersionParameter]) -> list[ParameterField]:
    """One :class:`ParameterField` per parameter, in the template's order."""
    return [ParameterField.from_parameter(parameter) for parameter in parameters]


def encode_parameter_value(parameter: TemplateVersionParameter, value: Any) -> str:
    """Coder's string form of ``value`` for ``parameter``; ``ValueError`` says what was expected."""
    return ParameterField.from_parameter(parameter).to_coder(value)


def encode_answer(
    field: ParameterField, value: Any, errors: list[FieldError], encoded: list[dict[str, str]]
) -> None:
    """One given answer, checked by the field's rules, appended to ``encoded`` in Coder's form (or its
    problem to ``errors``); an empty number or choice means "the default", as in a form, and is left out."""
    problem = field.check(value)
    if problem:
        errors.append(FieldError(field.name, problem))
        return
    text = field.to_coder(value)
    if text == "" and (field.type == "number" or field.options):
        return
    encoded.append({"name": field.name, "value": text})


def validate_parameters(
    template_name: str,
    parameters: Sequence[TemplateVersionParameter],
    values: Mapping[str, Any],
) -> list[dict[str, str]]:
    """Check ``values`` and return Coder's ``rich_parameter_values``; raise :class:`InvalidParameters`.

    Parameters left out are omitted (Coder applies the template default); a required parameter without a
    value is an error. Ephemeral parameters are only accepted when given explicitly.
    """
    fields = {field.name: field for field in parameter_fields(parameters)}
    errors: list[FieldError] = []
    for name in values:
        if name not in fields:
            known = ", ".join(sorted(fields)) or "none"
            errors.append(FieldError(name, f"this template has no such parameter (it has: {known})"))
    encoded_values: list[dict[str, str]] = []
    for field in fields.values():
        if field.name not in values:
            if field.required:
                errors.append(FieldError(field.name, f"{field.label} is required."))
            continue
        encode_answer(field, values[field.name], errors, encoded_values)
    if errors:
        raise InvalidParameters(template_name, errors)
    return encoded_values


def _plain(number: float) -> str:
    return str(int(number)) if number == int(number) else str(number)


def _decode_list(text: str) -> list[str]:
    if not text:
        return []
    try:
        decoded = json.loads(text)
    except json.JSONDecodeError:
        return [text]
    return [str(item) for item in decoded] if isinstance(decoded, list) else [str(decoded)]
