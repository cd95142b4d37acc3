"""``/workspace`` command text → a typed command, or a usage error that says what was wrong.

The typed commands and each subcommand's argument parser; which verb uses which parser (and its usage line,
aliases, pending text and handler) is declared once, in :mod:`coder_slack.commands.registry`.
Pure functions: no Slack, no Coder, no I/O. Durations and schedules are checked here with coder_client's
own readers so a typo gets the usage line at once instead of a round trip to Coder.
"""

from __future__ import annotations

import html
import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from coder_client import MAX_NAME_LENGTH, parse_duration, parse_schedule, workspace_name_error

from coder_slack.notifications.kinds import (
    ALL_EVENTS_TOKEN,
    EVENT_PREFIX,
    KNOWN_KINDS,
    event_token,
    kind_by_slug,
)
from coder_slack.store.tables import ALL_EVENTS

EVERY_KIND = "*"  # in Subscribe.notifications and ChangeSettings.unmute: every Coder notification kind

# A Coder API token is "<10-char id>-<22-char secret>"; a session cookie value looks the same.
_TOKEN_PATTERN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{10}-[A-Za-z0-9]{22}(?![A-Za-z0-9])")
_TOKEN_WORDS = re.compile(r"(?:^|\s)(?:--?token|token\s*[=:]|session[-_]?token\s*[=:])", re.IGNORECASE)
_SLACK_LINK = re.compile(r"<(?:mailto:|https?://)?([^<>|]*)\|([^<>]*)>|<(?:mailto:)?([^<>|]*)>")
_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})


class CommandError(Exception):
    """Bad command text. ``usage`` names the subcommand whose usage line should be shown."""

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage


class TokenInCommand(CommandError):
    """Someone typed what looks like a secret into the command text."""


@dataclass(frozen=True)
class WorkspaceRef:
    name: str
    owner: str | None = None

    def __str__(self) -> str:
        return f"{self.owner}/{self.name}" if self.owner else self.name


@dataclass(frozen=True)
class Help:
    topic: str | None = None


@dataclass(frozen=True)
class Create:
    template: str
    name: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    ttl: timedelta | None = None
    autostart: str | None = None
    preset: str | None = None  # presets: a preset's name (or id)


@dataclass(frozen=True)
class ListWorkspaces:
    everyone: bool = False
    search: str | None = None
    page: int = 1


@dataclass(frozen=True)
class WorkspaceAction:
    """status, start, stop, restart, watch, unwatch: one verb, one workspace."""

    verb: str
    target: WorkspaceRef


@dataclass(frozen=True)
class Extend:
    """``extend <ws> 2h`` (``duration``: later than the current stop time) or ``extend <ws> 17:30``
    (``until``: a time of day in UTC, the next one to come, or a full ISO 8601 time with its offset)."""

    target: WorkspaceRef
    duration: timedelta | None
    text: str
    until: time | datetime | None = None


@dataclass(frozen=True)
class SetTtl:
    target: WorkspaceRef
    ttl: timedelta | None
    text: str


@dataclass(frozen=True)
class SetAutostart:
    target: WorkspaceRef
    schedule: str | None
    text: str


@dataclass(frozen=True)
class Subscribe:
    template: str | None = None
    owner: str | None = None
    events: tuple[str, ...] = ALL_EVENTS
    notifications: tuple[str, ...] = ()
    """Coder notification kinds (slugs), or ``("*",)`` for every kind; none unless asked for."""

    @property
    def event_tokens(self) -> tuple[str, ...]:
        """What the subscription's ``events`` column stores: alert events, then ``coder:<slug>`` tokens."""
        coder = tuple(
            ALL_EVENTS_TOKEN if slug == EVERY_KIND else event_token(slug) for slug in self.notifications
        )
        return self.events + coder


@dataclass(frozen=True)
class ListSubscriptions:
    pass


@dataclass(frozen=True)
class Unsubscribe:
    subscription_id: int | None = None
    target: WorkspaceRef | None = None


@dataclass(frozen=True)
class ChangeSettings:
    dm_enabled: bool | None = None
    warning_minutes: int | None = None
    mute: tuple[str, ...] = ()
    """Coder notification kinds (slugs) to stop sending this person as DMs."""
    unmute: tuple[str, ...] = ()
    """Kinds to send again; ``("*",)`` for every kind."""

    @property
    def changes(self) -> bool:
        return (
            self.dm_enabled is not None
            or self.warning_minutes is not None
            or bool(self.mute)
            or bool(self.unmute)
        )


@dataclass(frozen=True)
class ListNotificationKinds:
    pass


@dataclass(frozen=True)
class Login:
    # `/workspace login token`: the token form even where Sign in with Coder is offered
    with_token: bool = False


