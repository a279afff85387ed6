"""The app on a history another crewtui polls: it views, says who polls, and takes over."""

from __future__ import annotations

from dataclasses import replace

import pytest

from crewtui.api.http import BACKOFF_SCALE_ENV
from crewtui.api.states import RunState
from crewtui.core.tracker import Tracker
from crewtui.sim import SimServer
from crewtui.ui.pilot import settle
from tests.core.test_tracker import closed_port_url
from tests.ui.app_helpers import FAST_POLL, AppFactory, main_screen, sim_crews


async def test_the_app_views_a_crew_another_process_polls_and_takes_it_over(
    sim: SimServer, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The other process tries the dead crews as often, without the seconds of backoff.
    monkeypatch.setenv(BACKOFF_SCALE_ENV, "0")
    # Another process on the history, which cannot reach the crews: it polls in vain. (One
    # whose token is refused would give its lease up to the app, whose token works.)
    dead = closed_port_url().rsplit("/", 1)[0]
    cut_off = [replace(crew, url=f"{dead}/{crew.name}") for crew in sim_crews(sim)]
    poller = Tracker(cut_off, make_app.store(), FAST_POLL)
    await poller.start()
    app = make_app(sim_crews(sim))
    try:
        async with app.run_test(size=(160, 36)) as pilot:
            screen = await main_screen(pilot)
            travel = screen.status.describe("travel")
            assert travel == f"○ travel polled by {poller.here}"
            # A run the app starts is left to the other process, which cannot finish a
            # round of polls: once a lease's time has passed, the run is stale here.
            inputs = {**sim.sample_inputs("travel"), "duration_scale": "50"}
            kickoff = await app.tracker.kickoff("travel", inputs)
            await settle(pilot, lambda: poller.health("travel").state == "unreachable")
            await settle(
                pilot, lambda: "stale" in screen.kickoffs.cell(kickoff.kickoff_id, "task").plain
            )
            assert not app.tracker.holds_lease("travel")
            # It stops: the app polls the crew now, and says nothing of another poller.
            await poller.stop()
            await settle(pilot, lambda: app.tracker.holds_lease("travel"))
            await settle(pilot, lambda: "polled by" not in screen.status.describe("travel"))
            await settle(
                pilot,
                lambda: "stale" not in screen.kickoffs.cell(kickoff.kickoff_id, "task").plain,
            )
            summary = screen.kickoffs.summary(kickoff.kickoff_id)
            assert summary is not None and summary.state is RunState.RUNNING
    finally:
        await poller.stop()
