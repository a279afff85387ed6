"""Flows from the CLI, through a real subprocess: a flow run's methods and restarts in
``status --json``, ``-i id=…`` restarting a run, ``--restore-from`` and its refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crewtui.api.errors import ExitCode
from crewtui.sim import SimServer
from tests.cli_helpers import QUICK_POLLS, crew_env, run

FLOW = "onboarding"
METHODS = ["collect_profile", "verify_identity", "approve_account", "send_welcome"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def _status(sim: SimServer, home: Path, kickoff_id: str) -> dict[str, object]:
    result = run(home, "status", kickoff_id, "--json", env=crew_env(sim, FLOW))
    assert result.returncode == ExitCode.OK, result.stderr
    status: dict[str, object] = json.loads(result.stdout)
    return status


def _kickoff(sim: SimServer, home: Path, *args: str) -> str:
    """A flow run followed to its end (no reviewer: ``hold=0``); its kickoff id.

    A live poll says the run is a flow; the documented dialect has no word for flows, so
    there the flow's own events (a receiver for the command's life) say it.
    """
    pushes = [] if sim.options.dialect == "live" else ["--webhooks", "127.0.0.1:0"]
    result = run(
        home,
        "kickoff",
        "-i",
        "hold=0",
        *args,
        *pushes,
        "--watch",
        "--exit-status",
        "--json",
        *QUICK_POLLS,
        env=crew_env(sim, FLOW),
    )
    assert result.returncode == ExitCode.OK, result.stderr
    last: dict[str, str] = json.loads(result.stdout.splitlines()[-1])
    return last["kickoff_id"]


def test_a_flow_run_shows_its_methods_and_a_reused_id_restarts_it(
    sim_any: SimServer, home: Path
) -> None:
    kickoff_id = _kickoff(sim_any, home)
    status = _status(sim_any, home, kickoff_id)
    assert status["kind"] == "flow" and status["restarts"] == 0
    assert status["state"] == "completed"
    tasks = status["tasks"]
    assert isinstance(tasks, list)
    assert {task["task_id"] for task in tasks} <= set(METHODS)
    if sim_any.options.dialect == "documented":
        assert sorted(task["task_id"] for task in tasks) == sorted(METHODS)

    again = _kickoff(sim_any, home, "-i", f"id={kickoff_id}")
    assert again == kickoff_id
    restarted = _status(sim_any, home, kickoff_id)
    assert restarted["state"] == "completed"
    assert restarted["restarts"] == 1 and restarted["restarted_at"]
    [earlier] = restarted["earlier_attempts"]  # type: ignore[misc]
    assert earlier["state"] == "completed" and earlier["output"]
    human = run(home, "status", kickoff_id, env=crew_env(sim_any, FLOW))
    assert "(restarted)" in human.stdout
    assert "attempt 1: ✓ completed" in human.stdout
    listed = json.loads(run(home, "list", "--json", env=crew_env(sim_any, FLOW)).stdout)
    assert [(row["kickoff_id"], row["kind"], row["restarts"]) for row in listed] == [
        (kickoff_id, "flow", 1)
    ]
    assert "(restarted)" in run(home, "list", env=crew_env(sim_any, FLOW)).stdout


def test_restore_from_starts_a_new_run_from_the_saved_state(sim_any: SimServer, home: Path) -> None:
    failed = run(
        home,
        "kickoff",
        "-i",
        "fail=1",
        "-i",
        "hold=0",
        "--watch",
        "--exit-status",
        *QUICK_POLLS,
        env=crew_env(sim_any, FLOW),
    )
    assert failed.returncode == ExitCode.RUN_FAILED, failed.stderr
    failed_id = failed.stdout.split()[1]
    restored = _kickoff(sim_any, home, "--restore-from", failed_id)
    assert restored != failed_id
    tasks = _status(sim_any, home, restored)["tasks"]
    assert isinstance(tasks, list)
    # The saved state had collect_profile done: the restored run does not run it again.
    assert "collect_profile" not in {task["task_id"] for task in tasks}


def test_an_empty_restore_from_is_refused_and_nothing_is_sent(sim: SimServer, home: Path) -> None:
    result = run(home, "kickoff", "--restore-from", " ", env=crew_env(sim, FLOW))
    assert result.returncode == ExitCode.USAGE
    [line] = result.stderr.splitlines()
    assert "--restore-from is empty" in line
    assert json.loads(run(home, "list", "--json", env=crew_env(sim, FLOW)).stdout) == []


def test_kickoff_help_documents_restore_from(home: Path) -> None:
    result = run(home, "kickoff", "--help")
    assert "--restore-from STATE_ID" in result.stdout
    assert "restoreFromStateId" in result.stdout


def test_a_flow_kickoff_with_a_receiver_says_where_its_requests_reach_it(
    sim: SimServer, home: Path
) -> None:
    """The deployment's human-in-the-loop webhook is set by hand on the AMP side: after a
    flow's kickoff the command says where this receiver takes requests, the secret masked."""
    _kickoff(sim, home)  # the history now knows the deployment is a flow
    secret = "hitl-" + "s" * 24
    env = crew_env(sim, FLOW) | {"CREWTUI_HITL_SECRET": secret}
    result = run(
        home,
        *["kickoff", "-i", "hold=0", "--watch", *QUICK_POLLS, "--webhooks", "127.0.0.1:0"],
        env=env,
    )
    assert result.returncode == ExitCode.OK, result.stderr
    started, note = result.stdout.splitlines()[:2]
    assert started.startswith("started ")
    assert "/hooks/••••••/hitl" in note and "webhook-secret" in note, note
    hook_secret = (home / "data" / "webhook-secret").read_text().strip()
    assert hook_secret not in result.stdout + result.stderr
    assert secret not in result.stdout + result.stderr


def test_a_flow_kickoff_with_a_receiver_but_no_signing_secret_says_what_is_missing(
    sim: SimServer, home: Path
) -> None:
    """Without ``hitl_secret`` the receiver serves no human-in-the-loop path: the note says
    the requests do not reach crewtui and names the setting, instead of saying nothing."""
    _kickoff(sim, home)  # the history now knows the deployment is a flow
    result = run(
        home,
        *["kickoff", "-i", "hold=0", "--watch", *QUICK_POLLS, "--webhooks", "127.0.0.1:0"],
        env=crew_env(sim, FLOW),
    )
    assert result.returncode == ExitCode.OK, result.stderr
    started, note = result.stdout.splitlines()[:2]
    assert started.startswith("started ")
    assert "do not reach crewtui" in note and "[webhooks] hitl_secret" in note, note


def test_a_crew_s_first_flow_kickoff_says_the_note_once_the_run_shows_it_is_a_flow(
    sim: SimServer, home: Path
) -> None:
    """Nothing in the history says the crew is a flow when its first run is sent: the note
    comes once a poll shows it, once."""
    result = run(
        home,
        *["kickoff", "-i", "hold=0", "--watch", *QUICK_POLLS, "--webhooks", "127.0.0.1:0"],
        env=crew_env(sim, FLOW),
    )
    assert result.returncode == ExitCode.OK, result.stderr
    notes = [line for line in result.stdout.splitlines() if "requests for a person" in line]
    assert len(notes) == 1 and "do not reach crewtui" in notes[0], result.stdout
