"""update, autoupdate, share, unshare: template updates and workspace sharing (Coder v2).

``/workspace update <ws> [param=value …]`` does what ``coder update`` does (coder_client's
``workspaces.update``) and follows it on a status card; ``/workspace autoupdate <ws> always|never`` sets
the policy Coder's autostart follows. ``/workspace share <ws> @person [use|admin]`` shares a workspace
through Coder's workspace ACL: the person is a Slack mention (their linked Coder account, or the Coder
account with their Slack e-mail) or a Coder username. People a workspace is shared with see it with
``/workspace list --shared`` and get its alerts where they ``/workspace watch owner/ws`` (a DM with the bot
included); ``/workspace unshare`` also ends the alerts they set up for it. Each is offered only where the
Coder server has the feature (``capabilities()``); sharing that an admin turned off is said as such.
"""

from __future__ import annotations

import logging
import re

from coder_client import Capabilities, SharingDisabled, Workspace
from slack_sdk.errors import SlackApiError
from sqlalchemy import delete, select

from coder_slack.commands.context import Invocation, NotYours
from coder_slack.commands.grammar import (
    CommandError,
    SetAutoUpdates,
    ShareWorkspace,
    UpdateWorkspace,
    WorkspaceRef,
    _key_values,
    quote,
    workspace_ref,
)
from coder_slack.commands.workspaces import transition
from coder_slack.identity import Actor, IdentityProblem
from coder_slack.store import Identity, Subscription
from coder_slack.views.messages import text_message

log = logging.getLogger(__name__)

SLACK_USER_ID = re.compile(r"^@?([UW][A-Z0-9]{3,})$")  # Slack user ids: upper case and digits
UPDATES_ABSENT = (
    "This Coder server doesn't offer template updates for workspaces (they came with Coder v2.3), so there "
    "is nothing to update here."
)
SHARE_ABSENT = (
    "This Coder server doesn't offer workspace sharing (it came with Coder v2.27), so workspaces can't be "
    "shared here."
)
ROLE_WORDS = {"use": "use", "user": "use", "admin": "admin"}
ROLE_MEANING = {
    "use": "they can open, start and stop it",
    "admin": "they can use it, share it and change its settings",
}


# ---------------------------------------------------------------------------------------------- parsers


def parse_update(args: list[str]) -> UpdateWorkspace:
    positional, values = _key_values(args, None, "update")
    if len(positional) != 1:
        raise CommandError("Which workspace?" if not positional else "Too many arguments.", "update")
    return UpdateWorkspace(workspace_ref(positional[0], "update"), values)


def parse_autoupdate(args: list[str]) -> SetAutoUpdates:
    if len(args) != 2 or args[1].lower() not in ("always", "never"):
        raise CommandError(
            "Give the workspace and `always` (autostart moves to the newest template version) or `never`.",
            "autoupdate",
        )
    return SetAutoUpdates(workspace_ref(args[0], "autoupdate"), args[1].lower())


def _person(word: str, verb: str) -> str:
    person = word.strip()
    if not person.lstrip("@"):
        raise CommandError("Whom? Mention them (`@name`) or give their Coder username.", verb)
    return person


def parse_share(args: list[str]) -> ShareWorkspace:
    if len(args) not in (2, 3):
        raise CommandError("Give the workspace, the person, and optionally `use` or `admin`.", "share")
    role = "use"
    if len(args) == 3:
        role = ROLE_WORDS.get(args[2].lower(), "")
        if not role:
            raise CommandError(
                f"{quote(args[2])} is not a role: `use` (open, start, stop) or `admin` (also share it).",
                "share",
            )
    return ShareWorkspace(workspace_ref(args[0], "share"), _person(args[1], "share"), role)


def parse_unshare(args: list[str]) -> ShareWorkspace:
    if len(args) != 2:
        raise CommandError("Give the workspace and the person to stop sharing it with.", "unshare")
    return ShareWorkspace(workspace_ref(args[0], "unshare"), _person(args[1], "unshare"), "")


# --------------------------------------------------------------------------------------------- handlers


async def _capabilities(actor: Actor) -> Capabilities:
    return await actor.client.capabilities()


async def run_update(inv: Invocation, command: UpdateWorkspace) -> None:
    offered: list[bool] = []

    async def check() -> None:
        actor = await inv.actor()
        offered.append((await _capabilities(actor)).template_updates)
        if not offered[-1]:
            await inv.reply(text_message(UPDATES_ABSENT), replace=True)

    await inv.guarded(check)
    if offered and offered[0]:
        await transition(inv, "update", command.target, command.parameters)


async def set_autoupdates(inv: Invocation, command: SetAutoUpdates) -> None:
    async def work() -> None:
        actor = await inv.actor()
        if not (await _capabilities(actor)).template_updates:
            await inv.reply(text_message(UPDATES_ABSENT), replace=True)
            return
        workspace = await _manageable(inv, actor, command.target)
        await actor.client.workspaces.set_automatic_updates(workspace.id, command.policy)
        await inv.audit(actor, workspace.full_name, f"autoupdate {command.policy}")
        if command.policy == "always":
            answer = (
                f"`{workspace.full_name}` will move to the newest version of template "
                f"`{workspace.template_name}` whenever it starts on its schedule."
            )
        else:
            answer = f"`{workspace.full_name}` keeps its template version until you update it."
        await inv.reply(text_message(answer), replace=True)

    await inv.guarded(work, what=f"workspace `{command.target}`")


