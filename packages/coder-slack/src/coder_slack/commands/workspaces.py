"""list, status, start, stop, restart, extend, ttl, autostart, and the buttons that do the same."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from coder_client import (
    Workspace,
    WorkspaceBuild,
    describe_schedule,
    human_duration,
    plan_deadline,
    without_prebuilds,
)

from coder_slack.commands.context import Invocation
from coder_slack.commands.grammar import (
    Extend,
    ListWorkspaces,
    SetAutostart,
    SetTtl,
    WorkspaceAction,
    WorkspaceRef,
)
from coder_slack.identity import Actor
from coder_slack.views.buttons import ButtonOutcome
from coder_slack.views.message import Message
from coder_slack.views.messages import (
    earlier_stop_question,
    stop_time_changed,
    text_message,
    workspace_details,
    workspace_list,
)


def _what(target: WorkspaceRef | str) -> str:
    return f"workspace `{target}`" if isinstance(target, WorkspaceRef) else "that workspace"


def _query(actor: Actor, listing: ListWorkspaces) -> tuple[str | None, str]:
    mine = "owner:me" if actor.linked else f"owner:{actor.username}"
    may_see_all = actor.linked or actor.is_owner
    search = listing.search
    if search and ":" not in search:
        search = f"name:{search}"
    if listing.everyone:
        if may_see_all:
            return None, "All workspaces"
        return mine, "Your workspaces (only Coder owners can list everyone's)"
    if search:
        if may_see_all and "owner:" in search:
            return search, f"Workspaces matching {listing.search}"
        cleaned = " ".join(word for word in search.split() if not word.startswith("owner:"))
        if cleaned != search:
            title = "Your workspaces (only Coder owners can list other people's)"
            if cleaned:
                title += f" matching {cleaned.removeprefix('name:')}"
            return f"{mine} {cleaned}".strip(), title
        return f"{mine} {cleaned}".strip(), f"Your workspaces matching {listing.search}"
    return mine, "Your workspaces"


async def list_workspaces(inv: Invocation, listing: ListWorkspaces, *, replace: bool = True) -> None:
    async def work() -> None:
        actor = await inv.actor()
        query, title = _query(actor, listing)
        workspaces = without_prebuilds(await actor.client.workspaces.list(query=query))  # presets
        workspaces.sort(key=lambda w: (w.owner_name, w.name))
        scope: dict[str, str | bool | None] = {"everyone": listing.everyone, "search": listing.search}
        await inv.reply(
            workspace_list(
                workspaces,
                title=title,
                page=listing.page,
                page_size=inv.bot.settings.coder_slack_list_page_size,
                scope=scope,
            ),
            replace=replace,
        )

    await inv.guarded(work)


async def list_page(inv: Invocation, value: str) -> None:
    try:
        scope: dict[str, Any] = json.loads(value)
        listing = ListWorkspaces(
            bool(scope.get("everyone")), scope.get("search") or None, int(scope.get("page", 1))
        )
    except (ValueError, TypeError):
        listing = ListWorkspaces()
    await list_workspaces(inv, listing, replace=True)


async def status(inv: Invocation, target: WorkspaceRef | str) -> None:
    async def work() -> None:
        actor = await inv.actor()
        workspace = await inv.workspace(actor, target)
        await inv.reply(workspace_details(workspace, inv.bot.pool.url), replace=True)

    await inv.guarded(work, what=_what(target))


async def _build_and_follow(inv: Invocation, actor: Actor, workspace: Workspace, verb: str) -> WorkspaceBuild:
    client = actor.client
    build: WorkspaceBuild
    # coder_client activates a dormant workspace before starting it (Coder refuses to start one); say so.
    activated = verb in ("start", "restart") and workspace.dormant_at is not None
    if verb == "start":
        build = await client.workspaces.start(workspace)
    elif verb == "stop":
        build = await client.workspaces.stop(workspace.id)
    else:
        build = await client.workspaces.restart(workspace.id)
    await inv.bot.track_build(workspace.id)
    await inv.audit(actor, workspace.full_name, f"{verb}: build #{build.build_number} queued")
    card = await inv.bot.cards.post(
        team_id=inv.team_id,
        channel=inv.channel_id,
        requested_by=inv.user_id,
        action=verb,
        workspace=workspace,
        build_number=build.build_number,
    )
    where = "in our DM (I'm not in this channel; `/invite` me to post here)" if card.moved_to_dm else "below"
    if not inv.channel_id:  # a click on the App Home: no channel, the card is in the DM
        where = "in our DM"
    woke = f"`{workspace.full_name}` was dormant, so I activated it. " if activated else ""
    await inv.reply(
        text_message(
            f"{woke}Build #{build.build_number} of `{workspace.full_name}` is on its way; progress {where}."
        ),
        replace=True,
    )
    inv.bot.tasks.spawn(inv.bot.cards.follow(card, client, build.build_number), name=f"card-{card.row_id}")
    return build


async def transition(inv: Invocation, verb: str, target: WorkspaceRef | str) -> ButtonOutcome | None:
    """Start, stop or restart; what was done (None if it failed: the user was told why)."""
    done: list[ButtonOutcome] = []

    async def work() -> None:
        actor = await inv.actor()
        workspace = await inv.workspace(actor, target)
        build = await _build_and_follow(inv, actor, workspace, verb)
        done.append(ButtonOutcome(verb, inv.user_id, workspace.full_name, build_number=build.build_number))

    await inv.guarded(work, what=_what(target))
    return done[0] if done else None


async def extend(inv: Invocation, target: WorkspaceRef | str, duration: timedelta) -> ButtonOutcome | None:
    """*Extend +duration*, for ``/workspace extend <ws> 2h`` and every Extend button alike: the stop time
    moves that much later than it is now, capped at the template's maximum (and saying so), never earlier
    (coder_client's ``workspaces.extend``). What was done, or None if it failed (the user was told why)."""
    done: list[ButtonOutcome] = []

    async def work() -> None:
        actor = await inv.actor()
        workspace = await inv.workspace(actor, target)
        plan = await actor.client.workspaces.extend(workspace, by=duration)
        done.append(ButtonOutcome("extend", inv.user_id, workspace.full_name, deadline=plan.deadline))
        await inv.audit(actor, workspace.full_name, f"extend {human_duration(duration)}")
        await inv.reply(stop_time_changed(workspace.full_name, plan), replace=True)

    await inv.guarded(work, what=_what(target))
    return done[0] if done else None


def next_at(moment: time | datetime, now: datetime | None = None) -> datetime:
    """A typed stop time as an aware datetime: a UTC time of day is its next occurrence."""
    if isinstance(moment, datetime):
        return moment
    now = now or datetime.now(UTC)
    candidate = datetime.combine(now.date(), moment, tzinfo=UTC)
    return candidate if candidate > now else candidate + timedelta(days=1)


async def extend_until(inv: Invocation, target: WorkspaceRef, until: datetime) -> None:
    """``/workspace extend <ws> 18:00``: stop at that time; if that is earlier than the stop time now, say so
    and ask (a private question with a confirm button) instead of shortening the workspace."""

    async def work() -> None:
        actor = await inv.actor()
        workspace = await inv.workspace(actor, target)
        plan = plan_deadline(workspace, until)
        if plan.shortens and not plan.too_soon:
            await inv.reply(earlier_stop_question(workspace.full_name, workspace.id, plan), replace=True)
            return
        applied = await actor.client.workspaces.set_deadline(workspace, until)
        await inv.audit(actor, workspace.full_name, f"extend until {until.isoformat()}")
        await inv.reply(stop_time_changed(workspace.full_name, applied), replace=True)

    await inv.guarded(work, what=_what(target))


async def confirm_earlier_stop(inv: Invocation, workspace_id: str, until: datetime) -> None:
    """The user confirmed a stop time earlier than the current one (as :func:`extend_until` asked)."""

    async def change(actor: Actor, workspace: Workspace) -> Message:
        plan = await actor.client.workspaces.set_deadline(workspace, until, allow_earlier=True)
        return stop_time_changed(workspace.full_name, plan)

    await _change_workspace(inv, workspace_id, change, f"stop earlier, at {until.isoformat()}")


async def _change_workspace(
    inv: Invocation,
    target: WorkspaceRef | str,
    change: Callable[[Actor, Workspace], Awaitable[Message]],
    audit: str,
) -> None:
    """Find the workspace as the asking user, change it, audit it, answer with ``change``'s reply."""

    async def work() -> None:
        actor = await inv.actor()
        workspace = await inv.workspace(actor, target)
        answer = await change(actor, workspace)
        await inv.audit(actor, workspace.full_name, audit)
        await inv.reply(answer, replace=True)

    await inv.guarded(work, what=_what(target))


async def set_ttl(inv: Invocation, command: SetTtl) -> None:
    async def change(actor: Actor, workspace: Workspace) -> Message:
        await actor.client.workspaces.set_ttl(workspace.id, command.ttl)
        if command.ttl is None:
            return text_message(f"`{workspace.full_name}` no longer stops on its own after starting.")
        return text_message(
            f"`{workspace.full_name}` will stop {human_duration(command.ttl)} after each start "
            "(from its next start on)."
        )

    await _change_workspace(inv, command.target, change, f"ttl {command.text}")


async def set_autostart(inv: Invocation, command: SetAutostart) -> None:
    async def change(actor: Actor, workspace: Workspace) -> Message:
        await actor.client.workspaces.set_autostart(workspace.id, command.schedule)
        if command.schedule is None:
            return text_message(f"`{workspace.full_name}` will no longer start on a schedule.")
        return text_message(f"`{workspace.full_name}` will start {describe_schedule(command.schedule)}.")

    await _change_workspace(inv, command.target, change, f"autostart {command.schedule or 'off'}")


async def run_status(inv: Invocation, command: WorkspaceAction) -> None:
    await status(inv, command.target)


async def run_transition(inv: Invocation, command: WorkspaceAction) -> None:
    await transition(inv, command.verb, command.target)


async def run_extend(inv: Invocation, command: Extend) -> None:
    if command.until is not None:
        await extend_until(inv, command.target, next_at(command.until))
    elif command.duration is not None:
        await extend(inv, command.target, command.duration)


MENU_VERBS = {
    "status": ("status", None),
    "extend1h": ("extend", timedelta(hours=1)),
    "restart": ("restart", None),
    "stop": ("stop", None),
    "start": ("start", None),
}


async def button(
    inv: Invocation, verb: str, workspace_id: str, duration: timedelta | None
) -> ButtonOutcome | None:
    """A button or menu item: the clicker is resolved and checked again, whoever posted the message.
    Returns what was done to the workspace (None for status, and when it failed)."""
    if not workspace_id:
        await inv.reply(text_message("That button has no workspace attached; use `/workspace list`."))
        return None
    if verb == "extend" and duration is not None:
        return await extend(inv, workspace_id, duration)
    if verb == "status":
        await status(inv, workspace_id)
        return None
    return await transition(inv, verb, workspace_id)
