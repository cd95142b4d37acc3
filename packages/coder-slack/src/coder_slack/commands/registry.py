"""Every ``/workspace`` subcommand, declared once: verb, aliases, usage line, help summary, the text the ack
shows while the work runs, the argument parser and the handler.

Help, usage errors, parsing dispatch, the ack and the background work are all derived from :data:`COMMANDS`;
a new subcommand is one more :class:`CommandSpec` here (its parser in ``grammar``, its handler in the module
of its kind).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from coder_slack.commands import account, create, subscriptions, workspaces
from coder_slack.commands.context import Invocation
from coder_slack.commands.grammar import (
    ChangeSettings,
    Command,
    CommandError,
    Create,
    Extend,
    Help,
    ListNotificationKinds,
    ListSubscriptions,
    ListWorkspaces,
    Login,
    Logout,
    SetAutostart,
    SetTtl,
    Subscribe,
    Unsubscribe,
    WorkspaceAction,
    check_for_secrets,
    no_arguments,
    normalize,
    one_workspace,
    parse_autostart,
    parse_create,
    parse_extend,
    parse_list,
    parse_mute,
    parse_settings,
    parse_subscribe,
    parse_ttl,
    parse_unmute,
    parse_unsubscribe,
    quote,
    split_words,
)
from coder_slack.views.message import Message
from coder_slack.views.messages import HelpEntry, help_message
from coder_slack.views.notifications import kinds_message

C = TypeVar("C", bound=Command)

WORKING = "⏳ Working on it…"


@dataclass(frozen=True)
class ParsedCommand:
    """A command read from the text, bound to what answers it."""

    verb: str
    command: Command
    pending: str | None
    """The ack's text while ``run`` works in the background; None acks with nothing (a form opens)."""
    answer: Message | None
    """Answered in the ack itself, nothing runs after (help)."""
    run: Callable[[Invocation], Coroutine[Any, Any, None]] | None


@dataclass(frozen=True)
class CommandSpec(Generic[C]):
    verb: str
    usage: str
    summary: str
    parse: Callable[[list[str]], C]
    run: Callable[[Invocation, C], Awaitable[None]] | None = None
    pending: Callable[[C], str | None] = lambda _command: WORKING
    answer: Callable[[C], Message] | None = None
    aliases: tuple[str, ...] = ()

    def bind(self, args: list[str]) -> ParsedCommand:
        command = self.parse(args)
        if self.answer is not None:
            return ParsedCommand(self.verb, command, None, self.answer(command), None)
        handler = self.run
        if handler is None:
            return ParsedCommand(self.verb, command, self.pending(command), None, None)

        async def run(inv: Invocation) -> None:
            await handler(inv, command)

        return ParsedCommand(self.verb, command, self.pending(command), None, run)


class RegisteredCommand(Protocol):
    """A :class:`CommandSpec` of any command type, as the registry holds it."""

    @property
    def verb(self) -> str: ...

    @property
    def usage(self) -> str: ...

    @property
    def summary(self) -> str: ...

    @property
    def aliases(self) -> tuple[str, ...]: ...

    def bind(self, args: list[str]) -> ParsedCommand: ...


def _on_target(template: str) -> Callable[[WorkspaceAction | Extend | SetTtl | SetAutostart], str]:
    def pending(command: WorkspaceAction | Extend | SetTtl | SetAutostart) -> str:
        return template.format(target=f"`{command.target}`")

    return pending


def _one(verb: str) -> Callable[[list[str]], WorkspaceAction]:
    return lambda args: WorkspaceAction(verb, one_workspace(verb, args))


def _nothing(verb: str, command: C) -> Callable[[list[str]], C]:
    def parse(args: list[str]) -> C:
        no_arguments(verb, args)
        return command

    return parse


def _help(args: list[str]) -> Help:
    if not args:
        return Help()
    topic = resolve(args[0])
    return Help(topic if topic in COMMANDS else None)


def _help_answer(command: Help) -> Message:
    return help_message(help_entries(), command.topic)


async def _list_subscriptions(inv: Invocation, command: ListSubscriptions) -> None:
    await subscriptions.list_subscriptions(inv)


def _login_args(args: list[str]) -> Login:
    if args and [arg.lower() for arg in args] != ["token"]:
        raise CommandError("`login` takes nothing, or `token` for the token form.", "login")
    return Login(with_token=bool(args))


async def _login(inv: Invocation, command: Login) -> None:
    await account.open_login(inv, with_token=command.with_token)


