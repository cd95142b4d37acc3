"""What people read about Coder's own notifications: the kinds there are, a subscription's kinds, and their
own mutes (the messages themselves are ``coder_slack.notifications.render``'s)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from coder_slack.notifications.kinds import ALL_EVENTS_TOKEN, EVENT_PREFIX, KNOWN_KINDS
from coder_slack.views.common import clip, escape
from coder_slack.views.message import Message

_GROUPS = (
    ("workspace", "Your workspaces"),
    ("account", "Accounts"),
    ("template", "Templates"),
    ("prebuild", "Prebuilt workspaces"),
    ("notification", "Notifications"),
)


def split_events(events: Iterable[str]) -> tuple[list[str], list[str]]:
    """A subscription's event list as (alert events, Coder notification slugs; ``*`` for every kind)."""
    alerts: list[str] = []
    coder: list[str] = []
    for event in events:
        if event == ALL_EVENTS_TOKEN:
            coder.append("*")
        elif event.startswith(EVENT_PREFIX):
            coder.append(event.removeprefix(EVENT_PREFIX))
        else:
            alerts.append(event)
    return alerts, coder


def describe_events(events: Sequence[str]) -> str:
    """``events: ready, start_error · Coder notifications: all`` for a subscriptions list."""
    alerts, coder = split_events(events)
    text = "events: " + (escape(", ".join(alerts)) if alerts else "none")
    if coder:
        kinds = "all" if "*" in coder else ", ".join(coder)
        text += f" · Coder notifications: {escape(kinds)}"
    return text


def muted_slugs(stored: str) -> list[str]:
    """``UserSettings.muted_notifications`` (comma-separated slugs) as a list."""
    return [slug for slug in (part.strip() for part in stored.split(",")) if slug]


def store_mutes(slugs: Iterable[str]) -> str:
    """The stored form of a set of muted kinds: known kinds in their documented order, then any other."""
    wanted = set(slugs)
    known = [kind.slug for kind in KNOWN_KINDS if kind.slug in wanted]
    return ",".join(known + sorted(wanted - set(known)))


def describe_mutes(slugs: Sequence[str]) -> str:
    if not slugs:
        return "none"
    if set(slugs) >= {kind.slug for kind in KNOWN_KINDS}:
        return "all"
    return ", ".join(f"`{escape(slug)}`" for slug in slugs)


def settings_message(
    *, dm_enabled: bool, warning_minutes: int, muted: Sequence[str], changed: bool
) -> Message:
    """``/workspace settings`` (and ``mute`` / ``unmute``): what this person chose, and how to change it."""
    warning = f"{warning_minutes} minutes before autostop" if warning_minutes else "off"
    lines = [
        f"{'Saved. ' if changed else ''}DMs about your own workspaces: *{'on' if dm_enabled else 'off'}* · "
        f"autostop warning: *{warning}*.",
        f"Coder notifications you muted: {describe_mutes(muted)}.",
        "Change with `/workspace settings dm=on|off warn=&lt;minutes&gt;`; "
        "`/workspace mute &lt;kind&gt;` and `/workspace unmute &lt;kind|all&gt;` for Coder's notifications "
        "(`/workspace notifications` lists the kinds).",
    ]
    text = "\n".join(lines)
    return Message(clip(text, 3000), [SectionBlock(text=MarkdownTextObject(text=clip(text, 3000)))])


def kinds_message() -> Message:
    """``/workspace notifications``: every kind, by group, with the slug to type."""
    blocks: list[Block] = [HeaderBlock(text="Coder's notifications in Slack")]
    for group, title in _GROUPS:
        lines = [f"`{kind.slug}` — {escape(kind.name)}" for kind in KNOWN_KINDS if kind.group == group]
        if lines:
            text = clip(f"*{title}*\n" + "\n".join(lines), 3000)
            blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Coder sends each person its notifications as DMs here. "
                    "In a channel: `/workspace subscribe notifications=all` (or some kinds, comma-separated; "
                    "with `template=` / `owner=` to narrow them). For yourself: "
                    "`/workspace mute &lt;kind&gt;`, `/workspace unmute &lt;kind|all&gt;`."
                )
            ]
        )
    )
    text = "Coder notification kinds: " + ", ".join(kind.slug for kind in KNOWN_KINDS)
    return Message(clip(text, 3000), blocks)


__all__ = [
    "describe_events",
    "describe_mutes",
    "kinds_message",
    "muted_slugs",
    "settings_message",
    "split_events",
    "store_mutes",
]
