"""``x`` cancels the selected run from the app: confirm, "cancelling…", then cancelled.

End to end against a simulator of the test's own (its latency keeps the stop's answer on
its way long enough to be seen), in both dialects, through Pilot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from rich.text import Text
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import Static

from crewtui.api.states import RunState
from crewtui.sim import SimOptions, SimServer
from crewtui.ui.pilot import settle
from crewtui.ui.screens.main import MainScreen
from crewtui.ui.screens.prompts import ConfirmScreen
from tests.conftest import TEST_SPEED
from tests.ui.app_helpers import AppFactory, main_screen, sim_crews

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["live", "documented"])
def own_sim(request: pytest.FixtureRequest) -> Iterator[SimServer]:
    with SimServer(SimOptions(dialect=request.param, speed=TEST_SPEED)) as server:
        yield server


def cell(screen: MainScreen, kickoff_id: str, column: str) -> str:
    value = screen.kickoffs.cell(kickoff_id, column)
    assert isinstance(value, Text)
    return value.plain


async def test_x_confirms_then_cancels_the_selected_run(
    own_sim: SimServer, make_app: AppFactory
) -> None:
    notes: list[Message] = []
    app = make_app(sim_crews(own_sim))
    async with app.run_test(size=(150, 36), notifications=True, message_hook=notes.append) as pilot:
        screen = await main_screen(pilot)
        inputs = own_sim.sample_inputs("travel") | {"duration_scale": "100"}
        kickoff = await app.tracker.kickoff("travel", inputs)
        kickoff_id = kickoff.kickoff_id
        await settle(pilot, lambda: kickoff_id in screen.kickoffs)
        screen.kickoffs.select(kickoff_id)
        await settle(
            pilot,
            lambda: (k := screen.selected) is not None and k.state is RunState.RUNNING,
        )

        await pilot.press("x")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = str(app.screen.query_one("#question", Static).render())
        assert f"Stop the travel run {kickoff_id[:8]}, running for " in question
        assert "experimental" in question

        own_sim.options.faults.latency = 0.5  # the stop's answer takes a moment to come
        await pilot.press("y")
        # Not settle(): it waits for the cancel worker, which ends once the stop is answered.
        async with asyncio.timeout(20):
            while cell(screen, kickoff_id, "state") != "● cancelling…":
                await pilot.pause()
        await settle(pilot, lambda: cell(screen, kickoff_id, "state") == "⊘ cancelled")
        own_sim.options.faults.latency = 0.0
        assert cell(screen, kickoff_id, "task") == "stopped by you"
        toasts = [str(m.notification.message) for m in notes if isinstance(m, Notify)]
        assert f"Cancelled {kickoff_id[:8]}: stopped by you." in toasts
        stored = app.tracker.store.get_kickoff(kickoff_id)
        assert stored is not None and stored.state is RunState.CANCELLED
        assert stored.cancel_request == "confirmed"


async def test_no_keeps_the_run_and_an_ended_run_is_not_asked_about(
    own_sim: SimServer, make_app: AppFactory
) -> None:
    notes: list[Message] = []
    app = make_app(sim_crews(own_sim))
    async with app.run_test(size=(150, 36), notifications=True, message_hook=notes.append) as pilot:
        screen = await main_screen(pilot)
        tracker = app.tracker
        inputs = own_sim.sample_inputs("travel")
        done = (await tracker.kickoff("travel", inputs)).kickoff_id
        going = (await tracker.kickoff("travel", inputs | {"hold": "1"})).kickoff_id
        await settle(pilot, lambda: going in screen.kickoffs)
        screen.kickoffs.select(going)
        await settle(pilot, lambda: (k := screen.selected) is not None and k.kickoff_id == going)
        await pilot.press("x")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await settle(pilot, lambda: app.screen is screen)
        kept = tracker.get(going)
        assert kept is not None and not kept.is_terminal and kept.cancel_request is None

        await settle(pilot, lambda: (k := tracker.get(done)) is not None and k.is_terminal)
        screen.kickoffs.select(done)
        await settle(pilot, lambda: (k := screen.selected) is not None and k.kickoff_id == done)
        await pilot.press("x")
        refusal = "Select a running or paused run to cancel it (this one is completed)."
        await settle(
            pilot,
            lambda: any(
                str(m.notification.message) == refusal for m in notes if isinstance(m, Notify)
            ),
        )
        assert app.screen is screen
