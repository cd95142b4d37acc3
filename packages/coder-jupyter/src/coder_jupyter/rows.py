"""The sidebar's Row: one workspace as the JupyterLab panel shows it, as plain JSON.

Built from :class:`~coder_jupyter.view.WorkspaceView` (itself a thin view over ``coder_client.progress_of``),
the same view the notebook monitor draws, so both show the same stage, phases and durations.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from coder_client import Workspace

from .view import PhaseTiming, WorkspaceView, dashboard_url

Row = dict[str, Any]

# Fields that say nothing about the workspace itself: a row whose other fields are equal is unchanged.
VOLATILE_FIELDS = frozenset({"updated_at"})


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _phase(phase: PhaseTiming) -> dict[str, Any]:
    return {
        "name": phase.name,
        "state": phase.state,
        "started_at": iso(phase.started_at),
        "ended_at": iso(phase.ended_at),
        "seconds": None if phase.seconds is None else round(phase.seconds, 3),
    }


def row_of(
    workspace: Workspace | WorkspaceView,
    coder_url: str,
    now: datetime | None = None,
    *,
    updates: bool = False,
) -> Row:
    """The panel's Row for one workspace snapshot (``now``: when it was seen; default the current time).
    ``updates``: the Coder server offers template updates (``capabilities().template_updates``), so an
    outdated, settled workspace can be updated (``can_update``).

    Durations of a phase still under way are counted up to ``now``, so rows of a busy workspace differ
    from one moment to the next; :func:`same_row` compares what matters.
    """
    view = workspace if isinstance(workspace, WorkspaceView) else WorkspaceView(workspace)
    moment = now or datetime.now(UTC)
    ws = view.workspace
    build = ws.latest_build
    return {
        "id": ws.id,
        "name": ws.name,
        "owner_name": ws.owner_name,
        "template_name": ws.template_name,
        "template_display_name": ws.template_display_name or ws.template_name,
        "status": view.status,
        "transition": view.transition,
        "stage": view.stage.value,
        "stage_label": view.stage_label,
        "settled": view.is_settled,
        "failed": view.failed,
        "usable": view.stage.usable,
        "deadline": iso(build.deadline),
        "max_deadline": iso(build.max_deadline),
        "dashboard_url": dashboard_url(coder_url, ws.owner_name, ws.name) if coder_url else "",
        "build_number": build.build_number,
        "started_at": iso(view.progress.started_at),
        "ready_at": iso(view.progress.ready_at),
        "startup_seconds": view.startup_duration,
        "build_seconds": view.build_duration,
        "phases": [_phase(phase) for phase in view.timeline(moment)],
        "error": view.progress.error,
        "outdated": ws.outdated,
        "can_update": updates and ws.outdated and view.is_settled and view.status != "deleted",
        "can_extend": view.can_extend(moment),
        "updated_at": iso(moment),
    }


def _stable(row: Row) -> dict[str, Any]:
    phases = [
        {k: v for k, v in phase.items() if not (k == "seconds" and phase["state"] == "active")}
        for phase in row["phases"]
    ]
    return {**{k: v for k, v in row.items() if k not in VOLATILE_FIELDS}, "phases": phases}


def same_row(a: Row, b: Row) -> bool:
    """Whether two rows show the same thing (ignoring when they were seen and a running phase's clock)."""
    return _stable(a) == _stable(b)
