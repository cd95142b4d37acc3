"""The status card: one message per command, updated in place from queued to ready (or what went wrong)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from coder_client import human_duration
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from coder_slack.views.buttons import extend_button, restart_button, start_button, stop_button
from coder_slack.views.common import clip, escape
from coder_slack.views.message import Message

START_STAGES = ("queued", "building", "agent starting", "ready")
STOP_STAGES = ("queued", "stopping", "stopped")
FINAL_STAGES = frozenset(
    {"ready", "start_error", "start_timeout", "build_failed", "canceled", "stopped", "gave_up", "deleted"}
)
STAGE_HEADLINE = {
    "queued": "⏳ queued",
    "building": "🔨 building",
    "agent starting": "🚀 agent starting",
    "ready": "✅ ready",
    "start_error": "⚠️ started with errors (start_error)",
    "start_timeout": "⚠️ startup timed out (start_timeout)",
    "build_failed": "❌ build failed",
    "canceled": "⚪ build canceled",
    "stopping": "🟠 stopping",
    "stopped": "⚪ stopped",
    "gave_up": "⏱️ still not ready",
    "deleted": "🗑️ deleted",
}
VERB = {"create": "Creating", "start": "Starting", "restart": "Restarting", "stop": "Stopping"}


@dataclass
class CardState:
    action: str
    workspace_name: str
    requested_by: str
    started_at: datetime
    coder_url: str
    stage: str = "queued"
    workspace_id: str | None = None
    template: str = ""
    startup_duration: timedelta | None = None
    build_duration: timedelta | None = None
    apps: list[tuple[str, str]] = field(default_factory=list)
    error: str = ""
    troubleshooting_url: str = ""
    claimed_prebuild: bool = False  # presets: Coder handed over a prebuilt workspace

    @property
    def finished(self) -> bool:
        return self.stage in FINAL_STAGES

    @property
    def workspace_url(self) -> str:
        owner, _, name = self.workspace_name.partition("/")
        return f"{self.coder_url.rstrip('/')}/@{owner}/{name}"


def _progress(state: CardState) -> str:
    stages = STOP_STAGES if state.action == "stop" else START_STAGES
    final_failure = state.finished and state.stage not in stages
    try:
        current = stages.index(state.stage)
    except ValueError:
        current = len(stages) - 1 if final_failure else 0
    marks = []
    for index, stage in enumerate(stages):
        if final_failure and index == current:
            marks.append(f"✗ {state.stage.replace('_', ' ')}")
        elif index < current or (index == current and state.finished):
            marks.append(f"✓ {stage}")
        elif index == current:
            marks.append(f"▶ *{stage}*")
        else:
            marks.append(f"· {stage}")
    return "  →  ".join(marks)


def _buttons(state: CardState) -> list[ButtonElement]:
    workspace = state.workspace_id or ""
    buttons: list[ButtonElement] = []
    if state.stage in {"ready", "start_error", "start_timeout"}:
        for index, (label, url) in enumerate(state.apps[:3]):
            buttons.append(
                ButtonElement(text=clip(f"Open {label}", 75), url=url, action_id=f"open_app_{index}")
            )
        if not state.apps:
            buttons.append(ButtonElement(text="Open", url=state.workspace_url, action_id="open_app_coder"))
        buttons += [
            extend_button(workspace, 1),
            extend_button(workspace, 2),
            stop_button(workspace, state.workspace_name),
        ]
        if state.stage != "ready":
            buttons.append(restart_button(workspace))
    elif state.stage in {"stopped", "build_failed", "canceled", "gave_up"} and workspace:
        buttons.append(start_button(workspace))
        buttons.append(
            ButtonElement(text="Open in Coder", url=state.workspace_url, action_id="open_app_coder")
        )
    return buttons


def prebuild_line(state: CardState, now: datetime) -> str:
    """presets: what the card says when the create claimed a prebuilt workspace."""
    if state.stage == "ready":
        return f"♻️ Claimed a prebuilt workspace — ready in {human_duration(now - state.started_at)}"
    return "♻️ Claimed a prebuilt workspace — it is already built, so it is ready in seconds"


def status_card(state: CardState, now: datetime) -> Message:
    elapsed = human_duration(now - state.started_at)
    headline = STAGE_HEADLINE.get(state.stage, state.stage)
    verb = VERB.get(state.action, state.action.title())
    title = f"*{escape(state.workspace_name)}* — {headline}"
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=title))]
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=_progress(state))]))
    facts = [f"{verb} for <@{state.requested_by}>", f"elapsed {elapsed}"]
    if state.template:
        facts.insert(1, f"template {escape(state.template)}")
    if state.startup_duration is not None:
        facts.append(f"*startup took {human_duration(state.startup_duration)}*")
    if state.build_duration is not None:
        facts.append(f"build took {human_duration(state.build_duration)}")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=" · ".join(facts))]))
    if state.claimed_prebuild:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=prebuild_line(state, now))]))
    if state.error:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"```{clip(escape(state.error), 2900)}```")))
    if state.troubleshooting_url and state.stage in {"start_error", "start_timeout"}:
        blocks.append(
            ContextBlock(
                elements=[MarkdownTextObject(text=f"<{state.troubleshooting_url}|Troubleshooting guide>")]
            )
        )
    buttons = _buttons(state)
    if buttons:
        blocks.append(ActionsBlock(block_id="card_actions", elements=buttons))
    text = f"{state.workspace_name}: {state.stage.replace('_', ' ')} ({elapsed})"
    if state.startup_duration is not None:
        text += f", startup took {human_duration(state.startup_duration)}"
    if state.error:
        text += f": {clip(state.error, 200)}"
    return Message(text, blocks)
