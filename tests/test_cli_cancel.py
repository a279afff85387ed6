"""``crewtui cancel`` through a real subprocess against the simulator, in both dialects."""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from crewtui.api.errors import ExitCode
from crewtui.api.http import BACKOFF_SCALE_ENV
from crewtui.config import resolve_paths
from crewtui.core.store import Store
from crewtui.sim import SimServer
from tests.cli_helpers import QUICK_POLLS, crew_env, inputs_args, run

CREW = "travel"
NAME = "default"  # a crew given by CREWAI_API_URL alone has this name


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def _kickoff(sim: SimServer, home: Path, **extra: str) -> str:
    """A run in the history; ``duration_scale=100`` keeps it going for the whole test."""
    result = run(home, "kickoff", *inputs_args(sim, CREW, **extra), env=crew_env(sim, CREW))
    assert result.returncode == ExitCode.OK, result.stderr
    return result.stdout.strip()


def _status(sim: SimServer, home: Path, kickoff_id: str) -> dict[str, object]:
    result = run(home, "status", kickoff_id, "--json", env=crew_env(sim, CREW))
    assert result.returncode == ExitCode.OK, result.stderr
    status: dict[str, object] = json.loads(result.stdout)
    return status


def _cancel(
    sim: SimServer, home: Path, *args: str, token: str | None = None, stdin: int | None = None
) -> subprocess.CompletedProcess[str]:
    return run(
        home,
        "cancel",
        *args,
        env=crew_env(sim, CREW, token),
        stdin=subprocess.DEVNULL if stdin is None else stdin,
    )


def test_cancel_stops_a_running_run_and_it_stays_cancelled(sim_any: SimServer, home: Path) -> None:
    kickoff_id = _kickoff(sim_any, home, duration_scale="100")
    result = _cancel(sim_any, home, kickoff_id, "--yes")
    assert result.returncode == ExitCode.OK, result.stderr
    assert result.stdout.startswith(f"Cancelled {kickoff_id[:8]} ({NAME}, after ")
    assert result.stdout.rstrip().endswith("): stopped by you.")
    # The documented dialect then says "error": crewtui keeps the run it stopped cancelled.
    assert _status(sim_any, home, kickoff_id)["state"] == "cancelled"
    again = _cancel(sim_any, home, kickoff_id, "--yes", "--json")
    assert again.returncode == ExitCode.OK, again.stderr
    answer = json.loads(again.stdout)
    assert (answer["state"], answer["cancel"]) == ("cancelled", "already_cancelled")


def test_a_run_cancelled_elsewhere_is_already_cancelled(sim_any: SimServer, home: Path) -> None:
    kickoff_id = _kickoff(sim_any, home, hold="1", duration_scale="100")
    assert _cancel(sim_any, home, kickoff_id, "--yes").returncode == ExitCode.OK
    elsewhere = home / "elsewhere"
    elsewhere.mkdir()
    result = _cancel(sim_any, elsewhere, kickoff_id, "--yes")
    assert result.returncode == ExitCode.OK, result.stderr
    assert result.stdout == f"{kickoff_id[:8]} ({NAME}) was already cancelled.\n"
    assert _status(sim_any, elsewhere, kickoff_id)["state"] == "cancelled"


@pytest.mark.parametrize(("extra", "word"), [({}, "completed"), ({"fail": "1"}, "failed")])
def test_a_run_that_had_ended_exits_one_saying_how(
    sim_any: SimServer, home: Path, extra: dict[str, str], word: str
) -> None:
    watched = run(
        home,
        "kickoff",
        *inputs_args(sim_any, CREW, **extra),
        "--watch",
        "--json",
        *QUICK_POLLS,
        env=crew_env(sim_any, CREW),
    )
    kickoff_id = json.loads(watched.stdout.splitlines()[0])["kickoff_id"]
    result = _cancel(sim_any, home, kickoff_id[:8], "--yes")
    assert result.returncode == ExitCode.RUN_FAILED, result.stderr
    assert result.stderr == (
        f"crewtui: {kickoff_id[:8]} ({NAME}) had already {word}; there was nothing to cancel.\n"
    )
    assert _status(sim_any, home, kickoff_id)["state"] == word


