"""The OpenAPI 3.1 document for the extension's routes, served at `{base_url}coder/api/openapi.json`."""

from __future__ import annotations

from typing import Any

from coder_client import LifecycleKind
from pydantic import BaseModel

from .timings import TIMINGS_SCHEMA

OBJECT_ID = {"type": "string", "minLength": 1, "pattern": "^[0-9A-Za-z_.~-]+$"}
ERROR = {
    "type": "object",
    "required": ["message"],
    "properties": {
        "message": {"type": "string"},
        "detail": {"type": ["string", "null"]},
        "validations": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "detail"],
                "properties": {"field": {"type": "string"}, "detail": {"type": "string"}},
            },
        },
        "coder_status": {"type": ["integer", "null"]},
    },
}
WORKSPACE = {
    "type": "object",
    "required": ["id", "name", "latest_build"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "owner_name": {"type": "string"},
        "template_name": {"type": "string"},
        "latest_build": {
            "type": "object",
            "required": ["id", "transition", "status"],
            "properties": {
                "id": {"type": "string"},
                "transition": {"type": "string"},
                "status": {"type": "string"},
            },
        },
    },
}
BUILD = {
    "type": "object",
    "required": ["id", "transition", "status"],
    "properties": {"id": {"type": "string"}, "transition": {"type": "string"}, "status": {"type": "string"}},
}
ISO_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
PHASE = {
    "type": "object",
    "required": ["name", "state", "started_at", "ended_at", "seconds"],
    "properties": {
        "name": {"type": "string"},
        "state": {"type": "string", "enum": ["pending", "active", "done", "failed"]},
        "started_at": ISO_OR_NULL,
        "ended_at": ISO_OR_NULL,
        "seconds": {"type": ["number", "null"]},
    },
}
ROW = {
    "type": "object",
    "description": "One workspace as the JupyterLab sidebar shows it (stage, phases and durations from "
    "coder_client.progress_of, as the notebook monitor).",
    "required": [
        "id",
        "name",
        "owner_name",
        "template_name",
        "template_display_name",
        "status",
        "transition",
        "stage",
        "stage_label",
        "settled",
        "failed",
        "usable",
        "deadline",
        "max_deadline",
        "dashboard_url",
        "build_number",
        "started_at",
        "ready_at",
        "startup_seconds",
        "build_seconds",
        "phases",
        "error",
        "outdated",
        "can_update",
        "can_extend",
        "updated_at",
    ],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "owner_name": {"type": "string"},
        "template_name": {"type": "string"},
        "template_display_name": {"type": "string"},
        "status": {"type": "string", "description": "Coder's status of the latest build"},
        "transition": {"type": "string", "enum": ["start", "stop", "delete"]},
        "stage": {"type": "string", "enum": [kind.value for kind in LifecycleKind]},
        "stage_label": {"type": "string"},
        "settled": {"type": "boolean"},
        "failed": {"type": "boolean"},
        "usable": {"type": "boolean"},
        "deadline": ISO_OR_NULL,
        "max_deadline": ISO_OR_NULL,
        "dashboard_url": {"type": "string"},
        "build_number": {"type": "integer"},
        "started_at": ISO_OR_NULL,
        "ready_at": ISO_OR_NULL,
        "startup_seconds": {"type": ["number", "null"]},
        "build_seconds": {"type": ["number", "null"]},
        "phases": {"type": "array", "items": PHASE},
        "error": {"type": "string"},
        "outdated": {"type": "boolean"},
        "can_update": {
            "type": "boolean",
            "description": "Outdated, settled, and this Coder offers template updates: Update makes sense",
        },
        "can_extend": {"type": "boolean"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}
ROWS = {
    "type": "object",
    "required": ["rows", "count"],
    "properties": {
        "rows": {"type": "array", "items": {"$ref": "#/components/schemas/Row"}},
        "count": {"type": "integer"},
    },
}
WITH_ROW = {
    "type": "object",
    "required": ["row"],
    "properties": {"row": {"$ref": "#/components/schemas/Row"}},
}
EXTENDED = {
    "type": "object",
    "required": ["plan", "row"],
    "properties": {
        "plan": {
            "type": "object",
            "required": ["deadline", "capped", "message"],
            "properties": {
                "deadline": {"type": "string", "format": "date-time"},
                "capped": {"type": "boolean"},
                "message": {"type": "string"},
            },
        },
        "row": {"$ref": "#/components/schemas/Row"},
    },
}
LOGS = {
    "type": "object",
    "required": ["build_log", "startup_log", "truncated"],
    "properties": {
        "build_log": {"type": "array", "items": {"type": "string"}},
        "startup_log": {"type": "array", "items": {"type": "string"}},
        "truncated": {"type": "boolean"},
    },
}
FIELD = {
    "type": "object",
    "required": ["name", "display_name", "type", "form", "options", "default", "required", "mutable"],
    "properties": {
        "name": {"type": "string"},
        "display_name": {"type": "string"},
        "description": {"type": "string"},
        "type": {"type": "string"},
        "form": {
            "type": "string",
            "enum": ["text", "textarea", "number", "select", "radio", "checkbox", "multi-select", "tags"],
        },
        "options": {
            "type": "array",
            "description": "[label, value] pairs",
            "items": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
        },
        "default": {"type": "string"},
        "required": {"type": "boolean"},
        "mutable": {"type": "boolean"},
        "ephemeral": {"type": "boolean"},
        "min": {"type": ["number", "null"]},
        "max": {"type": ["number", "null"]},
        "regex": {"type": ["string", "null"]},
        "error": {"type": ["string", "null"]},
        "monotonic": {"type": ["string", "null"]},
        "value": {"type": ["string", "null"], "description": "The current answer (dynamic parameters)"},
        "diagnostic": {"type": ["string", "null"], "description": "Why Coder refuses the current answer"},
    },
}
PRESET = {
    "type": "object",
    "description": "A preset of the template (Coder v2.20+): parameter values it fixes",
    "required": ["id", "name", "description", "default", "prebuilt", "parameters"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "default": {"type": "boolean"},
        "prebuilt": {"type": "boolean", "description": "Coder keeps prebuilt workspaces: ready in seconds"},
        "parameters": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
FORM = {
    "type": "object",
    "required": ["template", "fields", "last_used"],
    "properties": {
        "template": {"$ref": "#/components/schemas/Template"},
        "fields": {"type": "array", "items": FIELD},
        "last_used": {"type": "boolean"},
        "presets": {"type": "array", "items": PRESET, "description": "Empty when Coder has no presets"},
        "dynamic": {"type": "boolean", "description": "Evaluate again (POST) whenever an answer changes"},
        "problems": {"type": "array", "items": {"type": "string"}},
    },
}
FORM_INPUTS = {
    "type": "object",
    "properties": {
        "inputs": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
PREFERENCES = {
    "type": "object",
    "required": ["last_template"],
    "properties": {"last_template": {"type": ["string", "null"]}},
}
TEMPLATE = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
}
PARAMETER = {
    "type": "object",
    "required": ["name", "type"],
    "properties": {
        "name": {"type": "string"},
        "type": {"type": "string"},
        "default_value": {"type": "string"},
    },
}


def _errors(*statuses: int) -> dict[str, Any]:
    reasons = {
        400: "Bad input (ours or Coder's), with validations per field",
        403: "Not authenticated or not authorized for the `coder` resource",
        404: "Not found on Coder, or not visible to the configured token",
        410: "The workspace was deleted",
        409: "Coder refused because of the workspace's state (a build is active, name taken, …)",
        405: "Coder refused: the workspace is deleted",
        429: "Coder rate-limited the request",
        502: "Coder failed, could not be reached, or rejected the server's token",
    }
    return {
        str(s): {
            "description": reasons[s],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for s in statuses
    }


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def openapi_document(
    base_path: str,
    create_body: type[BaseModel],
    extend_body: type[BaseModel],
    preferences_body: type[BaseModel],
    max_log_lines: int,
    rename_body: type[BaseModel] | None = None,
) -> dict[str, Any]:
    common = _errors(400, 403, 404, 409, 410, 429, 502)
    workspace_id = {"name": "workspace_id", "in": "path", "required": True, "schema": OBJECT_ID}
    query = {
        "name": "q",
        "in": "query",
        "required": False,
        "description": "A Coder workspace search query (default `owner:me`)",
        "schema": {"type": "string"},
    }
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "coder_jupyter",
            "version": "1",
            "description": "Launch and monitor Coder workspaces through the Jupyter server. "
            "Authenticate as for any Jupyter API (token or session cookie + XSRF).",
        },
        "servers": [{"url": base_path.rstrip("/")}],
        "components": {
            "schemas": {
                "Error": ERROR,
                "Workspace": WORKSPACE,
                "WorkspaceBuild": BUILD,
                "Row": ROW,
                "Rows": ROWS,
                "Preferences": PREFERENCES,
                "Template": TEMPLATE,
                "TemplateVersionParameter": PARAMETER,
                "CreateWorkspace": create_body.model_json_schema(),
                "Extend": extend_body.model_json_schema(),
            },
            "securitySchemes": {"jupyterToken": {"type": "apiKey", "in": "header", "name": "Authorization"}},
        },
        "security": [{"jupyterToken": []}],
        "paths": {
            "/workspaces": {
                "get": {
                    "operationId": "listWorkspaces",
                    "summary": "Workspaces matching a Coder search query (default owner:me)",
                    "parameters": [
                        {"name": "q", "in": "query", "required": False, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": _json(
                            "The workspaces",
                            {
                                "type": "object",
                                "required": ["workspaces", "count"],
                                "properties": {
                                    "workspaces": {"type": "array", "items": _ref("Workspace")},
                                    "count": {"type": "integer"},
                                },
                            },
                        ),
                        **common,
                    },
                },
                "post": {
                    "operationId": "createWorkspace",
                    "summary": "Create a workspace from a template",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("CreateWorkspace")}},
                    },
                    "responses": {"201": _json("The new workspace", _ref("Workspace")), **common},
                },
            },
            "/workspaces/rows": {
                "get": {
                    "operationId": "listWorkspaceRows",
                    "summary": "The sidebar's rows for a Coder search query",
                    "parameters": [query],
                    "responses": {"200": _json("The rows", _ref("Rows")), **common},
                }
            },
            "/workspaces/stream": {
                "get": {
                    "operationId": "streamWorkspaceRows",
                    "summary": "The sidebar's live list as server-sent events",
                    "description": "`event: snapshot` (`{rows: [Row]}`) first, then `event: row` (a Row) "
                    "for each change or new workspace, `event: removed` (`{id}`) for each one gone, and "
                    "`event: error` (an Error) while Coder cannot be listed (the server keeps trying and "
                    "sends a fresh snapshot when it can). Keepalive comments in between. One watch per "
                    "workspace is shared by all streams.",
                    "parameters": [query],
                    "responses": {
                        "200": {
                            "description": "An event stream",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        },
                        **common,
                    },
                }
            },
            "/workspaces/lookup/{owner}/{name}": {
                "get": {
                    "operationId": "lookupWorkspaceRow",
                    "summary": "The Row of a workspace by owner and name",
                    "parameters": [
                        {"name": "owner", "in": "path", "required": True, "schema": OBJECT_ID},
                        {"name": "name", "in": "path", "required": True, "schema": OBJECT_ID},
                    ],
                    "responses": {"200": _json("The row", _ref("Row")), **common},
                }
            },
            "/workspaces/{workspace_id}/row": {
                "get": {
                    "operationId": "getWorkspaceRow",
                    "parameters": [workspace_id],
                    "responses": {"200": _json("The row", _ref("Row")), **common},
                }
            },
            "/workspaces/{workspace_id}": {
                "get": {
                    "operationId": "getWorkspace",
                    "parameters": [workspace_id],
                    "responses": {"200": _json("The workspace", _ref("Workspace")), **common},
                },
                "delete": {
                    "operationId": "deleteWorkspace",
                    "summary": "Delete a workspace; `confirm` must be its name (else 400 saying so)",
                    "parameters": [
                        workspace_id,
                        {
                            "name": "confirm",
                            "in": "query",
                            "required": True,
                            "description": "The workspace's name, as the person typed it to confirm",
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {"202": _json("The delete build is queued", WITH_ROW), **common},
                },
            },
            "/workspaces/{workspace_id}/extend": {
                "post": {
                    "operationId": "extendWorkspace",
                    "summary": "Extend: the autostop deadline moves `by` later than it is now "
                    "(never earlier; capped at the template's maximum)",
                    "parameters": [workspace_id],
                    "requestBody": {
                        "required": False,
                        "content": {"application/json": {"schema": _ref("Extend")}},
                    },
                    "responses": {
                        "200": _json(
                            "The workspace with its new deadline, the plan applied and its Row",
                            {"allOf": [_ref("Workspace"), EXTENDED]},
                        ),
                        **common,
                    },
                }
            },
            **{
                f"/workspaces/{{workspace_id}}/{action}": {
                    "post": {
                        "operationId": f"{action}Workspace",
                        "summary": summary,
                        "parameters": [workspace_id],
                        "responses": {
                            "201": _json(
                                "The build Coder queued, and the workspace's Row now",
                                {"allOf": [_ref("WorkspaceBuild"), WITH_ROW]},
                            ),
                            **common,
                        },
                    }
                }
                for action, summary in (
                    ("start", "Start (a start build)"),
                    ("stop", "Stop (a stop build)"),
                    ("restart", "Restart: stop, wait for the stop build, start (the start build)"),
                )
            },
            **(_verb_paths(workspace_id, rename_body) if rename_body is not None else {}),
            "/workspaces/{workspace_id}/logs": {
                "get": {
                    "operationId": "workspaceLogs",
                    "summary": "The tails of the latest build's log and of the agent's startup log, redacted",
                    "parameters": [
                        workspace_id,
                        {
                            "name": "lines",
                            "in": "query",
                            "required": False,
                            "description": "How many lines of each log, from the end (default 200)",
                            "schema": {"type": "integer", "minimum": 1, "maximum": max_log_lines},
                        },
                    ],
                    "responses": {"200": _json("The log tails", LOGS), **common},
                }
            },
            "/workspaces/{workspace_id}/timings": {
                "get": {
                    "operationId": "workspaceTimings",
                    "summary": "Where the latest build's time went (Coder's build timings, v2.17+)",
                    "parameters": [workspace_id],
                    "responses": {"200": _json("The steps and the summary", TIMINGS_SCHEMA), **common},
                }
            },
            "/workspaces/{workspace_id}/events": {
                "get": {
                    "operationId": "workspaceEvents",
                    "summary": "Server-sent lifecycle events (`event: lifecycle`), keepalives between",
                    "parameters": [
                        workspace_id,
                        {
                            "name": "until",
                            "in": "query",
                            "required": False,
                            "description": "`settled`: end the stream after ready, a failure or stopped",
                            "schema": {"type": "string", "enum": ["settled"]},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "An event stream; each `data:` is a lifecycle event as JSON",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        },
                        **common,
                    },
                }
            },
            "/templates": {
                "get": {
                    "operationId": "listTemplates",
                    "responses": {
                        "200": _json("Templates", {"type": "array", "items": _ref("Template")}),
                        **common,
                    },
                }
            },
            "/templates/{name}/form": {
                "get": {
                    "operationId": "templateForm",
                    "summary": "The New workspace form of a template: its rich parameters as form fields "
                    "(coder_client.ParameterField) and whether it is the template chosen last",
                    "parameters": [{"name": "name", "in": "path", "required": True, "schema": OBJECT_ID}],
                    "responses": {"200": _json("The form", FORM), **common},
                },
                # dynamic parameters
                "post": {
                    "operationId": "evaluateTemplateForm",
                    "summary": "The form for the answers so far: Coder evaluates a template with dynamic "
                    "parameters (fields appear, disappear, carry diagnostics); classic ones are checked",
                    "parameters": [{"name": "name", "in": "path", "required": True, "schema": OBJECT_ID}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": FORM_INPUTS}},
                    },
                    "responses": {"200": _json("The form", FORM), **common},
                },
            },
            "/preferences": {
                "get": {
                    "operationId": "getPreferences",
                    "summary": "Your choices shared by the sidebar's form and the notebook launcher",
                    "responses": {"200": _json("The preferences", _ref("Preferences")), **_errors(403)},
                },
                "put": {
                    "operationId": "putPreferences",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": preferences_body.model_json_schema()}},
                    },
                    "responses": {"200": _json("Saved", _ref("Preferences")), **_errors(400, 403)},
                },
            },
            "/templates/{name}/parameters": {
                "get": {
                    "operationId": "templateParameters",
                    "parameters": [{"name": "name", "in": "path", "required": True, "schema": OBJECT_ID}],
                    "responses": {
                        "200": _json(
                            "The template's rich parameters",
                            {"type": "array", "items": _ref("TemplateVersionParameter")},
                        ),
                        **common,
                    },
                }
            },
        },
    }
    add_updates_and_sharing(document["paths"], workspace_id, common)
    return document


def _verb_paths(workspace_id: dict[str, Any], rename_body: type[BaseModel]) -> dict[str, Any]:
    """verbs (issue 13): rename and cancel."""
    errors = _errors(400, 403, 404, 405, 409, 410, 429, 502)
    return {
        "/workspaces/{workspace_id}/rename": {
            "post": {
                "operationId": "renameWorkspace",
                "summary": "Rename a workspace (where the Coder deployment allows renames; refusals in plain "
                "words)",
                "parameters": [workspace_id],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": rename_body.model_json_schema()}},
                },
                "responses": {"200": _json("Renamed; the workspace's Row now", WITH_ROW), **errors},
            }
        },
        "/workspaces/{workspace_id}/cancel": {
            "post": {
                "operationId": "cancelWorkspaceBuild",
                "summary": "Cancel the workspace's build in progress (400 saying so when none is)",
                "parameters": [workspace_id],
                "responses": {"202": _json("Canceling; the workspace's Row now", WITH_ROW), **errors},
            }
        },
    }


