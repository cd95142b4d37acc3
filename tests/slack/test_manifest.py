"""deploy/slack manifests validate against Slack's manifest JSON Schema ($refs resolved to local copies)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from coder_slack.commands.registry import COMMANDS
from coder_slack.server import EVENTS_PATH
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "specs" / "slack"
REMOTE = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/"


def validator() -> jsonschema.protocols.Validator:
    top = json.loads((SCHEMAS / "manifest.schema.json").read_text())
    resources = [(top["$id"], Resource.from_contents(top))]
    for version in ("1.0.0", "2.0.0"):
        contents = json.loads((SCHEMAS / f"manifest.schema.{version}.json").read_text())
        resource = Resource.from_contents(contents, default_specification=DRAFT7)
        resources.append((f"{REMOTE}manifest.schema.{version}.json", resource))
    registry: Registry[Any] = Registry().with_resources(resources)
    cls = jsonschema.validators.validator_for(top)
    return cls(top, registry=registry)


def load(name: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "slack" / name).read_text())
    return manifest


@pytest.mark.parametrize("name", ["manifest.yaml", "manifest.socket-mode.yaml"])
def test_manifest_is_valid(name: str) -> None:
    errors = sorted(validator().iter_errors(load(name)), key=lambda e: list(e.path))
    assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors]


def test_schema_catches_a_broken_manifest() -> None:
    broken = load("manifest.yaml")
    broken["features"]["slash_commands"][0]["command"] = "workspace"  # must start with "/"
    assert list(validator().iter_errors(broken))


def test_http_manifest_points_at_the_bot() -> None:
    manifest = load("manifest.yaml")
    command = manifest["features"]["slash_commands"][0]
    assert command["command"] == "/workspace"
    assert command["url"].endswith(EVENTS_PATH)
    assert manifest["settings"]["interactivity"]["request_url"].endswith(EVENTS_PATH)
    for subcommand in ("create", "list", "extend", "watch", "login"):
        assert subcommand in command["usage_hint"] and subcommand in COMMANDS
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "commands",
        "chat:write",
        "im:write",
        "users:read",
        "users:read.email",
        "files:write",
        "channels:history",
        "groups:history",
        "im:history",
        "mpim:history",
    }


def test_socket_mode_manifest_needs_no_urls() -> None:
    manifest = load("manifest.socket-mode.yaml")
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "url" not in manifest["features"]["slash_commands"][0]
    assert "request_url" not in manifest["settings"]["interactivity"]
