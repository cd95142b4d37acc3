"""presets for the New workspace forms (sidebar and notebook launcher): what a template offers, as JSON."""

from __future__ import annotations

from typing import Any

from coder_client import AsyncCoderClient, Preset, Template


def preset_json(preset: Preset) -> dict[str, Any]:
    return {
        "id": preset.id,
        "name": preset.name,
        "description": preset.description,
        "default": preset.default,
        "prebuilt": (preset.desired_prebuild_instances or 0) > 0,
        "parameters": preset.values,
    }


async def form_presets(client: AsyncCoderClient, template: Template) -> list[dict[str, Any]]:
    """The template's presets; [] when this Coder has none (v0.25, or older than v2.20)."""
    if not (await client.capabilities()).presets:
        return []
    return [preset_json(preset) for preset in await client.templates.presets(template)]


def preset_label(preset: Preset) -> str:
    ready = " (prebuilt: ready in seconds)" if (preset.desired_prebuild_instances or 0) > 0 else ""
    return preset.name + ready
