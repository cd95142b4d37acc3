"""The create modal of a template with dynamic parameters: every answer dispatches an action, so the form
is evaluated again and redrawn (fields appear and disappear; Coder's diagnostics show under their field).

The view carries what a redraw needs in its ``private_metadata``: ``dynamic: true`` and the names of the
list parameters (a list is typed one item per line, and Coder wants it as a JSON array).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from coder_client import ParameterForm
from slack_sdk.models.blocks import Block, ContextBlock, InputBlock, MarkdownTextObject
from slack_sdk.models.views import View

from coder_slack.views.common import clip, escape
from coder_slack.views.modals import (
    CREATE_CALLBACK,
    _parameter_element,
    create_modal,
    form_fields,
    name_block,
    parameter_block_id,
)

DYNAMIC_ACTION = "parameter_changed"
# a refill by a preset gives the inputs new action ids (``parameter_changed~…``) so Slack shows its values
DYNAMIC_ACTIONS = re.compile(r"^parameter_changed(~.*)?$")
PROBLEM_PREFIX = "e:"


def problem_block_id(name: str) -> str:
    return clip(PROBLEM_PREFIX + name, 255)


def form_modal(
    template: str,
    form: ParameterForm,
    metadata: Mapping[str, Any],
    prefill: Mapping[str, str],
    name: str | None,
) -> View:
    """The create modal for ``form``: the classic one for rich parameters, else the dynamic one."""
    if not form.dynamic:
        return create_modal(template, list(form.fields), metadata, prefill, name)
    return dynamic_modal(template, form, metadata, name)


def _warning(text: str, block_id: str | None = None) -> ContextBlock:
    return ContextBlock(
        block_id=block_id, elements=[MarkdownTextObject(text=clip(f":warning: {escape(text)}", 3000))]
    )


def dynamic_modal(template: str, form: ParameterForm, metadata: Mapping[str, Any], name: str | None) -> View:
    """Each input dispatches ``DYNAMIC_ACTION`` on change; its value is the form's current one."""
    fields = form_fields(form.fields)
    blocks: list[Block] = [name_block(name)]
    blocks += [_warning(problem) for problem in form.problems[:3]]
    for field in fields:
        hint = field.description
        if field.form == "tags":
            hint = (hint + " " if hint else "") + "(One item per line; press Enter to apply.)"
        blocks.append(
            InputBlock(
                block_id=parameter_block_id(field.name),
                label=clip(field.label, 2000),
                element=_parameter_element(field, field.current, action_id=DYNAMIC_ACTION),
                hint=clip(hint, 2000) if hint else None,
                optional=not field.required,
                dispatch_action=True,
            )
        )
        if field.diagnostic:
            blocks.append(_warning(field.diagnostic, problem_block_id(field.name)))
    lists = [field.name for field in fields if field.type == "list(string)"]
    return View(
        type="modal",
        callback_id=CREATE_CALLBACK,
        title=clip(f"New {template} workspace", 24),
        submit="Create",
        close="Cancel",
        private_metadata=clip(json.dumps({**metadata, "dynamic": True, "lists": lists}), 3000),
        blocks=blocks,
    )


def dynamic_inputs(values: Mapping[str, str | None], metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The answers in a dynamic form's inputs (block id → text), by parameter name, for Coder to evaluate;
    list parameters as lists (one item per line)."""
    lists: Sequence[str] = metadata.get("lists") or []
    inputs: dict[str, Any] = {}
    for block_id, text in values.items():
        if not block_id.startswith("p:") or text is None:
            continue
        name = block_id[2:]
        inputs[name] = [line.strip() for line in text.splitlines() if line.strip()] if name in lists else text
    return inputs
