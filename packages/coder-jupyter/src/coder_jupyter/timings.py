"""Where a workspace's start spent its time (Coder v2.17+ build timings), as the sidebar and the monitor
show it: plain JSON for the REST route and the lab's row details, and the monitor's HTML. The reading of
the timings (steps, slowest, the one-line summary) is ``coder_client.timings``'."""

from __future__ import annotations

import html
from typing import Any

from coder_client import WorkspaceBuildTimings, breakdown

# The JSON schema of ``timings_json`` (the route's answer), for the routes' OpenAPI document.
TIMINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["available", "summary", "total_seconds", "steps"],
    "properties": {
        "available": {"type": "boolean", "description": "False: this Coder has no build timings (< v2.17)"},
        "summary": {"type": "string", "description": 'e.g. "Install Python packages 1m34s of 2m41s"'},
        "total_seconds": {"type": "number"},
        "steps": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "kind", "stage", "seconds", "share", "failed", "text"],
                "properties": {
                    "name": {"type": "string"},
                    "kind": {"type": "string", "enum": ["provisioner", "connection", "script"]},
                    "stage": {"type": "string"},
                    "seconds": {"type": "number"},
                    "share": {"type": "number", "description": "Of the whole start, 0 to 1"},
                    "exit_code": {"type": ["integer", "null"]},
                    "status": {"type": "string"},
                    "failed": {"type": "boolean"},
                    "text": {"type": "string", "description": 'e.g. "Install requirements 1.2s (exit 1)"'},
                },
            },
        },
    },
}


def timings_json(timings: WorkspaceBuildTimings | None) -> dict[str, Any]:
    """The route's answer: the summary and every step; ``available`` False when Coder has no timings."""
    if timings is None:
        return {"available": False, "summary": "", "total_seconds": 0.0, "steps": []}
    result = breakdown(timings)
    total = result.total_seconds
    return {
        "available": True,
        "summary": result.summary(),
        "total_seconds": round(total, 3),
        "steps": [
            {
                "name": step.name,
                "kind": step.kind,
                "stage": step.stage,
                "seconds": round(step.seconds, 3),
                "share": round(step.seconds / total, 4) if total > 0 else 0.0,
                "exit_code": step.exit_code,
                "status": step.status,
                "failed": step.failed,
                "text": step.text(),
            }
            for step in result.steps
        ],
    }


def timings_html(data: dict[str, Any]) -> str:
    """The monitor's "where the time went": the summary, and every step in a collapsed list."""
    if not data.get("summary"):
        return ""
    steps = "".join(
        f'<li class="{"coder-step-failed" if step["failed"] else ""}">{html.escape(step["text"])}</li>'
        for step in data["steps"]
    )
    return (
        f"Where the time went: <b>{html.escape(data['summary'])}</b>"
        f"<details><summary>Every step</summary><ol>{steps}</ol></details>"
    )