async def _logout(inv: Invocation, command: Logout) -> None:
    await account.logout(inv)


async def _watch(inv: Invocation, command: WorkspaceAction) -> None:
    await subscriptions.watch(inv, command.target)


async def _unwatch(inv: Invocation, command: WorkspaceAction) -> None:
    await subscriptions.unwatch(inv, command.target)


_SPECS: tuple[RegisteredCommand, ...] = (
    CommandSpec[Help](
        "help",
        "/workspace help [subcommand]",
        "Show what the bot can do.",
        _help,
        answer=_help_answer,
        aliases=("?",),
    ),
    CommandSpec[Create](
        "create",
        "/workspace create <template> [name] [param=value …] [--preset <name>] [--ttl 8h] "
        '[--autostart "9:30 mon-fri Europe/Berlin"]',
        "Create a workspace; a form opens when the template needs more parameters. `--preset` uses one "
        "of the template's presets (a prebuilt workspace may be ready at once).",
        parse_create,
        create.start_create,
        pending=lambda command: f"⏳ Looking up template `{command.template}`…",
        aliases=("new",),
    ),
    CommandSpec[ListWorkspaces](
        "list",
        "/workspace list [all | <search>] [page=N]",
        "Your workspaces (or everyone's, or a search).",
        parse_list,
        workspaces.list_workspaces,
        pending=lambda _command: "⏳ Listing workspaces…",
        aliases=("ls",),
    ),
    CommandSpec[WorkspaceAction](
        "status",
        "/workspace status <ws>",
        "One workspace: build, agent, schedule.",
        _one("status"),
        workspaces.run_status,
        pending=_on_target("⏳ Looking up {target}…"),
        aliases=("info", "show"),
    ),
    CommandSpec[WorkspaceAction](
        "start",
        "/workspace start <ws>",
        "Start a workspace and follow it until it is ready.",
        _one("start"),
        workspaces.run_transition,
        pending=_on_target("⏳ Starting {target}…"),
        aliases=("up",),
    ),
    CommandSpec[WorkspaceAction](
        "stop",
        "/workspace stop <ws>",
        "Stop a workspace.",
        _one("stop"),
        workspaces.run_transition,
        pending=_on_target("⏳ Stopping {target}…"),
        aliases=("down",),
    ),
    CommandSpec[WorkspaceAction](
        "restart",
        "/workspace restart <ws>",
        "Stop and start a workspace.",
        _one("restart"),
        workspaces.run_transition,
        pending=_on_target("⏳ Restarting {target}…"),
    ),
    CommandSpec[Extend](
        "extend",
        "/workspace extend <ws> <duration | HH:MM UTC>",
        "Stop later: that much after the current stop time, or at that time (asks before stopping earlier).",
        parse_extend,
        workspaces.run_extend,
        pending=_on_target("⏳ Extending {target}…"),
    ),
    CommandSpec[SetTtl](
        "ttl",
        "/workspace ttl <ws> <duration|off>",
        "Autostop this long after each start.",
        parse_ttl,
        workspaces.set_ttl,
        pending=_on_target("⏳ Changing the TTL of {target}…"),
    ),
    CommandSpec[SetAutostart](
        "autostart",
        '/workspace autostart <ws> <"9:30 mon-fri Europe/Berlin"|off>',
        "Start the workspace on a schedule.",
        parse_autostart,
        workspaces.set_autostart,
        pending=_on_target("⏳ Changing the autostart of {target}…"),
    ),
    CommandSpec[WorkspaceAction](
        "watch",
        "/workspace watch <ws>",
        "Post this workspace's lifecycle alerts in this channel.",
        _one("watch"),
        _watch,
        pending=_on_target("⏳ Looking up {target}…"),
    ),
    CommandSpec[WorkspaceAction](
        "unwatch",
        "/workspace unwatch <ws>",
        "Stop posting this workspace's alerts here.",
        _one("unwatch"),
        _unwatch,
        pending=_on_target("⏳ Looking up {target}…"),
    ),
    CommandSpec[Subscribe](
        "subscribe",
        "/workspace subscribe [template=<name>] [owner=<user>] [events=ready,start_error,…|none] "
        "[notifications=all|<kind>,…]",
        "Alerts for every matching workspace in this channel; `notifications=` adds Coder's own "
        "notifications of those kinds.",
        parse_subscribe,
        subscriptions.subscribe,
        pending=lambda _command: "⏳ Saving the subscription…",
        aliases=("sub",),
    ),
    CommandSpec[ListSubscriptions](
        "subscriptions",
        "/workspace subscriptions",
        "What this channel is subscribed to.",
        _nothing("subscriptions", ListSubscriptions()),
        _list_subscriptions,
        pending=lambda _command: "⏳ Looking up this channel's subscriptions…",
        aliases=("subs",),
    ),
    CommandSpec[Unsubscribe](
        "unsubscribe",
        "/workspace unsubscribe <id|ws>",
        "Remove a subscription from this channel.",
        parse_unsubscribe,
        subscriptions.unsubscribe,
        pending=lambda _command: "⏳ Removing the subscription…",
        aliases=("unsub",),
    ),
    CommandSpec[ChangeSettings](
        "settings",
        "/workspace settings [dm=on|off] [warn=<minutes>] [mute=<kind>,…] [unmute=<kind>,…|all]",
        "Your alert DMs, autostop warning and muted Coder notifications.",
        parse_settings,
        subscriptions.change_settings,
        pending=lambda _command: "⏳ Loading your settings…",
    ),
    CommandSpec[ChangeSettings](
        "mute",
        "/workspace mute <kind>[,<kind>…] | all",
        "Stop getting these kinds of Coder notification as DMs (for you only).",
        parse_mute,
        subscriptions.change_settings,
        pending=lambda _command: "⏳ Saving your settings…",
    ),
    CommandSpec[ChangeSettings](
        "unmute",
        "/workspace unmute <kind>[,<kind>…] | all",
        "Get these kinds of Coder notification as DMs again.",
        parse_unmute,
        subscriptions.change_settings,
        pending=lambda _command: "⏳ Saving your settings…",
    ),
    CommandSpec[ListNotificationKinds](
        "notifications",
        "/workspace notifications",
        "The kinds of Coder notification, to subscribe a channel to or to mute.",
        _nothing("notifications", ListNotificationKinds()),
        answer=lambda _command: kinds_message(),
        aliases=("kinds",),
    ),
    CommandSpec[Login](
        "login",
        "/workspace login [token]",
        "Link your own Coder account: Sign in with Coder where Coder offers it, else (or with `token`) a "
        "private form for a token.",
        _login_args,
        _login,
        pending=lambda _command: None,  # the form opens in place of an answer
        aliases=("signin",),
    ),
    CommandSpec[Logout](
        "logout",
        "/workspace logout",
        "Forget your linked Coder token.",
        _nothing("logout", Logout()),
        _logout,
        pending=lambda _command: "⏳ Unlinking…",
        aliases=("signout",),
    ),
)