@dataclass(frozen=True)
class Logout:
    pass


Command = (
    Help
    | Create
    | ListWorkspaces
    | WorkspaceAction
    | Extend
    | SetTtl
    | SetAutostart
    | Subscribe
    | ListSubscriptions
    | Unsubscribe
    | ChangeSettings
    | ListNotificationKinds
    | Login
    | Logout
)


def quote(text: str, limit: int = 40) -> str:
    """User text to echo in a message: shortened, in backticks (views escape the whole message for mrkdwn)."""
    shortened = text if len(text) <= limit else text[: limit - 1] + "…"
    return "`" + shortened.replace("`", "'") + "`"


def looks_like_secret(text: str) -> bool:
    return bool(_TOKEN_PATTERN.search(text) or _TOKEN_WORDS.search(text))


def normalize(text: str) -> str:
    """Undo Slack's escaping and auto-links: ``&lt;`` → ``<``, ``<mailto:a@b|a@b>`` → ``a@b``."""

    def unlink(match: re.Match[str]) -> str:
        return match.group(2) or match.group(3) or match.group(1) or ""

    return html.unescape(_SLACK_LINK.sub(unlink, text)).translate(_SMART_QUOTES).strip()


def _name(value: str, what: str, usage: str) -> str:
    """A workspace, template or user name, checked with Coder's name rule (coder_client's)."""
    problem = workspace_name_error(value)
    if problem is None:
        return value
    if what == "workspace name":
        raise CommandError(problem, usage)
    raise CommandError(
        f"{quote(value)} is not a valid {what}: use up to {MAX_NAME_LENGTH} letters, digits and single "
        "hyphens.",
        usage,
    )


def workspace_ref(value: str, usage: str) -> WorkspaceRef:
    owner, _, name = value.rpartition("/")
    if owner:
        return WorkspaceRef(_name(name, "workspace name", usage), _name(owner, "user name", usage))
    return WorkspaceRef(_name(name, "workspace name", usage))


def _duration(value: str, usage: str) -> timedelta:
    try:
        duration = parse_duration(value)
    except ValueError as exc:
        raise CommandError(str(exc), usage) from None
    if duration <= timedelta(0):
        raise CommandError(f"{quote(value)} is not a positive duration.", usage)
    return duration


def _key_values(words: list[str], allowed: set[str] | None, usage: str) -> tuple[list[str], dict[str, str]]:
    positional: list[str] = []
    pairs: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if sep and key:
            if allowed is not None and key not in allowed:
                raise CommandError(
                    f"Unknown option {quote(key)}: expected {', '.join(sorted(allowed))}.", usage
                )
            pairs[key] = value
        else:
            positional.append(word)
    return positional, pairs


def parse_create(args: list[str]) -> Create:
    usage = "create"
    ttl: timedelta | None = None
    autostart: str | None = None
    preset: str | None = None
    rest: list[str] = []
    words = iter(args)
    for word in words:
        flag, sep, inline = word.partition("=")
        if flag in {"--ttl", "--autostart", "--preset"}:
            value = inline if sep else next(words, None)
            if not value or not value.strip():
                raise CommandError(f"`{flag}` needs a value.", usage)
            if flag == "--ttl":
                ttl = _duration(value, usage)
            elif flag == "--preset":
                preset = value.strip()
            else:
                try:
                    autostart = parse_schedule(value)
                except ValueError as exc:
                    raise CommandError(str(exc), usage) from None
        elif word.startswith("--"):
            raise CommandError(
                f"Unknown option {quote(flag)}: expected `--ttl`, `--autostart` or `--preset`.", usage
            )
        else:
            rest.append(word)
    positional, parameters = _key_values(rest, None, usage)
    if not positional:
        raise CommandError("Which template? `/workspace create <template>`.", usage)
    if len(positional) > 2:
        raise CommandError(
            f"Too many words: {quote(' '.join(positional[2:]))}. Parameters are written `name=value`.", usage
        )
    template = _name(positional[0], "template name", usage)
    name = _name(positional[1], "workspace name", usage) if len(positional) == 2 else None
    return Create(template, name, parameters, ttl, autostart, preset)


def parse_list(args: list[str]) -> ListWorkspaces:
    positional, pairs = _key_values(args, {"page"}, "list")
    page = 1
    if "page" in pairs:
        if not pairs["page"].isdigit() or int(pairs["page"]) < 1:
            raise CommandError(f"{quote(pairs['page'])} is not a page number.", "list")
        page = int(pairs["page"])
    if positional == ["all"]:
        return ListWorkspaces(everyone=True, page=page)
    return ListWorkspaces(search=" ".join(positional) or None, page=page)


