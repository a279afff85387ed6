"""Pilot tests of the main screen: selection, counts, filter, tabs, footer and track dialog."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.command import CommandList
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import Input, Select, Static

from crewtui.api.models import Kickoff, Step, TaskResult
from crewtui.api.states import RunState, Submission
from crewtui.config import Config, load_config, resolve_paths
from crewtui.core.tracker import Tracker
from crewtui.settings import UiSettings
from crewtui.sim import SimServer
from crewtui.ui.app import CrewtuiApp
from crewtui.ui.commands import KickoffCommands
from crewtui.ui.export import export_directory
from crewtui.ui.pilot import settle
from crewtui.ui.screens.help import HelpScreen, key_rows
from crewtui.ui.screens.kickoff_form import KickoffForm
from crewtui.ui.screens.main import KickoffUpdated, MainScreen
from crewtui.ui.screens.prompts import ConfirmScreen, FilterScreen, TrackScreen
from crewtui.ui.widgets.detail import KickoffDetail, step_text
from crewtui.ui.widgets.kickoff_list import ListFilter
from tests.ui.app_helpers import (
    FAST_POLL,
    AppFactory,
    layouts_asked,
    main_screen,
    regions_repainted,
    sim_crews,
)
from tests.ui.test_stuck_runs import timeline_text

pytestmark = pytest.mark.timeout(60)


def _finished(index: int, crew: str = "travel", **changes: object) -> Kickoff:
    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=index)
    fields: dict[str, object] = {
        "kickoff_id": f"{index:08d}-0000-4000-8000-000000000000",
        "crew": crew,
        "state": RunState.COMPLETED,
        "created_at": moment,
        "updated_at": moment,
        "inputs": {"destination": f"place {index}"},
        "output": f"output of run {index}",
    }
    return Kickoff.model_validate({**fields, **changes})


def _view_text(screen: MainScreen) -> str:
    return screen.status.view_text


async def test_every_action_follows_the_row_left_under_the_cursor_by_archive(
    sim: SimServer, make_app: AppFactory
) -> None:
    store = make_app.store()
    older, newer = _finished(1, "travel"), _finished(2, "content")
    for kickoff in (older, newer):
        store.save_kickoff(kickoff)
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: screen.selected is not None)
        assert screen.selected is not None and screen.selected.kickoff_id == newer.kickoff_id
        await pilot.press("d")
        await settle(pilot, lambda: newer.kickoff_id not in screen.kickoffs)
        assert screen.kickoffs.selected_id == older.kickoff_id
        await settle(pilot, lambda: screen.selected is not None, within=5)
        assert screen.detail._kickoff is not None
        assert screen.detail._kickoff.kickoff_id == older.kickoff_id
        await pilot.press("c")
        await settle(pilot, lambda: app.clipboard == "output of run 1", within=5)
        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        assert older.kickoff_id[:8] in app.screen.question
        await pilot.press("escape")
        await pilot.press("r")
        await settle(pilot, lambda: isinstance(app.screen, KickoffForm), within=5)
        assert isinstance(app.screen, KickoffForm) and app.screen.crew == "travel"


async def test_the_count_is_the_rows_shown_and_singular_for_one(
    sim: SimServer, make_app: AppFactory
) -> None:
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        await pilot.pause()
        kickoff = await app.tracker.kickoff("travel", sim.sample_inputs("travel"))
        await settle(pilot, lambda: kickoff.kickoff_id in screen.kickoffs)
        # An attempt still being sent is in the store's count but not among the rows (it
        # arrives under its real id): the count is what the list shows.
        now = datetime.now(UTC)
        sending = Kickoff(
            kickoff_id="local-attempt-1",
            crew="travel",
            state=RunState.PENDING,
            submission=Submission.SENDING,
            created_at=now,
            updated_at=now,
        )
        await asyncio.to_thread(app.tracker.store.save_kickoff, sending)
        screen.reload()
        await settle(pilot, lambda: kickoff.kickoff_id in screen.kickoffs)
        assert screen.kickoffs.row_count == 1
        assert "1 kickoff" in _view_text(screen)
        assert "1 kickoffs" not in _view_text(screen)
        assert "2 kickoffs" not in _view_text(screen)


async def test_the_filter_applies_as_you_type_and_says_what_is_active(
    make_app: AppFactory,
) -> None:
    store = make_app.store()
    store.save_kickoff(_finished(1, "travel"))
    store.save_kickoff(_finished(2, "content", state=RunState.FAILED))
    store.save_kickoff(_finished(3, "travel", state=RunState.PAUSED, output=None))
    app = make_app([])
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: screen.kickoffs.row_count == 3)
        await pilot.press("slash")
        dialog = app.screen
        assert isinstance(dialog, FilterScreen)
        await pilot.pause()
        assert "enter to close" in dialog.query_one("#filter-dialog").border_subtitle
        states = dialog.query_one("#state", Select)
        names = {str(value) for _, value in states._options}
        assert {"paused", "not_found", "lost"} <= names
        await pilot.press(*"place 1")
        await settle(pilot, lambda: [row.kickoff_id[:8] for row in screen.rows()] == ["00000001"])
        assert "text='place 1'" in _view_text(screen)
        await pilot.press("escape")
        await settle(pilot, lambda: screen.kickoffs.row_count == 3)
        assert screen.filter == ListFilter()
        await pilot.press("slash")
        dialog = app.screen
        assert isinstance(dialog, FilterScreen)
        dialog.set_focus(dialog.query_one("#state", Select))
        await pilot.pause()
        subtitle = dialog.query_one("#filter-dialog").border_subtitle
        assert "enter opens the choices" in subtitle and "enter to close" not in subtitle
        dialog.query_one("#state", Select).value = "paused"
        await settle(pilot, lambda: [row.state for row in screen.rows()] == [RunState.PAUSED])
        await pilot.press("enter")  # opens the choices, does not close the dialog
        assert app.screen is not screen
        await pilot.press("escape")
        assert isinstance(app.screen, FilterScreen)
        dialog.set_focus(dialog.query_one("#text", Input))
        await pilot.press("enter")
        await settle(pilot, lambda: app.screen is screen)
        assert screen.filter == ListFilter(states=frozenset({RunState.PAUSED}))
        assert "state=paused" in _view_text(screen)
        # Escape on the list clears a filter kept with enter: every run again.
        await pilot.press("escape")
        await settle(pilot, lambda: screen.kickoffs.row_count == 3)
        assert screen.filter == ListFilter() and "state=" not in _view_text(screen)


async def test_detail_tabs_have_keys_listed_in_help_and_the_palette(
    make_app: AppFactory,
) -> None:
    store = make_app.store()
    store.save_kickoff(_finished(1))
    app = make_app([])
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: screen.selected is not None)
        shown: list[str] = []
        for key in ("2", "3", "4", "5", "1", "right_square_bracket", "left_square_bracket"):
            await pilot.press(key)
            shown.append(screen.detail.active_tab)
        assert shown == ["output", "inputs", "steps", "raw", "tasks", "output", "tasks"]
        await pilot.press("left_square_bracket")
        assert screen.detail.active_tab == "raw"
        assert screen.kickoffs.has_focus  # the keys switch tabs; the list keeps the keys
        rows = dict((words, key) for key, words in key_rows(screen.keymap))
        assert rows["Show the Output tab of the detail"] == "2"
        assert rows["Show the next tab of the detail"] == "]"
        await pilot.press("ctrl+p")
        await pilot.press(*"output tab")
        palette = app.screen.query_one(CommandList)
        await settle(pilot, lambda: palette.option_count > 0)
        hit = palette.get_option_at_index(0).prompt
        assert "Show the Output tab of the detail" in str(hit)
        await pilot.press("enter")
        await settle(pilot, lambda: app.screen is screen)
        assert screen.detail.active_tab == "output"


async def test_textual_animations_are_off_unless_the_environment_asks_for_them(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An animation (a gliding scroll, a sliding underline) is a dozen frames more to paint
    and send over SSH, and the next key waits behind them."""
    monkeypatch.delenv("TEXTUAL_ANIMATIONS", raising=False)
    assert make_app([]).animation_level == "none"
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "full")
    assert make_app([]).animation_level == "full"