COMMANDS: dict[str, RegisteredCommand] = {spec.verb: spec for spec in _SPECS}
"""verb → its declaration, in the order help lists them."""

ALIASES: dict[str, str] = {alias: spec.verb for spec in _SPECS for alias in spec.aliases}


def resolve(word: str) -> str:
    """The verb a typed word stands for (aliases resolved, case ignored); unknown words come back as typed."""
    lowered = word.lower()
    return ALIASES.get(lowered, lowered)


def help_entries() -> list[HelpEntry]:
    return [HelpEntry(spec.verb, spec.usage, spec.summary) for spec in COMMANDS.values()]


def usage_line(verb: str | None) -> str | None:
    spec = COMMANDS.get(verb or "")
    return spec.usage if spec is not None else None


def first_word(text: str) -> str:
    """The subcommand a text names (for metrics and the audit log before it is parsed)."""
    words = normalize(text).split()
    return resolve(words[0]) if words else "help"


def parse(text: str) -> ParsedCommand:
    """Read the text after ``/workspace``. Raises :class:`CommandError` (or ``TokenInCommand``)."""
    raw = normalize(text)
    check_for_secrets(raw)
    try:
        words = split_words(raw)
    except CommandError as exc:
        verb = first_word(raw)
        raise CommandError(exc.message, verb if verb in COMMANDS else None) from None
    if not words:
        return COMMANDS["help"].bind([])
    spec = COMMANDS.get(resolve(words[0]))
    if spec is None:
        raise CommandError(f"I don't know the subcommand {quote(words[0], 24)}.", None)
    return spec.bind(words[1:])


__all__ = [
    "ALIASES",
    "COMMANDS",
    "CommandSpec",
    "ParsedCommand",
    "RegisteredCommand",
    "first_word",
    "help_entries",
    "parse",
    "resolve",
    "usage_line",
]
