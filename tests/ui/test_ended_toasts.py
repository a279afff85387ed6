"""Runs that end in a burst share one toast and one bell, so a busy day never covers the
screen with a toast per run; a failure among them makes the toast an error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from textual.message import Message
from textual.notifications import Notify

from crewtui.api.models import Kickoff, RunState
from crewtui.sim import SimServer
from crewtui.ui.pilot import settle
from crewtui.ui.screens.log import LogScreen
from crewtui.ui.screens.main import KickoffUpdated
from tests.ui.app_helpers import AppFactory
from tests.ui.test_bell import bell_app


def ended(number: int, state: RunState) -> Kickoff:
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    return Kickoff(
        kickoff_id=f"{number:08x}-0000-4000-8000-000000000000",
        crew="travel",
        state=state,
        created_at=start,
        updated_at=start + timedelta(seconds=30),
        finished_at=start + timedelta(seconds=30),
    )


async def test_runs_ending_together_share_one_toast_and_one_bell(
    sim: SimServer, make_app: AppFactory
) -> None:
    notes: list[Message] = []
    app = bell_app(sim, make_app, bell=True)
    states = [RunState.COMPLETED] * 5 + [RunState.FAILED]
    async with app.run_test(size=(120, 36), notifications=True, message_hook=notes.append) as pilot:
        for number, state in enumerate(states, start=1):
            app.main.post_message(KickoffUpdated(ended(number, state), RunState.RUNNING))
        await settle(pilot, lambda: any(isinstance(note, Notify) for note in notes))
        await pilot.pause()
    toasts = [note.notification for note in notes if isinstance(note, Notify)]
    assert len(toasts) == 1, [toast.title for toast in toasts]
    assert toasts[0].title == "6 runs ended, 1 failed"
    assert toasts[0].severity == "error"
    lines = toasts[0].message.splitlines()
    assert lines[:4] == [f"travel {number:08x} completed in 30s" for number in range(1, 5)]
    assert lines[4:] == ["and 2 more"]
    assert app.rings == 1


async def test_the_log_view_shows_the_ends_itself_and_no_toast_covers_its_newest_lines(
    sim: SimServer, make_app: AppFactory
) -> None:
    notes: list[Message] = []
    app = bell_app(sim, make_app, bell=True)
    async with app.run_test(size=(80, 24), notifications=True, message_hook=notes.append) as pilot:
        await pilot.press("l")
        await settle(pilot, lambda: isinstance(app.screen, LogScreen))
        app.main.post_message(KickoffUpdated(ended(1, RunState.COMPLETED), RunState.RUNNING))
        await settle(pilot, lambda: app.rings == 1)
        await settle(pilot, lambda: not app.main._ended)  # the burst was announced
    assert not [note for note in notes if isinstance(note, Notify)]
