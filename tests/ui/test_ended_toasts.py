"""Runs that end in a burst share one toast and one bell, so a busy day never covers the
screen with a toast per run; a failure among them makes the toast an error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from textual.message import Message
from textual.notifications import Notify
from textual.screen import Screen
from textual.widgets import Button
from textual.widgets._toast import Toast

from crewtui.api.models import Kickoff, RunState
from crewtui.sim import SimServer
from crewtui.ui.pilot import settle
from crewtui.ui.screens.kickoff_form import KickoffForm
from crewtui.ui.screens.log import LogScreen
from crewtui.ui.screens.main import KickoffUpdated
from tests.ui.app_helpers import AppFactory, main_screen
from tests.ui.test_bell import BellCountingApp, bell_app


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


def toasts_on(screen: Screen[object]) -> list[Toast]:
    """The toasts a screen draws (the one under a dialog shows through it)."""
    return [
        toast
        for toast in screen.query(Toast)
        if toast.visible and toast.display and toast.parent is not None and toast.parent.display
    ]


def assert_buttons_uncovered(app: BellCountingApp, form: Screen[object]) -> None:
    """No toast is drawn over a button of ``form``, its own or the screen's under it."""
    drawn = toasts_on(form) + toasts_on(app.main)
    for button in form.query(Button):
        covering = [toast for toast in drawn if toast.region.overlaps(button.region)]
        assert not covering, (button.label, [toast.region for toast in covering])
        widget, _ = form.get_widget_at(button.region.x, button.region.y)
        assert widget is button, (button.label, widget)


async def test_no_toast_covers_the_kickoff_forms_buttons_and_they_come_out_when_it_closes(
    sim: SimServer, make_app: AppFactory
) -> None:
    app = bell_app(sim, make_app, bell=False)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        app.main.post_message(KickoffUpdated(ended(1, RunState.COMPLETED), RunState.RUNNING))
        await settle(pilot, lambda: bool(toasts_on(app.main)))
        await pilot.press("n")
        await settle(pilot, lambda: isinstance(app.screen, KickoffForm))
        form = app.screen
        assert_buttons_uncovered(app, form)  # the toast shown before it opened
        for number in range(2, 6):  # runs keep ending, one burst after another
            app.main.post_message(
                KickoffUpdated(ended(number, RunState.COMPLETED), RunState.RUNNING)
            )
            await settle(pilot, lambda: len(app._toast_hold) == number - 1)  # noqa: B023
        assert_buttons_uncovered(app, form)
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is app.main)
        await settle(pilot, lambda: len(toasts_on(app.main)) >= 3)
        shown = [str(toast._notification.message) for toast in toasts_on(app.main)]
    assert "2 earlier notices while the dialog was open (l: the Log view)." in shown
    assert "travel 00000005 completed in 30s" in shown