def kinds_choice() -> str:
    """The kinds a person may name, for an error message."""
    slugs = ", ".join(f"`{kind.slug}`" for kind in KNOWN_KINDS)
    return f"write `all` or some of {slugs} (`/workspace notifications` says what each one is)."


def notification_kinds(value: str, usage: str) -> tuple[str, ...]:
    """``all`` (``("*",)``) or a comma list of known kinds, as slugs.

    Slugs are read leniently (``Autobuild-Failed`` and ``coder:autobuild_failed`` are ``autobuild_failed``);
    an unknown one is refused with the list of known ones, so a typo never subscribes to nothing."""
    words = [word.strip() for word in value.split(",") if word.strip()]
    if not words:
        raise CommandError(f"Which kinds of Coder notification? {kinds_choice()}", usage)
    slugs: list[str] = []
    for word in words:
        slug = word.casefold().removeprefix(EVENT_PREFIX).replace("-", "_")
        if slug in {"all", "*", "every", "everything"}:
            return (EVERY_KIND,)
        kind = kind_by_slug(slug)
        if kind is None:
            raise CommandError(f"Unknown kind of Coder notification {quote(word)}: {kinds_choice()}", usage)
        if kind.slug not in slugs:
            slugs.append(kind.slug)
    return tuple(slugs)


def parse_subscribe(args: list[str]) -> Subscribe:
    usage = "subscribe"
    positional, pairs = _key_values(args, {"template", "owner", "events", "notifications"}, usage)
    if positional:
        raise CommandError(
            f"{quote(positional[0])} is not an option: write `template=…`, `owner=…`, `events=…` or "
            "`notifications=…` (for one workspace use `/workspace watch <ws>`).",
            usage,
        )
    notifications: tuple[str, ...] = ()
    if pairs.get("notifications", "").strip().casefold() not in {"", "none"}:
        notifications = notification_kinds(pairs["notifications"], usage)
    elif "notifications" in pairs and not pairs["notifications"].strip():
        raise CommandError(f"Which kinds of Coder notification? {kinds_choice()}", usage)
    events: tuple[str, ...] = ALL_EVENTS
    if pairs.get("events", "").strip().casefold() == "none":
        if not notifications:
            raise CommandError(
                "With `events=none` there is nothing left to post: add `notifications=all` (or some kinds), "
                "or leave `events` out.",
                usage,
            )
        events = ()
    elif "events" in pairs:
        wanted = tuple(event.strip() for event in pairs["events"].split(",") if event.strip())
        unknown = [event for event in wanted if event not in ALL_EVENTS]
        if unknown or not wanted:
            raise CommandError(
                f"Unknown event {quote(unknown[0] if unknown else '')}: choose from {', '.join(ALL_EVENTS)}.",
                usage,
            )
        events = wanted
    template = _name(pairs["template"], "template name", usage) if pairs.get("template") else None
    owner = _name(pairs["owner"], "user name", usage) if pairs.get("owner") else None
    return Subscribe(template, owner, events, notifications)


def parse_settings(args: list[str]) -> ChangeSettings:
    usage = "settings"
    positional, pairs = _key_values(args, {"dm", "warn", "mute", "unmute"}, usage)
    if positional:
        raise CommandError(
            f"{quote(positional[0])} is not a setting: write `dm=on|off`, `warn=30`, `mute=<kind>,…` or "
            "`unmute=<kind>,…`.",
            usage,
        )
    dm: bool | None = None
    if "dm" in pairs:
        if pairs["dm"].lower() not in {"on", "off", "yes", "no", "true", "false"}:
            raise CommandError(f"`dm` is `on` or `off`, not {quote(pairs['dm'])}.", usage)
        dm = pairs["dm"].lower() in {"on", "yes", "true"}
    warn: int | None = None
    if "warn" in pairs:
        value = pairs["warn"].removesuffix("m")
        if not value.isdigit() or not 0 <= int(value) <= 720:
            raise CommandError(
                f"`warn` is a number of minutes from 0 (off) to 720, not {quote(pairs['warn'])}.", usage
            )
        warn = int(value)
    mute = _known(notification_kinds(pairs["mute"], usage)) if "mute" in pairs else ()
    unmute = notification_kinds(pairs["unmute"], usage) if "unmute" in pairs else ()
    return ChangeSettings(dm, warn, mute, unmute)


def _known(slugs: tuple[str, ...]) -> tuple[str, ...]:
    """Muting ``all`` mutes every kind known today, by name (the stored list is a list of slugs)."""
    return tuple(kind.slug for kind in KNOWN_KINDS) if EVERY_KIND in slugs else slugs


