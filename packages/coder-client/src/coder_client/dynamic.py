"""Dynamic parameters (Coder ≥ 2.24): a template's form evaluated for the answers given so far.

A template with ``use_classic_parameter_flow: false`` describes its parameters in Terraform that Coder
evaluates afresh for each set of inputs (``POST /templateversions/{id}/dynamic-parameters/evaluate``, or
the ``…/dynamic-parameters`` WebSocket): choosing one answer can reveal, hide or invalidate another. The
answer (``DynamicParametersResponse``) lists the parameters as they now stand, each with its current
value and its own diagnostics, and diagnostics for the whole form.

:class:`ParameterForm` is what both front ends draw, whichever flow the template uses: the fields
(``ParameterField``, the same as for classic rich parameters) with their current values, and the errors to
show on them. :func:`form_of` (dynamic) and :func:`classic_form` (rich parameters) build one; both are pure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import Field

from .errors import FieldError, InvalidParameters
from .models import CoderModel, NullableList, TemplateVersionParameter, Text
from .parameters import ParameterField, encode_answer, form_kind, parameter_fields

__all__ = [
    "DiagnosticExtra",
    "DynamicParametersResponse",
    "FriendlyDiagnostic",
    "NullHCLString",
    "ParameterForm",
    "PreviewParameter",
    "PreviewParameterOption",
    "PreviewParameterStyling",
    "PreviewParameterValidation",
    "classic_form",
    "coder_inputs",
    "field_of_preview",
    "form_of",
]

NIL_UUID = "00000000-0000-0000-0000-000000000000"  # owner_id: "the caller" (codersdk.Me)


class NullHCLString(CoderModel):
    value: Text = ""
    valid: bool = False


class DiagnosticExtra(CoderModel):
    code: Text = ""


class FriendlyDiagnostic(CoderModel):
    severity: Text = "error"  # error | warning
    summary: Text = ""
    detail: Text = ""
    extra: DiagnosticExtra | None = None

    @property
    def is_error(self) -> bool:
        return self.severity != "warning"

    @property
    def text(self) -> str:
        if self.summary and self.detail:
            return f"{self.summary.rstrip('.')}: {self.detail}"
        return self.summary or self.detail


class PreviewParameterOption(CoderModel):
    name: Text = ""
    description: Text = ""
    icon: Text = ""
    value: NullHCLString = NullHCLString()


class PreviewParameterStyling(CoderModel):
    placeholder: Text = ""
    disabled: bool = False
    label: Text = ""
    mask_input: bool = False


class PreviewParameterValidation(CoderModel):
    validation_error: Text = ""
    validation_regex: str | None = None
    validation_min: int | None = None
    validation_max: int | None = None
    validation_monotonic: str | None = None


class PreviewParameter(CoderModel):
    name: str
    display_name: Text = ""
    description: Text = ""
    type: Text = "string"
    form_type: Text = ""
    styling: PreviewParameterStyling | None = None
    mutable: bool = False
    default_value: NullHCLString = NullHCLString()
    icon: Text = ""
    options: NullableList[PreviewParameterOption] = Field(default_factory=list)
    validations: NullableList[PreviewParameterValidation] = Field(default_factory=list)
    required: bool = False
    order: int = 0
    ephemeral: bool = False
    value: NullHCLString = NullHCLString()
    diagnostics: NullableList[FriendlyDiagnostic] = Field(default_factory=list)


class DynamicParametersResponse(CoderModel):
    """``codersdk.DynamicParametersResponse``: the form for one set of inputs (``id`` echoes the request)."""

    id: int = 0
    diagnostics: NullableList[FriendlyDiagnostic] = Field(default_factory=list)
    parameters: NullableList[PreviewParameter] = Field(default_factory=list)


def field_of_preview(parameter: PreviewParameter) -> ParameterField:
    """A :class:`ParameterField` for one evaluated parameter: its current value and its diagnostics too."""
    options = tuple((option.name or option.value.value, option.value.value) for option in parameter.options)
    kind = parameter.type or "string"
    rule = parameter.validations[0] if parameter.validations else PreviewParameterValidation()
    low, high = rule.validation_min, rule.validation_max
    errors = [d.text for d in parameter.diagnostics if d.is_error and d.text]
    return ParameterField(
        name=parameter.name,
        display_name=parameter.display_name,
        description=parameter.description,
        type=kind,
        form=form_kind(kind, parameter.form_type, bool(options)),
        options=options,
        default=parameter.default_value.value if parameter.default_value.valid else "",
        required=parameter.required,
        mutable=parameter.mutable,
        ephemeral=parameter.ephemeral,
        min=float(low) if low is not None else None,
        max=float(high) if high is not None else None,
        regex=rule.validation_regex or None,
        error=rule.validation_error or None,
        monotonic=rule.validation_monotonic or None,
        value=parameter.value.value if parameter.value.valid else None,
        diagnostic=" ".join(errors) or None,
    )


@dataclass(frozen=True)
class ParameterForm:
    """A template's create form for the inputs given so far; the same for dynamic and classic templates.

    ``fields`` in the template's order, each with its current ``value`` and ``diagnostic``; ``problems``:
    errors about the form as a whole; ``dynamic``: answers can change the form, so a front end asks again
    (``client.templates.form(template, inputs)``) whenever one changes.
    """

    fields: tuple[ParameterField, ...]
    dynamic: bool = False
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def errors(self) -> dict[str, str]:
        """Field name → why its current value is refused."""
        return {f.name: f.diagnostic for f in self.fields if f.diagnostic}

    @property
    def ok(self) -> bool:
        return not self.errors and not self.problems

    def field(self, name: str) -> ParameterField | None:
        return next((f for f in self.fields if f.name == name), None)

    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def validate(self, template_name: str, values: Mapping[str, Any]) -> list[dict[str, str]]:
        """Check ``values`` against this form (its fields' rules and Coder's diagnostics) and return Coder's
        ``rich_parameter_values``; raise :class:`InvalidParameters` naming each field that is wrong."""
        fields = {f.name: f for f in self.fields}
        errors: list[FieldError] = []
        for name in values:
            if name not in fields:
                known = ", ".join(fields) or "none"
                errors.append(FieldError(name, f"this template has no such parameter now (it has: {known})"))
        encoded: list[dict[str, str]] = []
        for f in self.fields:
            if f.diagnostic:
                errors.append(FieldError(f.name, f.diagnostic))
                continue
            if f.name not in values:
                if f.required and not f.default and f.value in (None, ""):
                    errors.append(FieldError(f.name, f"{f.label} is required."))
                continue
            encode_answer(f, values[f.name], errors, encoded)
        errors.extend(FieldError("parameters", problem) for problem in self.problems)
        if errors:
            raise InvalidParameters(template_name, errors)
        return encoded


def form_of(response: DynamicParametersResponse) -> ParameterForm:
    """The form Coder evaluated (dynamic parameters), in the template's order."""
    ordered = sorted(enumerate(response.parameters), key=lambda pair: (pair[1].order, pair[0]))
    return ParameterForm(
        fields=tuple(field_of_preview(parameter) for _, parameter in ordered),
        dynamic=True,
        problems=tuple(d.text for d in response.diagnostics if d.is_error and d.text),
        warnings=tuple(d.text for d in response.diagnostics if not d.is_error and d.text),
    )


def classic_form(
    parameters: Iterable[TemplateVersionParameter], inputs: Mapping[str, Any] | None = None
) -> ParameterForm:
    """The form of a classic template (rich parameters): the given ``inputs`` become the fields' values and
    are checked with the same rules as ``validate_parameters``."""
    given = inputs or {}
    fields: list[ParameterField] = []
    for f in parameter_fields(parameters):
        if f.name in given:
            problem = f.check(given[f.name])
            try:
                value: str | None = f.to_coder(given[f.name])
            except ValueError:
                value = None
            f = replace(f, value=value, diagnostic=problem)
        fields.append(f)
    return ParameterForm(fields=tuple(fields), dynamic=False)


def coder_inputs(values: Mapping[str, Any]) -> dict[str, str]:
    """Form values as Coder's input strings before their types are known: bools as ``true``/``false``,
    lists as JSON arrays, numbers as decimal text, None left out."""
    inputs: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            inputs[name] = "true" if value else "false"
        elif isinstance(value, list | tuple):
            inputs[name] = json.dumps([str(item) for item in value])
        elif isinstance(value, float) and value.is_integer():
            inputs[name] = str(int(value))
        else:
            inputs[name] = str(value)
    return inputs
