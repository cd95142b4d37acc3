"""JSON shapes the server routes send: Coder's own objects, lifecycle events, and errors."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from coder_client import CoderAPIError, CoderConnectionError, ConfigurationError, FeatureUnavailable


def to_json(value: Any) -> Any:
    """pydantic models, dataclasses, datetimes and durations as plain JSON values (durations in seconds)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def lifecycle_event_json(event: Any) -> dict[str, Any]:
    """A coder_client LifecycleEvent, flattened for a browser: ids and names, times, duration in seconds."""
    workspace = getattr(event, "workspace", None)
    agent = getattr(event, "agent", None)
    duration = getattr(event, "startup_duration", None)
    return {
        "kind": to_json(getattr(event, "kind", None)),
        "workspace_id": str(getattr(workspace, "id", "") or getattr(event, "workspace_id", "") or ""),
        "workspace_name": str(getattr(workspace, "name", "") or ""),
        "owner_name": str(getattr(workspace, "owner_name", "") or ""),
        "agent_name": str(getattr(agent, "name", "") or "") if agent is not None else "",
        "build_id": str(getattr(event, "build_id", "") or ""),
        "started_at": to_json(getattr(event, "started_at", None)),
        "ready_at": to_json(getattr(event, "ready_at", None)),
        "startup_duration_seconds": to_json(duration),
        "troubleshooting_url": getattr(event, "troubleshooting_url", None) or None,
    }


def error_status_and_body(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """Map what coder_client raised to the status and JSON body the routes answer with."""
    if isinstance(exc, CoderAPIError):
        status = exc.status_code
        if status == 401:
            message = (
                "Coder rejected the token this Jupyter server uses "
                f"({exc.message}). Update CoderConfig.token / token_file or CODER_SESSION_TOKEN."
            )
            return 502, {"message": message, "detail": exc.detail, "validations": [], "coder_status": status}
        mapped = 502 if status >= 500 else status
        return mapped, {
            "message": exc.message,
            "detail": exc.detail,
            "validations": [{"field": v.field, "detail": v.detail} for v in exc.validations],
            "coder_status": status,
        }
    if isinstance(exc, FeatureUnavailable):  # this Coder lacks an optional feature (e.g. v0.25)
        return 404, {"message": str(exc), "detail": None, "validations": [], "coder_status": None}
    if isinstance(exc, ConfigurationError):
        message = f"Coder is not configured for this Jupyter server: {exc}"
        return 503, {"message": message, "detail": None, "validations": [], "coder_status": None}
    if isinstance(exc, CoderConnectionError):
        return 502, {"message": str(exc), "detail": None, "validations": [], "coder_status": None}
    errors = getattr(exc, "errors", None)
    if isinstance(exc, ValueError):
        validations = [{"field": e.field, "detail": e.detail} for e in errors] if errors else []
        return 400, {"message": str(exc), "detail": None, "validations": validations, "coder_status": None}
    raise exc
