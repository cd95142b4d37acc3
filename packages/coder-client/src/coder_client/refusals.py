"""What Coder's refusals of rename, cancel and delete mean, in words a person can act on; one text for every
front end (Slack answers it, the Jupyter routes put it in their error body's ``message``).

Coder's own messages (docs/reference/coder-api-notes.md §2, §5, §7; ``coderd/workspaces.go``
``patchWorkspace``, ``coderd/workspacebuilds.go`` ``patchCancelWorkspaceBuild``) say what happened, not
what to do.
"""

from __future__ import annotations

from typing import Literal

from .errors import CoderAPIError

__all__ = ["Verb", "cancel_forbidden", "plain_refusal", "refusal_text"]

Verb = Literal["rename", "cancel", "delete"]


def cancel_forbidden(workspace: str) -> str:
    """Coder lets only owners cancel builds unless the template allows users to
    (``template_allow_user_cancel_workspace_jobs``); a front end acting for someone with a shared token
    applies the same rule itself."""
    return (
        f"The template of `{workspace}` does not let workspace owners cancel builds; a Coder owner can (or "
        "a template admin can allow it in the template's settings)."
    )


def refusal_text(verb: Verb, exc: BaseException, workspace: str, new_name: str | None = None) -> str | None:
    """A clear sentence for a known refusal of ``verb`` on ``workspace`` (``owner/name``); None: not one we
    know (show Coder's own message)."""
    if not isinstance(exc, CoderAPIError):
        return None
    said = exc.message.lower()
    status = exc.status_code
    if verb == "rename":
        if status == 400 and "renames are not allowed" in said:
            return (
                f"This Coder deployment does not allow renaming workspaces, so `{workspace}` keeps its "
                "name. A Coder admin can allow it (`coder server --allow-workspace-renames`, or "
                "`CODER_ALLOW_WORKSPACE_RENAMES=true`); otherwise create a new workspace with the name "
                "you want."
            )
        if status == 409 or "already exists" in said:
            return (
                f"`{new_name}` is already the name of another of the owner's workspaces; pick a "
                f"different name for `{workspace}`."
            )
        if status == 405 or "is deleted" in said:
            return f"`{workspace}` is deleted, so it cannot be renamed."
    if verb == "cancel":
        if status == 403:
            return cancel_forbidden(workspace)
        if status == 400 and ("already" in said or "completed" in said or "canceled" in said):
            return (
                f"There is nothing left to cancel: the build of `{workspace}` already finished or was "
                "canceled."
            )
    if verb == "delete":
        if status == 409:
            return (
                f"`{workspace}` has a build in progress; wait for it to finish (or cancel it with "
                "`cancel`), then delete again."
            )
        if status == 403:
            return f"Coder does not let you delete `{workspace}`: {exc.message}"
    return None


def plain_refusal(
    verb: Verb, exc: BaseException, workspace: str, new_name: str | None = None
) -> BaseException:
    """``exc`` with :func:`refusal_text` as its message (Coder's own words move to ``detail``), same class and
    status; ``exc`` itself when the refusal is not one we know. Raise it in place of ``exc``."""
    text = refusal_text(verb, exc, workspace, new_name)
    if text is None or not isinstance(exc, CoderAPIError):
        return exc
    try:
        return type(exc)(
            status_code=exc.status_code,
            message=text,
            detail=exc.message,
            validations=exc.validations,
            method=exc.method,
            path=exc.path,
        )
    except TypeError:  # a subclass with its own constructor: keep it, with the plain words
        exc.message = text
        return exc
