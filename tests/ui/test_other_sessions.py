"""The app shows runs that another crewtui process started on the same history: on its own
within about a second, and at once on ``R``. The other process is a real ``crewtui kickoff``.
"""

from __future__ import annotations

import pytest

from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.core import tracker as tracker_module
from crewtui.sim import SimServer
from crewtui.ui.pilot import settle
from tests.core.test_tracker_processes import ENV_CREW, crewtui_child
from tests.ui.app_helpers import AppFactory, main_screen


def env_crew(sim: SimServer) -> list[CrewProfile]:
    """The crew a child configured by CREWAI_API_URL calls "default", under the same name."""
    return [
        CrewProfile(name=ENV_CREW, url=sim.crew_url("research"), token=Secret(sim.options.token))
    ]


async def kickoff_elsewhere(sim: SimServer, make_app: AppFactory) -> str:
    args = [a for k, v in sim.sample_inputs("research").items() for a in ("-i", f"{k}={v}")]
    kickoff_id, _ = await crewtui_child(make_app.paths.data_dir.parent, sim, "kickoff", *args)
    return kickoff_id


async def test_a_run_started_in_another_pane_appears_by_itself(
    sim: SimServer, make_app: AppFactory
) -> None:
    app = make_app(env_crew(sim))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        kickoff_id = await kickoff_elsewhere(sim, make_app)
        await settle(pilot, lambda: kickoff_id in {row.kickoff_id for row in screen.rows()})


async def test_r_picks_up_runs_of_other_sessions_at_once(
    sim: SimServer, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The app would look at the store only in an hour: only R can bring the run in.
    monkeypatch.setattr(tracker_module, "STORE_CHECK_EVERY", 3600.0)
    app = make_app(env_crew(sim))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: screen.is_attached)
        kickoff_id = await kickoff_elsewhere(sim, make_app)
        assert kickoff_id not in {row.kickoff_id for row in screen.rows()}
        await pilot.press("R")
        await settle(pilot, lambda: kickoff_id in {row.kickoff_id for row in screen.rows()})
