"""Coder's autostart / ttl / extend rules with their exact messages (NOTES.md §7–8)."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, timedelta

from .clock import go_duration
from .eras import Era
from .errors import ApiError, validation
from .model import Build, Template

TTL_MESSAGE = "Error updating workspace time until shutdown."
TTL_NOT_ALLOWED = "Custom autostop TTL is not allowed for workspaces using this template."
AUTOSTART_NOT_ALLOWED = "Autostart is not allowed for workspaces using this template."
_FIELD_RANGES = {"minute": (0, 59), "hour": (0, 23), "day-of-week": (0, 7)}
_DOW_NAMES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}


class RuleError(ValueError):
    """A rule violation; ``str()`` is the detail Coder puts in the validation."""


def ttl_error(millis: int | None, template: Template, era: Era) -> str | None:
    """The validation detail for a ttl, or None when it is acceptable (validWorkspaceTTLMillis)."""
    if not millis:
        return None
    truncated = timedelta(minutes=(millis // 1000) // 60)
    if truncated < timedelta(minutes=1):
        return "time until shutdown must be at least one minute"
    if truncated > timedelta(days=era.max_ttl_days):
        return f"time until shutdown must be less than {era.max_ttl_days} days"
    if (
        era.ttl_capped_by_template
        and template.max_ttl_ms
        and truncated > timedelta(milliseconds=template.max_ttl_ms)
    ):
        limit = go_duration(timedelta(milliseconds=template.max_ttl_ms))
        return f'time until shutdown must be less than or equal to the template\'s maximum TTL "{limit}"'
    return None


def normalized_ttl(millis: int | None) -> int | None:
    if not millis:
        return None
    return ((millis // 1000) // 60) * 60 * 1000


def check_ttl_update(millis: int | None, template: Template, era: Era) -> None:
    if not template.allow_user_autostop:
        raise ApiError(400, TTL_MESSAGE, validations=[validation("ttl_ms", TTL_NOT_ALLOWED)])
    problem = ttl_error(millis, template, era)
    if problem:
        raise ApiError(400, TTL_MESSAGE, validations=[validation("ttl_ms", problem)])


def _check_cron_field(name: str, text: str) -> None:
    low, high = _FIELD_RANGES[name]
    for part in text.split(","):
        body, _, step = part.partition("/")
        if step and not step.isdigit():
            raise RuleError(f"failed to parse int from {step}: invalid syntax")
        if body == "*":
            continue
        bounds = body.split("-")
        if len(bounds) > 2:
            raise RuleError(f"too many hyphens: {body}")
        for bound in bounds:
            value = _DOW_NAMES.get(bound.lower()) if name == "day-of-week" else None
            if value is None:
                if not bound.isdigit():
                    raise RuleError(f"failed to parse int from {bound}: invalid syntax")
                value = int(bound)
            if not low <= value <= high:
                raise RuleError(f"end of range ({value}) above maximum ({high}): {body}")


def check_cron(schedule: str) -> None:
    """Coder's schedule.Weekly: ``[CRON_TZ=<tz> ]min hour * * dow``."""
    spec = schedule.strip()
    if spec.startswith("@"):
        raise RuleError("descriptors are not supported")
    if spec.startswith("CRON_TZ="):
        tz_part, _, spec = spec.partition(" ")
        tz_name = tz_part.removeprefix("CRON_TZ=")
        try:
            zoneinfo.ZoneInfo(tz_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise RuleError(
                f"parse schedule: provided bad location {tz_name}: unknown time zone {tz_name}"
            ) from exc
    fields = spec.split()
    if len(fields) != 5:
        raise RuleError("expected schedule to consist of 5 fields with an optional CRON_TZ=<timezone> prefix")
    minute, hour, day_of_month, month, day_of_week = fields
    if day_of_month != "*" or month != "*":
        raise RuleError("expected month and dom to be *")
    try:
        _check_cron_field("minute", minute)
        _check_cron_field("hour", hour)
        _check_cron_field("day-of-week", day_of_week)
    except RuleError as exc:
        raise RuleError(f"parse schedule: {exc}") from exc


def check_autostart_update(schedule: str | None, template: Template) -> None:
    if schedule:
        try:
            check_cron(schedule)
        except RuleError as exc:
            raise ApiError(
                400, "Invalid autostart schedule.", validations=[validation("schedule", str(exc))]
            ) from exc
    if not template.allow_user_autostart:
        raise ApiError(
            400, AUTOSTART_NOT_ALLOWED, validations=[validation("schedule", AUTOSTART_NOT_ALLOWED)]
        )


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def parse_deadline(value: object) -> datetime:
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ApiError(
            400,
            "Request body must be valid JSON.",
            detail=f'parsing time "{value}" as "2006-01-02T15:04:05Z07:00": cannot parse',
        )
    text = value.replace("z", "Z").replace("Z", "+00:00")
    if "." in text:
        head, _, tail = text.partition(".")
        digits = re.match(r"\d+", tail)
        assert digits is not None
        text = head + "." + digits.group(0)[:6].ljust(6, "0") + tail[len(digits.group(0)) :]
    return datetime.fromisoformat(text)


def check_extend(build: Build, new_deadline: datetime, now: datetime) -> str:
    """Apply putExtendWorkspace's rules; return the success message."""
    if build.transition != "start":
        raise ApiError(409, f"Workspace must be started, current status: {build.transition}")
    if build.job.completed_at is None:
        raise ApiError(409, "Workspace is still building!")
    if build.deadline is None:
        raise ApiError(409, "Workspace shutdown is manual.")
    if new_deadline < now + timedelta(minutes=29):
        raise ApiError(400, "Cannot extend workspace: new deadline must be at least 30 minutes in the future")
    if new_deadline < build.job.completed_at:
        raise ApiError(400, "Cannot extend workspace: new deadline must be before workspace start time")
    if build.max_deadline is not None and new_deadline > build.max_deadline:
        raise ApiError(400, "Cannot extend workspace beyond max deadline.")
    return "Deadline updated to " + new_deadline.strftime("%Y-%m-%dT%H:%M:%SZ") + "."
