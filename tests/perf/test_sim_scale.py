"""coder-sim at scale: 10,000 workspaces, 2,000 open SSE watch streams, and an autostop storm.

Run: ``make bench`` or ``.venv/bin/uv run --no-sync pytest tests/perf/test_sim_scale.py -s -o addopts=""``.
The sim runs as its own process (``python -m coder_sim``), as in the demo; the client side is raw asyncio
sockets. Each figure is compared with a baseline measured in the same run (100 workspaces, 20 streams).
Figures go to tests/perf/results/sim.md.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

RESULTS = Path(__file__).parent / "results" / "sim.md"
COMMAND = 'uv run --no-sync pytest tests/perf/test_sim_scale.py -s -o addopts=""'
STOP_MARK = b'"transition":"stop"'


@dataclass
class SimProcess:
    process: subprocess.Popen[str]
    url: str
    token: str

    @property
    def stats(self) -> psutil.Process:
        return psutil.Process(self.process.pid)


@contextmanager
def sim_process(*args: str) -> Iterator[SimProcess]:
    process = subprocess.Popen(
        [sys.executable, "-m", "coder_sim", "--port", "0", *args], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        facts: dict[str, str] = {}
        while "CODER_SESSION_TOKEN" not in facts:
            line = process.stdout.readline()
            assert line, "coder-sim exited early"
            if match := re.match(r"^([A-Z_]+)=(.*)$", line.strip()):
                facts[match.group(1)] = match.group(2)
        yield SimProcess(process, facts["CODER_URL"], facts["CODER_SESSION_TOKEN"])
    finally:
        process.terminate()
        process.wait(timeout=30)


@dataclass
class Watcher:
    workspace_id: str
    opened: float = 0.0
    snapshot_at: float = 0.0
    stopped_at: float = 0.0
    data_events: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)


async def watch(url: str, token: str, watcher: Watcher, stop: asyncio.Event) -> None:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port), limit=1 << 20)
    writer.write(
        f"GET /api/v2/workspaces/{watcher.workspace_id}/watch HTTP/1.1\r\nHost: {host}\r\n"
        f"Coder-Session-Token: {token}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    status = await reader.readline()
    assert b" 200 " in status, status
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    watcher.opened = time.perf_counter()
    read_task = asyncio.ensure_future(_read(reader, watcher))
    await stop.wait()
    read_task.cancel()
    writer.close()


async def _read(reader: asyncio.StreamReader, watcher: Watcher) -> None:
    while True:
        line = await reader.readline()
        if not line:
            return
        if line.startswith(b"data: "):
            watcher.data_events += 1
            now = time.perf_counter()
            if not watcher.snapshot_at:
                watcher.snapshot_at = now
                watcher.ready.set()
            if STOP_MARK in line and not watcher.stopped_at:
                watcher.stopped_at = now


def median_get(client: httpx.Client, path: str, params: dict[str, Any], repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path, params=params)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200
    return statistics.median(samples)


def run_scenario(workspaces: int, streams: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    with sim_process("--speed", "50", "--seed", "1") as sim:
        control = httpx.Client(base_url=sim.url + "/_sim", timeout=600)
        api = httpx.Client(
            base_url=sim.url + "/api/v2", headers={"Coder-Session-Token": sim.token}, timeout=600
        )
        started = time.perf_counter()
        ids: list[str] = []
        for offset in range(0, workspaces, 1000):
            batch = min(1000, workspaces - offset)
            reply = control.post(
                "/seed-workspaces",
                json={"owner": "alice", "template": "python-ds", "prefix": f"ws{offset}", "count": batch},
            )
            ids += reply.json()["result"]
        figures["seed_per_workspace_ms"] = (time.perf_counter() - started) * 1000 / workspaces
        figures["list_page_100_ms"] = median_get(api, "/workspaces", {"limit": 100}) * 1000
        figures["search_one_name_ms"] = median_get(api, "/workspaces", {"q": "name:ws0-7 owner:alice"}) * 1000
        figures["get_one_ms"] = median_get(api, f"/workspaces/{ids[-1]}", {}, repeat=20) * 1000
        started = time.perf_counter()
        count = api.get("/workspaces").json()["count"]
        figures["list_all_s"] = time.perf_counter() - started
        assert count == workspaces
        figures.update(asyncio.run(_streams(sim, ids[:streams])))
        figures["rss_mb"] = sim.stats.memory_info().rss / 1e6
    return figures


async def _streams(sim: SimProcess, ids: list[str]) -> dict[str, float]:
    figures: dict[str, float] = {}
    stop = asyncio.Event()
    watchers = [Watcher(workspace_id) for workspace_id in ids]
    started = time.perf_counter()
    tasks = []
    for n in range(0, len(watchers), 200):  # open in waves, as many clients reconnecting would
        tasks += [asyncio.ensure_future(watch(sim.url, sim.token, w, stop)) for w in watchers[n : n + 200]]
        await asyncio.gather(*(w.ready.wait() for w in watchers[n : n + 200]))
    figures["open_streams_s"] = time.perf_counter() - started
    state = httpx.get(sim.url + "/_sim/state").json()
    assert state["open_watch_streams"] == len(ids), state

    process = sim.stats
    before = process.cpu_times()
    await asyncio.sleep(3.0)
    after = process.cpu_times()
    figures["idle_cpu_percent"] = 100 * ((after.user - before.user) + (after.system - before.system)) / 3.0

    async with httpx.AsyncClient(base_url=sim.url) as control:
        storm = time.perf_counter()
        await control.post("/_sim/advance-clock", json={"seconds": 9 * 3600}, timeout=600)
        deadline = time.monotonic() + 300
        while any(not w.stopped_at for w in watchers):
            assert time.monotonic() < deadline, "watchers never saw the autostop"
            await asyncio.sleep(0.05)
    figures["autostop_fanout_s"] = max(w.stopped_at for w in watchers) - storm
    figures["autostop_fanout_median_s"] = statistics.median(w.stopped_at - storm for w in watchers)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return figures


def test_ten_thousand_workspaces_and_two_thousand_streams() -> None:
    baseline = run_scenario(workspaces=100, streams=20)
    scale = run_scenario(workspaces=10_000, streams=2_000)
    rows = [
        ("seed, per workspace (ms)", "seed_per_workspace_ms"),
        ("GET /workspaces?limit=100, median (ms)", "list_page_100_ms"),
        ("GET /workspaces?q=name:… owner:…, median (ms)", "search_one_name_ms"),
        ("GET /workspaces/{id}, median (ms)", "get_one_ms"),
        ("GET /workspaces, every workspace (s)", "list_all_s"),
        ("open all streams, first snapshot on each (s)", "open_streams_s"),
        ("sim CPU while streams idle (%)", "idle_cpu_percent"),
        ("autostop storm → last watcher saw stop (s)", "autostop_fanout_s"),
        ("autostop storm → median watcher saw stop (s)", "autostop_fanout_median_s"),
        ("sim RSS at the end (MB)", "rss_mb"),
    ]
    lines = [
        "| figure | baseline: 100 ws, 20 streams | 10,000 ws, 2,000 streams | ratio |",
        "|---|---|---|---|",
    ]
    for label, key in rows:
        ratio = scale[key] / baseline[key] if baseline[key] else float("inf")
        lines.append(f"| {label} | {baseline[key]:.3f} | {scale[key]:.3f} | {ratio:.1f}× |")
    body = "\n".join(lines)
    RESULTS.write_text(
        "# coder-sim benchmarks\n\n"
        f"Command: `{COMMAND}` (2-core machine; sim in its own process at `--speed 50`; "
        "client: raw asyncio sockets in the test process).\n\n"
        "## Scale: workspaces, watch streams, autostop storm\n\n"
        f"{body}\n\n"
        "The storm advances the simulated clock 9 h, so every workspace's 8 h deadline passes at once and "
        "the sim starts one autostop build per workspace; each watcher waits for a `data` event whose latest "
        "build is a stop. Idle CPU is measured over 3 s with every stream open (heartbeat 15 s): no "
        "per-workspace polling.\n"
    )
    print("\n" + body)
    print(json.dumps({"baseline": baseline, "scale": scale}, indent=1))
    assert scale["idle_cpu_percent"] < 25
    assert scale["autostop_fanout_s"] < 120
