"""The Log view (``l``): the run log of the app, on the simulator over real HTTP.

It opens on the same stream ``crewtui logs -f`` prints, shows a run's state changes as the
tracker learns them, filters, pauses (counting what comes meanwhile) and searches. The
desktop notifications (OSC 9 / 777) go through the app's one door to the terminal, counted
by a subclass here (Textual writes nothing to a headless test's terminal).
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from crewtui.config import Config
from crewtui.core.run_log import LogEntry
from crewtui.core.tracker import Tracker
from crewtui.settings import NotifySettings, OscSetting
from crewtui.sim import SimServer
from crewtui.ui.app import CrewtuiApp
from crewtui.ui.pilot import settle
from crewtui.ui.screens.log import LogScreen
from crewtui.ui.screens.main import MainScreen
from tests.hardening.corpus import EVERYTHING, assert_inert
from tests.ui.app_helpers import FAST_POLL, AppFactory, sim_crews

pytestmark = pytest.mark.timeout(90)


def log_screen(pilot: Pilot[Any]) -> LogScreen:
    screen = pilot.app.screen
    assert isinstance(screen, LogScreen)
    return screen


def ended(kickoff_id: str) -> Any:
    return lambda entry: entry.kickoff_id == kickoff_id and entry.kind in ("done", "failed")


def holds(entries: list[LogEntry], wanted: Any) -> bool:
    return any(wanted(entry) for entry in entries)


async def open_log(pilot: Pilot[Any]) -> LogScreen:
    await pilot.press("l")
    await settle(pilot, lambda: isinstance(pilot.app.screen, LogScreen))
    return log_screen(pilot)


async def test_l_opens_the_log_and_a_run_s_state_changes_show_as_they_happen(
    sim: SimServer, make_app: AppFactory
) -> None:
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_log(pilot)
        kickoff = await app.tracker.kickoff("content", sim.sample_inputs("content"))
        await settle(pilot, lambda: holds(screen.view.entries, ended(kickoff.kickoff_id)))
        mine = [e for e in screen.view.entries if e.kickoff_id == kickoff.kickoff_id]
        assert mine[0].kind == "run"
        assert {"task", "done"} <= {entry.kind for entry in mine}
        rows = [row for row in screen.view.shown_text if kickoff.short_id in row]
        assert any("running → completed" in row for row in rows)
        assert "following" in str(screen.status.render())
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_at_80_columns_a_task_s_end_still_says_how_long_it_took(
    sim: SimServer, make_app: AppFactory
) -> None:
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_log(pilot)
        kickoff = await app.tracker.kickoff("research", sim.sample_inputs("research"))
        await settle(pilot, lambda: holds(screen.view.entries, ended(kickoff.kickoff_id)))
        ends = [
            row
            for row in screen.view.shown_text
            if kickoff.short_id in row and "synthesis_task" in row and "task" in row.split()
        ]
        assert ends and any("completed in" in row for row in ends), ends


async def test_the_filter_keeps_only_what_it_names_and_says_so(
    sim: SimServer, make_app: AppFactory
) -> None:
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_log(pilot)
        first = await app.tracker.kickoff("content", sim.sample_inputs("content"))
        await settle(pilot, lambda: holds(screen.view.entries, ended(first.kickoff_id)))
        await pilot.press("f", *"kind:task", "enter")
        assert screen.view.entries and {e.kind for e in screen.view.entries} == {"task"}
        assert "filter kind:task" in str(screen.status.render())
        await pilot.press("f", "ctrl+u", *"kind:nonsense", "enter")
        assert screen.choice_text == "kind:task"  # refused: the filter before stays
        assert {e.kind for e in screen.view.entries} == {"task"}
        await pilot.press("ctrl+u", *"crew:nobody", "enter")
        assert screen.view.entries == []
        await pilot.press("f", "ctrl+u", *"crew:content", "escape")
        assert screen.view.entries == []  # escape keeps the filter it had


async def test_paused_the_view_keeps_still_counts_what_comes_and_shows_it_on_resume(
    sim: SimServer, make_app: AppFactory
) -> None:
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_log(pilot)
        await pilot.press("space")
        assert screen.paused
        shown = list(screen.view.entries)
        kickoff = await app.tracker.kickoff("content", sim.sample_inputs("content"))
        await settle(pilot, lambda: holds(list(app.log_ring), ended(kickoff.kickoff_id)))
        assert screen.view.entries == shown
        assert screen.unseen > 0
        assert f"paused, {screen.unseen} new" in str(screen.status.render())
        await pilot.press("p")
        assert not screen.paused
        assert holds(screen.view.entries, ended(kickoff.kickoff_id))


async def test_what_happens_while_the_log_is_closed_is_there_when_it_opens_again(
    sim: SimServer, make_app: AppFactory
) -> None:
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_log(pilot)
        await pilot.press("f", *"crew:content", "enter")
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        kickoff = await app.tracker.kickoff("content", sim.sample_inputs("content"))
        await settle(pilot, lambda: holds(list(app.log_ring), ended(kickoff.kickoff_id)))
        assert await open_log(pilot) is screen  # the same view, its filter kept
        assert screen.choice_text == "crew:content"
        assert holds(screen.view.entries, ended(kickoff.kickoff_id))


async def test_steps_another_process_stored_show_when_its_run_changes(
    make_app: AppFactory,
) -> None:
    """The app polls no crew here: the run and its steps are written to the history by
    another writer (this test, as another crewtui would), and the log reads them back."""
    from datetime import UTC, datetime, timedelta

    from crewtui.api.models import Kickoff, Step
    from crewtui.api.states import RunState

    app = make_app([])
    other = make_app.store()
    now = datetime.now(UTC)
    pending = Kickoff(
        kickoff_id="0ther000-0000-4000-8000-000000000000",
        crew="travel",
        state=RunState.PENDING,
        created_at=now,
        updated_at=now,
    )
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_log(pilot)
        await settle(pilot, lambda: screen.history_read)
        other.add_steps([Step(kickoff_id=pending.kickoff_id, received_at=now, tool="search")])
        other.save_kickoff(
            pending.model_copy(
                update={"state": RunState.RUNNING, "updated_at": now + timedelta(seconds=1)}
            )
        )
        await settle(pilot, lambda: holds(screen.view.entries, lambda e: e.kind == "tool"))
        (tool,) = [entry for entry in screen.view.entries if entry.kind == "tool"]
        assert tool.text == "search()" and tool.crew == "travel"


async def test_search_marks_the_lines_and_n_moves_between_them(
    sim: SimServer, make_app: AppFactory
) -> None:
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_log(pilot)
        kickoff = await app.tracker.kickoff("content", sim.sample_inputs("content"))
        await settle(pilot, lambda: holds(screen.view.entries, ended(kickoff.kickoff_id)))
        await pilot.press("slash", *"senior writer", "enter")
        view = screen.view
        assert len(view.matches) >= 2
        last = view.current_row
        assert last is not None and "Senior Writer" in (view.entries[last].agent or "")
        await pilot.press("n")
        assert view.current_row == view.matches[0]  # round the end
        await pilot.press("N")
        assert view.current_row == last
        assert f"{len(view.matches)}/{len(view.matches)}" in str(screen.status.render())


async def test_hostile_text_in_the_history_is_inert_in_the_log(
    make_app: AppFactory,
) -> None:
    from datetime import UTC, datetime

    from crewtui.api.models import Kickoff, Step
    from crewtui.api.states import RunState

    store = make_app.store()
    now = datetime.now(UTC).replace(year=2025)
    hostile = EVERYTHING.text
    store.save_kickoff(
        Kickoff(
            kickoff_id="0bad0bad-0000-4000-8000-000000000000",
            crew=hostile,
            state=RunState.FAILED,
            created_at=now,
            updated_at=now,
            finished_at=now,
            error=hostile,
        )
    )
    store.add_steps(
        [Step(kickoff_id="0bad0bad-0000-4000-8000-000000000000", received_at=now, thought=hostile)]
    )
    app = make_app([])
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_log(pilot)
        await settle(pilot, lambda: len(screen.view.entries) >= 3)
        for row in screen.view.shown_text:
            assert_inert(row)
        screen_text = "".join(
            str(segment.text)
            for y in range(screen.view.size.height)
            for segment in screen.view.render_line(y)
        )
        assert_inert(screen_text)
        assert EVERYTHING.shows[:20] in screen_text


# -- desktop notifications --------------------------------------------------------------------


class TerminalRecordingApp(CrewtuiApp):
    """The app, keeping what it sends to the terminal itself."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[str] = []

    def send_to_terminal(self, sequence: str) -> None:
        self.sent.append(sequence)


