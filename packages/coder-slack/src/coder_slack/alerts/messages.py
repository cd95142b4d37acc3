"""Block Kit messages of the alert engine (slack_sdk models, so Slack's limits are checked before sending).

Every message carries fallback ``text`` and ``metadata`` (``event_type`` ``coderops_alert``) naming the outbox
rows it delivers: that is how a restarted engine recognises a post it made just before it crashed.

Extend, Stop and Restart are the status card's own buttons (``coder_slack.views.buttons``: ``ws_extend_1h``,
``ws_extend_2h``, ``ws_stop``, ``ws_restart``, value the workspace id), so the command app's one button
handler answers both; ``open_alert_app`` (the workspace's app), ``open_alert_dashboard`` (Coder's page for it)
and ``open_troubleshooting`` are link buttons.

The blocks a click changes carry ids (``views.buttons``: ``ALERT_ACTIONS_PREFIX``, ``ALERT_TITLE_PREFIX``,
``ALERT_DEADLINE_BLOCK``), so the card can be rewritten from the copy Slack sends with the click.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from coder_client import human_duration
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from coder_slack.build_timings import TimingNote
from coder_slack.views.buttons import (
    ALERT_ACTIONS_PREFIX,
    ALERT_DEADLINE_BLOCK,
    ALERT_TITLE_PREFIX,
    extend_button,
    restart_button,
    stop_button,
)
from coder_slack.views.message import Message
from coder_slack.views.timings import timing_blocks

METADATA_EVENT_TYPE = "coderops_alert"
SECTION_LIMIT = 3000

_TITLES = {
    "ready": ":white_check_mark: *{name}* is ready",
    "start_error": ":x: *{name}*: a startup script failed (start_error)",
    "start_timeout": ":hourglass: *{name}*: startup timed out (start_timeout)",
    "build_failed": ":rotating_light: *{name}*: the {transition} build failed",
    "autostop": ":alarm_clock: *{name}* stops in about {left}",
}


def metadata(outbox_ids: list[int], keys: list[str], workspace_id: str = "") -> dict[str, Any]:
    return {
        "event_type": METADATA_EVENT_TYPE,
        "event_payload": {
            "outbox_ids": ",".join(str(i) for i in outbox_ids),
            "keys": ",".join(keys),
            "workspace_id": workspace_id,
        },
    }


def outbox_ids_of(message_metadata: Any) -> set[int]:
    if not isinstance(message_metadata, dict) or message_metadata.get("event_type") != METADATA_EVENT_TYPE:
        return set()
    payload = message_metadata.get("event_payload") or {}
    raw = str(payload.get("outbox_ids", "")) if isinstance(payload, dict) else ""
    return {int(part) for part in raw.split(",") if part.isdigit()}


def duration(seconds: float | None) -> str:
    """Alert cards and status cards speak of durations the same way."""
    return "unknown" if seconds is None else human_duration(seconds)


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text[:SECTION_LIMIT])


def _title(payload: Mapping[str, Any]) -> str:
    name = f"{payload['owner_name']}/{payload['workspace_name']}"
    return _TITLES[payload["kind"]].format(
        name=name,
        transition=payload.get("transition", "start"),
        left=_time_left(payload),
    )


def _time_left(payload: Mapping[str, Any]) -> str:
    """From now (when the message is written) to the deadline; the lead time if the deadline is unknown. A
    warning sent late (the bot was down, the deadline moved closer) says how long is really left."""
    deadline = payload.get("deadline")
    if deadline:
        minutes = max(1, round((datetime.fromisoformat(deadline) - datetime.now(UTC)).total_seconds() / 60))
    else:
        minutes = round(float(payload.get("warn_minutes", 30)))
    return f"{minutes} min" if minutes < 60 else human_duration(minutes * 60.0)


def _facts(payload: Mapping[str, Any]) -> str:
    parts = [
        f"Template: {payload.get('template_name') or 'unknown'}",
        f"Build #{payload.get('build_number', '?')}",
    ]
    if payload["kind"] in ("ready", "start_error", "start_timeout"):
        parts.append(f"Startup: {duration(payload.get('startup_seconds'))}")
        parts.append(f"Build: {duration(payload.get('build_seconds'))}")
        if payload.get("agent_name"):
            parts.append(f"Agent: {payload['agent_name']}")
    return " · ".join(parts)


def _buttons(payload: Mapping[str, Any], coder_url: str) -> ActionsBlock | None:
    workspace_id = payload["workspace_id"]
    kind = payload["kind"]
    name = f"{payload['owner_name']}/{payload['workspace_name']}"
    elements: list[ButtonElement] = []
    dashboard = (
        f"{coder_url.rstrip('/')}/@{payload['owner_name']}/{payload['workspace_name']}" if coder_url else ""
    )
    if kind == "ready":
        apps = payload.get("apps") or []
        url = apps[0]["url"] if apps else dashboard
        if url:
            elements.append(ButtonElement(text="Open", url=url, action_id="open_alert_app"))
        elements.append(extend_button(workspace_id, 1))
        elements.append(stop_button(workspace_id, name))
    elif kind in ("start_error", "start_timeout", "build_failed"):
        elements.append(restart_button(workspace_id, primary=True))
        if payload.get("troubleshooting_url"):
            elements.append(
                ButtonElement(
                    text="Troubleshooting",
                    url=payload["troubleshooting_url"],
                    action_id="open_troubleshooting",
                )
            )
        elif dashboard:
            elements.append(
                ButtonElement(text="Open in Coder", url=dashboard, action_id="open_alert_dashboard")
            )
    elif kind == "autostop":
        elements.append(extend_button(workspace_id, 1, primary=True))
        elements.append(extend_button(workspace_id, 2))
    if not elements:
        return None
    return ActionsBlock(block_id=f"{ALERT_ACTIONS_PREFIX}{workspace_id}"[:255], elements=elements)


def _detail_blocks(payload: Mapping[str, Any]) -> list[Block]:
    blocks: list[Block] = []
    kind = payload["kind"]
    if kind in ("start_error", "start_timeout"):
        tail = payload.get("log_tail") or []
        if tail:
            body = "\n".join(tail)[: SECTION_LIMIT - 40]
            blocks.append(SectionBlock(text=_md(f"Last lines of the startup log:\n```{body}```")))
        else:
            blocks.append(SectionBlock(text=_md("_The startup log could not be read._")))
        if payload.get("troubleshooting_url"):
            blocks.append(ContextBlock(elements=[_md(f"Troubleshooting: {payload['troubleshooting_url']}")]))
    elif kind == "build_failed":
        error = str(payload.get("job_error") or "")[: SECTION_LIMIT - 40]
        blocks.append(SectionBlock(text=_md(f"Error from the build:\n```{error}```")))
    elif kind == "autostop":
        deadline = datetime.fromisoformat(payload["deadline"])
        blocks.append(
            ContextBlock(
                block_id=ALERT_DEADLINE_BLOCK,
                elements=[
                    _md(
                        f"Autostop deadline: <!date^{int(deadline.timestamp())}^{{time}}|"
                        f"{deadline:%H:%M} UTC>"
                    )
                ],
            )
        )
    return blocks


def alert_card(
    payload: Mapping[str, Any], coder_url: str, *, recovered: bool = False, note: str = ""
) -> Message:
    """The workspace's card: the latest state, its facts and buttons."""
    title = _title(payload)
    if recovered:
        title += " — recovered after a failed start"
    blocks: list[Block] = [
        SectionBlock(block_id=f"{ALERT_TITLE_PREFIX}{payload['kind']}", text=_md(title)),
        ContextBlock(elements=[_md(_facts(payload))]),
    ]
    blocks.extend(timing_blocks(TimingNote.from_payload(payload.get("timings"))))
    blocks.extend(_detail_blocks(payload))
    if note:
        blocks.append(ContextBlock(elements=[_md(note)]))
    buttons = _buttons(payload, coder_url)
    if buttons is not None:
        blocks.append(buttons)
    text = title.replace("*", "")
    return Message(text=text, blocks=blocks)


