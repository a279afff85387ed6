"""Keys that arrive in one burst, as a fast typist, a paste or ``tmux send-keys`` sends them.

Pilot's ``press`` waits for the app to be idle after each key, which hides every race of
key routing; ``burst`` posts all the keys at once, as the terminal driver does when it reads
them in one chunk.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from textual import events
from textual.app import App
from textual.widgets import Checkbox, Input, Select

from crewtui.sim import SimServer
from crewtui.ui.pilot import settle
from crewtui.ui.screens.kickoff_form import KickoffForm
from crewtui.ui.screens.prompts import FilterScreen, TrackScreen
from tests.ui.app_helpers import AppFactory, main_screen, sim_crews
from tests.ui.tmux_helpers import crewtui_in_tmux, tmux, wait_for_screen

pytestmark = pytest.mark.timeout(60)


def burst(app: App[object], *keys: str) -> None:
    """Queue every key at once; characters are sent as themselves."""
    for key in keys:
        character = key if len(key) == 1 else None
        app.post_message(events.Key(key, character))


async def test_keys_typed_right_after_t_reach_the_track_dialog(
    sim: SimServer, make_app: AppFactory
) -> None:
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        burst(app, "t", *"5f1c2d3e")
        await settle(pilot, lambda: isinstance(app.screen, TrackScreen))
        await pilot.pause()
        assert app.screen.query_one("#kickoff-id", Input).value == "5f1c2d3e"


async def test_enter_typed_right_after_n_reaches_the_form_not_the_list(
    sim: SimServer, make_app: AppFactory
) -> None:
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        await app.tracker.kickoff("travel", sim.sample_inputs("travel"))
        await settle(pilot, lambda: screen.selected is not None)
        burst(app, "n", "enter")
        await settle(pilot, lambda: isinstance(app.screen, KickoffForm))
        form = app.screen
        await pilot.pause()
        assert form.query_one("#form-crew", Select).expanded  # enter opened the crew choice
        assert not screen.detail.has_focus_within  # and did not reach the list below


async def test_arrows_and_enter_typed_right_after_enter_pick_from_the_open_crew_list(
    sim: SimServer, make_app: AppFactory
) -> None:
    """Textual moves the focus to an opened list a moment later: the keys typed in that
    moment went to the closed selector, and the list stayed open on the old crew."""
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 36)) as pilot:
        await main_screen(pilot)
        burst(app, "n", "enter", "down", "enter")
        await settle(pilot, lambda: isinstance(app.screen, KickoffForm))
        form = app.screen
        assert isinstance(form, KickoffForm)
        # The pick loads the crew's inputs and puts the cursor in the first one.
        await settle(pilot, lambda: form.crew == "outreach" and isinstance(app.focused, Input))
        crews = form.query_one("#form-crew", Select)
        assert not crews.expanded
        crews.focus()
        await pilot.pause()
        burst(app, "enter", "down", "down", "enter")
        await settle(pilot, lambda: form.crew == "research")
        assert not crews.expanded


async def test_a_tab_in_a_burst_moves_the_following_keys_to_the_next_field(
    make_app: AppFactory,
) -> None:
    app = make_app([])
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("slash")
        dialog = app.screen
        assert isinstance(dialog, FilterScreen)
        text = dialog.query_one("#text", Input)
        dialog.set_focus(text)
        await pilot.pause()
        burst(app, *"abc", "tab", "space")
        await pilot.pause()
        await pilot.pause()
        assert text.value == "abc"
        archived = dialog.query_one("#archived", Checkbox)
        assert app.focused is archived and archived.value


def _field_lines(screen: str) -> list[str]:
    """The form's required-input rows, top to bottom."""
    lines = screen.splitlines()
    start = next(i for i, line in enumerate(lines) if "Required inputs" in line)
    rows: list[str] = []
    for line in lines[start + 1 :]:
        if not line.strip(" │█"):
            break
        rows.append(line)
    return rows


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_a_tab_typed_in_a_burst_moves_the_next_keys_to_the_next_field_in_tmux(
    tmp_path: Path,
) -> None:
    """Pilot handles each key before it reads the next, so this race shows only in a real
    terminal: ``abc<Tab>def`` sent in one write used to land as ``abcdef`` in one field."""
    with crewtui_in_tmux(tmp_path, "demo") as terminal:
        session = terminal.session
        wait_for_screen(session, lambda screen: "Quit" in screen and "kickoffs" in screen)
        tmux("send-keys", "-t", session, "n")
        wait_for_screen(session, lambda screen: "required" in screen)
        tmux("send-keys", "-t", session, "Tab", "abc", "Tab", "def")
        screen = wait_for_screen(session, lambda screen: "def" in screen)
        rows = _field_lines(screen)
        with_abc = [index for index, row in enumerate(rows) if "abc" in row]
        with_def = [index for index, row in enumerate(rows) if "def" in row]
        assert "abcdef" not in screen
        assert len(with_abc) == len(with_def) == 1 and with_abc[0] < with_def[0], screen
