"""Block Kit messages and views rendered as plain, readable text (for the console and test failure output)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_LINK = re.compile(r"<([^<>|]+)\|([^<>]+)>")
_BARE = re.compile(r"<([^<>|]+)>")


def plain(mrkdwn: str) -> str:
    """Slack markup → text: links become ``label (url)``, mentions ``@U…``, entities are unescaped."""

    def link(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith(("@", "#", "!")):
            return label
        return f"{label} ({target})"

    def bare(match: re.Match[str]) -> str:
        target = match.group(1)
        if target.startswith("!"):
            return "@" + target[1:].split("^")[0]
        return target

    text = _BARE.sub(bare, _LINK.sub(link, mrkdwn))
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(obj: Any) -> str:
    if isinstance(obj, Mapping):
        return plain(str(obj.get("text", "")))
    return plain(str(obj or ""))


def _element(element: Mapping[str, Any]) -> str:
    kind = element.get("type")
    if kind == "button":
        label = _text(element.get("text"))
        url = element.get("url")
        style = element.get("style")
        mark = "!" if style == "danger" else ""
        return f"[{mark}{label}{' → ' + url if url else ''}]"
    if kind == "overflow":
        return "[⋯ " + " | ".join(_text(option.get("text")) for option in element.get("options", [])) + "]"
    if kind in {
        "static_select",
        "external_select",
        "users_select",
        "conversations_select",
        "channels_select",
    }:
        return f"[select: {_text(element.get('placeholder')) or kind}]"
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if kind in {"mrkdwn", "plain_text"}:
        return _text(element)
    if kind == "datepicker":
        return "[date]"
    return f"[{kind}]"


def _input_element(element: Mapping[str, Any]) -> str:
    kind = str(element.get("type", ""))
    initial = element.get("initial_value")
    if initial is None and isinstance(element.get("initial_option"), Mapping):
        initial = _text(element["initial_option"].get("text"))
    options = element.get("options")
    described = kind.replace("_", " ")
    if isinstance(options, Sequence) and options:
        described += " of " + ", ".join(_text(option.get("text")) for option in options)
    if initial not in (None, ""):
        described += f" = {initial}"
    return f"<{described}>"


def render_blocks(blocks: Sequence[Mapping[str, Any]]) -> list[str]:
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"# {_text(block.get('text'))}")
        elif kind == "section":
            if block.get("text"):
                lines.extend(_text(block["text"]).splitlines() or [""])
            fields = block.get("fields") or []
            if fields:
                lines.append("  ".join(_text(field) for field in fields))
            accessory = block.get("accessory")
            if isinstance(accessory, Mapping):
                lines.append("    " + _element(accessory))
        elif kind == "divider":
            lines.append("─" * 40)
        elif kind == "context":
            lines.append("  " + " · ".join(_element(element) for element in block.get("elements", [])))
        elif kind == "actions":
            lines.append(" ".join(_element(element) for element in block.get("elements", [])))
        elif kind == "input":
            optional = " (optional)" if block.get("optional") else ""
            hint = f" — {_text(block.get('hint'))}" if block.get("hint") else ""
            element = block.get("element") or {}
            lines.append(f"{_text(block.get('label'))}{optional}: {_input_element(element)}{hint}")
        elif kind == "image":
            lines.append(f"[image: {block.get('alt_text', '')}]")
        elif kind == "rich_text":
            lines.append(_rich_text(block))
        else:
            lines.append(f"[{kind} block]")
    return lines


def _rich_text(block: Mapping[str, Any]) -> str:
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if node.get("type") == "text":
                parts.append(str(node.get("text", "")))
            for child in node.get("elements", []) or []:
                walk(child)

    walk(block)
    return "".join(parts)


def render_message(text: str | None, blocks: Sequence[Mapping[str, Any]] | None) -> str:
    if blocks:
        return "\n".join(render_blocks(blocks))
    return plain(text or "")


def render_view(view: Mapping[str, Any]) -> str:
    lines = [f"┌ {_text(view.get('title'))} ┐"]
    lines.extend("│ " + line for line in render_blocks(view.get("blocks") or []))
    buttons = []
    if view.get("close"):
        buttons.append(f"[{_text(view['close'])}]")
    if view.get("submit"):
        buttons.append(f"[{_text(view['submit'])}]")
    if buttons:
        lines.append("└ " + " ".join(buttons))
    return "\n".join(lines)
