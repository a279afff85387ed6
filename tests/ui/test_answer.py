"""A paused run in the app: the list and the detail say which task waits; ``a`` answers it.

End to end against the simulator's ``hold=1`` runs, in both dialects, through Pilot.
"""

from __future__ import annotations

import httpx
import pytest
from rich.text import Text
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot
from textual.widgets import Input, Static

from crewtui.api.models import Kickoff
from crewtui.api.states import RunState
from crewtui.config import Config
from crewtui.core.tracker import Tracker
from crewtui.core.webhooks import WebhookReceiver
from crewtui.settings import UiSettings
from crewtui.sim import SimServer
from crewtui.ui.pilot import settle
from crewtui.ui.screens.answer import AnswerScreen
from crewtui.ui.screens.main import MainScreen
from tests.ui.app_helpers import FAST_POLL, AppFactory, main_screen, sim_crews
from tests.ui.test_bell import BellCountingApp

pytestmark = pytest.mark.timeout(60)


def task_cell(screen: MainScreen, kickoff_id: str) -> str:
    cell = screen.kickoffs.cell(kickoff_id, "task")
    assert isinstance(cell, Text)
    return cell.plain


def header(screen: MainScreen) -> str:
    return str(screen.detail.query_one("#detail-header", Static).render())


async def start_on_hold(pilot: Pilot[int], sim: SimServer) -> Kickoff:
    """A travel run that waits for input after its first task, selected in the list."""
    screen = await main_screen(pilot)
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
        screen = await main_screen(pilot)
        kickoff = await start_on_hold(pilot, sim)
        paused = kickoff.kickoff_id
        await settle(pilot, lambda: "waits for input on research_task" in task_cell(screen, paused))
        assert "Waiting for human input" in task_cell(screen, paused)
        await settle(
            pilot,
            lambda: "Paused (a to answer): waits for input on research_task" in header(screen),
        )
        assert "a to answer" in header(screen)

        dialog = await open_answer(pilot)
        assert "research_task" in str(dialog.query_one("#answer-situation", Static).render())
        assert dialog.query_one("#answer-task", Input).placeholder == "research_task"
        await pilot.press(*"Add a museum day", "ctrl+s")
        await settle(pilot, lambda: (k := screen.selected) is not None and k.kickoff_id != paused)
        continued = screen.selected
        assert continued is not None and app.screen is screen
        # The short id, as the list shows it: a whole uuid wraps the toast at 80 columns.
        assert any(f"continues as {continued.short_id}." in text for text in toasts(notes))
        assert not any(continued.kickoff_id in text for text in toasts(notes))
        await settle(
            pilot,
            lambda: (
                (k := app.tracker.get(continued.kickoff_id)) is not None
                and k.state is RunState.COMPLETED
            ),
        )


async def test_a_paused_runs_header_names_the_answer_key_as_remapped(
    sim: SimServer, make_app: AppFactory
) -> None:
    app = make_app(sim_crews(sim), keys={"answer": "ctrl+y"})
    async with app.run_test(size=(150, 36)) as pilot:
        screen = await main_screen(pilot)
        await start_on_hold(pilot, sim)
        await settle(pilot, lambda: "Paused (ctrl+y to answer)" in header(screen))
        assert "a to answer" not in header(screen)


async def test_documented_pause_is_answered_and_a_refusal_keeps_the_draft(
    sim_documented: SimServer, make_app: AppFactory
) -> None:
    sim = sim_documented
    notes: list[Message] = []
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(150, 36), notifications=True, message_hook=notes.append) as pilot:
        screen = await main_screen(pilot)
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
        screen = await main_screen(pilot)
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


# -- a run that starts waiting: a toast and the bell; an answered run links to its sequel ----


def bell_app(make_app: AppFactory, sim: SimServer, **kwargs: object) -> BellCountingApp:
    crews = sim_crews(sim)
    config = Config(
        crews={crew.name: crew for crew in crews}, poll=FAST_POLL, ui=UiSettings(bell=True)
    )
    tracker = Tracker(crews, make_app.store(), FAST_POLL)
    return BellCountingApp(tracker, config, make_app.paths, **kwargs)  # type: ignore[arg-type]


def waiting_toasts(notes: list[Message]) -> list[str]:
    return [
        str(m.notification.message)
        for m in notes
        if isinstance(m, Notify) and m.notification.title == "Run waits for input"
    ]


