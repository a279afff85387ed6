"""A paused run in the app: the list and the detail say which task waits; ``a`` answers it.

End to end against the simulator's ``hold=1`` runs, in both dialects, through Pilot.
"""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot
from textual.widgets import Input, Static

from crewtui.api.models import Kickoff, RunState
from crewtui.sim import SimServer
from crewtui.ui.pilot import settle
from crewtui.ui.screens.answer import AnswerScreen
from crewtui.ui.screens.main import MainScreen
from tests.ui.app_helpers import AppFactory, main_screen, sim_crews

pytestmark = pytest.mark.timeout(60)


def task_cell(screen: MainScreen, kickoff_id: str) -> str:
    cell = screen.kickoffs.get_cell(kickoff_id, "task")
    assert isinstance(cell, Text)
    return cell.plain


def header(screen: MainScreen) -> str:
    return str(screen.detail.query_one("#detail-header", Static).render())


async def start_on_hold(pilot: Pilot[int], sim: SimServer) -> Kickoff:
    """A travel run that waits for input after its first task, selected in the list."""
    screen = main_screen(pilot)
    tracker = screen.tracker
    kickoff = await tracker.kickoff("travel", sim.sample_inputs("travel") | {"hold": "1"})
    await settle(pilot, lambda: kickoff.kickoff_id in screen.kickoffs)
    screen.kickoffs.select(kickoff.kickoff_id)
    return kickoff


async def open_answer(pilot: Pilot[int]) -> AnswerScreen:
    await pilot.press("a")
    await settle(pilot, lambda: isinstance(pilot.app.screen, AnswerScreen))
    dialog = pilot.app.screen
    assert isinstance(dialog, AnswerScreen)
    return dialog


def toasts(notes: list[Message]) -> list[str]:
    return [str(m.notification.message) for m in notes if isinstance(m, Notify)]


async def test_live_pause_is_shown_and_approved_from_the_app(
    sim: SimServer, make_app: AppFactory
) -> None:
    notes: list[Message] = []
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(150, 36), notifications=True, message_hook=notes.append) as pilot:
        screen = main_screen(pilot)
        kickoff = await start_on_hold(pilot, sim)
        paused = kickoff.kickoff_id
        await settle(pilot, lambda: "waits for input on research_task" in task_cell(screen, paused))
        assert "Waiting for human input" in task_cell(screen, paused)
        await settle(pilot, lambda: "Paused: waits for input on research_task" in header(screen))
        assert "a to answer" in header(screen)

        dialog = await open_answer(pilot)
        assert "research_task" in str(dialog.query_one("#answer-situation", Static).render())
        assert dialog.query_one("#answer-task", Input).placeholder == "research_task"
        await pilot.press(*"Add a museum day", "ctrl+s")
        await settle(pilot, lambda: (k := screen.selected) is not None and k.kickoff_id != paused)
        continued = screen.selected
        assert continued is not None and app.screen is screen
        assert any(f"continues as {continued.kickoff_id}" in text for text in toasts(notes))
        await settle(
            pilot,
            lambda: (
                (k := app.tracker.get(continued.kickoff_id)) is not None
                and k.state is RunState.COMPLETED
            ),
        )


async def test_documented_pause_is_answered_and_a_refusal_keeps_the_draft(
    sim_documented: SimServer, make_app: AppFactory
) -> None:
    sim = sim_documented
    notes: list[Message] = []
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(150, 36), notifications=True, message_hook=notes.append) as pilot:
        screen = main_screen(pilot)
        kickoff = await start_on_hold(pilot, sim)
        await settle(
            pilot,
            lambda: (
                (k := app.tracker.get(kickoff.kickoff_id)) is not None
                and k.progress is not None
                and k.progress.completed == 1
            ),
        )
        dialog = await open_answer(pilot)
        assert "has not said" in str(dialog.query_one("#answer-situation", Static).render())
        dialog.query_one("#answer-task", Input).value = "nope"
        await pilot.press(*"Too expensive", "ctrl+r")  # the service refuses: draft kept
        await settle(
            pilot,
            lambda: isinstance(app.screen, AnswerScreen) and app.screen is not dialog,
        )
        again = app.screen
        assert isinstance(again, AnswerScreen)
        assert "not waiting for human input" in str(again.query_one(".error", Static).render())
        assert again.query_one("#answer-task", Input).value == "nope"
        assert again.query_one("#answer-feedback", Input).value == "Too expensive"
        again.query_one("#answer-task", Input).value = "research_task"
        await pilot.press("ctrl+r")
        await settle(pilot, lambda: any("retrying" in text for text in toasts(notes)))
        assert app.screen is screen
        assert any(text.startswith("Rejected research_task") for text in toasts(notes))
        await settle(
            pilot,
            lambda: (
                (k := app.tracker.get(kickoff.kickoff_id)) is not None
                and k.state is RunState.COMPLETED
            ),
        )


async def test_a_on_a_finished_run_says_there_is_nothing_to_answer(
    sim: SimServer, make_app: AppFactory
) -> None:
    notes: list[Message] = []
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(150, 36), notifications=True, message_hook=notes.append) as pilot:
        screen = main_screen(pilot)
        kickoff = await screen.tracker.kickoff("research", sim.sample_inputs("research"))
        await settle(
            pilot,
            lambda: (k := app.tracker.get(kickoff.kickoff_id)) is not None and k.is_terminal,
        )
        screen.kickoffs.select(kickoff.kickoff_id)
        await settle(pilot, lambda: screen.selected is not None and screen.selected.is_terminal)
        await pilot.press("a")
        await pilot.pause()
        assert app.screen is screen
        assert any("waits for input" in text for text in toasts(notes))
