"""Ctrl-C stops a command that follows runs, even one started with SIGINT ignored.

A job that a shell without job control starts in the background (``crewtui watch ID &`` in a
script, a test runner started so) inherits SIGINT ignored: ``watch`` then followed its runs
for as long as they went, whatever ``kill -INT`` said.
"""

from __future__ import annotations

import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from crewtui.api.errors import ExitCode
from crewtui.sim import SimServer
from tests.cli_helpers import QUICK_POLLS, crew_env, inputs_args, run
from tests.hardening.cli_support import child_env

WAIT = 30.0


def started_with_sigint_ignored(home: Path, sim: SimServer, *args: str) -> subprocess.Popen[str]:
    """``crewtui ARGS`` as a background job of a shell without job control starts it."""
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "crewtui", *args],
            env=child_env(home, crew_env(sim, "outreach")),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        signal.signal(signal.SIGINT, before)


def first_line(process: subprocess.Popen[str]) -> str:
    """The first line it prints: it follows the run by then."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], WAIT)
    assert ready, "nothing printed"
    return process.stdout.readline()


@pytest.mark.parametrize("command", ["watch", "kickoff --watch"])
def test_sigint_stops_a_follow_started_with_sigint_ignored_with_exit_130(
    sim: SimServer, tmp_path: Path, command: str
) -> None:
    slow = inputs_args(sim, "outreach", duration_scale="50")  # runs for minutes
    if command == "watch":
        started = run(tmp_path, "kickoff", *slow, env=crew_env(sim, "outreach"))
        assert started.returncode == 0, started.stderr
        args = ["watch", started.stdout.strip(), *QUICK_POLLS]
    else:
        args = ["kickoff", *slow, "--watch", *QUICK_POLLS]
    process = started_with_sigint_ignored(tmp_path, sim, *args)
    try:
        assert first_line(process)
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
        _, err = process.communicate()
    assert code == ExitCode.INTERRUPTED == 130, err