def recording_app(sim: SimServer, make_app: AppFactory, osc: OscSetting) -> TerminalRecordingApp:
    crews = sim_crews(sim)
    config = Config(
        crews={crew.name: crew for crew in crews}, poll=FAST_POLL, notify=NotifySettings(osc=osc)
    )
    return TerminalRecordingApp(Tracker(crews, make_app.store(), FAST_POLL), config, make_app.paths)


async def run_and_wait(app: TerminalRecordingApp, sim: SimServer, **inputs: str) -> str:
    async with app.run_test(size=(120, 36)) as pilot:
        kickoff = await app.tracker.kickoff("travel", sim.sample_inputs("travel") | inputs)
        wanted = "waits" if inputs.get("hold") else "ended"
        await settle(
            pilot,
            lambda: (
                (row := app.main.kickoffs.summary(kickoff.kickoff_id)) is not None
                and (row.state.is_terminal if wanted == "ended" else row.waiting_for is not None)
            ),
        )
        await settle(pilot, lambda: bool(app.sent) or app.main._ended == [])
        return kickoff.short_id


async def test_a_run_that_ends_sends_one_osc9_notification_through_the_driver(
    sim: SimServer, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TMUX", raising=False)
    app = recording_app(sim, make_app, "all")
    short_id = await run_and_wait(app, sim)
    assert len(app.sent) == 1
    assert app.sent[0].startswith(f"\x1b]9;Run completed: travel {short_id} completed in ")
    assert app.sent[0].endswith("\x07")


async def test_inside_tmux_a_wait_is_wrapped_in_passthrough(
    sim: SimServer, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMUX", "/tmp/tmux-1/default,1,0")
    app = recording_app(sim, make_app, "waiting")
    short_id = await run_and_wait(app, sim, hold="1")
    assert len(app.sent) == 1
    assert app.sent[0].startswith(
        f"\x1bPtmux;\x1b\x1b]9;Run waits for input: travel {short_id} waits for input on "
    )
    assert app.sent[0].endswith("\x07\x1b\\")


@pytest.mark.parametrize("osc", ["off", "waiting"])
async def test_an_end_sends_nothing_when_the_config_does_not_ask_for_it(
    sim: SimServer, make_app: AppFactory, osc: OscSetting
) -> None:
    app = recording_app(sim, make_app, osc)
    await run_and_wait(app, sim)
    assert app.sent == []