async def test_a_tab_switch_lays_nothing_out(make_app: AppFactory) -> None:
    """Textual's TabbedContent repainted its dozen widgets on a switch, and a pane shown by
    ``display`` laid out the whole screen (py-spy of bench_keys: a reflow per switch)."""
    make_app.store().save_kickoff(_finished(1))
    app = make_app([])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: screen.selected is not None)
        detail = screen.detail
        bar, panes = detail.query_one("#detail-tab-bar"), detail.query_one("#detail-panes")
        for round_number, (key, after) in enumerate((("3", "inputs"), ("1", "tasks")) * 2):
            await pilot.pause()
            with layouts_asked() as layouts, regions_repainted() as painted:
                await pilot.press(key)
                await pilot.pause()
            assert detail.active_tab == after
            assert bar.region in painted and panes.region in painted
            if round_number >= 2:  # Inputs is drawn when first shown (its text laid out)
                assert layouts == []
        await pilot.click(bar, offset=(25, 0))  # on "Steps"
        assert detail.active_tab == "steps"


async def test_the_keyboard_leaves_a_pane_that_goes_behind(make_app: AppFactory) -> None:
    """The panes behind stay laid out beside the one in front (TabPanes): what is in them
    must not keep or take the focus, as when they were hidden."""
    make_app.store().save_kickoff(_finished(1))
    app = make_app([])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: screen.selected is not None)
        raw = screen.query_one("#raw-text")
        screen.detail.focus_tab("raw")
        await pilot.pause()
        assert raw.has_focus
        screen.detail.show_tab("tasks")
        await pilot.pause()
        assert not raw.has_focus
        for _ in range(8):  # around the whole focus chain
            await pilot.press("tab")
            assert not raw.has_focus


