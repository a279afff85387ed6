"""Pilot tests of every flow of the app, against the simulator on a real port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from textual.command import CommandList
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import Input

from crewtui.api.http import BACKOFF_SCALE_ENV
from crewtui.api.models import Kickoff
from crewtui.api.states import RunState
from crewtui.config import Config, load_config, resolve_paths, write_config
from crewtui.core.runtime import Runtime, TrackerLater, assemble_later
from crewtui.sim import SimServer
from crewtui.ui.app import AppClosing, CrewtuiApp, build_app
from crewtui.ui.memory import MEMORY_FILENAME
from crewtui.ui.pilot import settle
from crewtui.ui.screens.help import HelpScreen, key_rows
from crewtui.ui.screens.kickoff_form import KickoffForm, KickoffRequest
from crewtui.ui.screens.main import MainScreen
from crewtui.ui.screens.prompts import ConfirmScreen, FilterScreen, TrackScreen
from crewtui.ui.widgets.kickoff_list import PAGE_ROWS, ListFilter
from tests.ui.app_helpers import STARTED_WITHIN, AppFactory, main_screen, sim_crews

pytestmark = pytest.mark.timeout(60)


def _form(pilot_app: object) -> KickoffForm:
    screen = getattr(pilot_app, "screen", None)
    assert isinstance(screen, KickoffForm), screen
    return screen


async def _fill_form(pilot, values: dict[str, str]) -> KickoffForm:  # type: ignore[no-untyped-def]
    """Wait for the form to know the crew's inputs, then type the values into its fields."""
    form = _form(pilot.app)
    await settle(pilot, lambda: form._required is not None and bool(form._required_fields()))
    for field in form._required_fields():
        field.input.value = values[str(field.name)]
    return form


async def test_new_kickoff_through_the_form_completes(sim: SimServer, make_app: AppFactory) -> None:
    notes: list[Message] = []
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 36), notifications=True, message_hook=notes.append) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("n")
        form = await _fill_form(pilot, sim.sample_inputs("travel"))
        assert form.crew == "travel"
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: screen.selected is not None)
        kickoff = screen.selected
        assert kickoff is not None and kickoff.crew == "travel"
        assert app.screen is screen
        assert screen.kickoffs.selected_id == kickoff.kickoff_id
        await settle(
            pilot,
            lambda: (
                (row := screen.kickoffs.summary(kickoff.kickoff_id)) is not None
                and row.state is RunState.COMPLETED
            ),
        )
        assert screen.detail.shown_output()

        def toasts() -> list[str]:
            return [m.notification.message for m in notes if isinstance(m, Notify)]

        # Runs that end together share one toast, shown once the burst is over.
        await settle(pilot, lambda: any("travel" in t and "completed" in t for t in toasts()))
    memory = make_app.paths.data_dir / MEMORY_FILENAME
    assert json.loads(memory.read_text())["travel"]["inputs"] == sim.sample_inputs("travel")
    assert stat.S_IMODE(memory.stat().st_mode) == 0o600


async def test_422_marks_the_missing_inputs(sim: SimServer, make_app: AppFactory) -> None:
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("n")
        form = await _fill_form(pilot, sim.sample_inputs("travel"))
        partial = dict(sim.sample_inputs("travel"))
        dropped = sorted(partial)[:2]
        for name in dropped:
            del partial[name]
        app.post_message(KickoffForm.Submitted(KickoffRequest("travel", partial, {}, None), form))
        await settle(pilot, lambda: bool(form.query(".bad")))
        assert app.screen is form
        marked = {str(node.name) for node in form.query(".bad")}
        assert set(dropped) <= marked
        assert (await main_screen(pilot)).kickoffs.row_count == 0


async def test_401_is_shown_in_the_form_and_the_status_line(
    sim: SimServer, make_app: AppFactory
) -> None:
    app = make_app(sim_crews(sim, token="wrong-token"))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("n")
        form = _form(pilot.app)
        await settle(pilot, lambda: screen.status.describe("travel").endswith("token rejected"))
        request = KickoffRequest("travel", sim.sample_inputs("travel"), {}, None)
        app.post_message(KickoffForm.Submitted(request, form))
        message = form.query_one("#form-message")
        await settle(pilot, lambda: message.has_class("error"))
        assert app.screen is form
        assert "wrong-token" not in str(message.render())


