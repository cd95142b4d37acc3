"""Coder's workspace-name rule (``codersdk.NameValid``): 1–32 letters, digits and single inner hyphens."""

from __future__ import annotations

import re

__all__ = ["MAX_NAME_LENGTH", "workspace_name_error"]

MAX_NAME_LENGTH = 32
_NAME = re.compile(r"^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$")


def workspace_name_error(name: str) -> str | None:
    """None when Coder accepts ``name``; else one sentence saying what is wrong and what to do."""
    if not name:
        return "Give the workspace a name (letters, digits and hyphens, for example ml-box)."
    if len(name) > MAX_NAME_LENGTH:
        return (
            f"Names are at most {MAX_NAME_LENGTH} characters; {name!r} has {len(name)}. Choose a shorter one."
        )
    if not _NAME.match(name):
        return (
            f"{name!r} is not a valid workspace name: use letters, digits and single hyphens between them "
            "(for example ml-box-2)."
        )
    return None
