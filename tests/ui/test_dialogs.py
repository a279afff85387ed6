"""Every dialog looks like one: centred over the app, which stays visible (dimmed) around it.

A dialog built on a mixin placed before ``ModalScreen`` lost the modal styling (Textual takes
a screen's CSS type from its first base class): it drew at the top left, on black, hiding
the list it was asking about. This looks at the geometry a person sees, for each dialog.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from crewtui.api.models import Kickoff
from crewtui.api.states import RunState
from crewtui.core.format import sentence
from crewtui.sim import SimServer
from crewtui.ui.pilot import settle
from crewtui.ui.screens.answer import AnswerScreen
from crewtui.ui.screens.kickoff_form import KickoffForm
from crewtui.ui.screens.prompts import ConfirmScreen, FilterScreen, TrackScreen
from tests.ui.app_helpers import AppFactory, main_screen, sim_crews

pytestmark = pytest.mark.timeout(60)

SIZE = (100, 30)


def _box(screen: Screen[object]) -> Widget:
    """The dialog's visible box: its first child."""
    return screen.children[0]


def _assert_centred_over_the_app(screen: Screen[object]) -> None:
    box = _box(screen).region
    left, right = box.x, SIZE[0] - box.right
    top, bottom = box.y, SIZE[1] - box.bottom
    assert left > 0 and abs(left - right) <= 1, (box, type(screen).__name__)
    assert top > 0 and abs(top - bottom) <= 1, (box, type(screen).__name__)
    assert screen.styles.background.a < 1, type(screen).__name__  # the app shows through


async def _select_a_paused_run(pilot: Pilot[int], sim: SimServer) -> Kickoff:
    """Start a run that waits for input, and leave it selected, waiting, the list focused."""
    screen = await main_screen(pilot)
    tracker = screen.tracker
    kickoff = await tracker.kickoff("outreach", sim.sample_inputs("outreach") | {"hold": "1"})
    await settle(pilot, lambda: kickoff.kickoff_id in screen.kickoffs)
    screen.kickoffs.select(kickoff.kickoff_id)

    def waiting() -> bool:
        selected = screen.selected
        return (
            selected is not None
            and selected.state is RunState.PAUSED
            and selected.waiting_for is not None
        )

    await settle(pilot, waiting, within=30)
    screen.kickoffs.focus()
    return kickoff


@pytest.mark.parametrize(
    ("key", "dialog"),
    [
        ("n", KickoffForm),
        ("t", TrackScreen),
        ("slash", FilterScreen),
        ("x", ConfirmScreen),
        ("a", AnswerScreen),
    ],
)
async def test_each_dialog_is_centred_over_the_dimmed_app(
    sim: SimServer, make_app: AppFactory, key: str, dialog: type[Screen[object]]
) -> None:
    app = make_app(sim_crews(sim))
    async with app.run_test(size=SIZE) as pilot:
        await _select_a_paused_run(pilot, sim)
        await pilot.press(key)
        await settle(pilot, lambda: isinstance(app.screen, dialog))
        await pilot.pause()
        _assert_centred_over_the_app(app.screen)


async def test_the_cancel_question_of_a_paused_run_does_not_call_it_running(
    sim: SimServer, make_app: AppFactory
) -> None:
    app = make_app(sim_crews(sim))
    async with app.run_test(size=SIZE) as pilot:
        kickoff = await _select_a_paused_run(pilot, sim)
        await pilot.press("x")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = str(app.screen.query_one("#question", Static).render())
        assert f"run {kickoff.short_id}, waiting for input (started " in question
        assert "running for" not in question


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("waits on research_task", "waits on research_task."),
        ("waits: approve or reject it.", "waits: approve or reject it."),
        ("is this right?", "is this right?"),
    ],
)
def test_a_sentence_ends_once(text: str, expected: str) -> None:
    assert sentence(text) == expected