async def test_the_output_search_box_takes_keys_only_after_slash(make_app: AppFactory) -> None:
    store = make_app.store()
    store.save_kickoff(_finished(1))
    app = make_app([])
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: screen.selected is not None)
        await pilot.press("2", "enter")
        search = screen.query_one("#output-search", Input)
        for _ in range(12):  # around the whole focus chain
            await pilot.press("tab")
            assert not search.has_focus
        screen.detail.focus_tab("output")
        await pilot.press("slash")
        assert search.has_focus
        await pilot.press(*"run", "t")  # n and t open dialogs, but not from a text box
        assert search.value == "runt" and app.screen is screen
        await pilot.press("escape")
        assert not search.has_focus and search.value == ""
        await pilot.press("tab", "shift+tab")
        assert not search.has_focus


async def test_palette_descriptions_add_the_key_not_the_title_again(
    sim: SimServer, make_app: AppFactory
) -> None:
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        provider = KickoffCommands(app.screen)
        hits = [hit async for hit in provider.discover()]
        assert hits
        for hit in hits:
            title = str(hit.display)
            assert hit.help and title not in hit.help and hit.help not in title
        assert any(hit.help == "key t" for hit in hits)


class _DetailApp(App[None]):
    def compose(self) -> ComposeResult:
        yield KickoffDetail(id="detail")


def _screen_text(app: App[None]) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_no_kickoff_selected_draws_no_empty_gantt() -> None:
    app = _DetailApp()
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        text = _screen_text(app)
        assert "No kickoff selected." in text
        assert "time" not in text and "─┬" not in text


def test_a_step_names_its_task_and_agent() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    kickoff = _finished(1).model_copy(
        update={
            "tasks": [
                TaskResult(
                    task_id="research_task",
                    agent="Researcher",
                    started_at=start,
                    finished_at=start + timedelta(seconds=10),
                ),
                TaskResult(task_id="plan_task", agent="Planner", started_at=start + timedelta(11)),
            ]
        }
    )
    webhook = Step(
        kickoff_id=kickoff.kickoff_id,
        received_at=start + timedelta(seconds=5),
        thought="look it up",
        tool="search",
        raw={"thought": "look it up", "tool": "search"},
    )
    assert "research_task · Researcher" in step_text(webhook, kickoff).plain
    batched = Step(
        kickoff_id=kickoff.kickoff_id,
        received_at=start + timedelta(seconds=5),
        kind="tool_usage_started",
        tool="search",
        raw={"type": "tool_usage_started", "data": {"task_name": "Plan", "agent_role": "Pilot"}},
    )
    assert "Plan · Pilot" in step_text(batched, kickoff).plain


