"""Instances generated from both Coder OpenAPI documents parse into our models.

The documents mark almost nothing as required, but Coder's Go structs always emit ids and names, so the
few fields our models require are marked required here (and only those).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from coder_client import (
    AgentLog,
    Organization,
    ProvisionerJobLog,
    Template,
    TemplateVersionParameter,
    User,
    Workspace,
    WorkspaceAgent,
    WorkspaceBuild,
)
from coder_client.models import UsersPage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from pydantic import BaseModel

SPECS = Path(__file__).resolve().parents[2] / "specs" / "coder-api"

ALWAYS_SENT = {
    "codersdk.Workspace": ["id", "name", "latest_build"],
    "codersdk.WorkspaceBuild": ["id"],
    "codersdk.WorkspaceAgent": ["id"],
    "codersdk.Template": ["id", "name"],
    "codersdk.TemplateVersionParameter": ["name"],
    "codersdk.Organization": ["id"],
    "codersdk.WorkspaceAgentLog": ["id"],
    "codersdk.WorkspaceAgentStartupLog": ["id"],
    "codersdk.ProvisionerJobLog": ["id"],
}


def _schema(document: str, definition: str) -> dict[str, Any]:
    spec = json.loads((SPECS / document).read_text())
    definitions = copy.deepcopy(spec["definitions"])
    for name, required in ALWAYS_SENT.items():
        if name in definitions:
            definitions[name]["required"] = sorted({*definitions[name].get("required", []), *required})
    return {"$ref": f"#/definitions/{definition}", "definitions": definitions}


CASES = [
    (document, definition, model)
    for document in ("swagger-v0.25.0.json", "swagger-main-c9a1e2b.json")
    for definition, model in (
        ("codersdk.Workspace", Workspace),
        ("codersdk.WorkspaceBuild", WorkspaceBuild),
        ("codersdk.WorkspaceAgent", WorkspaceAgent),
        ("codersdk.Template", Template),
        ("codersdk.TemplateVersionParameter", TemplateVersionParameter),
        ("codersdk.User", User),
        ("codersdk.Organization", Organization),
        ("codersdk.GetUsersResponse", UsersPage),
        ("codersdk.ProvisionerJobLog", ProvisionerJobLog),
        (
            "codersdk.WorkspaceAgentStartupLog"
            if document.startswith("swagger-v0")
            else "codersdk.WorkspaceAgentLog",
            AgentLog,
        ),
    )
]


@pytest.mark.parametrize(("document", "definition", "model"), CASES, ids=lambda v: getattr(v, "__name__", v))
def test_generated_instances_parse(document: str, definition: str, model: type[BaseModel]) -> None:
    strategy = from_schema(_schema(document, definition))

    @settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def parses(data: st.DataObject) -> None:
        instance = data.draw(strategy)
        parsed = model.model_validate_json(json.dumps(instance))
        if isinstance(parsed, UsersPage):
            assert [user.id for user in parsed.users] == [user["id"] for user in instance.get("users") or []]
            return
        key = "name" if model is TemplateVersionParameter else "id"
        assert getattr(parsed, key) == instance[key]

    parses()
