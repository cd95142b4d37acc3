"""Where a build's time went: Coder's build timings as named steps, and the "slower than usual" rule.

Pure functions of :class:`~coder_client.models.WorkspaceBuildTimings` (``client.workspaces.timings``):
no I/O, one reading for every front end.

* :func:`breakdown` → :class:`Breakdown`: one :class:`TimingStep` per provisioner stage (``Terraform
  init``, ``Terraform plan``, ``Terraform graph``; ``apply`` one step per resource), per agent connection
  and per startup script (its display name, exit code and status); ``total_seconds`` is the wall-clock
  span from the first step's start to the last step's end (steps overlap, so it is not their sum).
* ``Breakdown.summary()``: the one line people read, ``Install Python packages 1m34s of 2m41s``
  (a failed script comes first, with its exit code); ``Breakdown.lines()``: the whole breakdown.
* :func:`slower_than_usual`: a startup is *markedly* slower than the template's recent ones when it took
  at least :data:`SLOWER_FACTOR` × their median **and** at least :data:`SLOWER_MIN_EXTRA_SECONDS` more,
  judged only with at least :data:`SLOWER_MIN_BUILDS` earlier builds (the last :data:`SLOWER_WINDOW`).
  Both bounds matter: ×1.5 alone flags a 3 s start that took 5 s; +30 s alone flags noise on hour-long
  builds. Coder keeps no such history; the front end keeps the recent durations per template.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from .durations import format_duration
from .models import WorkspaceBuildTimings

__all__ = [
    "SLOWER_FACTOR",
    "SLOWER_MIN_BUILDS",
    "SLOWER_MIN_EXTRA_SECONDS",
    "SLOWER_WINDOW",
    "Breakdown",
    "SlowerThanUsual",
    "TimingStep",
    "breakdown",
    "slower_than_usual",
    "step_duration",
]

StepKind = Literal["provisioner", "connection", "script"]

SLOWER_FACTOR = 1.5
SLOWER_MIN_EXTRA_SECONDS = 30.0
SLOWER_MIN_BUILDS = 3
SLOWER_WINDOW = 20

_STAGE_NAMES = {"init": "Terraform init", "plan": "Terraform plan", "graph": "Terraform graph"}
_STATUS_TEXT = {"exit_failure": "failed", "timed_out": "timed out", "pipes_left_open": "left pipes open"}


def step_duration(seconds: float) -> str:
    """A step's duration, compact: tenths below ten seconds (``4.2s``), CLI form above (``1m34s``)."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    return format_duration(timedelta(seconds=seconds))


@dataclass(frozen=True)
class TimingStep:
    """One named step of a build: a provisioner stage or resource, an agent connection, a script."""

    name: str
    kind: StepKind
    stage: str
    seconds: float
    started_at: datetime | None = None
    ended_at: datetime | None = None
    exit_code: int | None = None
    status: str = ""

    @property
    def failed(self) -> bool:
        """A script that exited non-zero, timed out or left pipes open."""
        return self.kind == "script" and (self.exit_code not in (None, 0) or self.status in _STATUS_TEXT)

    @property
    def outcome(self) -> str:
        """``exit 1``, ``timed out``…; empty for a step that went fine."""
        if not self.failed:
            return ""
        if self.status in ("", "exit_failure") and self.exit_code:
            return f"exit {self.exit_code}"
        return _STATUS_TEXT.get(self.status, self.status)

    def text(self, share: str = "") -> str:
        """``Install Python packages 1m34s`` (``Install requirements 1.2s (exit 1)`` when it failed)."""
        notes = ", ".join(note for note in (self.outcome, share) if note)
        return f"{self.name} {step_duration(self.seconds)}{f' ({notes})' if notes else ''}"


@dataclass(frozen=True)
class Breakdown:
    """A build's steps in the order they started, and the span they cover."""

    steps: tuple[TimingStep, ...] = ()
    total_seconds: float = 0.0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    _by_length: tuple[TimingStep, ...] = field(default=(), repr=False, compare=False)

    @property
    def empty(self) -> bool:
        return not self.steps

    @property
    def failed_steps(self) -> list[TimingStep]:
        return [step for step in self.steps if step.failed]

    def slowest(self, n: int = 2) -> list[TimingStep]:
        """The ``n`` longest steps, longest first (ties: the earlier one)."""
        return list(self._by_length[: max(0, n)])

    def summary(self, n: int = 2) -> str:
        """``Install Python packages 1m34s of 2m41s``: failed steps first, then the slowest; "" if empty."""
        if self.empty:
            return ""
        chosen = self.failed_steps[:n]
        chosen += [step for step in self.slowest(n) if step not in chosen][: n - len(chosen)]
        return f"{', '.join(step.text() for step in chosen)} of {step_duration(self.total_seconds)}"

    def lines(self) -> list[str]:
        """The whole breakdown, one line per step in start order, each with its share of the total."""
        return [step.text(self._share(step)) for step in self.steps]

    def _share(self, step: TimingStep) -> str:
        if self.total_seconds <= 0:
            return ""
        return f"{round(100 * step.seconds / self.total_seconds)}%"