async def _manageable(inv: Invocation, actor: Actor, target: WorkspaceRef) -> Workspace:
    """The workspace, if the person may change its settings or sharing: its owner, a Coder owner, or
    someone it is shared with as admin (with the bot's service token the bot checks; with a linked token,
    Coder does)."""
    workspace = await inv.workspace(actor, target)
    admin = any(entry.id == actor.user.id and "admin" in entry.roles for entry in workspace.shared_with)
    if actor.may_act_on(workspace.owner_name) or admin:
        return workspace
    raise NotYours(workspace)


async def _coder_user(inv: Invocation, person: str) -> tuple[str, str, str | None]:
    """(Coder username or id to share with, how to name them in Slack, their Slack user id if known) for a
    mention or a username."""
    match = SLACK_USER_ID.match(person)
    if match is None:
        name = person.lstrip("@")
        async with inv.bot.sessions() as session:
            slack_ids = (
                (
                    await session.execute(
                        select(Identity.slack_user_id).where(
                            Identity.team_id == inv.team_id, Identity.coder_username == name
                        )
                    )
                )
                .scalars()
                .all()
            )
        return name, f"`{name}`", slack_ids[0] if len(slack_ids) == 1 else None
    slack_id = match.group(1)
    mention = f"<@{slack_id}>"
    async with inv.bot.sessions() as session:
        known = await session.get(Identity, (inv.team_id, slack_id))
    if known is not None:
        return known.coder_user_id, f"{mention} (Coder user `{known.coder_username}`)", slack_id
    email = ""
    try:
        slack = await inv.bot.tokens.client_for(inv.team_id)
        info = await slack.users_info(user=slack_id)
        email = str(((info.get("user") or {}).get("profile") or {}).get("email") or "")
    except SlackApiError:
        pass
    user = await inv.bot.pool.find_user_by_email(email) if email and inv.bot.pool.has_service_token else None
    if user is None:
        raise IdentityProblem(
            f"I don't know which Coder account {mention} has: they haven't used me yet and no Coder account "
            "I can see uses their Slack e-mail. Ask them to run `/workspace login`, or give their Coder "
            "username instead of the mention."
        )
    return user.id, f"{mention} (Coder user `{user.username}`)", slack_id


async def share(inv: Invocation, command: ShareWorkspace) -> None:
    verb = "share" if command.role else "unshare"

    async def work() -> None:
        actor = await inv.actor()
        if not (await _capabilities(actor)).workspace_sharing:
            await inv.reply(text_message(SHARE_ABSENT), replace=True)
            return
        workspace = await _manageable(inv, actor, command.target)
        user, named, slack_id = await _coder_user(inv, command.person)
        try:
            if command.role:
                await actor.client.workspaces.share(workspace.id, user, command.role)
            else:
                await actor.client.workspaces.unshare(workspace.id, user)
        except SharingDisabled as exc:
            await inv.reply(text_message(f"🔒 {exc}"), replace=True)
            return
        await inv.audit(actor, workspace.full_name, f"{verb} {command.person} {command.role}".strip())
        if command.role:
            answer = (
                f"🤝 Shared `{workspace.full_name}` with {named} as *{command.role}*: "
                f"{ROLE_MEANING[command.role]}. They find it with `/workspace list --shared`, and "
                f"`/workspace watch {workspace.full_name}` (in a DM with me, say) sends them its ready and "
                "failure alerts."
            )
        else:
            ended = await _end_alerts_of(inv, workspace.id, user)
            answer = f"`{workspace.full_name}` is no longer shared with {named}." + (
                f" The alerts they had set up for it ({ended}) are off." if ended else ""
            )
        if command.role and slack_id and slack_id != inv.user_id:
            await _tell_them(inv, slack_id, workspace.full_name, command.role)
        inv.bot.home_changed(inv.team_id, inv.user_id, workspace.full_name)
        await inv.reply(text_message(answer), replace=True)

    await inv.guarded(work, what=f"workspace `{command.target}`")


async def _tell_them(inv: Invocation, slack_id: str, workspace: str, role: str) -> None:
    """A DM to the person it was shared with: what they may do, and how to get its alerts (opt-in)."""
    text = (
        f"<@{inv.user_id}> shared `{workspace}` with you as *{role}*: {ROLE_MEANING[role]}. "
        f"`/workspace watch {workspace}` here sends you its ready and failure alerts; "
        "`/workspace list --shared` lists what is shared with you."
    )
    try:
        slack = await inv.bot.tokens.client_for(inv.team_id)
        opened = await slack.conversations_open(users=slack_id)
        await slack.chat_postMessage(channel=opened["channel"]["id"], text=text)
    except SlackApiError as exc:  # the share itself worked; the note is a courtesy
        log.info("could not tell %s about a share: %s", slack_id, exc.response.get("error"))


async def _end_alerts_of(inv: Invocation, workspace_id: str, coder_user: str) -> int:
    """Remove the watches the unshared person made for the workspace: alerts follow access."""
    async with inv.bot.sessions() as session:
        slack_users = (
            (
                await session.execute(
                    select(Identity.slack_user_id).where(
                        Identity.team_id == inv.team_id,
                        (Identity.coder_user_id == coder_user) | (Identity.coder_username == coder_user),
                    )
                )
            )
            .scalars()
            .all()
        )
        if not slack_users:
            return 0
        removed = await session.execute(
            delete(Subscription).where(
                Subscription.team_id == inv.team_id,
                Subscription.workspace_id == workspace_id,
                Subscription.created_by.in_(list(slack_users)),
            )
        )
        await session.commit()
    count = int(getattr(removed, "rowcount", 0) or 0)
    if count:
        inv.bot.request_sweep()
    return count
