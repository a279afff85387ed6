"""Runs that end in a burst share one toast and one bell, so a busy day never covers the
screen with a toast per run; a failure among them makes the toast an error, a cancel
does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from textual.message import Message
from textual.notifications import Notification, Notify
from textual.screen import Screen
from textual.widgets import Button
from textual.widgets._toast import Toast

from crewtui.api.models import Kickoff
from crewtui.api.rows import WaitingFor
from crewtui.api.states import RunState
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
    assert toasts[0].title == "5 completed, 1 failed"
    assert toasts[0].severity == "error"
    lines = toasts[0].message.splitlines()
    assert lines[0] == "travel 00000006 failed in 30s"  # the newest first
    assert lines[1:4] == [f"travel {number:08x} completed in 30s" for number in (5, 4, 3)]
    assert lines[4:] == ["and 2 more"]
    assert app.rings == 1


async def announced(app: BellCountingApp, runs: list[Kickoff]) -> Notification:
    """The one toast that says ``runs`` ended together."""
    notes: list[Message] = []
    async with app.run_test(size=(80, 24), notifications=True, message_hook=notes.append) as pilot:
        main = await main_screen(pilot)
        for kickoff in runs:
            main.post_message(KickoffUpdated(kickoff, RunState.RUNNING))
        await settle(pilot, lambda: any(isinstance(note, Notify) for note in notes))
    (toast,) = [note.notification for note in notes if isinstance(note, Notify)]
    return toast


def stopped_by_you(number: int) -> Kickoff:
    """A run the user cancelled with ``x`` (the service confirmed the stop)."""
    return ended(number, RunState.CANCELLED).model_copy(update={"cancel_request": "confirmed"})


async def test_runs_the_user_cancelled_are_no_error(sim: SimServer, make_app: AppFactory) -> None:
    toast = await announced(
        bell_app(sim, make_app, bell=False),
        [ended(1, RunState.COMPLETED), stopped_by_you(2), stopped_by_you(3)],
    )
    assert (toast.title, toast.severity) == ("1 completed, 2 cancelled", "information")


async def test_a_run_stopped_elsewhere_warns_and_a_lost_one_among_them_is_an_error(
    sim: SimServer, make_app: AppFactory
) -> None:
    """Nobody here asked to stop it (the service, or someone on its site, did): worth a
    look, not a failure. A lost run with it makes the toast an error."""
    warned = await announced(
        bell_app(sim, make_app, bell=False), [stopped_by_you(1), ended(2, RunState.CANCELLED)]
    )
    assert (warned.title, warned.severity) == ("2 runs cancelled", "warning")
    lost = await announced(
        bell_app(sim, make_app, bell=False), [ended(1, RunState.CANCELLED), ended(2, RunState.LOST)]
    )
    assert (lost.title, lost.severity) == ("1 cancelled, 1 lost", "error")


def waiting(number: int) -> Kickoff:
    return ended(number, RunState.PAUSED).model_copy(
        update={
            "finished_at": None,
            "waiting_for": WaitingFor(task_id="review", since=datetime(2026, 12, 1, tzinfo=UTC)),
        }
    )


async def test_runs_ending_while_a_toast_says_others_ended_count_them_in_one_toast(
    sim: SimServer, make_app: AppFactory
) -> None:
    """Runs that end a burst apart (the demo ends one every few seconds): the toast on screen
    is taken back and one toast counts them all, newest first, rather than a stack over the
    detail at 80x24. A run waiting for a person keeps a toast of its own."""
    app = bell_app(sim, make_app, bell=False)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        main = await main_screen(pilot)
        main.post_message(KickoffUpdated(ended(1, RunState.COMPLETED), RunState.RUNNING))
        await settle(pilot, lambda: len(toasts_on(main)) == 1)
        main.post_message(KickoffUpdated(waiting(3), RunState.RUNNING))
        main.post_message(KickoffUpdated(ended(2, RunState.FAILED), RunState.RUNNING))
        await settle(pilot, lambda: any("00000002" in toast for toast in messages(main)))
        await pilot.pause()
        shown = {toast._notification.title: toast._notification for toast in toasts_on(main)}
    assert sorted(shown) == ["1 completed, 1 failed", "Run waits for input"]
    ended_toast = shown["1 completed, 1 failed"]
    assert ended_toast.severity == "error"
    assert ended_toast.message.splitlines() == [
        "travel 00000002 failed in 30s",
        "travel 00000001 completed in 30s",
    ]


def messages(screen: Screen[object]) -> list[str]:
    return [str(toast._notification.message) for toast in toasts_on(screen)]


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
        for number in (1, 2, 3):
            app.notify(f"Notice {number}.")
        await settle(pilot, lambda: len(app._toast_hold) == 3)
        for number in range(2, 6):  # runs keep ending, one burst after another: one toast
            app.main.post_message(
                KickoffUpdated(ended(number, RunState.COMPLETED), RunState.RUNNING)
            )
            await settle(pilot, lambda: f"{number:08x}" in ended_toast(app).message)  # noqa: B023
            assert len(app._toast_hold) == 4
        assert_buttons_uncovered(app, form)
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is app.main)
        await settle(pilot, lambda: len(toasts_on(app.main)) == 3)
        shown = [toast._notification for toast in toasts_on(app.main)]
        # Raised again as the same toast: the next run to end can still take it back.
        assert shown[-1].identity == ended_toast(app).identity
    assert shown[-1].title == "5 runs completed"
    assert [toast.message for toast in shown] == [
        "2 earlier notices while the dialog was open (l: the Log view).",
        "Notice 3.",
        # 24 rows: two runs named (four made the toast a third of the screen).
        "travel 00000005 completed in 30s\ntravel 00000004 completed in 30s\nand 3 more",
    ]


async def test_a_tall_terminal_names_four_runs_in_the_toast(
    sim: SimServer, make_app: AppFactory
) -> None:
    app = bell_app(sim, make_app, bell=False)
    async with app.run_test(size=(80, 40), notifications=True) as pilot:
        main = await main_screen(pilot)
        for number in range(1, 6):  # one burst
            main.post_message(KickoffUpdated(ended(number, RunState.COMPLETED), RunState.RUNNING))
        await settle(pilot, lambda: len(toasts_on(main)) == 1)
        (toast,) = toasts_on(main)
    assert toast._notification.title == "5 runs completed"
    assert toast._notification.message.splitlines() == [
        *(f"travel 0000000{number} completed in 30s" for number in (5, 4, 3, 2)),
        "and 1 more",
    ]


def ended_toast(app: BellCountingApp) -> Notification:
    """The toast that says which runs ended (held or on screen)."""
    assert app.main._ended_toast is not None
    return app.main._ended_toast[0]
