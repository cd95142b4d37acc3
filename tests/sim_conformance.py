"""Validate the JSON coder-sim serves against the era's Coder OpenAPI document.

The documents are stricter here than as published, so that mistakes bite:
* objects reject properties the era does not define (``additionalProperties: false``);
* the objects the sim builds must carry every property of the era, except the ones Go leaves out
  with ``omitempty`` when empty (listed in OMITTED_WHEN_EMPTY);
* a property may be ``null`` only where Go can marshal null (pointers to times and objects, slices, maps).
"""

from __future__ import annotations

import copy
import json
import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

REPO_ROOT = Path(__file__).resolve().parent.parent
SPEC_FILES = {"v0.25": "swagger-v0.25.0.json", "v2": "swagger-main-c9a1e2b.json"}
SPEC_URI = "urn:coder-api:{era}"

COMPLETE = (
    "codersdk.Workspace",
    "codersdk.WorkspaceBuild",
    "codersdk.WorkspaceAgent",
    "codersdk.WorkspaceResource",
    "codersdk.ProvisionerJob",
    "codersdk.User",
    "codersdk.Organization",
    "codersdk.Template",
    "codersdk.TemplateVersionParameter",
    "codersdk.WorkspacesResponse",
    "codersdk.BuildInfoResponse",
    "codersdk.WorkspaceAgentLog",
    "codersdk.WorkspaceAgentStartupLog",
    "codersdk.ProvisionerJobLog",
)
OMITTED_WHEN_EMPTY = {
    "codersdk.Workspace": {"autostart_schedule", "ttl_ms"},
    "codersdk.ProvisionerJob": {
        "started_at",
        "completed_at",
        "canceled_at",
        "error",
        "error_code",
        "worker_id",
        "worker_name",
        "available_workers",
    },
    "codersdk.WorkspaceAgent": {
        "first_connected_at",
        "last_connected_at",
        "disconnected_at",
        "started_at",
        "ready_at",
        "latency",
        "subsystem",
        "metadata",
    },
    "codersdk.TemplateVersionParameter": {"validation_min", "validation_max", "validation_monotonic"},
}


def specs_dir() -> Path:
    """Coder's OpenAPI documents, carried in the repo (`specs/coder-api/SOURCE.md` says where from)."""
    override = os.environ.get("CODEROPS_SPECS_DIR")
    return Path(override) if override else REPO_ROOT / "specs"


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _may_be_null(schema: dict[str, Any], definitions: dict[str, Any]) -> bool:
    """Go marshals pointers, slices, maps and NullTime as null; plain strings, numbers and enums never."""
    target = schema.get("$ref") or next(
        (part.get("$ref") for part in schema.get("allOf", []) if "$ref" in part), None
    )
    if target:
        return definitions.get(target.rsplit("/", 1)[-1], {}).get("type") == "object"
    return schema.get("type") in ("array", "object") or schema.get("format") in ("date-time", "uuid")


def _tighten(name: str, definition: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    properties = definition.get("properties")
    if definition.get("type") != "object" or not isinstance(properties, dict):
        return definition
    spec_required = set(definition.get("required", []))
    tightened = dict(definition)
    tightened["properties"] = {
        key: _nullable(value) if key not in spec_required and _may_be_null(value, definitions) else value
        for key, value in properties.items()
    }
    tightened.setdefault("additionalProperties", False)
    if name in COMPLETE:
        tightened["required"] = sorted(set(properties) - OMITTED_WHEN_EMPTY.get(name, set()))
    return tightened


@cache
def load_spec(era: str) -> dict[str, Any]:
    path = specs_dir() / "coder-api" / SPEC_FILES[era]
    if not path.is_file():
        raise FileNotFoundError(
            f"Coder OpenAPI document not found at {path}; "
            "the repo carries it under specs/coder-api/ (or set CODEROPS_SPECS_DIR)"
        )
    spec: dict[str, Any] = json.loads(path.read_text())
    strict = copy.deepcopy(spec)
    definitions = spec["definitions"]
    strict["definitions"] = {name: _tighten(name, d, definitions) for name, d in definitions.items()}
    return strict


@cache
def _registry(era: str) -> Registry:  # type: ignore[type-arg]
    resource = Resource(contents=load_spec(era), specification=DRAFT4)
    return Registry().with_resource(SPEC_URI.format(era=era), resource)  # type: ignore[return-value]


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=["date-time", "email", "uri"])

    @checker.checks("uuid", raises=ValueError)
    def is_uuid(value: object) -> bool:
        return not isinstance(value, str) or bool(uuid.UUID(value))

    return checker


FORMAT_CHECKER = _format_checker()


def definition_errors(era: str, schema: dict[str, Any], body: Any) -> list[str]:
    """Every validation error of ``body`` against ``schema`` (which may $ref '#/definitions/...')."""
    rooted = json.loads(
        json.dumps(schema).replace('"#/definitions/', f'"{SPEC_URI.format(era=era)}#/definitions/')
    )
    validator = jsonschema.Draft4Validator(rooted, registry=_registry(era), format_checker=FORMAT_CHECKER)
    return described(leaf for error in validator.iter_errors(body) for leaf in _leaves(error))


def described(errors: Iterable[jsonschema.ValidationError]) -> list[str]:
    """One line per schema error, ``path: message``, in path order (shared with slack_conformance)."""
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path)))
    ]


def _leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """Look through the ``anyOf [schema, null]`` wrappers to the errors that say what is wrong."""
    if error.validator != "anyOf" or not error.context:
        return [error]
    real = [sub for sub in error.context if sub.schema_path and sub.schema_path[0] == 0]
    return [leaf for sub in real for leaf in _leaves(sub)] or [error]


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/definitions/{name}"}


