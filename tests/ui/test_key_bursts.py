"""Keys that arrive in one burst, as a fast typist, a paste or ``tmux send-keys`` sends them.

Pilot's ``press`` waits for the app to be idle after each key, which hides every race of
key routing; ``burst`` posts all the keys at once, as the terminal driver does when it reads
them in one chunk.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
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
        screen = main_screen(pilot)
        await app.tracker.kickoff("travel", sim.sample_inputs("travel"))
        await settle(pilot, lambda: screen.selected is not None)
        burst(app, "n", "enter")
        await settle(pilot, lambda: isinstance(app.screen, KickoffForm))
        form = app.screen
        await pilot.pause()
        assert form.query_one("#form-crew", Select).expanded  # enter opened the crew choice
        assert not screen.detail.has_focus_within  # and did not reach the list below


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


def _tmux(*args: str) -> str:
    done = subprocess.run(["tmux", *args], capture_output=True, text=True, check=True)
    return done.stdout


def _wait_for_screen(session: str, predicate: Callable[[str], bool], within: float = 30) -> str:
    """Poll the terminal until ``predicate`` holds for its text (a real terminal has no
    event to wait on); the text, or a failure with what the screen showed."""
    deadline = time.monotonic() + within
    screen = ""
    while time.monotonic() < deadline:
        screen = _tmux("capture-pane", "-t", session, "-p")
        if predicate(screen):
            return screen
        time.sleep(0.1)
    pytest.fail(f"the screen never showed what was expected:\n{screen}")


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
    session = f"crewtui-burst-{os.getpid()}"
    command = shlex.join(
        [
            "env",
            f"CREWTUI_HOME={tmp_path}",
            f"PYTHONPATH={os.environ.get('PYTHONPATH', '')}",
            sys.executable,
            "-m",
            "crewtui",
            "demo",
        ]
    )
    _tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", "-c", str(tmp_path), command)
    try:
        _wait_for_screen(session, lambda screen: "Quit" in screen and "kickoffs" in screen)
        _tmux("send-keys", "-t", session, "n")
        _wait_for_screen(session, lambda screen: "required" in screen)
        _tmux("send-keys", "-t", session, "Tab", "abc", "Tab", "def")
        screen = _wait_for_screen(session, lambda screen: "def" in screen)
        rows = _field_lines(screen)
        with_abc = [index for index, row in enumerate(rows) if "abc" in row]
        with_def = [index for index, row in enumerate(rows) if "def" in row]
        assert "abcdef" not in screen
        assert len(with_abc) == len(with_def) == 1 and with_abc[0] < with_def[0], screen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)
