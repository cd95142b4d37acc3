"""Presets and prebuilt workspaces: the rules both front ends share.

- A *preset* (Coder v2.20+) is a template version's named set of parameter values. Creating a workspace
  with one sends ``template_version_preset_id``; with a prebuild pool (``desiredPrebuildInstances`` > 0,
  Coder v2.23+, Premium) Coder hands over one of its ready *prebuilt* workspaces instead of building.
- Precedence: **the preset's values are fixed**. Coder's CLI applies them over every other source
  ("Preset parameters take precedence from all other parameters", ``cli/parameterresolver.go``) and a
  prebuilt workspace can only be claimed with exactly the preset's values. So explicit parameters fill
  in what the preset leaves open; an explicit value that contradicts the preset is refused with a clear
  message rather than silently overridden (:func:`merge_preset_parameters`).
- Prebuilt workspaces belong to Coder's system user ``prebuilds`` (id ``c42fdf75-…``, created by
  migration ``000290_prebuilds``) until claimed: :func:`is_prebuild` is the one rule that keeps them
  out of every list and alert.
- A claim shows in the created workspace: its first build was the prebuilds user's, and the claim is a
  later build of the new owner, so its latest build number is above 1 (:func:`claimed_prebuild`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from .errors import InvalidArgument
from .models import Preset, TemplateVersionParameter, Workspace
from .parameters import encode_parameter_value

__all__ = [
    "PREBUILDS_USERNAME",
    "PREBUILDS_USER_ID",
    "claimed_prebuild",
    "is_prebuild",
    "merge_preset_parameters",
    "preset_names",
    "resolve_preset",
    "without_prebuilds",
]

# Coder's prebuilds system user (coderd/database/migrations/000290_prebuilds.up.sql).
PREBUILDS_USER_ID = "c42fdf75-3097-471c-8c33-fb52454d81c0"
PREBUILDS_USERNAME = "prebuilds"


class _Owned(Protocol):
    @property
    def owner_id(self) -> str: ...

    @property
    def owner_name(self) -> str: ...


W = TypeVar("W", bound=_Owned)


def is_prebuild(workspace: _Owned) -> bool:
    """True for a prebuilt workspace still owned by Coder's ``prebuilds`` user (not anyone's yet): never
    listed as a person's, never alerted on. Works on ``Workspace`` and ``WorkspaceSummary``."""
    return workspace.owner_id == PREBUILDS_USER_ID or (
        not workspace.owner_id and workspace.owner_name == PREBUILDS_USERNAME
    )


def without_prebuilds(workspaces: Iterable[W]) -> list[W]:
    """``workspaces`` without the prebuilds user's."""
    return [workspace for workspace in workspaces if not is_prebuild(workspace)]


def claimed_prebuild(workspace: Workspace) -> bool:
    """Whether a just-created workspace (the answer to a create) is a claimed prebuilt one: a fresh
    workspace's first build is number 1; a claimed one already had the prebuilds user's build(s)."""
    return not is_prebuild(workspace) and workspace.latest_build.build_number > 1


def preset_names(presets: Sequence[Preset]) -> str:
    return ", ".join(preset.name for preset in presets)


def resolve_preset(presets: Sequence[Preset], preset: str, template: str = "") -> Preset:
    """The preset named ``preset`` (case-insensitive) or with that id; a clear error listing the
    template's presets otherwise."""
    wanted = preset.strip()
    for candidate in presets:
        if candidate.id == wanted:
            return candidate
    matches = [candidate for candidate in presets if candidate.name.casefold() == wanted.casefold()]
    if len(matches) == 1:
        return matches[0]
    exact = [candidate for candidate in matches if candidate.name == wanted]
    if len(exact) == 1:
        return exact[0]
    of = f" of template {template}" if template else ""
    if not presets:
        raise InvalidArgument(
            f"Template{' ' + template if template else ''} has no presets, so there is no preset "
            f"{wanted!r}; create without a preset."
        )
    raise InvalidArgument(f"There is no preset {wanted!r}{of}. Its presets: {preset_names(presets)}.")


def merge_preset_parameters(
    preset: Preset,
    explicit: Mapping[str, Any] | None,
    parameters: Sequence[TemplateVersionParameter] = (),
) -> dict[str, Any]:
    """The parameters to create with: the preset's values, plus explicit values for what it leaves open.
    An explicit value that differs from the preset's (compared in Coder's string form, so ``4`` and
    ``"4"`` agree) is refused: the preset's values are fixed."""
    known = {parameter.name: parameter for parameter in parameters}
    merged: dict[str, Any] = dict(explicit or {})
    for name, value in preset.values.items():
        if name in merged and _as_text(merged[name], known.get(name)) != value:
            raise InvalidArgument(
                f"Preset {preset.name!r} fixes parameter {name!r} to {value!r}, so it cannot be "
                f"{_as_text(merged[name], known.get(name))!r}: leave it out, or create without the preset."
            )
        merged[name] = value
    return merged


def _as_text(value: Any, parameter: TemplateVersionParameter | None) -> str:
    if parameter is not None:
        try:
            return encode_parameter_value(parameter, value)
        except ValueError:
            pass
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return json.dumps(list(value))
    return str(value)
