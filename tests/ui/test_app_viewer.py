"""The app on a history another crewtui polls: it views, says who polls, and takes over."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from crewtui.api.models import RunState
from crewtui.core.store_rows import bind_ts
from crewtui.core.tracker import Tracker, utcnow
from crewtui.sim import SimServer
from crewtui.ui.pilot import settle
from tests.ui.app_helpers import FAST_POLL, AppFactory, main_screen, sim_crews


async def test_the_app_views_a_crew_another_process_polls_and_takes_it_over(
    sim: SimServer, make_app: AppFactory
) -> None:
    crews = sim_crews(sim)
    poller = Tracker(crews, make_app.store(), FAST_POLL)  # another process on the history
    await poller.start()
    app = make_app(crews)
    try:
        async with app.run_test(size=(160, 36)) as pilot:
            screen = main_screen(pilot)
            travel = screen.status.describe("travel")
            assert travel == f"○ travel polled by {poller.here}"
            # A run the app starts is polled by the other process and shown here.
            inputs = {**sim.sample_inputs("travel"), "duration_scale": "50"}
            kickoff = await app.tracker.kickoff("travel", inputs)
            await settle(
                pilot,
                lambda: (
                    (row := screen.kickoffs.summary(kickoff.kickoff_id)) is not None
                    and row.state is RunState.RUNNING
                ),
            )
            assert not app.tracker.holds_lease("travel")
            # The poller stops its rounds (its crew went down, say): the run is stale here.
            with sqlite3.connect(make_app.paths.store_file) as conn:
                long_ago = bind_ts(utcnow() - timedelta(minutes=3))
                conn.execute("UPDATE leases SET refreshed_at = ?", (long_ago,))
            conn.close()
            await settle(
                pilot, lambda: "stale" in screen.kickoffs.cell(kickoff.kickoff_id, "task").plain
            )
            # It stops: the app polls the crew now, and says nothing of another poller.
            await poller.stop()
            await settle(pilot, lambda: app.tracker.holds_lease("travel"))
            await settle(pilot, lambda: "polled by" not in screen.status.describe("travel"))
            await settle(
                pilot,
                lambda: "stale" not in screen.kickoffs.cell(kickoff.kickoff_id, "task").plain,
            )
    finally:
        await poller.stop()
