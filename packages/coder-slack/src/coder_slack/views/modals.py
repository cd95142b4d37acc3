"""Modals: the create form built from a template's rich parameters, and the account-linking form."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from coder_client import ParameterField
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    InputBlock,
    InputInteractiveElement,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from coder_slack.views.common import clip

CREATE_CALLBACK = "create_workspace"
LOGIN_CALLBACK = "link_account"
NAME_BLOCK = "workspace_name"
PARAM_PREFIX = "p:"
TOKEN_BLOCK = "coder_token"  # noqa: S105 (a block id, not a secret)
VALUE_ACTION = "value"
MAX_PARAMETER_BLOCKS = 95


def parameter_block_id(name: str) -> str:
    return clip(PARAM_PREFIX + name, 255)


def _option(label: str, value: str) -> Option:
    return Option(label=clip(label or value or "(empty)", 75), value=clip(value, 150))


def _number(value: float | None) -> str | None:
    if value is None:
        return None
    return str(int(value)) if value.is_integer() else str(value)


def _list_items(text: str) -> list[str]:
    try:
        items = json.loads(text) if text else []
    except ValueError:
        return [text]
    return [str(item) for item in items] if isinstance(items, list) else [text]


def _parameter_element(
    field: ParameterField, prefill: str | None, action_id: str = VALUE_ACTION
) -> InputInteractiveElement:
    """The input for one parameter, chosen by coder_client's form kind; prefilled from the command line or
    the template's default."""
    initial = prefill if prefill is not None else field.default
    if action_id != VALUE_ACTION:  # a dynamic form's input (views/dynamic_form.py): each change dispatches
        element = _parameter_element(field, prefill)
        element.action_id = action_id
        return element
    if field.form == "multi-select":
        options = [_option(label, value) for label, value in field.options[:100]]
        chosen = set(_list_items(initial))
        picked = [o for o in options if o.value in chosen]
        return StaticMultiSelectElement(
            action_id=VALUE_ACTION, options=options, initial_options=picked or None
        )
    if field.form in ("select", "radio"):
        options = [_option(label, value) for label, value in field.options[:100]]
        selected = next((o for o in options if o.value == initial), None)
        return StaticSelectElement(action_id=VALUE_ACTION, options=options, initial_option=selected)
    if field.form == "checkbox":
        options = [_option("Yes", "true"), _option("No", "false")]
        selected = next((o for o in options if o.value == (initial or "").lower()), None)
        return StaticSelectElement(action_id=VALUE_ACTION, options=options, initial_option=selected)
    if field.form == "number":
        return NumberInputElement(
            action_id=VALUE_ACTION,
            is_decimal_allowed=True,
            initial_value=initial or None,
            min_value=_number(field.min),
            max_value=_number(field.max),
        )
    if field.form == "tags":
        lines = "\n".join(_list_items(initial))
        return PlainTextInputElement(action_id=VALUE_ACTION, multiline=True, initial_value=lines or None)
    return PlainTextInputElement(
        action_id=VALUE_ACTION, multiline=field.form == "textarea", initial_value=initial or None
    )


def name_block(name: str | None) -> InputBlock:
    """The create form's workspace-name input (classic and dynamic forms alike)."""
    return InputBlock(
        block_id=NAME_BLOCK,
        label="Workspace name",
        element=PlainTextInputElement(action_id=VALUE_ACTION, initial_value=name or None, max_length=32),
        hint="Letters, digits and hyphens; up to 32 characters.",
    )


def create_modal(
    template: str,
    fields: Sequence[ParameterField],
    metadata: Mapping[str, Any],
    prefill: Mapping[str, str],
    name: str | None,
) -> View:
    blocks: list[Block] = [name_block(name)]
    for field in form_fields(fields):
        hint = field.description
        if field.form == "tags":
            hint = (hint + " " if hint else "") + "(One item per line.)"
        blocks.append(
            InputBlock(
                block_id=parameter_block_id(field.name),
                label=clip(field.label, 2000),
                element=_parameter_element(field, prefill.get(field.name)),
                hint=clip(hint, 2000) if hint else None,
                optional=not field.required,
            )
        )
    return View(
        type="modal",
        callback_id=CREATE_CALLBACK,
        title=clip(f"New {template} workspace", 24),
        submit="Create",
        close="Cancel",
        private_metadata=clip(json.dumps(dict(metadata)), 3000),
        blocks=blocks,
    )


def form_fields(fields: Sequence[ParameterField]) -> list[ParameterField]:
    """The fields the create form shows (ephemeral ones are for builds, not creation; Slack caps blocks)."""
    return [field for field in fields if not field.ephemeral][:MAX_PARAMETER_BLOCKS]


def submitted_values(view: Mapping[str, Any]) -> dict[str, str | None]:
    """``block_id`` → the value typed or chosen (None when left empty; several chosen: one per line)."""
    values: dict[str, str | None] = {}
    for block_id, actions in (view.get("state", {}).get("values", {}) or {}).items():
        action: dict[str, Any] = actions.get(VALUE_ACTION) or next(iter(actions.values()), {})
        value = action.get("value")
        if value is None and isinstance(action.get("selected_option"), Mapping):
            value = action["selected_option"].get("value")
        if value is None and isinstance(action.get("selected_options"), list):
            chosen = [str(o.get("value")) for o in action["selected_options"] if isinstance(o, Mapping)]
            value = "\n".join(chosen) or None
        values[block_id] = value
    return values


def form_value(field: ParameterField, text: str) -> str | list[str]:
    """What a form input holds, as the field's value (a list for list parameters: one item per line)."""
    if field.type == "list(string)":
        return [line.strip() for line in text.splitlines() if line.strip()]
    return text


def login_modal(coder_url: str, channel_id: str) -> View:
    return View(
        type="modal",
        callback_id=LOGIN_CALLBACK,
        title="Link your Coder account",
        submit="Link",
        close="Cancel",
        private_metadata=json.dumps({"channel": channel_id}),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(
                    text=(
                        f"Paste a Coder API token for *{clip(coder_url, 200)}*. Make one with\n"
                        "```coder tokens create --name slack --lifetime 720h```\n"
                        "It is checked with Coder, stored encrypted, and only used for your own commands."
                    )
                )
            ),
            InputBlock(
                block_id=TOKEN_BLOCK,
                label="Coder API token",
                element=PlainTextInputElement(
                    action_id=VALUE_ACTION,
                    placeholder=PlainTextObject(text="xxxxxxxxxx-xxxxxxxxxxxxxxxxxxxxxx"),
                    max_length=200,
                ),
            ),
            ContextBlock(elements=[MarkdownTextObject(text="`/workspace logout` forgets it again.")]),
        ],
    )
