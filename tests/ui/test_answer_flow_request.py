"""A flow's human-in-the-loop request in the app: shown waiting with a toast and the bell,
and answered with ``a`` through the request's callback, end to end against the simulator.

The run is started outside crewtui: the signed request is all the app hears of it, as with
a flow deployment configured on the service to send its requests to crewtui.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from textual.message import Message
from textual.widgets import Input, Static

from crewtui.api.states import RunState
from crewtui.config import Config
from crewtui.core.tracker import Tracker
from crewtui.core.webhooks import WebhookReceiver
from crewtui.settings import UiSettings
from crewtui.sim import SimOptions, SimServer
from crewtui.ui.pilot import settle
from tests.conftest import TEST_SPEED
from tests.ui.app_helpers import FAST_POLL, AppFactory, main_screen, sim_crews
from tests.ui.test_answer import open_answer, task_cell, toasts, waiting_toasts
from tests.ui.test_bell import BellCountingApp
from tests.ui.test_key_bursts import burst

pytestmark = pytest.mark.timeout(60)

SIGNING = "hitl-signing-secret-0123456789"


@pytest.fixture
def hitl_sim() -> Iterator[SimServer]:
    with SimServer(SimOptions(dialect="live", speed=TEST_SPEED, seed=5)) as server:
        yield server


async def test_a_flow_request_toasts_rings_and_is_answered_from_the_app(
    hitl_sim: SimServer, make_app: AppFactory
) -> None:
    sim = hitl_sim
    crews = sim_crews(sim)
    config = Config(
        crews={crew.name: crew for crew in crews}, poll=FAST_POLL, ui=UiSettings(bell=True)
    )
    tracker = Tracker(crews, make_app.store(), FAST_POLL)
    app = BellCountingApp(tracker, config, make_app.paths)
    receiver = WebhookReceiver(
        tracker.ingest,
        tracker.is_tracked,
        secret="s" * 32,
        hitl_secret=SIGNING,
        on_hitl=tracker.hitl_requested,
    )
    app.receiver = receiver
    notes: list[Message] = []
    async with app.run_test(size=(150, 36), notifications=True, message_hook=notes.append) as pilot:
        screen = await main_screen(pilot)  # the receiver is up once the app follows runs
        sim.options.hitl_url = receiver.hitl_url
        sim.options.hitl_secret = SIGNING
        headers = {"Authorization": f"Bearer {sim.options.token}"}
        body = {"inputs": sim.sample_inputs("travel") | {"hold": "1"}}
        async with httpx.AsyncClient(headers=headers) as http:
            answer = await http.post(sim.crew_url("travel") + "/kickoff", json=body)
        kickoff_id = answer.json()["kickoff_id"]

        await settle(pilot, lambda: bool(waiting_toasts(notes)))
        (toast,) = waiting_toasts(notes)
        assert toast.startswith(f"travel {kickoff_id[:8]} waits for input on research_task")
        assert "Review the output of research_task" in toast
        assert app.rings == 1
        assert "waits for input on research_task" in task_cell(screen, kickoff_id)

        screen.kickoffs.select(kickoff_id)
        await settle(pilot, lambda: screen.selected is not None)
        dialog = await open_answer(pilot)
        situation = str(dialog.query_one("#answer-situation", Static).render())
        assert "callback" in situation and "research_task" in situation
        assert not dialog.query("#answer-task")  # a flow request has no task to pick
        assert dialog.query_one("#answer-feedback", Input).has_focus
        # Typed in one burst, as a fast typist or tmux sends it: the answer is the text.
        burst(app, *"Ship it", "ctrl+s")
        await settle(pilot, lambda: any("through its callback" in t for t in toasts(notes)))
        assert any("“Ship it”" in t for t in toasts(notes))
        assert app.screen is screen
        answered = tracker.get(kickoff_id)
        assert answered is not None and answered.waiting_for is None
        await settle(pilot, lambda: (k := tracker.get(kickoff_id)) is not None and k.is_terminal)
        final = tracker.get(kickoff_id)
        assert final is not None and final.state is RunState.COMPLETED
        assert len(waiting_toasts(notes)) == 1
