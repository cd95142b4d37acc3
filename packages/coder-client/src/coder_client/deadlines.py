"""The stop-time rule behind every *Extend* control: extend from the current stop time, never earlier.

Coder's ``PUT /workspaces/{id}/extend`` takes an absolute deadline and allows shortening; the CLI computes
``now + duration``. A control called *Extend* must not do that: on a workspace that stops in 8 h, "+1h"
means 9 h, not 1 h. :func:`plan_extend` computes the new stop time from the current one, caps it at the
build's ``max_deadline`` (saying so), and flags what Coder would refuse (less than 30 minutes from now).
:func:`plan_deadline` checks an explicit time and says when it would *shorten* the workspace, so a front
end can ask before doing that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .durations import as_timedelta, format_duration, human_duration
from .errors import ExtendRefused, InvalidArgument
from .models import JobStatus, Workspace, WorkspaceTransition

__all__ = ["EXTEND_MINIMUM", "DeadlinePlan", "plan_deadline", "plan_extend"]

EXTEND_MINIMUM = timedelta(minutes=30)  # Coder refuses a new deadline sooner than this from now
_CLOCK_SLACK = timedelta(minutes=1)  # Coder's own check allows 29 minutes; do not refuse what it accepts


@dataclass(frozen=True)
class DeadlinePlan:
    """A new stop time for one workspace, and what a user needs to hear about it."""

    deadline: datetime
    previous: datetime | None  # the stop time now in force (None: none)
    capped: bool  # the ask went past the template's max_deadline and was cut back to it
    shortens: bool  # earlier than the current stop time
    too_soon: bool  # less than Coder's 30-minute minimum from now: Coder would refuse it
    now: datetime

    @property
    def changes(self) -> bool:
        """False when the stop time would stay where it is (e.g. already at the template's maximum)."""
        return self.previous is None or self.deadline != self.previous

    @property
    def message(self) -> str:
        """One sentence a user reads, e.g. ``Stops at 17:00 UTC (capped at the template's maximum).``"""
        when = _when(self.deadline, self.now)
        if self.too_soon:
            return (
                f"Cannot stop at {when}: Coder needs the new stop time at least 30 minutes from now. "
                "Ask for more time."
            )
        if not self.changes:
            cap = " (the latest time its template allows)" if self.capped else ""
            return f"Already stops at {when}{cap}; nothing to change."
        text = f"Stops at {when}"
        if self.shortens and self.previous is not None:
            earlier = human_duration(self.previous - self.deadline)
            text += f", {earlier} earlier than planned ({_when(self.previous, self.now)})"
        elif self.previous is not None and self.previous > self.now:
            text += f", {human_duration(self.deadline - self.previous)} later than planned"
        if self.capped:
            text += " (capped at the template's maximum)"
        return text + "."

    @property
    def refusal(self) -> str | None:
        """Why an *Extend* control must not apply this plan (too soon, earlier, or no change); else None."""
        if self.too_soon or not self.changes:
            return self.message
        if self.shortens:
            return f"{self.message} Extending never shortens a workspace; set a stop time to do that."
        return None


def _when(moment: datetime, now: datetime) -> str:
    moment = moment.astimezone(UTC)
    if moment.date() == now.astimezone(UTC).date():
        return f"{moment:%H:%M} UTC"
    return f"{moment:%a %d %b %H:%M} UTC"


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise InvalidArgument(f"now={now.isoformat()} has no time zone; pass an aware datetime.")
    return now.astimezone(UTC)


def _check_running(workspace: Workspace) -> None:
    build = workspace.latest_build
    label = workspace.full_name
    if build.transition != WorkspaceTransition.START or build.job.status != JobStatus.SUCCEEDED:
        raise ExtendRefused(
            f"Workspace {label} is {build.status.value}, not running, so its stop time cannot be changed. "
            "Start it first."
        )
    if build.deadline is None:
        raise ExtendRefused(
            f"Workspace {label} has no automatic stop (its shutdown is manual), so there is no stop time to "
            "change."
        )


def _plan(workspace: Workspace, wanted: datetime, now: datetime, previous: datetime | None) -> DeadlinePlan:
    cap = workspace.latest_build.max_deadline
    capped = cap is not None and wanted > cap
    deadline = cap if capped and cap is not None else wanted
    return DeadlinePlan(
        deadline=deadline,
        previous=previous,
        capped=capped,
        shortens=previous is not None and deadline < previous,
        too_soon=deadline < now + EXTEND_MINIMUM - _CLOCK_SLACK,
        now=now,
    )


def plan_extend(workspace: Workspace, by: timedelta | str, *, now: datetime | None = None) -> DeadlinePlan:
    """The stop time after *Extend +by*: the current stop time (now, if it has none or it passed) + ``by``,
    capped at the build's ``max_deadline``. Raises :class:`ExtendRefused` when the workspace is not running
    or stops only by hand, and :class:`InvalidArgument` for a duration that is not positive."""
    moment = _now(now)
    amount = as_timedelta(by)
    if amount <= timedelta(0):
        raise InvalidArgument(f"Extend by a positive amount of time, not {format_duration(amount)}.")
    _check_running(workspace)
    previous = workspace.latest_build.deadline
    base = previous if previous is not None and previous > moment else moment
    return _plan(workspace, base + amount, moment, previous)


def plan_deadline(workspace: Workspace, until: datetime, *, now: datetime | None = None) -> DeadlinePlan:
    """A plan for an explicit stop time ``until`` (aware datetime); ``shortens`` says if it is earlier."""
    moment = _now(now)
    if until.tzinfo is None:
        raise InvalidArgument(
            f"until={until.isoformat()} has no time zone; pass an aware datetime (e.g. with tzinfo=UTC)."
        )
    _check_running(workspace)
    return _plan(workspace, until.astimezone(UTC), moment, workspace.latest_build.deadline)
