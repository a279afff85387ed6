"""The inbox (``i``): a crew's pause and a flow's request, oldest first, answered in place.

End to end against the simulator: the crew run pauses on ``hold=1``; the flow's request
reaches the app's receiver signed, as from a deployment configured to send it there.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import OptionList

from crewtui.config import Config
from crewtui.core.tracker import Tracker
from crewtui.core.webhooks import WebhookReceiver
from crewtui.sim import SimOptions, SimServer
from crewtui.ui.app import CrewtuiApp
from crewtui.ui.pilot import settle
from crewtui.ui.screens.answer import AnswerScreen
from crewtui.ui.screens.inbox import InboxScreen
from tests.conftest import TEST_SPEED
from tests.ui.app_helpers import FAST_POLL, AppFactory, main_screen, refreshes_asked, sim_crews
from tests.ui.test_answer import toasts

pytestmark = pytest.mark.timeout(60)

SIGNING = "inbox-signing-secret-0123456789"


@pytest.fixture
def hitl_sim() -> Iterator[SimServer]:
    with SimServer(SimOptions(dialect="live", speed=TEST_SPEED, seed=5)) as server:
        yield server


def status_view(app: CrewtuiApp) -> str:
    return app.main.status.view_text


def inbox_rows(pilot: Pilot[int]) -> list[str]:
    screen = pilot.app.screen
    assert isinstance(screen, InboxScreen)
    options = screen.query_one("#inbox-runs", OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def answer_highlighted(pilot: Pilot[int], feedback: str) -> None:
    """Enter on the inbox's highlighted row, the feedback, ctrl+s; back on the inbox."""
    await pilot.press("enter")
    await settle(pilot, lambda: isinstance(pilot.app.screen, AnswerScreen))
    await pilot.press(*feedback, "ctrl+s")
    await settle(pilot, lambda: isinstance(pilot.app.screen, InboxScreen))


async def test_the_inbox_lists_waiting_runs_oldest_first_and_answers_them_in_place(
    hitl_sim: SimServer, make_app: AppFactory
) -> None:
    sim = hitl_sim
    crews = sim_crews(sim)
    config = Config(crews={crew.name: crew for crew in crews}, poll=FAST_POLL)
    tracker = Tracker(crews, make_app.store(), FAST_POLL)
    app = CrewtuiApp(tracker, config, make_app.paths)
    app.receiver = WebhookReceiver(
        tracker.ingest,
        tracker.is_tracked,
        secret="s" * 32,
        hitl_secret=SIGNING,
        on_hitl=tracker.hitl_requested,
    )
    notes: list[Message] = []
    async with app.run_test(size=(150, 36), notifications=True, message_hook=notes.append) as pilot:
        screen = await main_screen(pilot)
        assert app.sub_title == "" and "waiting" not in status_view(app)

        # First a crew's pause, then (later, so younger) a flow's request.
        crew_run = await tracker.kickoff("travel", sim.sample_inputs("travel") | {"hold": "1"})
        await settle(pilot, lambda: len(screen.inbox) == 1)
        sim.options.hitl_url = app.receiver.hitl_url
        sim.options.hitl_secret = SIGNING
        headers = {"Authorization": f"Bearer {sim.options.token}"}
        body = {"inputs": sim.sample_inputs("travel") | {"hold": "1"}}
        async with httpx.AsyncClient(headers=headers) as http:
            started = await http.post(sim.crew_url("travel") + "/kickoff", json=body)
        flow_run = started.json()["kickoff_id"]
        await settle(pilot, lambda: len(screen.inbox) == 2)

        assert app.sub_title == "2 waiting"
        assert "2 waiting (i)" in status_view(app)

        await pilot.press("i")
        await settle(pilot, lambda: isinstance(app.screen, InboxScreen))
        rows = inbox_rows(pilot)
        assert [row.split()[1] for row in rows] == [crew_run.kickoff_id[:8], flow_run[:8]]
        assert "Waits for input on research_task" in rows[0]
        assert "Review the output of research_task" in rows[1]  # what the flow asks
        assert "⏎ answer · v show in list" in str(
            app.screen.query_one("#inbox-body").border_subtitle
        )

        # The crew's pause: answered with the answer dialog, on top of the inbox.
        await answer_highlighted(pilot, "Add a museum day")
        await settle(pilot, lambda: len(inbox_rows(pilot)) == 1)
        assert inbox_rows(pilot)[0].split()[1] == flow_run[:8]
        assert app.sub_title == "1 waiting"
        assert "1 waiting (i)" in status_view(app)
        assert any("continues as" in text for text in toasts(notes))

        # The flow's request: answered through its callback, and the inbox is empty.
        await answer_highlighted(pilot, "Ship it")
        await settle(pilot, lambda: not inbox_rows(pilot))
        assert any("through its callback" in text for text in toasts(notes))
        inbox = app.screen
        assert isinstance(inbox, InboxScreen)
        assert inbox.query_one("#inbox-empty").display
        assert app.sub_title == ""
        assert "waiting" not in status_view(app)

        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is screen)


async def test_the_inbox_shows_runs_waiting_in_the_history_at_start(
    sim: SimServer, make_app: AppFactory
) -> None:
    """A run that paused before the app started is counted as soon as the app opens, and
    ``v`` closes the inbox on it in the list."""
    first = make_app(sim_crews(sim))
    async with first.run_test(size=(150, 36)) as pilot:
        first_screen = await main_screen(pilot)
        kickoff = await first.tracker.kickoff("travel", sim.sample_inputs("travel") | {"hold": "1"})
        await settle(pilot, lambda: len(first_screen.inbox) == 1)

    app = make_app(sim_crews(sim))
    async with app.run_test(size=(150, 36)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: app.sub_title == "1 waiting")
        await pilot.press("i")
        await settle(pilot, lambda: isinstance(app.screen, InboxScreen))
        assert inbox_rows(pilot)[0].split()[1] == kickoff.kickoff_id[:8]
        await pilot.press("v")
        await settle(pilot, lambda: app.screen is screen)
        assert screen.kickoffs.selected_id == kickoff.kickoff_id


async def test_a_new_waiting_count_in_the_terminal_title_repaints_nothing(
    sim: SimServer, make_app: AppFactory
) -> None:
    """The count goes to the terminal's title (the app's sub-title), which no widget draws:
    each pause and answer changes it, and must not repaint the whole screen."""
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)  # the inbox is read once the app follows runs
        await settle(pilot, lambda: screen.is_current)
        with refreshes_asked() as asked:
            app.sub_title = "3 waiting"
        assert app.sub_title == "3 waiting"
        assert [widget for widget, _ in asked] == []


async def test_the_empty_inbox_says_what_will_show_there_not_keys_that_act_on_nothing(
    sim: SimServer, make_app: AppFactory
) -> None:
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(80, 24)) as pilot:
        await main_screen(pilot)
        await pilot.press("i")
        await settle(pilot, lambda: isinstance(app.screen, InboxScreen))
        body = app.screen.query_one("#inbox-body")
        assert app.screen.query_one("#inbox-empty").display
        assert body.border_subtitle == "a run that pauses for input shows here · escape to close"
        # Drawn whole at 80 columns: the box's bottom edge holds it with its corners.
        assert body.outer_size.width >= len(str(body.border_subtitle)) + 4
