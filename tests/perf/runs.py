"""Benchmarks over several runs: each scenario runs ``runs`` times (at least 5; ``CODEROPS_BENCH_RUNS``
raises it), every run's figures are reported, and the goals are asserted on the **median** over the runs, with
the worst run reported beside it, so one noisy run on a shared machine does not turn ``make bench`` red, and a
goal missed by the typical run still does.

A scenario is a function of the run's index returning its figures (name → value); a ``Goal`` names one
figure, its limit and which way is better. The summary is printed and written to
``tests/perf/results/latest/<name>.md`` (``scripts/perf-results.sh`` adds those to RESULTS.md).
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

LATEST = Path(__file__).parent / "results" / "latest"
MIN_RUNS = 5
TRY_OUT = " (fewer than 5: a try-out, not a result)"


@dataclass(frozen=True)
class Goal:
    figure: str
    limit: float
    higher_is_better: bool = False
    unit: str = ""

    def met(self, value: float) -> bool:
        return value >= self.limit if self.higher_is_better else value <= self.limit

    def worst(self, values: list[float]) -> float:
        return min(values) if self.higher_is_better else max(values)

    def describe(self) -> str:
        return f"{'≥' if self.higher_is_better else '≤'} {_fmt(self.limit)}{self.unit}"


@dataclass
class Summary:
    name: str
    goals: list[Goal]
    runs: list[dict[str, float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)

    def values(self, figure: str) -> list[float]:
        return [run[figure] for run in self.runs if figure in run]

    def median(self, figure: str) -> float:
        return statistics.median(self.values(figure))

    def missed(self) -> list[Goal]:
        """Goals the median run misses."""
        return [goal for goal in self.goals if not goal.met(self.median(goal.figure))]

    def lines(self) -> list[str]:
        figures = list(dict.fromkeys(name for run in self.runs for name in run))
        goals = {goal.figure: goal for goal in self.goals}
        out = [
            f"## {self.name}",
            "",
            f"{len(self.runs)} runs{TRY_OUT if len(self.runs) < MIN_RUNS else ''}"
            f", {statistics.median(self.seconds):.0f} s each (median); load average "
            f"(1 min) at the runs' starts: {', '.join(f'{load:.1f}' for load in self.load)}",
            "",
            "| figure | median | worst run | goal (on the median) | runs |",
            "|---|---|---|---|---|",
        ]
        for figure in figures:
            values = self.values(figure)
            goal = goals.get(figure)
            worst = goal.worst(values) if goal else max(values)
            verdict = ""
            if goal is not None:
                every = "every run" if all(goal.met(v) for v in values) else "not every run"
                verdict = (
                    f"{goal.describe()}: {'met' if goal.met(self.median(figure)) else 'MISSED'} ({every})"
                )
            unit = goal.unit if goal else ""
            out.append(
                f"| {figure} | {_fmt(self.median(figure))}{unit} | {_fmt(worst)}{unit} | {verdict} | "
                f"{', '.join(_fmt(v) for v in values)} |"
            )
        return out

    def write(self) -> str:
        text = "\n".join(self.lines()) + "\n"
        LATEST.mkdir(parents=True, exist_ok=True)
        (LATEST / f"{self.name}.md").write_text(text)
        print("\n" + text)
        return text

    def check(self) -> None:
        """Assert the goals on the medians (the worst runs are in the report)."""
        missed = self.missed()
        assert not missed, (
            f"{self.name}: the median run misses "
            + "; ".join(f"{g.figure} {_fmt(self.median(g.figure))} (goal {g.describe()})" for g in missed)
            + "\n"
            + "\n".join(self.lines())
        )


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) >= 10:
        return f"{value:.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def run_count(default: int = MIN_RUNS) -> int:
    """How many runs: ``default`` (at least 5), or ``CODEROPS_BENCH_RUNS`` (fewer than 5 only to try a
    scenario out: the summary then says it is not a result)."""
    wanted = int(os.environ.get("CODEROPS_BENCH_RUNS", "0") or 0)
    return wanted if wanted > 0 else max(MIN_RUNS, default)


def repeat(
    name: str,
    scenario: Callable[[int], Mapping[str, float]],
    goals: list[Goal],
    runs: int | None = None,
) -> Summary:
    """Run ``scenario`` ``runs`` times, write and return the summary (``check()`` asserts the goals)."""
    summary = Summary(name, goals)
    for index in range(runs or run_count()):
        summary.load.append(os.getloadavg()[0])
        started = time.monotonic()
        figures = dict(scenario(index))
        summary.seconds.append(time.monotonic() - started)
        summary.runs.append(figures)
        print(
            f"{name} run {index + 1}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in figures.items()), flush=True
        )
    summary.write()
    return summary


__all__ = ["Goal", "Summary", "repeat", "run_count"]