@pytest.mark.parametrize("size", [(80, 24), (200, 50)])
async def test_the_footer_and_status_line_fit_the_width(
    sim: SimServer, make_app: AppFactory, size: tuple[int, int]
) -> None:
    store = make_app.store()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    task = TaskResult(
        task_id="profile_research_task",
        agent="Prospect Researcher",
        started_at=start,
        finished_at=start + timedelta(seconds=30),
        execution_time=30.0,
    )
    store.save_kickoff(_finished(1, "research", tasks=[task]))
    app = make_app(sim_crews(sim))
    async with app.run_test(size=size) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: screen.kickoffs.row_count == 1)
        await pilot.pause()
        lines = _screen_text(app).splitlines()
        status, footer = lines[0], lines[-1]
        assert "? Help" in footer and "q Quit" in footer
        for crew in sim.CREWS:
            assert crew in status
        assert "1 kickoff" in status
        help_at = screen.footer.shown_text.index("? Help")
        await pilot.click("#footer", offset=(help_at + 2, 0))
        assert isinstance(app.screen, HelpScreen)  # a click on a key runs it
        if size[0] >= 200:
            assert "^p palette" in footer
            assert all(words in footer for words in ("n New", "e Export", "R Refresh"))
            assert any("Prospect Researcher " in line for line in lines)  # agents whole


async def test_track_refuses_a_non_id_and_says_when_the_service_does_not_know_one(
    sim: SimServer, make_app: AppFactory
) -> None:
    """With the Output tab in front, the Tasks tab's note is out of sight: a toast says it."""
    notes: list[Message] = []
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 36), notifications=True, message_hook=notes.append) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("2")
        assert screen.detail.active_tab == "output"
        await pilot.press("t")
        dialog = app.screen
        assert isinstance(dialog, TrackScreen)
        await pilot.press(*"not an id!", "enter")
        assert app.screen is dialog
        assert dialog.query_one("#kickoff-id", Input).value == "not an id!"
        error = str(dialog.query_one("#track-error", Static).render())
        assert "is not a kickoff id" in error
        unknown = "00000000-0000-4000-8000-00000000dead"
        dialog.query_one("#kickoff-id", Input).value = unknown
        await pilot.press("enter")

        def toasts() -> list[str]:
            return [m.notification.message for m in notes if isinstance(m, Notify)]

        await settle(pilot, lambda: any("does not know" in toast for toast in toasts()))
        assert any("D removes it" in toast for toast in toasts())
        assert screen.kickoffs.selected_id == unknown  # D acts on it at once
        # Its Tasks tab says so too, rather than waiting for a first task that never comes.
        await settle(pilot, lambda: "does not know this run" in timeline_text(screen))
        assert "Waiting for the first" not in timeline_text(screen)


async def test_no_toast_covers_the_tasks_tabs_note_on_an_id_the_service_does_not_know(
    sim: SimServer, make_app: AppFactory
) -> None:
    """The Tasks tab in front says the service does not know the tracked run, and how to
    take it off the list: a toast with the same news sat on that note for 12 s at 80x24."""
    notes: list[Message] = []
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(80, 24), notifications=True, message_hook=notes.append) as pilot:
        screen = await main_screen(pilot)
        assert screen.detail.active_tab == "tasks"
        await pilot.press("t")
        assert isinstance(app.screen, TrackScreen)
        unknown = "00000000-0000-4000-8000-00000000dead"
        app.screen.query_one("#kickoff-id", Input).value = unknown
        await pilot.press("enter")
        await settle(pilot, lambda: "does not know this run" in timeline_text(screen))
        await settle(pilot, lambda: "The service does not know this" in _screen_text(app))
        await pilot.pause()
        shown = _screen_text(app)
    assert screen.kickoffs.selected_id == unknown
    assert "d archives it, D deletes it" in shown
    assert not [note for note in notes if isinstance(note, Notify)]


