"""Template updates (v2): which version a build uses, and publishing a new active version.

Coder builds the previous build's template version unless the request names one
(``template_version_id``, what ``coder update`` sends: the active version). A template with
``require_active_version`` starts on the active version whatever was asked, and refuses a start on an
older one that was named explicitly (403), except for a template admin. A workspace whose latest build
is not on the active version renders ``outdated: true``.
"""

from __future__ import annotations

from typing import Any

from .context import SimContext, parse_uuid
from .errors import ApiError, validation
from .ids import IdSource
from .model import Parameter, Template, TemplateVersion, User, Workspace

NON_ACTIVE_REFUSED = "cannot use non-active version: template requires active version"


def build_version(
    ctx: SimContext, workspace: Workspace, template: Template, body: dict[str, Any], transition: str, me: User
) -> str:
    """The template version a new build of ``workspace`` uses (400/403 as Coder answers)."""
    asked = body.get("template_version_id")
    previous = workspace.latest_build.template_version_id
    if not asked:
        if transition == "start" and template.require_active_version and ctx.era.name == "v2":
            return template.active_version_id
        return previous
    version_id = parse_uuid(str(asked))
    if version_id != template.active_version_id and version_id not in template.versions:
        raise ApiError(
            400,
            "Template version not found.",
            validations=[validation("template_version_id", "template version not found")],
        )
    if (
        transition == "start"
        and template.require_active_version
        and version_id != template.active_version_id
        and not me.is_owner
    ):
        raise ApiError(403, NON_ACTIVE_REFUSED)
    return version_id


def publish(
    ids: IdSource, template: Template, name: str, new_required_parameter: str | None = None
) -> TemplateVersion:
    """Make a new version of ``template`` active (the old one stays buildable); ``new_required_parameter``
    adds a required string parameter without a default, one an update has to be given a value for."""
    old = TemplateVersion(template.active_version_id, template.active_version_name, list(template.parameters))
    template.versions[old.id] = old
    parameters = list(template.parameters)
    if new_required_parameter:
        parameters.append(
            Parameter(
                name=new_required_parameter,
                type="string",
                display_name=new_required_parameter.replace("_", " ").capitalize(),
                required=True,
            )
        )
    template.parameters = parameters
    template.active_version_id = ids.uuid()
    template.active_version_name = name
    return TemplateVersion(template.active_version_id, name, parameters)
