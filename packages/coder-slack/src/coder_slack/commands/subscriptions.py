"""watch, unwatch, subscribe, subscriptions, unsubscribe, settings: rows the alert engine reads."""

from __future__ import annotations

from coder_client import NotFound
from sqlalchemy import ColumnElement, delete, or_, select

from coder_slack.commands.context import Invocation, NotYours
from coder_slack.commands.grammar import (
    EVERY_KIND,
    ChangeSettings,
    Subscribe,
    Unsubscribe,
    WorkspaceRef,
)
from coder_slack.store import DEFAULT_EVENTS, Subscription, UserSettings
from coder_slack.views.messages import describe_subscription, subscription_list, text_message
from coder_slack.views.notifications import muted_slugs, settings_message, store_mutes


async def _channel_subscriptions(inv: Invocation) -> list[Subscription]:
    async with inv.bot.sessions() as session:
        rows = await session.execute(
            select(Subscription)
            .where(Subscription.team_id == inv.team_id, Subscription.channel_id == inv.channel_id)
            .order_by(Subscription.id)
        )
        return list(rows.scalars())


async def watch(inv: Invocation, target: WorkspaceRef) -> None:
    async def work() -> None:
        actor = await inv.actor()
        workspace = await inv.workspace(actor, target)
        existing = [
            s for s in await _channel_subscriptions(inv) if s.workspace_id == workspace.id and s.enabled
        ]
        if existing:
            await inv.reply(
                text_message(
                    f"This channel already gets alerts for `{workspace.full_name}` (`#{existing[0].id}`)."
                ),
                replace=True,
            )
            return
        async with inv.bot.sessions() as session:
            row = Subscription(
                team_id=inv.team_id,
                channel_id=inv.channel_id,
                created_by=inv.user_id,
                workspace_id=workspace.id,
                workspace_label=workspace.full_name,
                events=DEFAULT_EVENTS,
            )
            session.add(row)
            await session.commit()
            row_id = row.id
        inv.bot.request_sweep()
        await inv.audit(actor, workspace.full_name, f"watch #{row_id}")
        await inv.reply(
            text_message(
                f"👀 This channel will get lifecycle alerts for `{workspace.full_name}` "
                f"({DEFAULT_EVENTS.replace(',', ', ')}), subscription `#{row_id}`. "
                f"`/workspace unwatch {workspace.full_name}` stops them."
            ),
            replace=True,
        )

    await inv.guarded(work, what=f"workspace `{target}`")


async def _remove_for_workspace(inv: Invocation, target: WorkspaceRef) -> list[int]:
    """Delete this channel's subscriptions to ``target`` (by id when Coder knows it, else by label)."""
    actor = await inv.actor()
    labels = {str(target)}
    if target.owner is None:
        labels.add(f"{actor.username}/{target.name}")
    workspace_id = None
    try:
        workspace = await inv.workspace(actor, target)
        workspace_id = workspace.id
        labels.add(workspace.full_name)
    except (NotFound, NotYours):
        pass
    async with inv.bot.sessions() as session:
        conditions: list[ColumnElement[bool]] = [Subscription.workspace_label.in_(labels)]
        if workspace_id:
            conditions.append(Subscription.workspace_id == workspace_id)
        matching = (
            (
                await session.execute(
                    select(Subscription.id).where(
                        Subscription.team_id == inv.team_id,
                        Subscription.channel_id == inv.channel_id,
                        Subscription.workspace_id.is_not(None),
                        or_(*conditions),
                    )
                )
            )
            .scalars()
            .all()
        )
        if matching:
            await session.execute(delete(Subscription).where(Subscription.id.in_(matching)))
            await session.commit()
    return list(matching)


async def unwatch(inv: Invocation, target: WorkspaceRef) -> None:
    async def work() -> None:
        removed = await _remove_for_workspace(inv, target)
        if removed:
            await inv.audit(inv.resolved, str(target), f"unwatch {removed}")
            text = f"This channel no longer gets alerts for `{target}`."
        else:
            text = (
                f"This channel wasn't watching `{target}`. `/workspace subscriptions` lists what it follows."
            )
        await inv.reply(text_message(text), replace=True)

    await inv.guarded(work, what=f"workspace `{target}`")