# -- template updates and workspace sharing (issue 13) --------------------------------------------------

POLICY = {"type": "string", "enum": ["always", "never"]}
SHARED = {
    "name": "shared",
    "in": "query",
    "required": False,
    "description": "true: the workspaces other people shared with you (instead of `q`); 404 where this Coder "
    "has no workspace sharing",
    "schema": {"type": "string", "enum": ["true", "false"]},
}


def add_updates_and_sharing(
    paths: dict[str, Any], workspace_id: dict[str, Any], common: dict[str, Any]
) -> None:
    """The Update action, the auto-update policy and the shared-with-me filter of the list routes."""
    for path in ("/workspaces", "/workspaces/rows", "/workspaces/stream"):
        paths[path]["get"]["parameters"] = [*paths[path]["get"].get("parameters", []), SHARED]
    paths["/workspaces/{workspace_id}/update"] = {
        "post": {
            "operationId": "updateWorkspace",
            "summary": "Update to the template's active version, as `coder update`: a running workspace is "
            "stopped first; 400 naming the parameters the new version requires; 404 where this Coder has "
            "no template updates",
            "parameters": [workspace_id],
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "parameters": {"type": "object", "additionalProperties": {"type": "string"}}
                            },
                        }
                    }
                },
            },
            "responses": {
                "201": _json(
                    "The start build on the new version, and the workspace's Row now",
                    {"allOf": [_ref("WorkspaceBuild"), WITH_ROW]},
                ),
                **common,
            },
        }
    }
    paths["/workspaces/{workspace_id}/autoupdates"] = {
        "put": {
            "operationId": "setWorkspaceAutoUpdates",
            "summary": "The auto-update policy: always (autostart moves to the newest template version) "
            "or never",
            "parameters": [workspace_id],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["automatic_updates"],
                            "additionalProperties": False,
                            "properties": {"automatic_updates": POLICY},
                        }
                    }
                },
            },
            "responses": {
                "200": _json(
                    "The policy now, and the workspace's Row",
                    {
                        "type": "object",
                        "required": ["automatic_updates", "row"],
                        "properties": {
                            "automatic_updates": POLICY,
                            "row": _ref("Row"),
                        },
                    },
                ),
                **common,
            },
        }
    }
