"""The headless CLI through a real subprocess, against the simulator, exit codes included."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from crewtui.api.errors import ExitCode
from crewtui.api.http import BACKOFF_SCALE_ENV
from crewtui.sim import SimServer
from tests.cli_helpers import QUICK_POLLS, crew_env, inputs_args, run


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def test_kickoff_watch_exit_status_zero_for_a_good_run(sim: SimServer, home: Path) -> None:
    result = run(
        home,
        "kickoff",
        *inputs_args(sim, "content"),
        "--watch",
        "--exit-status",
        *QUICK_POLLS,
        env=crew_env(sim),
    )
    assert result.returncode == ExitCode.OK, result.stderr
    assert "completed" in result.stdout
    listed = run(home, "list", "--json", env=crew_env(sim))
    rows = json.loads(listed.stdout)
    assert len(rows) == 1 and rows[0]["state"] == "completed"


def test_kickoff_watch_exit_status_one_for_a_failing_run(sim_any: SimServer, home: Path) -> None:
    result = run(
        home,
        "kickoff",
        *inputs_args(sim_any, "travel", fail="1"),
        "--watch",
        "--exit-status",
        *QUICK_POLLS,
        env=crew_env(sim_any, "travel"),
    )
    assert result.returncode == ExitCode.RUN_FAILED, result.stderr
    assert "failed" in result.stdout


def test_status_of_an_unknown_id_exits_four(sim_any: SimServer, home: Path) -> None:
    result = run(home, "status", str(uuid.uuid4()), "--json", env=crew_env(sim_any))
    assert result.returncode == ExitCode.NOT_FOUND, result.stderr
    assert json.loads(result.stdout)["state"] == "not_found"


def test_watch_of_an_unknown_id_exits_four_after_the_grace(sim: SimServer, home: Path) -> None:
    config = home / "config"
    config.mkdir(mode=0o700)
    (config / "config.toml").write_text("[poll]\nnot_found_grace = 0.5\nmin_interval = 0.1\n")
    result = run(
        home,
        "watch",
        str(uuid.uuid4()),
        "--exit-status",
        "--timeout",
        "30",
        env=crew_env(sim),
    )
    assert result.returncode == ExitCode.NOT_FOUND, result.stderr
    assert "lost" in result.stdout


def test_a_bad_token_exits_five_and_is_never_printed(sim: SimServer, home: Path) -> None:
    secret = "wrong-token-" + uuid.uuid4().hex
    result = run(
        home,
        "kickoff",
        *inputs_args(sim, "content"),
        "--watch",
        "--exit-status",
        env=crew_env(sim, token=secret),
    )
    assert result.returncode == ExitCode.TOKEN_REJECTED
    assert "token" in result.stderr.lower()
    assert secret not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_status_json_is_the_normalized_model_in_both_dialects(
    sim_any: SimServer, home: Path
) -> None:
    started = run(
        home, "kickoff", *inputs_args(sim_any, "research"), env=crew_env(sim_any, "research")
    )
    assert started.returncode == 0, started.stderr
    kickoff_id = started.stdout.strip()
    watched = run(
        home, "watch", kickoff_id, "--exit-status", *QUICK_POLLS, env=crew_env(sim_any, "research")
    )
    assert watched.returncode == 0, watched.stderr
    result = run(home, "status", kickoff_id, "--json", env=crew_env(sim_any, "research"))
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert set(status) == {
        "kickoff_id",
        "crew",
        "state",
        "current_task",
        "progress",
        "output",
        "output_json",
        "tasks",
        "error",
        "execution_time",
        "started_at",
        "finished_at",
        "tracked_at",
        "dialect",
        "raw",
        "raw_by_source",
        "waiting_for",
        "continues",
        "continued_from",
        "steps",
        "usage",
        "model",
        "kind",
        "restarts",
        "restarted_at",
        "earlier_attempts",
    }
    assert status["kind"] == "crew" and status["restarts"] == 0
    assert status["waiting_for"] is None  # only a paused run waits for someone
    assert status["model"] is None  # polled only: no LLM call event named it
    assert status["continues"] is None and status["continued_from"] is None
    assert status["steps"]["dropped"] == 0 <= status["steps"]["stored"]
    assert status["kickoff_id"] == kickoff_id
    assert status["state"] == "completed"
    assert status["dialect"] == sim_any.options.dialect
    assert status["output"]
    assert status["raw"]
    both = run(
        home, "status", kickoff_id, kickoff_id[:8], "--json", env=crew_env(sim_any, "research")
    )
    assert [s["kickoff_id"] for s in json.loads(both.stdout)] == [kickoff_id, kickoff_id]


def test_missing_inputs_name_the_missing_fields(sim_any: SimServer, home: Path) -> None:
    result = run(home, "kickoff", "-i", "topic=x", env=crew_env(sim_any))
    assert result.returncode == ExitCode.USAGE
    assert "audience" in result.stderr
    assert run(home, "list", "--json", env=crew_env(sim_any)).stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["kickoff", "-i", "novalue"], "KEY=VALUE"),
        (["kickoff", "-i", "a=1", "-i", "a=2"], "twice"),
        (["kickoff", "-i", "a=1", "--task-webhook", "not a url"], "http"),
        (["status", "--crew", "nope", "abc"], "nope"),
        (["status", "bad id!"], "not a kickoff id"),
    ],
)
def test_bad_input_gets_one_sentence_and_exit_two(
    sim: SimServer, home: Path, args: list[str], fragment: str
) -> None:
    result = run(home, *args, env=crew_env(sim))
    assert result.returncode == ExitCode.USAGE, (result.stdout, result.stderr)
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert (
        not (home / "data" / "history.sqlite3").exists()
        or "[]" in run(home, "list", "--json", env=crew_env(sim)).stdout
    )


def test_broken_config_reports_file_line_and_column(home: Path) -> None:
    config = home / "config"
    config.mkdir(mode=0o700)
    (config / "config.toml").write_text("[crews.a]\nurl = \n")
    result = run(home, "list")
    assert result.returncode == ExitCode.USAGE
    assert "config.toml:2:" in result.stderr


def test_unreachable_crew_exits_six(home: Path) -> None:
    result = run(
        home,
        "inputs",
        env={
            "CREWAI_API_URL": "http://127.0.0.1:9/x",
            "CREWAI_BEARER_TOKEN": "t",
            BACKOFF_SCALE_ENV: "0",  # as many attempts, without the seconds between them
        },
    )
    assert result.returncode == ExitCode.UNREACHABLE, result.stderr
    assert "Traceback" not in result.stderr


def test_inputs_track_and_doctor(sim_documented: SimServer, home: Path) -> None:
    env = crew_env(sim_documented, "outreach")
    inputs = run(home, "inputs", "--json", env=env)
    assert json.loads(inputs.stdout)["inputs"] == sim_documented.required_inputs("outreach")
    doctor = run(home, "doctor", "--json", env=env)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    report = json.loads(doctor.stdout)
    assert report["crews"][0]["dialect"] == "documented"
    assert report["store"]["ok"]
    assert sim_documented.options.token not in doctor.stdout
    started = run(home, "kickoff", *inputs_args(sim_documented, "outreach"), env=env)
    other_home = home.parent / "other"
    tracked = run(other_home, "track", started.stdout.strip(), env=env)
    assert tracked.returncode == 0, tracked.stderr
    assert started.stdout.strip()[:8] in tracked.stdout


def test_an_answer_over_the_body_cap_says_which_setting_to_raise(
    sim: SimServer, home: Path
) -> None:
    started = run(home, "kickoff", *inputs_args(sim, "content"), env=crew_env(sim))
    assert started.returncode == 0, started.stderr
    kickoff_id = started.stdout.strip()
    config = home / "config"
    config.mkdir(mode=0o700)
    # Half a KB: less than any status answer of the simulator.
    (config / "config.toml").write_text("[poll]\nmax_body_mb = 0.0005\n")

    result = run(home, "status", kickoff_id, "--json", env=crew_env(sim))

    assert result.returncode == ExitCode.UNUSABLE_ANSWER, result.stderr
    message = result.stderr.strip()
    assert "larger than" in message
    assert "max_body_mb" in message and "[poll]" in message
    assert "Traceback" not in result.stderr and message.count(". ") == 0
