"""Fixtures for the real-browser tests: Debian Chromium, a coder-sim whose every body is checked against
Coder's spec, a JupyterLab server with token auth and XSRF on, and a logged-in page.

Helpers (the server process, the panel's page object) live in ``labpanel.py`` so the benchmark in
tests/perf can use them too.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from browser.labpanel import ARTIFACTS, CHROMIUM, LabServer, launch_chromium
from coder_sim import SimServer
from sim_conformance import Recorder

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# python-ds takes 11.5 simulated seconds from create to ready: about 3 s here, slow enough that the panel
# shows each phase, fast enough for a test.
PANEL_SIM_SPEED = 4.0


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture
def panel_sim() -> Iterator[SimServer]:
    """A v2 coder-sim; at teardown, every body it served must match Coder's OpenAPI document."""
    recorder = Recorder()
    with SimServer(era="v2", speed=PANEL_SIM_SPEED, seed=15, response_hook=recorder.record) as server:
        yield server
    problems = recorder.problems()
    if problems:
        pytest.fail("coder-sim served bodies that do not match Coder's spec:\n" + "\n".join(problems[:40]))


@pytest.fixture
def lab_settings() -> dict[str, Any]:
    """LabServer keyword arguments for ``lab``; a test changes them with
    ``@pytest.mark.parametrize("lab_settings", [{...}])``."""
    return {}


@pytest.fixture
def lab(tmp_path: Path, panel_sim: SimServer, lab_settings: dict[str, Any]) -> Iterator[LabServer]:
    """JupyterLab (alice's Coder token) with a 1-second keepalive on the panel's stream."""
    settings: dict[str, Any] = {"keepalive_seconds": 1.0, **lab_settings}
    server = LabServer(tmp_path, panel_sim.url, panel_sim.user_tokens["alice"], **settings).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def browser(chromium: Path) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest, lab: LabServer) -> Iterator[Page]:
    """A page logged in to ``lab`` (cookie), not yet navigated; a screenshot and the server log are kept
    under test-artifacts/ when the test fails."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            stem = "lab-panel-" + request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
            try:
                page.screenshot(path=str(ARTIFACTS / f"{stem}.png"), full_page=True)
            except Exception as exc:
                console.append(f"(screenshot failed: {exc})")
            (ARTIFACTS / f"{stem}.console.txt").write_text("\n".join(console))
            (ARTIFACTS / f"{stem}.lab.log").write_text(lab.log_tail(20000))
            # CI keeps only its output: the evidence goes into the failure report too (captured teardown).
            print(f"--- browser console (last 40 of {len(console)}) ---", *console[-40:], sep="\n")
            print("--- JupyterLab server log (tail) ---", lab.log_tail(6000), sep="\n")
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
