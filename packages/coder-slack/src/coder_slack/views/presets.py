"""presets: the create form's preset select (placed before the parameters) and its inline errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from coder_client import Preset
from slack_sdk.models.blocks import Block, InputBlock, Option, StaticSelectElement
from slack_sdk.models.views import View

from coder_slack.views.common import clip
from coder_slack.views.modals import NAME_BLOCK, parameter_block_id

PRESET_BLOCK = "preset"
PRESET_ACTION = "preset_choice"
NO_PRESET = "-"


def _label(preset: Preset) -> str:
    ready = " (prebuilt: ready in seconds)" if (preset.desired_prebuild_instances or 0) > 0 else ""
    return clip(preset.name + ready, 75)


def preset_block(presets: Sequence[Preset], selected: str | None) -> InputBlock:
    """A select of the template's presets; choosing one refills the form with its values at once
    (``dispatch_action``), and they are fixed: changing one is refused on submit."""
    options = [Option(label="No preset", value=NO_PRESET)] + [
        Option(label=_label(preset), value=clip(preset.id, 150)) for preset in presets[:99]
    ]
    initial = next((o for o in options if o.value == selected), None)
    described = [f"{p.name}: {p.description}" for p in presets if p.description]
    hint = "A preset fills in parameters with fixed values."
    if described:
        hint += " " + " · ".join(described)
    return InputBlock(
        block_id=PRESET_BLOCK,
        label="Preset",
        element=StaticSelectElement(action_id=PRESET_ACTION, options=options, initial_option=initial),
        hint=clip(hint, 2000),
        optional=True,
        dispatch_action=True,
    )


def with_preset_block(view: View, presets: Sequence[Preset], selected: str | None) -> View:
    """``view`` (the create form) with the preset select right after the name, when there are presets."""
    if not presets:
        return view
    blocks: list[Block] = list(view.blocks or [])
    at = next((i + 1 for i, b in enumerate(blocks) if getattr(b, "block_id", None) == NAME_BLOCK), 0)
    blocks.insert(at, preset_block(presets, selected))
    view.blocks = blocks
    return view


def chosen_preset(presets: Sequence[Preset], value: str | None) -> Preset | None:
    if not value or value == NO_PRESET:
        return None
    return next((preset for preset in presets if preset.id == value), None)


def preset_conflicts(preset: Preset, given: Mapping[str, str]) -> dict[str, str]:
    """Form block → why: a field changed away from the value the chosen preset fixes."""
    return {
        parameter_block_id(name): clip(f"The preset {preset.name} fixes this to {value}.", 150)
        for name, value in preset.values.items()
        if name in given and given[name] != value
    }
