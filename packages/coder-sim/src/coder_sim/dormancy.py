"""Dormant workspaces (Coder v2; v0.25's older "locked" workspaces are not simulated).

What real Coder does, as this sim reproduces it:

* ``PUT /workspaces/{id}/dormant`` ``{"dormant": bool}`` (``putWorkspaceDormant``): 200 with the
  workspace; 304 Not Modified (no body) when it already is in the asked state. Making it dormant sets
  ``dormant_at`` (now) and, when the template has ``time_til_dormant_autodelete_ms``, ``deleting_at``
  (``dormant_at`` + that); activating clears both. Someone other than the owner making it dormant
  notifies the owner ("Workspace Marked as Dormant").
* A ``start`` build of a dormant workspace is refused by RBAC (the ``workspace_dormant`` resource allows
  read, update, stop and delete, never start, for any role): 403 "You do not have permission to start
  this workspace." The CLI and the dashboard activate first (``coder start``: "Activating dormant
  workspace...").
* ``q=dormant:true`` lists only dormant workspaces; ``dormant:false`` filters nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .errors import ApiError
from .model import Template, Workspace

START_REFUSED = "You do not have permission to start this workspace."
# httpapi.ResourceForbiddenResponse.Detail, which the build error wraps.
FORBIDDEN_DETAIL = (
    "You don't have permission to view this content. If you believe this is a mistake, please contact "
    "your administrator or try signing in with different credentials."
)


def set_dormant(workspace: Workspace, template: Template, dormant: bool, now: datetime) -> bool:
    """Put ``workspace`` into (or out of) dormancy; False when it already was in that state."""
    if (workspace.dormant_at is not None) == dormant:
        return False
    if dormant:
        workspace.dormant_at = now
        autodelete = template.time_til_dormant_autodelete_ms
        workspace.deleting_at = now + timedelta(milliseconds=autodelete) if autodelete > 0 else None
    else:
        workspace.dormant_at = None
        workspace.deleting_at = None
    workspace.updated_at = now
    return True


def check_start(workspace: Workspace) -> None:
    """A dormant workspace cannot be started (by anyone) until it is activated."""
    if workspace.dormant_at is not None:
        raise ApiError(403, START_REFUSED, detail=FORBIDDEN_DETAIL)
