"""create: straight away when the command says enough, else a modal built from the template's parameters.

Slack gives a ``trigger_id`` about 3 s to open a modal and a ``view_submission`` 3 s for its answer,
so Coder is asked with a budget: in time, the answer goes straight into the form (validation errors
inline on their fields); late, a "loading"/"creating" view is shown at once and updated when Coder answers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from coder_client import (
    Conflict,
    InvalidParameters,
    ParameterField,
    ParameterForm,
    Preset,
    ValidationFailed,
    Workspace,
    merge_preset_parameters,
    resolve_preset,
    workspace_name_error,
)
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from coder_slack.coder import explain, field_errors
from coder_slack.commands import create_presets
from coder_slack.commands.context import Bot, Invocation, record_command
from coder_slack.commands.grammar import Create
from coder_slack.identity import Actor
from coder_slack.views.dynamic_form import dynamic_inputs, form_modal
from coder_slack.views.messages import problem, text_message
from coder_slack.views.modals import (
    NAME_BLOCK,
    form_fields,
    form_value,
    parameter_block_id,
    submitted_values,
)
from coder_slack.views.presets import PRESET_BLOCK, chosen_preset, preset_conflicts, with_preset_block

log = logging.getLogger(__name__)

FETCH_BUDGET_SECONDS = 1.5
SUBMIT_BUDGET_SECONDS = 2.0
PARAMETER_CACHE_SECONDS = 600.0
Ack = Callable[..., Awaitable[Any]]

_form_cache: dict[tuple[str, str], tuple[float, ParameterForm]] = {}


def _notice(title: str, text: str) -> View:
    return View(
        type="modal",
        title=title[:24],
        close="Close",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}],
    )


async def template_form(
    actor: Actor, template: str, inputs: Mapping[str, Any] | None = None
) -> ParameterForm:
    """The template's create form: a classic one (rich parameters) is kept a while; a dynamic one is
    evaluated by Coder for ``inputs`` every time."""
    key = (actor.client.url, template)
    cached = _form_cache.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    form = await actor.client.templates.form(template, inputs)
    if not form.dynamic:
        blank = tuple(replace(field, value=None, diagnostic=None) for field in form.fields)
        form = replace(form, fields=blank)
        _form_cache[key] = (time.monotonic() + PARAMETER_CACHE_SECONDS, form)
    return form


async def _post_card(inv: Invocation, actor: Actor, workspace: Workspace) -> None:
    await inv.bot.track_build(workspace.id)
    await inv.audit(actor, workspace.full_name, "create")
    card = await inv.bot.cards.post(
        team_id=inv.team_id,
        channel=inv.channel_id,
        requested_by=inv.user_id,
        action="create",
        workspace=workspace,
        build_number=workspace.latest_build.build_number,
    )
    inv.bot.tasks.spawn(
        inv.bot.cards.follow(card, actor.client, workspace.latest_build.build_number),
        name=f"card-{card.row_id}",
    )


async def _create(inv: Invocation, actor: Actor, spec: Mapping[str, Any]) -> Workspace:
    return await actor.client.workspaces.create(
        spec["name"],
        spec["template"],
        parameters=spec.get("parameters") or {},
        ttl=spec.get("ttl_seconds") and float(spec["ttl_seconds"]) / 60,
        autostart=spec.get("autostart"),
        owner=actor.owner_for_create,
        **({"preset": spec["preset"]} if spec.get("preset") else {}),
    )


async def blank_form(actor: Actor, template: str, metadata: Mapping[str, Any]) -> View:
    """The create form of ``template`` with nothing answered yet (the template picker's next step): the
    same modal ``/workspace create <template>`` opens, with the template's presets."""
    form = await template_form(actor, template)
    presets = await create_presets.template_presets(actor, template)
    return with_preset_block(form_modal(template, form, metadata, {}, None), presets, None)


async def start_create(inv: Invocation, command: Create) -> None:
    loading_view: str | None = None

    async def work() -> None:
        nonlocal loading_view
        actor = await inv.actor()
        fetch = asyncio.ensure_future(template_form(actor, command.template, command.parameters))
        done, _ = await asyncio.wait({fetch}, timeout=FETCH_BUDGET_SECONDS)
        if not done and inv.trigger_id:
            opened = await inv.bot.slack.views_open(
                trigger_id=inv.trigger_id,
                view=_notice(f"New {command.template}", f"Loading the parameters of `{command.template}`…"),
            )
            loading_view = str(opened["view"]["id"])
        try:
            form = await fetch
        except Exception as exc:
            if loading_view:
                message, details = explain(exc, what=f"template `{command.template}`")
                await inv.bot.slack.views_update(
                    view_id=loading_view, view=_notice("Can't create", "\n".join([message, *details]))
                )
            raise
        # presets: the template's (none on a Coder without them); --preset's values are fixed
        presets = await create_presets.template_presets(actor, command.template)
        preset = resolve_preset(presets, command.preset, command.template) if command.preset else None
        prefill = merge_preset_parameters(preset, command.parameters) if preset else {}
        prefill = {**command.parameters, **prefill}
        if form.dynamic and preset is not None:  # the preset's fixed values feed the dynamic form's inputs
            form = await template_form(actor, command.template, prefill)
        fields = list(form.fields)
        missing = [f for f in fields if f.required and not f.ephemeral and f.name not in prefill]
        if form.dynamic and not form.ok:  # a dynamic form with errors: show them in the form
            missing += [f for f in fields if f.diagnostic]
        spec = {
            "template": command.template,
            "name": command.name,
            "parameters": command.parameters,
            "ttl_seconds": command.ttl.total_seconds() if command.ttl else None,
            "autostart": command.autostart,
            "channel": inv.channel_id,
            "preset": preset.id if preset else None,
        }
        if command.name and not missing:
            if loading_view:
                await inv.bot.slack.views_update(
                    view_id=loading_view,
                    view=_notice(
                        "Creating", f"Creating `{command.name}`; a status card follows in the channel."
                    ),
                )
            workspace = await _create(inv, actor, spec)
            await inv.reply(text_message(f"Creating `{workspace.full_name}`; progress below."), replace=True)
            await _post_card(inv, actor, workspace)
            return
        metadata = {k: v for k, v in spec.items() if k not in {"parameters", "name", "preset"}}
        modal = form_modal(command.template, form, metadata, prefill, command.name)
        modal = with_preset_block(modal, presets, preset.id if preset else None)
        if loading_view:
            await inv.bot.slack.views_update(view_id=loading_view, view=modal)
        elif inv.trigger_id:
            try:
                await inv.bot.slack.views_open(trigger_id=inv.trigger_id, view=modal)
            except SlackApiError as exc:
                names = ", ".join(p.name for p in missing) or "a name"
                await inv.reply(
                    problem(
                        f"I couldn't open the form ({exc.response.get('error')}). Give everything on the "
                        f"command line instead: `/workspace create {command.template} <name> name=value …` "
                        f"(needed: {names})."
                    ),
                    replace=True,
                )
                return
        await inv.reply(
            text_message(f"Fill in the form to create a `{command.template}` workspace."), replace=True
        )

    await inv.guarded(work, what=f"template `{command.template}`")


def _errors_for_blocks(errors: Sequence[tuple[str, str]], fields: Sequence[ParameterField]) -> dict[str, str]:
    names = {f.name for f in fields}
    mapped: dict[str, str] = {}
    for field, detail in errors:
        name = field.removeprefix("rich_parameter_values.").removeprefix("parameters.")
        if name in names:
            block = parameter_block_id(name)
        elif name in {"name", "workspace_name"}:
            block = NAME_BLOCK
        else:
            block = NAME_BLOCK
            detail = f"{field}: {detail}"
        mapped[block] = (mapped.get(block, "") + " " + detail).strip()[:150]
    return mapped


async def submit_create(
    bot: Bot, ack: Ack, body: Mapping[str, Any], make_invocation: Callable[[str], Invocation]
) -> None:
    view = body.get("view") or {}
    try:
        metadata: dict[str, Any] = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        metadata = {}
    values = submitted_values(view)
    name = (values.get(NAME_BLOCK) or "").strip()
    bad_name = workspace_name_error(name)
    if bad_name is not None:
        await ack(response_action="errors", errors={NAME_BLOCK: bad_name[:150]})
        return
    inv = make_invocation(str(metadata.get("channel") or ""))
    template = str(metadata.get("template") or "")

    async def prepare() -> tuple[Actor, ParameterForm]:
        actor = await inv.actor()
        if values.get(PRESET_BLOCK):  # presets: the chosen one's id, checked against the template's
            presets[:] = await create_presets.template_presets(actor, template)
        inputs = dynamic_inputs(values, metadata) if metadata.get("dynamic") else None
        return actor, await template_form(actor, template, inputs)

    presets: list[Preset] = []

    started = time.monotonic()
    preparing = asyncio.ensure_future(prepare())
    done, _ = await asyncio.wait({preparing}, timeout=SUBMIT_BUDGET_SECONDS)
    if done and preparing.exception() is None:
        actor, form = preparing.result()
        given, problems = _form_parameters(form, values)
        preset = chosen_preset(presets, values.get(PRESET_BLOCK))
        if preset is not None:
            problems = {**preset_conflicts(preset, given), **problems}
        if problems:
            record_command("create", "usage")
            await ack(response_action="errors", errors=problems)
            return
        spec = {**metadata, "name": name, "parameters": given, "preset": preset.id if preset else None}
        creating = asyncio.ensure_future(_create(inv, actor, spec))
        remaining = max(0.1, SUBMIT_BUDGET_SECONDS - (time.monotonic() - started))
        created, _ = await asyncio.wait({creating}, timeout=remaining)
        if created:
            error = creating.exception()
            if error is None:
                await ack()
                bot.tasks.spawn(_post_card_safely(inv, actor, creating.result()), name="create-card")
                record_command("create", "ok")
                return
            if isinstance(error, ValidationFailed | Conflict | InvalidParameters) and (
                field_errors(error) or isinstance(error, Conflict)
            ):
                record_command("create", "coder_error")
                mapped = _errors_for_blocks(field_errors(error), form.fields) or {
                    NAME_BLOCK: error_message(error)
                }
                await ack(response_action="errors", errors=mapped)
                return
            record_command("create", "coder_error")
            message, details = explain(error, linked=actor.linked, what=f"template `{template}`")
            await ack(response_action="errors", errors={NAME_BLOCK: (" ".join([message, *details]))[:150]})
            return
        await ack(
            response_action="update", view=_notice("Creating", f"Creating `{name}`… a status card follows.")
        )
        bot.tasks.spawn(_finish_create_later(inv, actor, creating), name="create-later")
        return
    if done:
        error = preparing.exception()
        assert error is not None
        message, details = explain(error, what=f"template `{template}`")
        await ack(response_action="errors", errors={NAME_BLOCK: (" ".join([message, *details]))[:150]})
        return
    await ack(
        response_action="update", view=_notice("Creating", f"Creating `{name}`… a status card follows.")
    )

    async def later() -> None:
        actor, form = await preparing
        given, _problems = _form_parameters(form, values)  # Coder's own check answers the rest
        preset = chosen_preset(presets, values.get(PRESET_BLOCK))
        spec = {**metadata, "name": name, "parameters": given, "preset": preset.id if preset else None}
        workspace = await _create(inv, actor, spec)
        await _post_card(inv, actor, workspace)

    bot.tasks.spawn(inv.guarded(later, what=f"template `{template}`"), name="create-later")


async def choose_preset(
    bot: Bot, body: Mapping[str, Any], make_invocation: Callable[[str], Invocation]
) -> None:
    """presets: a preset picked in the create form refills it (see ``create_presets``)."""
    await create_presets.on_preset_chosen(bot, body, make_invocation, template_form)


def _form_parameters(
    form: ParameterForm, values: Mapping[str, str | None]
) -> tuple[dict[str, str], dict[str, str]]:
    """The submitted form as Coder's parameter values, and each field's problem (block id → why), checked
    with coder_client's rules for each parameter (options, bounds, regex, required) and, for dynamic
    parameters, Coder's diagnostics for these very answers (fields the answers hid are left out)."""
    given: dict[str, str] = {}
    problems: dict[str, str] = {}
    for field in form_fields(form.fields):
        block = parameter_block_id(field.name)
        if form.dynamic and field.diagnostic:
            problems[block] = field.diagnostic[:150]
            continue
        text = values.get(block)
        if not text:
            continue  # left empty: the template's default (Slack itself insists on the required ones)
        value = form_value(field, text)
        problem = field.check(value)
        if problem is not None:
            problems[block] = problem[:150]
        else:
            given[field.name] = field.to_coder(value)
    return given, problems


def error_message(error: BaseException) -> str:
    return explain(error)[0][:150]


async def _post_card_safely(inv: Invocation, actor: Actor, workspace: Workspace) -> None:
    async def work() -> None:
        await _post_card(inv, actor, workspace)

    await inv.guarded(work)


async def _finish_create_later(inv: Invocation, actor: Actor, creating: asyncio.Future[Workspace]) -> None:
    async def work() -> None:
        workspace = await creating
        await _post_card(inv, actor, workspace)

    await inv.guarded(work)
