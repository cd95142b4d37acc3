"""presets in create: which presets a template offers (when this Coder has them), a ``--preset`` resolved
with a clear message, and the form refilled when someone picks a preset in it."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from coder_client import ParameterField, ParameterForm, Preset
from slack_sdk.errors import SlackApiError

from coder_slack.commands.context import Bot, Invocation
from coder_slack.identity import Actor
from coder_slack.views.dynamic_form import DYNAMIC_ACTION, dynamic_inputs, dynamic_modal
from coder_slack.views.modals import (
    NAME_BLOCK,
    VALUE_ACTION,
    create_modal,
    form_fields,
    form_value,
    parameter_block_id,
    submitted_values,
)
from coder_slack.views.presets import PRESET_BLOCK, chosen_preset, with_preset_block

log = logging.getLogger(__name__)

PRESET_CACHE_SECONDS = 600.0
_preset_cache: dict[tuple[str, str], tuple[float, list[Preset]]] = {}
# the template's create form for some answers (``create.template_form``: dynamic or classic)
FormOf = Callable[[Actor, str, Mapping[str, Any] | None], Awaitable[ParameterForm]]


async def template_presets(actor: Actor, template: str) -> list[Preset]:
    """The presets of ``template``'s active version; [] when this Coder has no presets (v0.25, or older
    than v2.20): the form then shows no preset select, and nothing else changes."""
    if not (await actor.client.capabilities()).presets:
        return []
    key = (actor.client.url, template)
    cached = _preset_cache.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    presets = await actor.client.templates.presets(template)
    _preset_cache[key] = (time.monotonic() + PRESET_CACHE_SECONDS, presets)
    return presets


def _current_prefill(fields: Sequence[ParameterField], values: Mapping[str, str | None]) -> dict[str, str]:
    """What the form holds now, in Coder's string form (what ``create_modal`` prefills from)."""
    prefill: dict[str, str] = {}
    for field in form_fields(fields):
        text = values.get(parameter_block_id(field.name))
        if not text:
            continue
        try:
            prefill[field.name] = field.to_coder(form_value(field, text))
        except ValueError:
            prefill[field.name] = text
    return prefill


async def on_preset_chosen(
    bot: Bot,
    body: Mapping[str, Any],
    make_invocation: Callable[[str], Invocation],
    form_of: FormOf,
) -> None:
    """Someone picked a preset in the create form: show the form again with the preset's values filled in
    (what was typed elsewhere stays). A dynamic form is evaluated again with the preset's values as inputs."""
    view: Mapping[str, Any] = body.get("view") or {}
    try:
        metadata: dict[str, Any] = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return
    template = str(metadata.get("template") or "")
    values = submitted_values(view)
    inv = make_invocation(str(metadata.get("channel") or ""))
    actor = await inv.actor()
    presets = await template_presets(actor, template)
    selected = values.get(PRESET_BLOCK)
    preset = chosen_preset(presets, selected)
    action = VALUE_ACTION
    if metadata.get("dynamic"):  # dynamic parameters: Coder evaluates the form with the preset's values
        inputs = dynamic_inputs(values, metadata)
        if preset is not None:
            inputs.update(preset.values)
        form = await form_of(actor, template, inputs)
        base = {k: v for k, v in metadata.items() if k not in ("dynamic", "lists")}
        modal = dynamic_modal(template, form, base, values.get(NAME_BLOCK))
        action = DYNAMIC_ACTION
    else:
        form = await form_of(actor, template, None)
        prefill = _current_prefill(form.fields, values)
        if preset is not None:
            prefill.update(preset.values)
        modal = create_modal(template, list(form.fields), metadata, prefill, values.get(NAME_BLOCK))
    modal = with_preset_block(modal, presets, selected)
    # Slack keeps what a person typed into an input whose block and action ids stay the same; a new
    # action id per choice makes each field show the preset's value.
    suffix = (preset.id[:8] if preset else "none") + str(int(time.time() * 1000) % 100000)
    for block in modal.blocks or []:
        block_id = str(getattr(block, "block_id", "") or "")
        element = getattr(block, "element", None)
        if block_id.startswith(parameter_block_id("")) and element is not None:
            element.action_id = f"{action}~{suffix}"
    try:
        await bot.slack.views_update(view_id=str(view.get("id")), hash=view.get("hash"), view=modal)
    except SlackApiError as exc:  # the form changed meanwhile (hash_conflict) or was closed
        log.info("could not refill the create form with a preset: %s", exc.response.get("error"))