async def test_a_wrong_token_shows_when_the_app_opens_with_no_run_going(
    sim: SimServer, make_app: AppFactory
) -> None:
    """No run to poll, no key pressed: each crew is asked for its inputs once as following
    starts, so the status line says the token is wrong rather than "idle"; a crew with the
    right token answers and reads ok."""
    crews = sim_crews(sim, token="wrong-token")
    right = next(crew for crew in sim_crews(sim) if crew.name == "content")
    app = make_app([*(c for c in crews if c.name != "content"), right])
    async with app.run_test(size=(160, 36)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: screen.status.describe("travel").endswith("token rejected"))
        await settle(pilot, lambda: app.tracker.health("content").state == "ok")
        assert screen.status.describe("research").endswith("token rejected")
        assert not screen.status.describe("content").endswith("idle")


async def test_rerun_prefills_the_form(sim: SimServer, make_app: AppFactory) -> None:
    app = make_app(sim_crews(sim))
    inputs = {**sim.sample_inputs("content"), "note": "again"}
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        kickoff = await app.tracker.kickoff("content", inputs, {"requestId": "r-1"})
        await settle(pilot, lambda: screen.selected is not None)
        assert screen.selected is not None
        assert screen.selected.kickoff_id == kickoff.kickoff_id
        await pilot.press("r")
        form = _form(pilot.app)
        await settle(pilot, lambda: bool(form._required_fields()))
        assert dict(form._input_pairs()) == inputs
        assert form.crew == "content"


async def test_track_an_id_started_elsewhere(sim: SimServer, make_app: AppFactory) -> None:
    answer = httpx.post(
        f"{sim.crew_url('research')}/kickoff",
        json={"inputs": sim.sample_inputs("research")},
        headers={"Authorization": f"Bearer {sim.options.token}"},
    )
    kickoff_id = answer.json()["kickoff_id"]
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("t")
        assert isinstance(app.screen, TrackScreen)
        app.screen.query_one("#crew").value = "research"  # type: ignore[attr-defined]
        app.screen.query_one("#kickoff-id", Input).value = kickoff_id
        await pilot.press("enter")
        await settle(pilot, lambda: kickoff_id in screen.kickoffs)
        await settle(
            pilot,
            lambda: (
                (row := screen.kickoffs.summary(kickoff_id)) is not None and row.state.is_terminal
            ),
        )
        assert screen.kickoffs.selected_id == kickoff_id


async def test_filter_and_sort(sim: SimServer, make_app: AppFactory) -> None:
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        first = await app.tracker.kickoff("travel", sim.sample_inputs("travel"))
        second = await app.tracker.kickoff("content", sim.sample_inputs("content"))
        await settle(pilot, lambda: screen.kickoffs.row_count == 2)
        assert [row.kickoff_id for row in screen.rows()] == [second.kickoff_id, first.kickoff_id]
        await pilot.press("s")
        await settle(pilot, lambda: screen.kickoffs.order == "oldest" and len(screen.rows()) == 2)
        assert [row.kickoff_id for row in screen.rows()] == [first.kickoff_id, second.kickoff_id]
        await pilot.press("slash")
        assert isinstance(app.screen, FilterScreen)
        app.screen.query_one("#crew").value = "content"  # type: ignore[attr-defined]
        await pilot.click("#apply")
        await settle(pilot, lambda: screen.filter == ListFilter(crew="content"))
        await settle(pilot, lambda: [r.kickoff_id for r in screen.rows()] == [second.kickoff_id])
        await pilot.press("slash")
        await pilot.press("ctrl+r")
        await settle(pilot, lambda: len(screen.rows()) == 2)


async def test_copy_export_archive_and_delete(
    sim: SimServer, make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("platformdirs.user_downloads_dir", lambda: str(tmp_path))
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        kickoff = await app.tracker.kickoff("travel", sim.sample_inputs("travel"))
        await settle(pilot, lambda: screen.selected is not None and screen.selected.is_terminal)
        await settle(pilot, lambda: bool(screen.detail.shown_output()))
        await pilot.press("c")
        assert app.clipboard == screen.detail.shown_output()
        await pilot.press("e")
        await settle(pilot, lambda: any(tmp_path.glob("crewtui-travel-*.json")))
        exported = json.loads(next(tmp_path.glob("crewtui-travel-*.json")).read_text())
        assert exported["kickoff_id"] == kickoff.kickoff_id
        markdown = next(tmp_path.glob("crewtui-travel-*.md")).read_text()
        assert kickoff.kickoff_id in markdown
        assert sim.options.token not in markdown + json.dumps(exported)
        await pilot.press("d")
        await settle(pilot, lambda: kickoff.kickoff_id not in screen.kickoffs)
        assert app.tracker.store.get_kickoff(kickoff.kickoff_id).archived  # type: ignore[union-attr]
        await pilot.press("slash")
        app.screen.query_one("#archived").value = True  # type: ignore[attr-defined]
        await pilot.click("#apply")
        await settle(pilot, lambda: kickoff.kickoff_id in screen.kickoffs)
        await settle(pilot, lambda: screen.selected is not None)
        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot, lambda: kickoff.kickoff_id not in screen.kickoffs)
        assert app.tracker.store.get_kickoff(kickoff.kickoff_id) is None