async def test_the_note_on_an_id_the_service_does_not_know_names_the_keys_as_remapped(
    sim: SimServer, make_app: AppFactory
) -> None:
    app = make_app(sim_crews(sim), keys={"archive": "z", "delete": "ctrl+x"})
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("t")
        assert isinstance(app.screen, TrackScreen)
        app.screen.query_one("#kickoff-id", Input).value = "00000000-0000-4000-8000-00000000dead"
        await pilot.press("enter")
        await settle(pilot, lambda: "does not know this run" in timeline_text(screen))
        note = timeline_text(screen)
    assert "z archives it, ctrl+x deletes it." in " ".join(note.split()), note


async def test_a_run_the_service_does_not_know_is_deleted_at_once(
    sim: SimServer, make_app: AppFactory
) -> None:
    """A mistaken id followed from an earlier session need not wait to be declared lost."""
    unknown = "00000000-0000-4000-8000-00000000beef"
    store = make_app.store()
    store.save_kickoff(_finished(1, kickoff_id=unknown, state=RunState.NOT_FOUND, output=None))
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: screen.selected is not None and app.tracker.is_tracked(unknown))
        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot, lambda: unknown not in screen.kickoffs)
        assert not app.tracker.is_tracked(unknown)
        assert app.tracker.store.get_kickoff(unknown) is None


async def test_export_goes_to_the_configured_directory_with_inputs_and_says_where(
    make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    exports = tmp_path / "my exports"
    store = make_app.store()
    store.save_kickoff(_finished(1, meta={"ticket": "OPS-1"}))
    config = Config(ui=UiSettings(export_dir=str(exports)))
    tracker = Tracker([], store, FAST_POLL)
    notes: list[Message] = []
    app = CrewtuiApp(tracker, config, make_app.paths)
    async with app.run_test(size=(120, 36), notifications=True, message_hook=notes.append) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: screen.selected is not None)
        await pilot.press("e")
        await settle(pilot, lambda: any(exports.glob("crewtui-travel-*.md")))
    markdown_file = next(exports.glob("crewtui-travel-*.md"))
    markdown = markdown_file.read_text()
    assert "## Inputs" in markdown and "- destination: place 1" in markdown
    assert "- ticket: OPS-1" in markdown
    assert not any(tmp_path.glob("crewtui-travel-*"))  # nothing dropped in the current dir
    toasts = [m.notification.message for m in notes if isinstance(m, Notify)]
    assert any(str(markdown_file) in toast for toast in toasts)


def test_the_default_export_directory_is_downloads_then_documents_then_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloads, documents, data = tmp_path / "Downloads", tmp_path / "Documents", tmp_path / "d"
    monkeypatch.setattr("platformdirs.user_downloads_dir", lambda: str(downloads))
    monkeypatch.setattr("platformdirs.user_documents_dir", lambda: str(documents))
    assert export_directory(None, data) == data / "exports"
    documents.mkdir()
    assert export_directory(None, data) == documents
    downloads.mkdir()
    assert export_directory(None, data) == downloads
    monkeypatch.setenv("HOME", str(tmp_path))
    assert export_directory("~/out", data) == tmp_path / "out"
    paths = resolve_paths(tmp_path / "home")
    paths.config_file.parent.mkdir(parents=True)
    paths.config_file.write_text("[ui]\nexport_dir = '~/x'\n")
    assert load_config(paths).ui.export_dir == "~/x"


async def test_changes_that_move_no_count_leave_the_status_line_alone(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst of changes to a run must not lay the screen out again for each: the status
    line is rewritten only when its words change."""
    running = _finished(1, state=RunState.RUNNING, output=None)
    make_app.store().save_kickoff(running)
    app = make_app([])
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: screen.selected is not None)
        rewrites: list[object] = []
        set_view = screen.status.set_view

        def counted(parts: Sequence[str], optional: Sequence[str] = ()) -> None:
            rewrites.append(parts)
            set_view(parts, optional)

        monkeypatch.setattr(screen.status, "set_view", counted)
        for step in range(20):
            changed = running.model_copy(update={"current_task": f"task {step}"})
            screen.post_message(KickoffUpdated(changed, RunState.RUNNING))
        await settle(
            pilot,
            lambda: (
                (row := screen.kickoffs.summary(running.kickoff_id)) is not None
                and row.current_task == "task 19"
            ),
        )
        assert rewrites == []
        assert "1 kickoff" in _view_text(screen)
