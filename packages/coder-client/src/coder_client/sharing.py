"""Workspace sharing (Coder's workspace ACL, v2.27+): who a workspace is shared with, and as what.

``GET/PATCH /workspaces/{id}/acl``: a user gets ``use`` (open, start, stop, connect) or ``admin`` (also
share it and change its settings); the role ``""`` removes them. Coder answers 403 "Workspace sharing is
disabled for this organization." to every change when an admin turned sharing off (reading still works):
that is :class:`~coder_client.SharingDisabled`. Workspaces shared with a user are listed by the search
filter ``shared_with_user:<user id>``. On an older Coder the routes answer 404 and the feature is turned
off for the client (``capabilities().workspace_sharing``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import endpoints as api
from .endpoints import Op
from .errors import (
    CoderError,
    FeatureUnavailable,
    Forbidden,
    InvalidArgument,
    NotFound,
    SharingDisabled,
    ValidationFailed,
)
from .models import User, Workspace, WorkspaceACL, WorkspaceRole
from .updates import route_missing

if TYPE_CHECKING:
    from .operations import Operations, WorkspaceRef

__all__ = ["SHARE_ROLES", "share", "shared_with_me", "unshare", "workspace_acl"]

SHARE_ROLES = (WorkspaceRole.USE.value, WorkspaceRole.ADMIN.value)
FEATURE = "workspace_sharing"
DISABLED_MESSAGE = "workspace sharing is disabled"

UserRef = User | str


def _unavailable(ops: Operations, exc: CoderError) -> CoderError:
    """The error to raise for ``exc``: the feature is missing, sharing is off, or ``exc`` itself."""
    if route_missing(exc):
        ops.state.feature_missing(FEATURE)
        return FeatureUnavailable(
            FEATURE, "This Coder server cannot share workspaces (workspace sharing came with Coder v2.27)."
        )
    if isinstance(exc, Forbidden) and DISABLED_MESSAGE in exc.message.lower():
        return SharingDisabled(
            status_code=exc.status_code, message=exc.message, method=exc.method, path=exc.path
        )
    return exc


def workspace_acl(ops: Operations, workspace: WorkspaceRef) -> Op[WorkspaceACL]:
    workspace_id = yield from ops.workspace_id(workspace)
    try:
        return (yield from api.GET_WORKSPACE_ACL(workspace=workspace_id))
    except CoderError as exc:
        raise _unavailable(ops, exc) from None


def _user(ops: Operations, user: UserRef) -> Op[User]:
    if isinstance(user, User):
        return user
    name = str(user).strip().lstrip("@")
    if not name:
        raise InvalidArgument("Name the Coder user to share with (a username or user id).")
    try:
        return (yield from ops.get_user(name))
    except NotFound:
        raise InvalidArgument(f"There is no Coder user {name!r}; check the username.") from None


def _role(role: WorkspaceRole | str) -> str:
    value = str(role.value if isinstance(role, WorkspaceRole) else role).strip().lower()
    if value not in SHARE_ROLES:
        raise InvalidArgument(
            f"{role!r} is not a sharing role: use 'use' (open, start and stop it) or 'admin' (also share it "
            "and change its settings)."
        )
    return value


def _patch(ops: Operations, workspace: Workspace, roles: dict[str, str]) -> Op[WorkspaceACL]:
    try:
        yield from api.UPDATE_WORKSPACE_ACL(workspace=workspace.id, json={"user_roles": roles})
    except CoderError as exc:
        raise _unavailable(ops, exc) from None
    return (yield from workspace_acl(ops, workspace))


def share(
    ops: Operations, workspace: WorkspaceRef, user: UserRef, role: WorkspaceRole | str
) -> Op[WorkspaceACL]:
    """Share ``workspace`` with ``user`` (a ``User``, username or id) as ``role``; returns the new ACL."""
    value = _role(role)
    current = yield from ops.workspace(workspace)
    person = yield from _user(ops, user)
    if person.id == current.owner_id:
        raise InvalidArgument(f"{person.username} owns workspace {current.full_name}; no need to share it.")
    return (yield from _patch(ops, current, {person.id: value}))


def unshare(ops: Operations, workspace: WorkspaceRef, user: UserRef) -> Op[WorkspaceACL]:
    """Stop sharing ``workspace`` with ``user``; returns the new ACL."""
    current = yield from ops.workspace(workspace)
    person = yield from _user(ops, user)
    acl = yield from workspace_acl(ops, current)
    if all(entry.id != person.id for entry in acl.users):
        raise InvalidArgument(f"Workspace {current.full_name} is not shared with {person.username}.")
    return (yield from _patch(ops, current, {person.id: WorkspaceRole.DELETED.value}))


def shared_with_me(ops: Operations, limit: int | None) -> Op[list[Workspace]]:
    """The workspaces other people shared with the signed-in user (``shared_with_user:<my id>``)."""
    me = yield from ops.me()
    try:
        return (yield from ops.list_workspaces(f"shared_with_user:{me.id}", limit))
    except ValidationFailed as exc:
        # Coder before sharing answers 400 "Invalid workspace search query." for the unknown key.
        ops.state.feature_missing(FEATURE)
        raise FeatureUnavailable(
            FEATURE, "This Coder server cannot share workspaces (workspace sharing came with Coder v2.27)."
        ) from exc