async def test_a_crew_going_unreachable_and_coming_back(
    fresh_sim: SimServer, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every attempt at the failing crew is made, without the seconds of backoff between them.
    monkeypatch.setenv(BACKOFF_SCALE_ENV, "0")
    app = make_app(sim_crews(fresh_sim))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        inputs = {**fresh_sim.sample_inputs("travel"), "duration_scale": "100"}
        kickoff = await app.tracker.kickoff("travel", inputs)
        await settle(
            pilot,
            lambda: (
                (row := screen.kickoffs.summary(kickoff.kickoff_id)) is not None
                and row.state is RunState.RUNNING
            ),
        )
        fresh_sim.options.faults.update({"error_rate": 1.0})
        await settle(pilot, lambda: "unreachable" in screen.status.describe("travel"))
        cell = screen.kickoffs.cell(kickoff.kickoff_id, "task")
        assert "stale" in cell.plain
        assert app.screen is screen
        fresh_sim.options.faults.update({"error_rate": 0.0})
        await settle(pilot, lambda: screen.status.describe("travel").startswith("● travel"))
        await settle(
            pilot, lambda: "stale" not in screen.kickoffs.cell(kickoff.kickoff_id, "task").plain
        )


async def test_help_lists_remapped_keys(sim: SimServer, make_app: AppFactory) -> None:
    app = make_app(sim_crews(sim), keys={"new": "N"})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert ("N", "Start a new kickoff with the form") in key_rows(app.screen.keymap)
        await pilot.press("escape")
        await pilot.press("N")
        assert isinstance(app.screen, KickoffForm)


async def test_an_unopenable_history_falls_back_to_memory_with_one_note(
    sim: SimServer, crewtui_home: Path
) -> None:
    paths = resolve_paths(crewtui_home)
    paths.store_file.mkdir(parents=True)  # a directory where the SQLite file should be
    notes: list[Message] = []
    app = build_app(sim_crews(sim), Config(), paths)
    try:
        async with app.run_test(size=(100, 30), notifications=True, message_hook=notes.append):
            kickoff = await app.tracker.kickoff("travel", sim.sample_inputs("travel"))
            assert app.tracker.store.get_kickoff(kickoff.kickoff_id) is not None
    finally:
        app.tracker.store.close()
    toasts = {m.notification.message for m in notes if isinstance(m, Notify)}
    assert len([t for t in toasts if "history will not be kept" in t]) == 1


def app_counting_trackers(
    sim: SimServer, home: Path
) -> tuple[CrewtuiApp, list[Runtime], TrackerLater]:
    """An app whose tracker is made later, as ``build_app`` makes it, with the list of the
    runtimes made so far (the caller closes the returned ``TrackerLater``'s store)."""
    paths, config = resolve_paths(home), Config()
    later, _ = assemble_later(sim_crews(sim), config, paths)
    made: list[Runtime] = []

    def make() -> Runtime:
        made.append(later.make())
        return made[-1]

    return CrewtuiApp(TrackerLater(later.store, later.crews, make), config, paths), made, later


async def test_no_tracker_is_made_once_the_app_closes(sim: SimServer, crewtui_home: Path) -> None:
    """A quit before following starts, then the tracker asked for (directly, and by an
    action that runs after the quit): none is made, as one made then would never be
    stopped; the action ends quietly and the app exits 0."""
    app, made, later = app_counting_trackers(sim, crewtui_home)
    made_at_quit: list[int] = []
    asked: list[object] = []
    quit = asyncio.Event()

    def quit_at_first_page(message: Message) -> None:
        """Following starts after the frame that shows the first page: quit before it."""
        if isinstance(message, MainScreen.FirstPageIn) and not quit.is_set():
            app.exit()
            made_at_quit.append(len(made))
            try:
                asked.append(app.tracker)
            except AppClosing as refused:
                asked.append(refused)
            app.call_later(app.main.action_refresh)  # R, handled after the quit
            quit.set()

    try:
        async with app.run_test(message_hook=quit_at_first_page):
            async with asyncio.timeout(STARTED_WITHIN):
                await quit.wait()
        [at_quit] = made_at_quit
        asked_after = pytest.raises(AppClosing) if at_quit == 0 else contextlib.nullcontext()
        with asked_after:
            app.tracker  # noqa: B018 (asking is the point)
    finally:
        later.store.close()
    assert len(made) == at_quit, "a tracker was made after the app began closing"
    # The first page comes long before the main screen's first tick (1 s), which asks for
    # the tracker too: nothing was made before the quit.
    assert at_quit == 0, "the 1 s tick made the tracker before the first page was in"
    assert isinstance(asked[0], AppClosing)
    assert app.return_code == 0
    assert app.unexpected_errors == []


async def test_a_tick_before_following_starts_makes_no_tracker(
    sim: SimServer, crewtui_home: Path
) -> None:
    """The main screen ticks once a second from its mount; a tick that comes before
    following starts (a first page slower than 1 s) must not make the tracker on the way
    to the first frame: it judges stalls only from when following starts."""
    app, made, later = app_counting_trackers(sim, crewtui_home)
    made_by_tick: list[int] = []

    def tick_at_first_page(message: Message) -> None:
        if isinstance(message, MainScreen.FirstPageIn) and not made_by_tick:
            app.main.tick()
            made_by_tick.append(len(made))

    try:
        async with app.run_test(message_hook=tick_at_first_page):
            async with asyncio.timeout(STARTED_WITHIN):
                await app.following.wait()
            app.main.tick()  # from here it judges the followed runs
    finally:
        later.store.close()
    assert made_by_tick == [0], "a tick before following made the tracker"
    assert len(made) == 1
    assert app.unexpected_errors == []


async def test_the_command_palette_runs_main_commands(sim: SimServer, make_app: AppFactory) -> None:
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"track a kickoff")
        await settle(pilot, lambda: app.screen.query_one(CommandList).option_count > 0)
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, TrackScreen))


