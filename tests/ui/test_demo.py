"""The demo keeps moving: new runs start after the first ones end, over a day of history."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crewtui.api.rows import KickoffSummary
from crewtui.api.states import RunState
from crewtui.config import resolve_paths
from crewtui.core.store import Store
from crewtui.demo import build_demo
from crewtui.demo.history import HISTORY_RUNS
from crewtui.sim import SimOptions, SimServer
from crewtui.ui.pilot import settle
from tests.ui.app_helpers import FAST_POLL

pytestmark = pytest.mark.timeout(90)


@pytest.mark.parametrize("dialect", ["live", "documented"])
async def test_demo_starts_new_runs_after_the_first_ones_end(dialect: str, tmp_path: Path) -> None:
    opened = datetime.now(UTC)
    with SimServer(SimOptions(dialect=dialect, speed=100)) as sim:  # type: ignore[arg-type]
        store = Store.open(resolve_paths(tmp_path).store_file)
        app = build_demo(sim, resolve_paths(tmp_path), store, poll=FAST_POLL)
        try:
            async with app.run_test(size=(120, 36)) as pilot:

                def live() -> list[KickoffSummary]:
                    return [row for row in app.main.rows() if row.created_at >= opened]

                # The opening runs: one per crew, one fails, one waits for human input.
                await settle(pilot, lambda: {row.crew for row in live()} >= set(sim.CREWS))
                await settle(pilot, lambda: any(row.state.is_terminal for row in live()))
                first_end = max(row.updated_at for row in live() if row.state.is_terminal)
                # Runs keep starting once some have ended: the demo does not stop moving.
                await settle(
                    pilot,
                    lambda: sum(row.created_at > first_end for row in live()) >= 2,
                    within=60,
                )
                states = {row.state for row in live()}
                history = [row for row in app.main.rows() if row.created_at < opened]
        finally:
            store.close()
    assert RunState.FAILED in states
    waiting = RunState.PAUSED if dialect == "live" else RunState.RUNNING
    assert waiting in states  # documented has no paused shape: the held run reads as running
    assert len(history) == HISTORY_RUNS
    assert {row.state for row in history} == {
        RunState.COMPLETED,
        RunState.FAILED,
        RunState.CANCELLED,
        RunState.LOST,
    }