def thread_reply(payload: Mapping[str, Any], coder_url: str, *, recovered: bool = False) -> Message:
    """The transition as posted into the card's thread (same content as the card, so the thread is a
    history)."""
    return alert_card(payload, coder_url, recovered=recovered)


def digest_card(members: Mapping[str, Any], expected: int) -> Message:
    ready = sorted(
        (member for member in members.values() if member.get("kind") == "ready"), key=lambda m: m["name"]
    )
    failed = [member for member in members.values() if member.get("kind") != "ready"]
    total = max(expected, len(members))
    headline = f":rocket: {len(ready)} of {total} workspaces ready"
    if failed:
        headline += f" · {len(failed)} failed"
    lines = [f"• {m['owner']}/{m['name']} ({duration(m.get('startup_seconds'))})" for m in ready[-40:]]
    if len(ready) > 40:
        lines.insert(0, f"…and {len(ready) - 40} more")
    blocks: list[Block] = [SectionBlock(text=_md(f"*{headline}*"))]
    if lines:
        blocks.append(SectionBlock(text=_md("\n".join(lines))))
    if failed:
        blocks.append(
            ContextBlock(
                elements=[_md("Failed: " + ", ".join(f"{m['owner']}/{m['name']}" for m in failed[:30]))]
            )
        )
    return Message(text=headline.replace(":rocket: ", ""), blocks=blocks)


def while_away(
    items: Sequence[Mapping[str, Any]], stale: Sequence[Mapping[str, Any]], since: datetime | None
) -> Message:
    when = f" (since {since:%Y-%m-%d %H:%M} UTC)" if since else ""
    headline = f":wave: While I was away{when}: {len(items) + len(stale)} workspace events"
    lines = [
        f"• {p['owner_name']}/{p['workspace_name']}: {p['kind']} (build #{p.get('build_number', '?')})"
        for p in items[:40]
    ]
    if len(items) > 40:
        lines.append(f"…and {len(items) - 40} more")
    blocks: list[Block] = [SectionBlock(text=_md(f"*{headline}*"))]
    if lines:
        blocks.append(SectionBlock(text=_md("\n".join(lines))))
    if stale:
        stale_lines = ", ".join(f"{p['owner_name']}/{p['workspace_name']} {p['kind']}" for p in stale[:30])
        blocks.append(ContextBlock(elements=[_md(f"Older than the stale cutoff, not paged: {stale_lines}")]))
    return Message(text=headline.replace(":wave: ", ""), blocks=blocks)


def subscription_disabled(channel: str, reason: str, labels: list[str]) -> Message:
    what = ", ".join(labels) if labels else "workspace alerts"
    text = (
        f"I stopped posting {what} to <#{channel}>: Slack answered `{reason}`. "
        "Invite me to the channel (or pick another one) and run `/workspace subscribe` or "
        "`/workspace watch` again."
    )
    return Message(text=text, blocks=[SectionBlock(text=_md(":warning: " + text))])