@cache
def _path_patterns(era: str) -> list[tuple[re.Pattern[str], str]]:
    prefix = "" if era == "v2" else "/api/v2"
    patterns = []
    for template in load_spec(era)["paths"]:
        regex = re.sub(
            r"\{[^/]+\}", "[^/]+", re.escape(prefix + template).replace(r"\{", "{").replace(r"\}", "}")
        )
        patterns.append((re.compile(f"^{regex}$"), template))
    # Literal segments win over parameters, as in chi.
    patterns.sort(key=lambda item: item[1].count("{"))
    return patterns


def response_schema(era: str, method: str, path: str, status: int) -> dict[str, Any] | None:
    """The schema the era's document gives for this response, or None if it has no such operation."""
    spec = load_spec(era)
    for pattern, template in _path_patterns(era):
        if not pattern.match(path):
            continue
        operation = spec["paths"][template].get(method.lower())
        if operation is None:
            continue
        responses = operation.get("responses", {})
        if str(status) in responses:
            return dict(responses[str(status)].get("schema") or {})
        if status >= 400:
            return ref("codersdk.Response")
        successes = [value for key, value in responses.items() if key.startswith("2")]
        if 200 <= status < 300 and len(successes) == 1:
            # v0.25's document says 200 where the server answers 201 (create, builds).
            return dict(successes[0].get("schema") or {})
        return None
    if status in (404, 405):
        return ref("codersdk.Response")
    return None


NOTIFICATION_SCHEMA = Path("coder-api") / "notifications" / "webhook-payload.schema.json"


@cache
def notification_schema() -> dict[str, Any]:
    """Coder's notification webhook body (WebhookPayload 1.1), transcribed from its Go structs."""
    schema: dict[str, Any] = json.loads((specs_dir() / NOTIFICATION_SCHEMA).read_text())
    return schema


def notification_errors(body: Any) -> list[str]:
    """Every way ``body`` differs from the webhook body Coder sends (``specs/coder-api/notifications/``)."""
    validator = jsonschema.Draft202012Validator(notification_schema(), format_checker=FORMAT_CHECKER)
    return described(validator.iter_errors(body))


BUILD_UPDATE_SCHEMA = Path("coder-api") / "streams" / "workspace-build-update.schema.json"


@cache
def build_update_schema() -> dict[str, Any]:
    """A message of watch-all-workspacebuilds (not in the OpenAPI document: specs/coder-api/streams/)."""
    schema: dict[str, Any] = json.loads((specs_dir() / BUILD_UPDATE_SCHEMA).read_text())
    return schema


LOG_DEFINITION = {"v0.25": "codersdk.WorkspaceAgentStartupLog", "v2": "codersdk.WorkspaceAgentLog"}


# RFC 6749 §5.2: the error body of Coder's OAuth2 token and revoke endpoints (not in its OpenAPI document)
OAUTH2_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "enum": [
                "invalid_request",
                "invalid_client",
                "invalid_grant",
                "unauthorized_client",
                "unsupported_grant_type",
                "invalid_scope",
            ]
        },
        "error_description": {"type": "string"},
        "error_uri": {"type": "string"},
    },
}


def body_errors(era: str, method: str, path: str, status: int, body: Any, kind: str = "http") -> list[str]:
    if kind == "notification":
        return notification_errors(body)
    if kind == "oauth2-error":
        return described(jsonschema.Draft4Validator(OAUTH2_ERROR_SCHEMA).iter_errors(body))
    if kind == "sse":
        return definition_errors(era, ref("codersdk.Workspace"), body)
    if kind == "sse-error":
        return definition_errors(era, ref("codersdk.Response"), body)
    if kind == "ws":
        if era != "v2":
            return ["WebSocket watch frames exist only in v2"]
        errors = definition_errors(era, ref("codersdk.ServerSentEvent"), body)
        if isinstance(body, dict) and body.get("type") in ("data", "error"):
            definition = "codersdk.Workspace" if body["type"] == "data" else "codersdk.Response"
            errors += [f"data/{e}" for e in definition_errors(era, ref(definition), body.get("data"))]
        return errors
    if kind == "ws-build-update":
        if era != "v2":
            return ["watch-all-workspacebuilds exists only in v2"]
        validator = jsonschema.Draft202012Validator(build_update_schema(), format_checker=FORMAT_CHECKER)
        return described(validator.iter_errors(body))
    if kind == "ws-dynamic-parameters":  # dynamic parameters
        return definition_errors(era, ref("codersdk.DynamicParametersResponse"), body)
    if kind == "ws-logs":
        return definition_errors(era, {"type": "array", "items": ref(LOG_DEFINITION[era])}, body)
    if kind == "ws-build-logs":
        return definition_errors(era, {"type": "array", "items": ref("codersdk.ProvisionerJobLog")}, body)
    schema = response_schema(era, method, path, status)
    if schema is None:
        return [f"{method} {path} -> {status} is not an operation of the {era} document"]
    return definition_errors(era, schema, body)


@dataclass
class Recorder:
    """Collects what a sim serves (``SimServer(response_hook=recorder.record)``) and validates it."""

    seen: dict[str, Any] = field(default_factory=dict)
    count: int = 0

    def record(self, item: Any) -> None:
        self.count += 1
        key = json.dumps(
            [item.era, item.method, item.path, item.status, item.kind, item.body], sort_keys=True
        )
        self.seen.setdefault(key, item)

    def problems(self) -> list[str]:
        found = []
        for item in self.seen.values():
            for error in body_errors(item.era, item.method, item.path, item.status, item.body, item.kind)[:5]:
                found.append(f"[{item.era}] {item.method} {item.path} ({item.kind} {item.status}): {error}")
        return found
