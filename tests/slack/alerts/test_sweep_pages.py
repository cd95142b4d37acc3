"""The sweep reads the fleet page by page: never the whole list of workspaces (full or summaries) at once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alerts_helpers import add_rows, migrate, running_engine, subscription
from coder_client import AsyncCoderClient, Workspace
from coder_client.client import AsyncWorkspaces
from coder_slack.alerts import engine as engine_module
from coder_slack.alerts.engine import AlertEngine
from slack_sim import SlackStandIn

FLEET = 25
PAGE = 10


def test_the_sweep_observes_one_page_at_a_time(
    make_sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = make_sim(record=False)
    ids = set(sim.seed_workspaces("alice", "python-ds", "fleet", FLEET))
    database = f"sqlite:///{tmp_path / 'alerts.db'}"
    migrate(database)
    add_rows(database, [subscription("C0PAGES")])
    monkeypatch.setattr(engine_module, "_BATCH", PAGE)
    monkeypatch.setattr(engine_module, "_FETCH_SINGLY", 2)

    def whole_list(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the sweep read the whole list at once")

    monkeypatch.setattr(AsyncWorkspaces, "list", whole_list)
    monkeypatch.setattr(AsyncWorkspaces, "summaries", whole_list)
    reads: list[tuple[str, int]] = []
    for name in ("pages", "summary_pages"):
        paged = getattr(AsyncWorkspaces, name)

        def asking(
            self: AsyncWorkspaces, *args: Any, _name: str = name, _paged: Any = paged, **kwargs: Any
        ) -> Any:
            reads.append((_name, kwargs["page_size"]))
            return _paged(self, *args, **kwargs)

        monkeypatch.setattr(AsyncWorkspaces, name, asking)
    batches: list[list[str]] = []
    observe = AlertEngine.observe

    async def recording(self: AlertEngine, workspaces: list[Workspace], *args: Any, **kwargs: Any) -> Any:
        batches.append([w.id for w in workspaces])
        return await observe(self, workspaces, *args, **kwargs)

    monkeypatch.setattr(AlertEngine, "observe", recording)

    with SlackStandIn() as standin:

        async def main() -> None:
            async with running_engine(
                sim.url, sim.token, standin.api_url, database, sweep_interval=3600.0
            ) as engine:
                # The first sweep re-records everything in full: three pages, each observed on its own.
                assert sorted(len(b) for b in batches) == [5, 10, 10]
                assert {w for b in batches for w in b} == ids
                assert all(engine.remembers(w) for w in ids)
                assert reads == [("pages", PAGE)]
                batches.clear()
                # More changed than are fetched one by one: the full list is read again, page by page.
                async with AsyncCoderClient(url=sim.url, token=sim.token) as coder:
                    stopped = sorted(ids)[:4]
                    for workspace_id in stopped:
                        await coder.workspaces.stop(workspace_id)
                await engine.sweep()
                assert reads == [("pages", PAGE), ("summary_pages", PAGE), ("pages", PAGE)]
                assert set(stopped) <= {w for b in batches for w in b}
                assert all(0 < len(b) <= PAGE for b in batches)

        asyncio.run(main())
