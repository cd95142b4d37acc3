"""Benchmark: a lifecycle change in coder-sim → the "Coder workspaces" panel's DOM shows it (issue 15).

Run by `make bench`; figures go to tests/perf/results/lab-panel.md.

Set-up: coder-sim (v2, speed 50), a JupyterLab server with the extension (token auth, XSRF on), Debian
Chromium with a notebook whose cell sleeps (its kernel busy for the whole run) and the panel open. Each
change flips one workspace's agent between `starting` and `ready` (`sim.set_agent_lifecycle`), waiting
for both readers below to see it before the next change.

- Panel: a MutationObserver inside the page notes when the row's `[data-field="stage"]` text changes, with
  the page's wall clock (performance.timeOrigin + performance.now()), converted to Python's `time.time()`
  with an offset measured by round trips (the smallest round trip of 30 wins; its half is the error).
- Baseline, same run, same changes: a bare SSE reader (httpx-sse, its own thread) of the extension's
  `workspaces/stream` route on the same Jupyter server, noting when a `row` event carries the new stage.

Goal: p99 ≤ 500 ms for the panel over ≥ 60 changes; 5 runs of 60; reported: each run's p50/p99, the
medians over runs and the worst run; asserted: the median run's p99.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser.labpanel import (
    CHROMIUM,
    LabServer,
    Panel,
    cell_still_running,
    launch_chromium,
    start_busy_notebook,
)
from coder_client import CoderClient
from coder_sim import SimServer
from httpx_sse import connect_sse

RUNS = 5
CHANGES = 60
GOAL_P99_MS = 500.0
RESULTS = Path(__file__).parent / "results" / "lab-panel.md"
COMMAND = 'pytest tests/perf/test_lab_panel_latency.py -s -o addopts=""'
# Long enough to outlast the whole benchmark: the kernel stays busy throughout.
BUSY_CELL = "import time\ntime.sleep(1800)"

pytestmark = pytest.mark.browser


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class BareReader:
    """Reads `workspaces/stream` in its own thread; notes (time.time(), stage) of each row event for one
    workspace."""

    def __init__(self, lab: LabServer, workspace_id: str) -> None:
        self.lab = lab
        self.workspace_id = workspace_id
        self.seen: list[tuple[float, str]] = []
        self.snapshot = threading.Event()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="bare-sse-reader", daemon=True)
        self._error: BaseException | None = None

    def __enter__(self) -> BareReader:
        self._thread.start()
        if not self.snapshot.wait(30):
            raise AssertionError(f"no snapshot on the bare stream: {self._error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def _read(self) -> None:
        try:
            with (
                httpx.Client(headers=self.lab.headers, timeout=httpx.Timeout(10, read=None)) as http,
                connect_sse(http, "GET", f"{self.lab.url}coder/api/workspaces/stream") as source,
            ):
                for event in source.iter_sse():
                    now = time.time()
                    if self._stop.is_set():
                        return
                    if event.event == "snapshot":
                        self.snapshot.set()
                    elif event.event == "row":
                        row = json.loads(event.data)
                        if row.get("id") == self.workspace_id:
                            with self._lock:
                                self.seen.append((now, str(row.get("stage"))))
        except BaseException as exc:
            self._error = exc

    def wait_for(self, stage: str, since: float, timeout: float = 10) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for seen_at, seen_stage in self.seen:
                    if seen_at >= since and seen_stage == stage:
                        return seen_at
            time.sleep(0.001)
        raise AssertionError(
            f"the bare reader did not see stage {stage!r} within {timeout} s ({self._error!r})"
        )


# Resolves with the page time of the first recorded change of the row's stage text after `since` (page ms)
# away from `before`.
WAIT_STAGE_CHANGE = """([id, since, before]) => {
  for (const e of window.__coderRecorder.events) {
    if (e.id === id && e.t >= since && (e.fields.stage || '') !== before) { return e.t; }
  }
  return false;
}"""


def clock_offset_ms(panel: Panel) -> tuple[float, float]:
    """(page wall clock − time.time()) in ms, and its error bound: half the best round trip of 30."""
    best: tuple[float, float] | None = None
    for _ in range(30):
        before = time.time() * 1000
        page_now = float(panel.page.evaluate("() => performance.timeOrigin + performance.now()"))
        after = time.time() * 1000
        rtt = after - before
        if best is None or rtt < best[1]:
            best = (page_now - (before + after) / 2, rtt)
    assert best is not None
    return best[0], best[1] / 2


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer(era="v2", speed=50.0, seed=15) as server:
        yield server


def test_lifecycle_change_to_panel_dom(sim: SimServer, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium")
    from playwright.sync_api import expect, sync_playwright

    with CoderClient(url=sim.url, token=sim.user_tokens["alice"]) as coder:
        ws = coder.workspaces.create("bench-panel", "python-ds", parameters={"project_name": "bench"})
        coder.workspaces.wait_until_ready(ws, timeout=120)
        agent_id = coder.workspaces.get(ws).latest_build.resources[0].agents[0].id
    lab = LabServer(tmp_path, sim.url, sim.user_tokens["alice"]).start()
    runs: list[dict[str, list[float]]] = []
    try:
        with sync_playwright() as playwright, BareReader(lab, ws.id) as bare:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            lab.write_notebook("busy.ipynb", BUSY_CELL)
            kernel_id = start_busy_notebook(page, lab, "busy.ipynb")
            panel = Panel(page).open()
            stage_field = panel.field(ws.id, "stage")
            expect(stage_field).not_to_be_empty(timeout=30_000)
            panel.start_recorder()
            offset, error = clock_offset_ms(panel)
            for _ in range(RUNS):
                panel_ms: list[float] = []
                bare_ms: list[float] = []
                for i in range(CHANGES):
                    state = "starting" if i % 2 == 0 else "ready"
                    shown_before = stage_field.inner_text().strip()
                    started = time.time()
                    sim.set_agent_lifecycle(agent_id, state)
                    shown = page.wait_for_function(
                        WAIT_STAGE_CHANGE,
                        arg=[ws.id, started * 1000 + offset - error, shown_before],
                        timeout=10_000,
                    ).json_value()
                    panel_ms.append(float(shown) - offset - started * 1000)
                    bare_ms.append((bare.wait_for(state, started) - started) * 1000)
                runs.append({"panel": panel_ms, "bare": bare_ms})
            assert [k["id"] for k in lab.kernels()] == [kernel_id]
            assert cell_still_running(page), "the notebook's cell did not run for the whole benchmark"
            browser.close()
    finally:
        lab.stop()
    report(runs, error)
    median_p99 = statistics.median(percentile(run["panel"], 99) for run in runs)
    assert median_p99 <= GOAL_P99_MS, f"median run's p99 {median_p99:.0f} ms > {GOAL_P99_MS:.0f} ms"


def report(runs: list[dict[str, list[float]]], clock_error_ms: float) -> None:
    def row(label: str, values: list[float]) -> str:
        p50, p99 = percentile(values, 50), percentile(values, 99)
        return f"| {label} | {p50:.0f} ms | {p99:.0f} ms | {max(values):.0f} ms |"

    lines = []
    for n, run in enumerate(runs, 1):
        lines.append(row(f"run {n}: panel DOM", run["panel"]))
        lines.append(row(f"run {n}: bare SSE reader", run["bare"]))
    p50s = [percentile(run["panel"], 50) for run in runs]
    p99s = [percentile(run["panel"], 99) for run in runs]
    bare_p50s = [percentile(run["bare"], 50) for run in runs]
    bare_p99s = [percentile(run["bare"], 99) for run in runs]
    worst = max(range(len(runs)), key=lambda n: p99s[n])
    median_p99 = statistics.median(p99s)
    verdict = "met" if median_p99 <= GOAL_P99_MS else "missed"
    summary: dict[str, Any] = {
        "panel p50 (median of runs)": f"{statistics.median(p50s):.0f} ms",
        "panel p99 (median of runs)": f"**{median_p99:.0f} ms** (goal ≤ {GOAL_P99_MS:.0f} ms: {verdict})",
        "panel p99, worst run": f"{p99s[worst]:.0f} ms (run {worst + 1})",
        "bare SSE reader p50 / p99 (median of runs)": (
            f"{statistics.median(bare_p50s):.0f} ms / {statistics.median(bare_p99s):.0f} ms"
        ),
        "panel − bare, p99 (median of runs)": f"{median_p99 - statistics.median(bare_p99s):+.0f} ms",
    }
    for key, value in summary.items():
        print(f"[lab-panel] {key}: {value}")
    table = "\n".join(f"| {key} | {value} |" for key, value in summary.items())
    RESULTS.write_text(
        f"""# JupyterLab "Coder workspaces" panel benchmark

Command: `{COMMAND}` (also part of `make bench`). Machine: 2 cores, shared; coder-sim v2 at speed 50,
JupyterLab with the extension, Debian Chromium, a notebook kernel busy (`time.sleep`) the whole run.

A lifecycle change in the sim (the agent flipped between `starting` and `ready`) → the panel row's
`[data-field="stage"]` text changes, timed by a MutationObserver in the page (page clock matched to the
test's clock by round trips, error ≤ {clock_error_ms:.1f} ms). Baseline in the same run, same changes: a bare
SSE reader (httpx-sse) of the extension's `workspaces/stream` route. {RUNS} runs × {CHANGES} changes.
Goal: panel p99 ≤ {GOAL_P99_MS:.0f} ms, asserted on the median run.

| figure | value |
|---|---|
{table}

| run | p50 | p99 | max |
|---|---|---|---|
{chr(10).join(lines)}
"""
    )
