"""The demo: its runs start as soon as the tracker does, in either dialect, one fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from crewtui.api.models import RunState
from crewtui.config import resolve_paths
from crewtui.core.runtime import assemble
from crewtui.core.store import Store
from crewtui.demo import DEMO_RUNS, DemoApp, demo_config
from crewtui.sim import SimOptions, SimServer
from crewtui.ui.pilot import settle


@pytest.mark.parametrize("dialect", ["live", "documented"])
async def test_demo_runs_start_at_once_and_one_fails(dialect: str, tmp_path: Path) -> None:
    with SimServer(SimOptions(dialect=dialect, speed=100)) as sim:  # type: ignore[arg-type]
        config = demo_config(sim)
        store = Store.in_memory()
        paths = resolve_paths(tmp_path)
        runtime = assemble(list(config.crews.values()), config, paths, store=store)
        app = DemoApp(sim, runtime, config, paths)
        try:
            async with app.run_test(size=(120, 36)) as pilot:
                rows = app.main.rows
                # Exactly one row per run: never a placeholder of an attempt being sent.
                try:
                    await settle(pilot, lambda: len(rows()) == len(DEMO_RUNS))
                except TimeoutError:
                    pytest.fail(f"rows: {[(r.crew, r.kickoff_id) for r in rows()]}")
                try:
                    await settle(pilot, lambda: all(row.state.is_terminal for row in rows()))
                except TimeoutError:
                    pytest.fail(f"runs still going: {[(r.crew, r.state) for r in rows()]}")
                states = {row.crew: row.state for row in rows()}
        finally:
            store.close()
    assert states["research"] is RunState.FAILED
    assert {states[crew] for crew in ("travel", "content", "outreach")} == {RunState.COMPLETED}