async def subscribe(inv: Invocation, command: Subscribe) -> None:
    async def work() -> None:
        actor = await inv.actor()
        owner = command.owner
        note = ""
        if not (actor.linked or actor.is_owner):
            if owner is None:
                owner = actor.username
                note = " (only your own: Coder owners can subscribe a channel to everyone's workspaces)"
            elif owner.lower() != actor.username.lower():
                await inv.reply(
                    text_message(
                        f"Only Coder owners can subscribe a channel to {owner}'s workspaces; "
                        f"try `owner={actor.username}`."
                    ),
                    replace=True,
                )
                return
        if command.template:
            await actor.client.templates.get_by_name(command.template)
        async with inv.bot.sessions() as session:
            row = Subscription(
                team_id=inv.team_id,
                channel_id=inv.channel_id,
                created_by=inv.user_id,
                template=command.template,
                owner=owner,
                events=",".join(command.event_tokens),
            )
            session.add(row)
            await session.commit()
            await session.refresh(row)
        inv.bot.request_sweep()
        await inv.audit(actor, command.template, f"subscribe #{row.id}")
        await inv.reply(
            text_message(f"🔔 Subscribed{note}: {describe_subscription(row)}"),
            replace=True,
        )

    await inv.guarded(work, what=f"template `{command.template}`")


async def list_subscriptions(inv: Invocation) -> None:
    async def work() -> None:
        await inv.reply(subscription_list(await _channel_subscriptions(inv), inv.channel_id), replace=True)

    await inv.guarded(work)


async def unsubscribe(inv: Invocation, command: Unsubscribe) -> None:
    async def work() -> None:
        if command.target is not None:
            await unwatch(inv, command.target)
            return
        async with inv.bot.sessions() as session:
            row = await session.get(Subscription, command.subscription_id)
            if row is None or row.team_id != inv.team_id or row.channel_id != inv.channel_id:
                await inv.reply(
                    text_message(
                        f"This channel has no subscription `#{command.subscription_id}`. "
                        "`/workspace subscriptions` lists them."
                    ),
                    replace=True,
                )
                return
            await session.delete(row)
            await session.commit()
        await inv.audit(None, f"#{command.subscription_id}", "unsubscribe")
        await inv.reply(text_message(f"Removed subscription `#{command.subscription_id}`."), replace=True)

    await inv.guarded(work)


async def change_settings(inv: Invocation, command: ChangeSettings) -> None:
    async def work() -> None:
        async with inv.bot.sessions() as session:
            row = await session.get(UserSettings, (inv.team_id, inv.user_id))
            if row is None:
                row = UserSettings(
                    team_id=inv.team_id,
                    slack_user_id=inv.user_id,
                    dm_enabled=True,
                    autostop_warning_minutes=inv.bot.settings.coder_slack_autostop_warning_minutes,
                    muted_notifications="",
                )
                session.add(row)
            if command.dm_enabled is not None:
                row.dm_enabled = command.dm_enabled
            if command.warning_minutes is not None:
                row.autostop_warning_minutes = command.warning_minutes
            if command.mute or command.unmute:
                row.muted_notifications = store_mutes(
                    _muted_after(muted_slugs(row.muted_notifications or ""), command)
                )
            await session.commit()
            dm, warn = row.dm_enabled, row.autostop_warning_minutes
            muted = muted_slugs(row.muted_notifications or "")
        if command.mute or command.unmute:
            await inv.audit(
                None, ",".join(command.mute or command.unmute), "mute" if command.mute else "unmute"
            )
        await inv.reply(
            settings_message(dm_enabled=dm, warning_minutes=warn, muted=muted, changed=command.changes),
            replace=True,
        )

    await inv.guarded(work)


def _muted_after(muted: list[str], command: ChangeSettings) -> set[str]:
    kept = set(muted) | set(command.mute)
    if EVERY_KIND in command.unmute:
        return set()
    return kept - set(command.unmute)