def test_an_unknown_id_exits_four_and_leaves_no_trace(sim_any: SimServer, home: Path) -> None:
    result = _cancel(sim_any, home, str(uuid.uuid4()), "--yes")
    assert result.returncode == ExitCode.NOT_FOUND, result.stderr
    assert "knows no kickoff" in result.stderr and "Traceback" not in result.stderr
    assert json.loads(run(home, "list", "--json").stdout) == []


def test_a_rejected_token_exits_five(sim: SimServer, home: Path) -> None:
    kickoff_id = _kickoff(sim, home, duration_scale="100")
    result = _cancel(sim, home, kickoff_id, "--yes", token="not-the-token")
    assert result.returncode == ExitCode.TOKEN_REJECTED, result.stderr
    assert "not-the-token" not in result.stderr + result.stdout
    assert _status(sim, home, kickoff_id)["state"] == "running"


def test_an_unreachable_crew_exits_six(home: Path) -> None:
    env = {"CREWAI_API_URL": "http://127.0.0.1:9/x", "CREWAI_BEARER_TOKEN": "t"}
    env[BACKOFF_SCALE_ENV] = "0"  # as many attempts, without the seconds between them
    result = run(home, "cancel", str(uuid.uuid4()), "--yes", env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == ExitCode.UNREACHABLE, result.stderr
    assert "Traceback" not in result.stderr


def test_without_yes_and_no_terminal_nothing_is_sent(sim: SimServer, home: Path) -> None:
    kickoff_id = _kickoff(sim, home, duration_scale="100")
    result = _cancel(sim, home, kickoff_id)
    assert result.returncode == ExitCode.USAGE
    assert "add --yes" in result.stderr and "nothing was sent" in result.stderr
    assert _status(sim, home, kickoff_id)["state"] == "running"


@pytest.mark.parametrize(("answer", "code", "state"), [("y", 0, "cancelled"), ("n", 2, "running")])
def test_on_a_terminal_it_asks_naming_the_run(
    sim: SimServer, home: Path, answer: str, code: int, state: str
) -> None:
    kickoff_id = _kickoff(sim, home, duration_scale="100")
    controller, terminal = os.openpty()
    try:
        os.write(controller, f"{answer}\n".encode())
        result = _cancel(sim, home, kickoff_id, stdin=terminal)
    finally:
        os.close(terminal)
        os.close(controller)
    assert result.returncode == code, result.stderr
    # The stored state is the kickoff answer's (pending): how long since it was sent.
    assert result.stderr.startswith(f"Cancel {NAME} {kickoff_id[:8]} (◌ pending, sent ")
    assert " ago)? [y/N] " in result.stderr
    assert _status(sim, home, kickoff_id)["state"] == state


def test_who_stopped_a_run_is_said_to_whoever_reads_the_history(sim: SimServer, home: Path) -> None:
    """The history is shared (several processes, teammates on one PostgreSQL): the run
    says who asked to stop it, "you" only to that person, "stopped" when nobody said."""
    kickoff_id = _kickoff(sim, home, duration_scale="100")
    assert _cancel(sim, home, kickoff_id, "--yes").returncode == ExitCode.OK
    listed = run(home, "list", "--json", env=crew_env(sim, CREW))
    (row,) = json.loads(listed.stdout)
    assert row["cancelled_by"] == f"{getpass.getuser()}@{socket.gethostname()}"

    def status_line() -> str:
        result = run(home, "status", kickoff_id, env=crew_env(sim, CREW))
        assert result.returncode == ExitCode.OK, result.stderr
        return result.stdout.splitlines()[0]

    assert status_line().endswith("(stopped by you)")
    for who, said in (("ana@elsewhere", "(stopped by ana@elsewhere)"), (None, "(stopped)")):
        store = Store.open(resolve_paths(home).store_file)
        try:
            stored = store.get_kickoff(kickoff_id)
            assert stored is not None
            later = stored.updated_at + timedelta(seconds=1)
            store.save_kickoff(stored.model_copy(update={"cancelled_by": who, "updated_at": later}))
        finally:
            store.close()
        assert status_line().endswith(said)