async def test_a_theme_change_is_saved_to_the_config(sim: SimServer, make_app: AppFactory) -> None:
    app = make_app(sim_crews(sim))
    write_config(make_app.paths, app.config)
    async with app.run_test(size=(100, 30)) as pilot:
        app.theme = "nord"
        await settle(pilot, lambda: load_config(make_app.paths).ui.theme == "nord")


async def test_a_long_history_is_paged_in_as_you_scroll(make_app: AppFactory) -> None:
    store = make_app.store()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    total = PAGE_ROWS * 2 + 50
    for index in range(total):
        moment = start + timedelta(minutes=index)
        store.save_kickoff(
            Kickoff(
                kickoff_id=f"{index:08d}-0000-4000-8000-000000000000",
                crew="travel",
                state=RunState.COMPLETED,
                created_at=moment,
                updated_at=moment,
            )
        )
    app = make_app([])
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: screen.kickoffs.row_count > 0)
        # Every row is counted; one page is read.
        assert screen.kickoffs.row_count == total
        assert len(screen.rows()) == PAGE_ROWS
        assert screen.rows()[0].kickoff_id.startswith(f"{total - 1:08d}")
        screen.kickoffs.action_scroll_bottom()
        # The end is read without the rows between: the oldest kickoff, highlighted.
        await settle(pilot, lambda: screen.kickoffs.selected_id is not None)
        assert screen.kickoffs.selected_id.startswith("00000000")
        assert screen.rows()[-1].kickoff_id.startswith("00000000")
        assert len(screen.rows()) < total
        await settle(pilot, lambda: screen.selected is not None)


async def test_moving_in_an_empty_list_does_nothing(make_app: AppFactory) -> None:
    """An empty list highlights row -1 with no key: up, pagedown, G, ctrl+end must not crash."""
    app = make_app([])
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await main_screen(pilot)
        await pilot.pause()
        for key in ("up", "down", "pagedown", "pageup", "G", "ctrl+end", "home"):
            await pilot.press(key)
        await pilot.pause()
        assert app.is_running
        assert screen.kickoffs.row_count == 0
        assert screen.selected is None
