"""crewtui in a real terminal: a tmux session running it, read as a person would see it.

Pilot handles each key before it reads the next and never loses its terminal, so races
between keys and a terminal that goes away show only here.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def tmux(*args: str) -> str:
    done = subprocess.run(["tmux", *args], capture_output=True, text=True, check=True)
    return done.stdout


def wait_for_screen(session: str, predicate: Callable[[str], bool], within: float = 30) -> str:
    """Poll the terminal until ``predicate`` holds for its text (a real terminal has no
    event to wait on); the text, or a failure with what the screen showed."""
    deadline = time.monotonic() + within
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-t", session, "-p")
        if predicate(screen):
            return screen
        time.sleep(0.1)
    pytest.fail(f"the screen never showed what was expected:\n{screen}")


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass(frozen=True)
class Terminal:
    session: str
    pid: int


@contextlib.contextmanager
def crewtui_in_tmux(
    home: Path, *args: str, size: tuple[int, int] = (120, 40)
) -> Iterator[Terminal]:
    """``crewtui ARGS`` in a detached tmux session with its own home; ended and reaped after,
    whatever the test did, so no test leaves a crewtui behind."""
    session = f"crewtui-test-{os.getpid()}-{time.monotonic_ns()}"
    pid_file = home / "crewtui.pid"
    command = shlex.join(
        [
            "env",
            f"CREWTUI_HOME={home}",
            f"PYTHONPATH={os.environ.get('PYTHONPATH', '')}",
            "sh",
            "-c",
            f'echo $$ > {shlex.quote(str(pid_file))}; exec "$0" "$@"',
            sys.executable,
            "-m",
            "crewtui",
            *args,
        ]
    )
    width, height = size
    tmux("new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), command)
    pid = 0
    try:
        deadline = time.monotonic() + 30
        while not pid and time.monotonic() < deadline:
            with contextlib.suppress(FileNotFoundError, ValueError):
                pid = int(pid_file.read_text())
            time.sleep(0.05)
        yield Terminal(session, pid)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)
        if pid and is_running(pid):
            os.kill(pid, signal.SIGKILL)
