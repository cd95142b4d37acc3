"""Template updates: move a workspace to its template's active version, as ``coder update`` does.

``coder update <ws>`` (coder/coder ``cli/update.go``): nothing to do unless the workspace is
``outdated``; a running workspace is stopped first; then a ``start`` build names the template's active
version (``template_version_id``) and carries the previous build's parameter values (Coder fills in
every value not sent). A parameter the new version added that is required and has no default needs a
value, so it is asked for before anything is stopped. The auto-update policy (``always``/``never``,
``PUT /workspaces/{id}/autoupdates``) makes Coder's autostart build the active version.

Written as I/O-free generators over :class:`~coder_client.operations.Operations` (see ``endpoints.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import endpoints as api
from .endpoints import Op
from .errors import (
    CoderError,
    FeatureUnavailable,
    InvalidArgument,
    InvalidParameters,
    NotFound,
    UpdateNeedsParameters,
    UpToDate,
)
from .models import AutomaticUpdates, WorkspaceBuild, WorkspaceStatus, WorkspaceTransition
from .parameters import validate_parameters

if TYPE_CHECKING:
    from .operations import Operations, WorkspaceRef

__all__ = ["set_automatic_updates", "update_workspace"]

POLICIES = (AutomaticUpdates.ALWAYS.value, AutomaticUpdates.NEVER.value)


def route_missing(error: CoderError) -> bool:
    """The server has no such route at all (an older Coder), as opposed to "no such workspace"."""
    return (isinstance(error, NotFound) and error.route_missing) or getattr(error, "status_code", 0) == 405


def update_workspace(
    ops: Operations, workspace: WorkspaceRef, parameters: Mapping[str, Any] | None, stop_timeout: float
) -> Op[WorkspaceBuild]:
    """Stop it if it runs, then start it on the template's active version; returns the start build."""
    current = yield from ops.workspace(workspace)
    if not current.outdated:
        raise UpToDate(
            f"Workspace {current.full_name} already uses the active version of template "
            f"{current.template_name}; there is nothing to update."
        )
    build = current.latest_build
    if build.job.status.active:
        raise InvalidArgument(
            f"Workspace {current.full_name} has a build in progress ({build.status.value}); wait for it "
            "to finish, then update it."
        )
    template = yield from ops.template(current.template_id)
    new_parameters = yield from api.GET_RICH_PARAMETERS(version=template.active_version_id)
    old_parameters = (
        (yield from api.GET_RICH_PARAMETERS(version=build.template_version_id))
        if build.template_version_id
        else []
    )
    # Values of parameters the old version had carry over (Coder reuses them); only new ones are asked.
    carried = {parameter.name for parameter in old_parameters}
    checked = [
        parameter.model_copy(update={"required": False}) if parameter.name in carried else parameter
        for parameter in new_parameters
    ]
    try:
        values = validate_parameters(current.template_name, checked, parameters or {})
    except InvalidParameters as exc:
        raise UpdateNeedsParameters(current.full_name, current.template_name, exc.errors) from None
    if build.transition == WorkspaceTransition.START and build.status == WorkspaceStatus.RUNNING:
        yield from ops.stop_and_wait(
            current.id, current.full_name, stop_timeout, "updated", "update it again"
        )
    body: dict[str, Any] = {"template_version_id": template.active_version_id}
    if values:
        body["rich_parameter_values"] = values
    return (yield from ops._start_build(current, body))


def set_automatic_updates(ops: Operations, workspace: WorkspaceRef, policy: str) -> Op[None]:
    """``always``: Coder's autostart builds the active version; ``never``: it keeps the current one."""
    value = str(policy).strip().lower()
    if value not in POLICIES:
        raise InvalidArgument(
            f"{policy!r} is not an auto-update policy: use 'always' (autostart moves to the newest template "
            "version) or 'never'."
        )
    workspace_id = yield from ops.workspace_id(workspace)
    try:
        yield from api.SET_AUTOMATIC_UPDATES(workspace=workspace_id, json={"automatic_updates": value})
    except CoderError as exc:
        if not route_missing(exc):
            raise
        ops.state.feature_missing("template_updates")
        raise FeatureUnavailable(
            "template_updates",
            "This Coder server has no automatic-update setting for workspaces (it came with Coder v2.3).",
        ) from None
