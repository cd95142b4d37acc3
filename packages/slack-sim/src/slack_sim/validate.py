"""The Block Kit limits Slack enforces server-side, so the stand-in refuses what Slack would refuse."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

Surface = Literal["message", "modal"]

MAX_BLOCKS = {"message": 50, "modal": 100}


def _text_len(obj: Any) -> int:
    return len(str(obj.get("text", ""))) if isinstance(obj, Mapping) else 0


def block_errors(blocks: Sequence[Mapping[str, Any]], surface: Surface = "message") -> list[str]:
    errors: list[str] = []
    if len(blocks) > MAX_BLOCKS[surface]:
        errors.append(f"no more than {MAX_BLOCKS[surface]} items allowed [json-pointer:/blocks]")
    for index, block in enumerate(blocks):
        where = f"[json-pointer:/blocks/{index}]"
        kind = block.get("type")
        if len(str(block.get("block_id", ""))) > 255:
            errors.append(f"block_id too long {where}")
        if kind == "section":
            if _text_len(block.get("text")) > 3000:
                errors.append(f"must be less than 3001 characters [json-pointer:/blocks/{index}/text/text]")
            if len(block.get("fields") or []) > 10:
                errors.append(f"no more than 10 items allowed [json-pointer:/blocks/{index}/fields]")
            if not block.get("text") and not block.get("fields"):
                errors.append(f"must provide either text or fields {where}")
        elif kind == "header" and _text_len(block.get("text")) > 150:
            errors.append(f"must be less than 151 characters [json-pointer:/blocks/{index}/text/text]")
        elif kind == "actions" and len(block.get("elements") or []) > 25:
            errors.append(f"no more than 25 items allowed [json-pointer:/blocks/{index}/elements]")
        elif kind == "context" and len(block.get("elements") or []) > 10:
            errors.append(f"no more than 10 items allowed [json-pointer:/blocks/{index}/elements]")
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), Mapping):
            elements.append(block["accessory"])
        if isinstance(block.get("element"), Mapping):
            elements.append(block["element"])
        for element in elements:
            if not isinstance(element, Mapping):
                continue
            if element.get("type") == "button":
                if _text_len(element.get("text")) > 75:
                    errors.append(f"button text must be less than 76 characters {where}")
                if len(str(element.get("value", ""))) > 2000:
                    errors.append(f"button value must be less than 2001 characters {where}")
            if len(str(element.get("action_id", ""))) > 255:
                errors.append(f"action_id too long {where}")
            if len(element.get("options") or []) > 100:
                errors.append(f"no more than 100 options allowed {where}")
    return errors


def view_errors(view: Mapping[str, Any]) -> list[str]:
    errors = block_errors(view.get("blocks") or [], "modal")
    for key in ("title", "submit", "close"):
        if _text_len(view.get(key)) > 24:
            errors.append(f"must be less than 25 characters [json-pointer:/view/{key}/text]")
    if len(str(view.get("private_metadata", ""))) > 3000:
        errors.append("must be less than 3001 characters [json-pointer:/view/private_metadata]")
    if not view.get("title"):
        errors.append("missing required field: title [json-pointer:/view/title]")
    return errors
