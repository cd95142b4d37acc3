"""Dynamic parameters (v2 era; Coder 2.24+): a template whose form Coder evaluates for each set of inputs.

A real Coder evaluates the template's Terraform (``coder_parameter`` data sources with ``count`` and
conditional ``option`` lists); here a template carries a plain function from inputs to an
:class:`Evaluation`. The routes serve it as ``codersdk.DynamicParametersResponse``: ``POST
/templateversions/{id}/dynamic-parameters/evaluate`` and the WebSocket ``…/dynamic-parameters`` (an
initial form with id -1, then one answer per ``{id, owner_id, inputs}`` request). A create or start build
of such a template is checked with the same function.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError
from .model import Parameter, ParameterOption

JSON = dict[str, Any]


@dataclass
class Evaluation:
    """The form for one set of inputs: parameters in order, their values, and what is wrong with them."""

    parameters: list[Parameter]
    values: dict[str, str]
    # parameter name → (summary, detail) of each error
    diagnostics: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def errors(self) -> list[tuple[str, str]]:
        return [
            (name, detail or summary) for name, found in self.diagnostics.items() for summary, detail in found
        ]


DynamicForm = Callable[[Mapping[str, str]], Evaluation]

REGIONS = [ParameterOption("United States", "us"), ParameterOption("Europe", "eu")]
SIZES = {
    "us": [
        ParameterOption("Small (2 cores)", "small"),
        ParameterOption("Large (8 cores)", "large"),
        ParameterOption("Extra large (32 cores)", "xl"),
    ],
    "eu": [ParameterOption("Small (2 cores)", "small"), ParameterOption("Large (8 cores)", "large")],
}
GPU_TYPES = [ParameterOption("NVIDIA T4", "t4"), ParameterOption("NVIDIA A100", "a100")]


def gpu_lab(inputs: Mapping[str, str]) -> Evaluation:
    """The seed's ``gpu-lab``: ``gpu=true`` reveals ``gpu_type``; region ``eu`` has no ``xl`` instances, so
    ``instance_size=xl`` (valid in ``us``) becomes an error there."""
    region = inputs.get("region") or "us"
    parameters = [
        Parameter(
            name="region",
            type="string",
            display_name="Region",
            description="Where the workspace runs.",
            default_value="us",
            options=list(REGIONS),
        ),
        Parameter(
            name="instance_size",
            type="string",
            display_name="Instance size",
            description="Extra large is only offered in the United States.",
            default_value="small",
            options=list(SIZES.get(region, SIZES["us"])),
        ),
        Parameter(name="gpu", type="bool", display_name="GPU", default_value="false"),
    ]
    if (inputs.get("gpu") or "false") == "true":
        parameters.append(
            Parameter(
                name="gpu_type",
                type="string",
                display_name="GPU type",
                default_value="t4",
                options=list(GPU_TYPES),
            )
        )
    return evaluate_options(parameters, inputs)


def evaluate_options(parameters: list[Parameter], inputs: Mapping[str, str]) -> Evaluation:
    """Each parameter's value (the input, else its default) and an error where the value is no option."""
    values: dict[str, str] = {}
    diagnostics: dict[str, list[tuple[str, str]]] = {}
    for parameter in parameters:
        value = inputs.get(parameter.name, parameter.default_value)
        values[parameter.name] = value
        allowed = [option.value for option in parameter.options]
        if allowed and value not in allowed:
            diagnostics[parameter.name] = [
                (
                    "Value must be a valid option",
                    f'the value "{value}" must be defined as one of options: {", ".join(allowed)}',
                )
            ]
        elif parameter.type == "bool" and value not in ("true", "false"):
            diagnostics[parameter.name] = [
                ("Invalid value", f'boolean value can be either "true" or "false", got "{value}"')
            ]
    return Evaluation(parameters, values, diagnostics)


def _form_type(parameter: Parameter) -> str:
    if parameter.options:
        return "multi-select" if parameter.type == "list(string)" else "dropdown"
    if parameter.type == "bool":
        return "checkbox"
    return "input"


def _hcl(value: str) -> JSON:
    return {"value": value, "valid": True}


def _diagnostic(summary: str, detail: str) -> JSON:
    return {"severity": "error", "summary": summary, "detail": detail, "extra": {"code": ""}}


def render_evaluation(evaluation: Evaluation, request_id: int) -> JSON:
    """``codersdk.DynamicParametersResponse``."""
    parameters: list[JSON] = []
    for order, parameter in enumerate(evaluation.parameters):
        validations: list[JSON] = []
        if parameter.validation_regex or parameter.validation_min is not None or parameter.validation_max:
            rule: JSON = {"validation_error": parameter.validation_error}
            if parameter.validation_regex:
                rule["validation_regex"] = parameter.validation_regex
            if parameter.validation_min is not None:
                rule["validation_min"] = parameter.validation_min
            if parameter.validation_max is not None:
                rule["validation_max"] = parameter.validation_max
            if parameter.validation_monotonic:
                rule["validation_monotonic"] = parameter.validation_monotonic
            validations.append(rule)
        parameters.append(
            {
                "name": parameter.name,
                "display_name": parameter.display_name,
                "description": parameter.description,
                "type": parameter.type,
                "form_type": _form_type(parameter),
                "styling": {"placeholder": "", "disabled": False, "label": "", "mask_input": False},
                "mutable": parameter.mutable,
                "default_value": _hcl(parameter.default_value),
                "icon": parameter.icon,
                "options": [
                    {"name": o.name, "description": o.description, "icon": o.icon, "value": _hcl(o.value)}
                    for o in parameter.options
                ],
                "validations": validations,
                "required": parameter.required,
                "order": order,
                "ephemeral": False,
                "value": _hcl(evaluation.values.get(parameter.name, parameter.default_value)),
                "diagnostics": [_diagnostic(*d) for d in evaluation.diagnostics.get(parameter.name, [])],
            }
        )
    return {"id": request_id, "diagnostics": [], "parameters": parameters}


def parse_request(body: Any) -> tuple[int, dict[str, str]]:
    """``codersdk.DynamicParametersRequest`` → (id, inputs); 400 as Coder answers a malformed body."""
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be valid JSON.", detail="expected a JSON object")
    inputs = body.get("inputs") or {}
    if not isinstance(inputs, dict) or not all(isinstance(v, str) for v in inputs.values()):
        raise ApiError(400, "Request body must be valid JSON.", detail="inputs: a map of strings")
    request_id = body.get("id", 0)
    if not isinstance(request_id, int) or isinstance(request_id, bool):
        raise ApiError(400, "Request body must be valid JSON.", detail="id: an integer")
    return request_id, {str(k): v for k, v in inputs.items()}


def resolve(form: DynamicForm, requested: dict[str, str], previous: dict[str, str] | None) -> dict[str, str]:
    """The values of a build of a dynamic template: the previous build's, with ``requested`` on top,
    evaluated; 400 with one validation per diagnostic, as Coder refuses a build whose form has errors."""
    inputs = {**(previous or {}), **requested}
    evaluation = form(inputs)
    known = {parameter.name for parameter in evaluation.parameters}
    unknown = [name for name in requested if name not in known]
    errors = evaluation.errors() + [
        (name, f'parameter "{name}" is not present in the template') for name in unknown
    ]
    if errors:
        raise ApiError(
            400,
            "Unable to validate parameters",
            validations=[{"field": name, "detail": detail} for name, detail in errors],
        )
    return {name: evaluation.values[name] for name in known}


def dumps(body: JSON) -> str:
    return json.dumps(body, separators=(",", ":"))