def _seconds(start: datetime | None, end: datetime | None) -> float:
    if start is None or end is None:
        return 0.0
    return max(0.0, (end - start).total_seconds())


Span = tuple[datetime | None, datetime | None]


def _span(pairs: Iterable[Span]) -> Span:
    listed = list(pairs)
    starts = [start for start, _ in listed if start is not None]
    ends = [end for _, end in listed if end is not None] if starts else []
    return (min(starts) if starts else None, max(ends) if ends else None)


def _provisioner_steps(timings: WorkspaceBuildTimings) -> list[TimingStep]:
    steps: list[TimingStep] = []
    for stage, name in _STAGE_NAMES.items():
        entries = [(t.started_at, t.ended_at) for t in timings.provisioner_timings if t.stage == stage]
        if entries:
            start, end = _span(entries)
            steps.append(TimingStep(name, "provisioner", stage, _seconds(start, end), start, end))
    for timing in timings.provisioner_timings:
        if timing.stage in _STAGE_NAMES:
            continue
        action = timing.action.capitalize() + " " if timing.action else ""
        name = f"{action}{timing.resource or timing.source or 'resource'}"
        steps.append(
            TimingStep(
                name,
                "provisioner",
                timing.stage,
                _seconds(timing.started_at, timing.ended_at),
                timing.started_at,
                timing.ended_at,
            )
        )
    return steps


def breakdown(timings: WorkspaceBuildTimings) -> Breakdown:
    """Coder's timings as named steps (see the module's docstring); an empty Breakdown for none."""
    agents = {t.workspace_agent_id for t in timings.agent_connection_timings} | {
        t.workspace_agent_id for t in timings.agent_script_timings
    }
    several_agents = len(agents) > 1
    steps = _provisioner_steps(timings)
    for connection in timings.agent_connection_timings:
        agent = connection.workspace_agent_name or "agent"
        steps.append(
            TimingStep(
                f"Agent {agent} connects",
                "connection",
                connection.stage or "connect",
                _seconds(connection.started_at, connection.ended_at),
                connection.started_at,
                connection.ended_at,
            )
        )
    for script in timings.agent_script_timings:
        name = script.display_name or "Startup script"
        if several_agents and script.workspace_agent_name:
            name = f"{name} ({script.workspace_agent_name})"
        steps.append(
            TimingStep(
                name,
                "script",
                script.stage or "start",
                _seconds(script.started_at, script.ended_at),
                script.started_at,
                script.ended_at,
                exit_code=script.exit_code,
                status=script.status,
            )
        )
    steps.sort(key=lambda step: (step.started_at is None, step.started_at or datetime.min))
    start, end = _span((step.started_at, step.ended_at) for step in steps)
    by_length = sorted(steps, key=lambda step: -step.seconds)
    return Breakdown(tuple(steps), _seconds(start, end), start, end, tuple(by_length))


@dataclass(frozen=True)
class SlowerThanUsual:
    """This startup took ``seconds``; the template's last ``builds`` startups had ``median_seconds``."""

    seconds: float
    median_seconds: float
    builds: int

    def text(self) -> str:
        """``slower than usual (median 1m10s over the last 5 builds)``."""
        return (
            f"slower than usual (median {step_duration(self.median_seconds)} "
            f"over the last {self.builds} builds)"
        )


def slower_than_usual(
    seconds: float,
    earlier: Sequence[float],
    *,
    factor: float = SLOWER_FACTOR,
    min_extra_seconds: float = SLOWER_MIN_EXTRA_SECONDS,
    min_builds: int = SLOWER_MIN_BUILDS,
    window: int = SLOWER_WINDOW,
) -> SlowerThanUsual | None:
    """A :class:`SlowerThanUsual` when ``seconds`` is markedly above the median of ``earlier`` (oldest
    first; the last ``window`` count), else None — also None with fewer than ``min_builds`` of them."""
    recent = [value for value in earlier if value >= 0][-window:] if window > 0 else []
    if len(recent) < max(1, min_builds):
        return None
    median = float(statistics.median(recent))
    if seconds >= factor * median and seconds - median >= min_extra_seconds:
        return SlowerThanUsual(seconds, median, len(recent))
    return None