def parse_mute(args: list[str]) -> ChangeSettings:
    """``mute autobuild_failed dormant`` (or with commas): these kinds stop coming as DMs; ``all``: every
    kind known today."""
    return ChangeSettings(mute=_known(notification_kinds(",".join(args), "mute")))


def parse_unmute(args: list[str]) -> ChangeSettings:
    return ChangeSettings(unmute=notification_kinds(",".join(args), "unmute"))


def one_workspace(verb: str, args: list[str]) -> WorkspaceRef:
    if len(args) != 1:
        problem = "Which workspace?" if not args else "Too many arguments."
        raise CommandError(problem, verb)
    return workspace_ref(args[0], verb)


def no_arguments(verb: str, args: list[str]) -> None:
    if args:
        raise CommandError(f"`{verb}` takes no arguments.", verb)


_TIME_OF_DAY = re.compile(r"^(\d{1,2}):(\d{2})(?:z|utc)?$", re.IGNORECASE)


def _stop_time(value: str) -> time | datetime | None:
    """``17:30`` / ``17:30Z`` / ``17:30 UTC`` (a UTC time of day), or an ISO time with its offset; None when
    the text is not meant as a time at all. A time that is meant but wrong is a :class:`CommandError`."""
    matched = _TIME_OF_DAY.match(value)
    if matched:
        hour, minute = int(matched.group(1)), int(matched.group(2))
        if hour > 23 or minute > 59:
            raise CommandError(f"{quote(value)} is not a time of day: use 00:00 to 23:59 (UTC).", "extend")
        return time(hour, minute)
    if "T" in value.upper() and "-" in value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise CommandError(
                f"{quote(value)} is not a time: write `17:30` (UTC) or `2026-12-03T17:30+01:00`.", "extend"
            ) from None
        if moment.tzinfo is None:
            raise CommandError(
                f"{quote(value)} has no time zone: add one, e.g. `{value}Z` or `{value}+01:00`.", "extend"
            )
        return moment
    return None


def parse_extend(args: list[str]) -> Extend:
    if len(args) == 3 and args[2].lower() == "utc":
        args = [args[0], args[1] + "Z"]
    if len(args) != 2:
        raise CommandError(
            "Say which workspace and for how long (or until when), e.g. `/workspace extend dev 2h` or "
            "`/workspace extend dev 18:00`.",
            "extend",
        )
    target = workspace_ref(args[0], "extend")
    until = _stop_time(args[1])
    if until is not None:
        return Extend(target, None, args[1], until)
    return Extend(target, _duration(args[1], "extend"), args[1])


def parse_ttl(args: list[str]) -> SetTtl:
    if len(args) != 2:
        raise CommandError("Say which workspace and the TTL, e.g. `/workspace ttl dev 8h` or `off`.", "ttl")
    ttl = None if args[1].lower() in {"off", "none", "0"} else _duration(args[1], "ttl")
    return SetTtl(workspace_ref(args[0], "ttl"), ttl, args[1])


def parse_autostart(args: list[str]) -> SetAutostart:
    verb = "autostart"
    if len(args) < 2:
        raise CommandError(
            'Say which workspace and when, e.g. `/workspace autostart dev "9:30 mon-fri Europe/Berlin"`.',
            verb,
        )
    spec = " ".join(args[1:])
    schedule: str | None = None
    if spec.lower() not in {"off", "none"}:
        try:
            schedule = parse_schedule(spec)
        except ValueError as exc:
            raise CommandError(str(exc), verb) from None
    return SetAutostart(workspace_ref(args[0], verb), schedule, spec)


def parse_unsubscribe(args: list[str]) -> Unsubscribe:
    if len(args) != 1:
        raise CommandError(
            "Which subscription? Give its number (see `/workspace subscriptions`).", "unsubscribe"
        )
    target = args[0].removeprefix("#")
    if target.isdigit():
        return Unsubscribe(subscription_id=int(target))
    return Unsubscribe(target=workspace_ref(target, "unsubscribe"))


def check_for_secrets(raw: str) -> None:
    """Raises :class:`TokenInCommand` when the (normalized) command text looks like it holds a token."""
    if looks_like_secret(raw):
        raise TokenInCommand(
            "That looks like a Coder token, so I ignored the whole command and did not store or repeat it. "
            "Anything typed into a command can end up in Slack's logs: revoke that token "
            "(`coder tokens rm <name>`), then run `/workspace login`, which takes a token in a private form.",
            "login",
        )


def split_words(text: str) -> list[str]:
    """Shell-like words; an unclosed quote is a :class:`CommandError` (the caller names its usage)."""
    try:
        return shlex.split(text)
    except ValueError:
        raise CommandError('A quote is not closed: put the closing `"` after the quoted text.') from None
