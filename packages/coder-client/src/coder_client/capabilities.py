"""What this Coder offers beyond the 2023 feature set, decided once for every front end.

``client.capabilities()`` reads ``GET /buildinfo`` and ``GET /experiments`` once per client and answers
with a :class:`Capabilities`; each feature is judged by the server's version (or an experiment), and a
route that later answers 404 turns its feature off for that client (``ClientState.route_missing``), so
a differently configured or older Coder simply is not offered the feature. A development build
(``v0.0.0-devel``) is taken to have everything; its 404s tell the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["FEATURE_SINCE", "Capabilities", "Feature", "capabilities_of", "parse_version"]

Version = tuple[int, int, int]

# The first Coder release with each feature (from docs/reference/coder-api-notes.md and Coder's changelog).
FEATURE_SINCE: dict[str, Version] = {
    "build_timings": (2, 17, 0),  # GET /workspacebuilds/{id}/timings
    "presets": (2, 20, 0),  # GET /templateversions/{id}/presets, template_version_preset_id
    "prebuilds": (2, 23, 0),  # prebuilt workspaces claimed on create with a preset
    "dynamic_parameters": (2, 24, 0),  # /templateversions/{id}/dynamic-parameters(/evaluate)
    "template_updates": (2, 3, 0),  # Workspace.outdated + PUT /workspaces/{id}/autoupdates
    "workspace_sharing": (2, 27, 0),  # GET/PATCH /workspaces/{id}/acl
    "dormancy": (2, 0, 0),  # PUT /workspaces/{id}/dormant (v0.25 had /lock)
}
# Features that an experiment switches on (whatever the version).
FEATURE_EXPERIMENT: dict[str, str] = {
    "watch_all_builds": "workspace-build-updates",  # GET /api/experimental/watch-all-workspacebuilds
    "oauth2_provider": "oauth2",
}

Feature = str

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def parse_version(text: str) -> Version | None:
    """``"v2.36.1-devel+c9a1e2b"`` → ``(2, 36, 1)``; None when the text is no version at all."""
    match = _VERSION.match(text.strip())
    if not match:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return (major, minor, patch)


@dataclass(frozen=True)
class Capabilities:
    """One Coder's optional features; every flag False means "do not offer it"."""

    version: str = ""
    experiments: frozenset[str] = frozenset()
    build_timings: bool = False
    presets: bool = False
    prebuilds: bool = False
    dynamic_parameters: bool = False
    template_updates: bool = False
    workspace_sharing: bool = False
    dormancy: bool = False
    watch_all_builds: bool = False
    oauth2_provider: bool = False

    def without(self, *features: Feature) -> Capabilities:
        """The same capabilities with ``features`` turned off (a route answered 404)."""
        off: dict[str, Any] = {feature: False for feature in features}
        return replace(self, **off)

    def offered(self) -> list[Feature]:
        """The names of the features this Coder offers, for logs, ``/health`` and help texts."""
        return [f.name for f in fields(self) if f.type in ("bool", bool) and getattr(self, f.name)]


def _is_development_build(text: str, version: Version | None) -> bool:
    return version is not None and version[0] == 0 and version[1] == 0 and "devel" in text


def capabilities_of(
    version_text: str, experiments: Iterable[str], missing: Iterable[Feature] = ()
) -> Capabilities:
    """Decide each feature from the server's version and experiments; ``missing`` ones stay off."""
    version = parse_version(version_text)
    everything = _is_development_build(version_text, version)
    enabled = frozenset(experiments)
    flags: dict[str, bool] = {
        name: everything or (version is not None and version >= since)
        for name, since in FEATURE_SINCE.items()
    }
    flags.update({name: experiment in enabled for name, experiment in FEATURE_EXPERIMENT.items()})
    for feature in missing:
        flags[feature] = False
    return Capabilities(version=version_text, experiments=enabled, **flags)  # type: ignore[arg-type]
