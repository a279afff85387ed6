"""A lost terminal (SSH or tmux gone) ends crewtui, even with a dialog open: Textual's
shutdown could block for good on a terminal that is gone, leaving the process behind."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.ui.tmux_helpers import crewtui_in_tmux, is_running, tmux, wait_for_screen

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


@pytest.mark.parametrize("keys", [[], ["n"]], ids=["main-screen", "form-open"])
def test_the_app_ends_when_its_terminal_goes_away(tmp_path: Path, keys: list[str]) -> None:
    with crewtui_in_tmux(tmp_path, "demo") as terminal:
        wait_for_screen(terminal.session, lambda screen: "Quit" in screen and "kickoffs" in screen)
        for key in keys:
            tmux("send-keys", "-t", terminal.session, key)
        if keys:
            wait_for_screen(terminal.session, lambda screen: "New kickoff" in screen)
        tmux("kill-session", "-t", terminal.session)
        # A process has no event to wait on from outside: poll, well beyond the app's grace.
        deadline = time.monotonic() + 30
        while is_running(terminal.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not is_running(terminal.pid), "crewtui outlived its terminal"
