"""The OpenAPI 3.1 document for the extension's routes, served at `{base_url}coder/api/openapi.json`."""

from __future__ import annotations

from typing import Any

from coder_client import LifecycleKind
from pydantic import BaseModel

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
    base_path: str, create_body: type[BaseModel], extend_body: type[BaseModel]
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
    return {
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
                }
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
                        "200": _json("The workspace with its new deadline", _ref("Workspace")),
                        **common,
                    },
                }
            },
            "/workspaces/{workspace_id}/start": {
                "post": {
                    "operationId": "startWorkspace",
                    "parameters": [workspace_id],
                    "responses": {"201": _json("The start build", _ref("WorkspaceBuild")), **common},
                }
            },
            "/workspaces/{workspace_id}/stop": {
                "post": {
                    "operationId": "stopWorkspace",
                    "parameters": [workspace_id],
                    "responses": {"201": _json("The stop build", _ref("WorkspaceBuild")), **common},
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
