"""A dynamic create form follows its answers: each change (``block_actions`` from an input with
``dispatch_action``) has Coder evaluate the form again, and the modal is redrawn with ``views.update``.

Races: the update carries the ``hash`` of the view the change was made in, so a stale redraw never
overwrites a newer one. Changes to one view are redrawn in the order they arrived (one lock per view);
when the hash is stale only because this process redrew the view since, the redraw is retried on the hash
that redraw returned: the later change's view state holds every answer so far, so it is the one to show.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk.errors import SlackApiError

from coder_slack.commands.context import Bot, Invocation
from coder_slack.commands.create import template_form
from coder_slack.commands.create_presets import template_presets
from coder_slack.views.dynamic_form import dynamic_inputs, dynamic_modal
from coder_slack.views.modals import NAME_BLOCK, submitted_values
from coder_slack.views.presets import PRESET_BLOCK, with_preset_block

log = logging.getLogger(__name__)

MAX_TRACKED_VIEWS = 1000
_locks: OrderedDict[str, asyncio.Lock] = OrderedDict()
_hashes: OrderedDict[str, str] = OrderedDict()


def _remember(table: OrderedDict[str, Any], key: str, value: Any) -> None:
    table[key] = value
    table.move_to_end(key)
    while len(table) > MAX_TRACKED_VIEWS:
        table.popitem(last=False)


def _lock_for(view_id: str) -> asyncio.Lock:
    lock = _locks.get(view_id)
    if lock is None:
        lock = asyncio.Lock()
        _remember(_locks, view_id, lock)
    return lock


async def refresh_form(
    bot: Bot, body: Mapping[str, Any], make_invocation: Callable[[str], Invocation]
) -> None:
    """Evaluate the form for the answers in the changed view and redraw it (errors are logged: the form
    stays as it was, and its submission is checked again anyway)."""
    view = body.get("view") or {}
    view_id = str(view.get("id") or "")
    try:
        metadata: dict[str, Any] = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        metadata = {}
    template = str(metadata.get("template") or "")
    if not view_id or not template or not metadata.get("dynamic"):
        return
    values = submitted_values(view)
    inv = make_invocation(str(metadata.get("channel") or ""))
    async with _lock_for(view_id):
        try:
            actor = await inv.actor()
            form = await template_form(actor, template, dynamic_inputs(values, metadata))
            presets = await template_presets(actor, template)  # the preset select stays first
        except Exception as exc:
            log.warning("could not evaluate the form of template %s: %s", template, type(exc).__name__)
            return
        base = {k: v for k, v in metadata.items() if k not in ("dynamic", "lists")}
        modal = dynamic_modal(template, form, base, values.get(NAME_BLOCK))
        modal = with_preset_block(modal, presets, values.get(PRESET_BLOCK))
        seen = str(view.get("hash") or "")
        try:
            answer = await bot.slack.views_update(view_id=view_id, hash=seen or None, view=modal)
        except SlackApiError as exc:
            newer = _hashes.get(view_id)
            if exc.response.get("error") != "hash_conflict" or not newer or newer == seen:
                log.info("form %s not redrawn: %s", view_id, exc.response.get("error"))
                return
            try:
                answer = await bot.slack.views_update(view_id=view_id, hash=newer, view=modal)
            except SlackApiError as again:
                log.info("form %s not redrawn: %s", view_id, again.response.get("error"))
                return
        _remember(_hashes, view_id, str(answer["view"]["hash"]))