async def test_a_run_that_starts_waiting_toasts_rings_and_links_to_its_continuation(
    sim: SimServer, make_app: AppFactory
) -> None:
    notes: list[Message] = []
    app = bell_app(make_app, sim)
    async with app.run_test(size=(150, 36), notifications=True, message_hook=notes.append) as pilot:
        screen = await main_screen(pilot)
        kickoff = await start_on_hold(pilot, sim)
        paused = kickoff.kickoff_id
        await settle(pilot, lambda: bool(waiting_toasts(notes)))
        (toast,) = waiting_toasts(notes)
        assert toast.startswith(f"travel {paused[:8]} waits for input on research_task")
        assert toast.endswith(": Waiting for human input.")
        assert app.rings == 1

        await open_answer(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: (k := screen.selected) is not None and k.kickoff_id != paused)
        continued = screen.selected
        assert continued is not None
        new_id = continued.kickoff_id
        await settle(pilot, lambda: f"continued as {new_id[:8]}" in task_cell(screen, paused))
        assert f"continues {paused[:8]}" in task_cell(screen, new_id)
        await settle(pilot, lambda: (k := app.tracker.get(new_id)) is not None and k.is_terminal)
        assert len(waiting_toasts(notes)) == 1  # polls of the same pause do not repeat it


async def test_a_pause_pushed_as_an_event_toasts_in_the_documented_dialect(
    sim_documented: SimServer, make_app: AppFactory
) -> None:
    """The documented status has no pause: only the human_feedback_requested event says it."""
    sim = sim_documented
    notes: list[Message] = []
    app = bell_app(make_app, sim)
    receiver = WebhookReceiver(app.tracker.ingest, app.tracker.is_tracked, secret="s" * 32)
    app.receiver = receiver
    async with app.run_test(size=(150, 36), notifications=True, message_hook=notes.append) as pilot:
        screen = await main_screen(pilot)  # the receiver is up once the app follows runs
        # Started elsewhere with the batched events form, then followed here.
        body = {
            "inputs": sim.sample_inputs("travel") | {"hold": "1"},
            "webhooks": {"url": receiver.events_url, "realtime": True},
        }
        headers = {"Authorization": f"Bearer {sim.options.token}"}
        async with httpx.AsyncClient(headers=headers) as http:
            answer = await http.post(sim.crew_url("travel") + "/kickoff", json=body)
        kickoff_id = answer.json()["kickoff_id"]
        await app.tracker.track("travel", kickoff_id)
        await settle(pilot, lambda: bool(waiting_toasts(notes)))
        (toast,) = waiting_toasts(notes)
        assert toast.startswith(f"travel {kickoff_id[:8]} waits for input on research_task")
        assert "Review the output of research_task" in toast
        assert toast.endswith("approve or reject it.")  # the message's own full stop, once
        assert app.rings == 1
        assert "waits for input on research_task" in task_cell(screen, kickoff_id)
        resumed = await app.tracker.resume(kickoff_id)
        assert resumed.status == "resumed" and resumed.task_id == "research_task"
        await settle(
            pilot, lambda: (k := app.tracker.get(kickoff_id)) is not None and k.is_terminal
        )


async def test_a_pause_answered_under_a_new_id_reads_continued_not_paused_at_80_columns(
    sim: SimServer, make_app: AppFactory
) -> None:
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        slow = sim.sample_inputs("travel") | {"hold": "1", "duration_scale": "6"}
        paused = (await app.tracker.kickoff("travel", slow)).kickoff_id
        await settle(pilot, lambda: paused in screen.kickoffs)
        screen.kickoffs.select(paused)
        await settle(pilot, lambda: "waits for input" in task_cell(screen, paused))
        assert screen.kickoffs.cell(paused, "state").plain == "◐ paused"
        await open_answer(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: (k := screen.selected) is not None and k.kickoff_id != paused)
        new_id = app.tracker.get(paused).continues  # type: ignore[union-attr]
        assert new_id is not None and app.tracker.get(new_id) is not None  # followed
        await settle(pilot, lambda: f"continued as {new_id[:8]}" in task_cell(screen, paused))
        assert screen.kickoffs.cell(paused, "state").plain == "→ continued"
        assert "waits for input" not in task_cell(screen, paused)
        screen.kickoffs.select(paused)
        await settle(pilot, lambda: f"continued as {new_id[:8]}" in header(screen))
        assert "a to answer" not in header(screen)
        await pilot.press("a")  # answered already: no dialog, a word on where it went
        await pilot.pause()
        assert app.screen is screen
        assert any(f"continues as {new_id[:8]}" in note.message for note in app._notifications)
