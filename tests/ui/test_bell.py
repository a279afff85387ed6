"""``[ui] bell = true`` rings the terminal bell when a watched run ends; false keeps quiet.

Runs on the simulator over real HTTP: the app hears the run end through the tracker's
events, exactly as in use. ``App.bell`` is counted by a subclass (Textual's own bell does
nothing in a headless test).
"""

from __future__ import annotations

import pytest

from crewtui.api.states import RunState
from crewtui.config import Config
from crewtui.core.tracker import Tracker
from crewtui.settings import UiSettings
from crewtui.sim import SimServer
from crewtui.ui.app import CrewtuiApp
from crewtui.ui.pilot import settle
from tests.ui.app_helpers import FAST_POLL, AppFactory, sim_crews

pytestmark = pytest.mark.timeout(60)


class BellCountingApp(CrewtuiApp):
    """The app, counting the times it rings the bell."""

    rings = 0

    def bell(self) -> None:
        self.rings += 1
        super().bell()


def bell_app(sim: SimServer, make_app: AppFactory, *, bell: bool) -> BellCountingApp:
    crews = sim_crews(sim)
    config = Config(
        crews={crew.name: crew for crew in crews}, poll=FAST_POLL, ui=UiSettings(bell=bell)
    )
    tracker = Tracker(crews, make_app.store(), FAST_POLL)
    return BellCountingApp(tracker, config, make_app.paths)


async def run_to_the_end(app: BellCountingApp, sim: SimServer, *, fail: bool) -> int:
    """Start a travel run, wait for it to end; how many times the bell rang meanwhile."""
    inputs = sim.sample_inputs("travel") | ({"fail": "true"} if fail else {})
    async with app.run_test(size=(120, 36)) as pilot:
        kickoff = await app.tracker.kickoff("travel", inputs)
        await settle(
            pilot,
            lambda: (
                (row := app.main.kickoffs.summary(kickoff.kickoff_id)) is not None
                and row.state.is_terminal
            ),
        )
        row = app.main.kickoffs.summary(kickoff.kickoff_id)
        assert row is not None
        assert row.state is (RunState.FAILED if fail else RunState.COMPLETED)
        return app.rings


@pytest.mark.parametrize("fail", [False, True], ids=["completed", "failed"])
async def test_the_bell_rings_once_when_a_run_ends(
    sim: SimServer, make_app: AppFactory, fail: bool
) -> None:
    assert await run_to_the_end(bell_app(sim, make_app, bell=True), sim, fail=fail) == 1


@pytest.mark.parametrize("fail", [False, True], ids=["completed", "failed"])
async def test_no_bell_when_it_is_off(sim: SimServer, make_app: AppFactory, fail: bool) -> None:
    assert await run_to_the_end(bell_app(sim, make_app, bell=False), sim, fail=fail) == 0
