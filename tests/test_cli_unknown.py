"""What the CLI says about ids and crews the service does not know, and what it keeps.

A mistyped id must not become a row of the history; a wrong crew URL is a configuration
problem (exit 2), not a missing kickoff (exit 4); and every sentence says what is true.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crewtui.api.errors import ExitCode
from crewtui.api.models import Kickoff, TaskResult
from crewtui.api.rows import Progress
from crewtui.api.states import RunState
from crewtui.headless import print_status
from crewtui.sim import SimServer
from tests.cli_helpers import crew_env, inputs_args, run


def history(home: Path, sim: SimServer) -> list[dict[str, object]]:
    listed = run(home, "list", "--json", "--all", env=crew_env(sim))
    assert listed.returncode == 0, listed.stderr
    rows: list[dict[str, object]] = json.loads(listed.stdout)
    return rows


def test_track_of_an_unknown_id_says_so_exits_four_and_keeps_nothing(
    sim_any: SimServer, tmp_path: Path
) -> None:
    unknown = str(uuid.uuid4())
    result = run(tmp_path, "track", unknown, env=crew_env(sim_any))
    assert result.returncode == ExitCode.NOT_FOUND, result.stderr
    assert f"does not know kickoff {unknown}" in result.stderr
    assert "tracking" not in result.stdout
    assert history(tmp_path, sim_any) == []


def test_track_keeps_the_known_ids_among_unknown_ones(sim: SimServer, tmp_path: Path) -> None:
    started = run(tmp_path / "other", "kickoff", *inputs_args(sim, "content"), env=crew_env(sim))
    known, unknown = started.stdout.strip(), str(uuid.uuid4())
    result = run(tmp_path, "track", known, unknown, "--json", env=crew_env(sim))
    assert result.returncode == ExitCode.NOT_FOUND, result.stderr
    states = {status["kickoff_id"]: status["state"] for status in json.loads(result.stdout)}
    assert states[unknown] == "not_found" and states[known] != "not_found"
    assert [row["kickoff_id"] for row in history(tmp_path, sim)] == [known]


def test_status_of_an_unknown_id_keeps_nothing(sim_any: SimServer, tmp_path: Path) -> None:
    for given in ("zzzz", str(uuid.uuid4())):
        result = run(tmp_path, "status", given, env=crew_env(sim_any))
        assert result.returncode == ExitCode.NOT_FOUND, result.stderr
        assert "not found" in result.stdout
    assert history(tmp_path, sim_any) == []


def test_watch_timeout_of_an_unknown_id_says_it_is_unknown(sim: SimServer, tmp_path: Path) -> None:
    unknown = str(uuid.uuid4())
    result = run(tmp_path, "watch", unknown, "--timeout", "0.5", env=crew_env(sim))
    assert result.returncode == ExitCode.TIMED_OUT, result.stderr
    assert f"does not know {unknown} yet" in result.stderr
    assert "goes on" not in result.stderr


def test_resume_of_an_id_no_one_knows_exits_four_and_keeps_nothing(
    sim_any: SimServer, tmp_path: Path
) -> None:
    """Asked of the crew, an unknown id is said unknown: not "give the task id", and not
    a row of the history."""
    unknown = str(uuid.uuid4())
    result = run(tmp_path, "resume", unknown, "--approve", env=crew_env(sim_any))
    assert result.returncode == ExitCode.NOT_FOUND, result.stderr
    assert f"The default crew does not know kickoff {unknown}" in result.stderr
    assert "--task" not in result.stderr
    assert history(tmp_path, sim_any) == []


@pytest.mark.parametrize("crews", [(), ("content", "travel")], ids=["no crew", "two crews"])
def test_resume_of_an_id_not_in_the_history_says_so_before_the_crews(
    sim: SimServer, tmp_path: Path, crews: tuple[str, ...]
) -> None:
    """With no crew to ask (none configured, or several and no --crew), the id is what a
    person most likely has wrong: that comes first, then what asking a crew would take."""
    _two_crews(tmp_path, sim, *crews)
    result = run(tmp_path, "resume", "abc123", "--approve", env={"SIM_TOKEN": "t"})
    assert result.returncode == ExitCode.NOT_FOUND, result.stderr
    said = result.stderr.strip()
    assert said.startswith("crewtui: Kickoff abc123 is not in the history: check the id;"), said
    assert ("pick one with --crew NAME" if crews else "no crew is configured") in said
    assert len(said.splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["inputs"],
        ["kickoff", "-i", "topic=x"],
        ["doctor"],
        ["status", str(uuid.uuid4())],  # a wrong URL answers 404 to every id too
        ["track", str(uuid.uuid4())],
    ],
    ids=lambda a: a[0],
)
def test_a_wrong_crew_url_is_a_configuration_error(
    sim: SimServer, tmp_path: Path, args: list[str]
) -> None:
    env = crew_env(sim) | {"CREWAI_API_URL": sim.base_url + "/no-such-crew"}
    result = run(tmp_path, *args, env=env)
    assert result.returncode == ExitCode.USAGE, (result.stdout, result.stderr)
    assert "probably wrong" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


# -- the note about tasks that finished between polls ----------------------------------------

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def kickoff(state: RunState, done: int, seen: int) -> Kickoff:
    tasks = [TaskResult(task_id=f"task_{n}") for n in range(seen)]
    return Kickoff(
        kickoff_id=str(uuid.UUID(int=1)),
        crew="content",
        state=state,
        progress=Progress(completed=done, total=3),
        tasks=tasks,
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.parametrize(
    ("run_state", "done", "seen", "noted"),
    [
        (RunState.PENDING, 0, 0, False),
        (RunState.RUNNING, 0, 0, False),
        (RunState.RUNNING, 1, 1, False),
        (RunState.PAUSED, 1, 1, False),
        (RunState.FAILED, 1, 1, False),
        (RunState.COMPLETED, 3, 3, False),
        (RunState.COMPLETED, 3, 1, True),
    ],
)
def test_tasks_finished_between_polls_are_noted_only_when_true(
    capsys: pytest.CaptureFixture[str], run_state: RunState, done: int, seen: int, noted: bool
) -> None:
    print_status(kickoff(run_state, done, seen), NOW)
    printed = capsys.readouterr().out
    assert ("finished between polls" in printed) is noted, printed
    if noted:
        assert f"{seen} of 3 tasks seen" in printed


def _two_crews(home: Path, sim: SimServer, *names: str) -> None:
    """A config file naming ``names`` (crews of ``sim``), their token in $SIM_TOKEN."""
    tables = "".join(
        f'[crews.{name}]\nurl = "{sim.crew_url(name)}"\ntoken_env = "SIM_TOKEN"\n\n'
        for name in names
    )
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text(tables)


def test_a_run_of_the_history_is_asked_of_its_own_crew(sim: SimServer, tmp_path: Path) -> None:
    """``--url`` of the run's own crew is that crew; another crew, or one gone from the
    config, gets one sentence and exit 2 instead of "there is no crew named ..."."""
    env = {"SIM_TOKEN": sim.options.token}
    _two_crews(tmp_path, sim, "content", "travel")
    started = run(tmp_path, "kickoff", "--crew", "content", *inputs_args(sim, "content"), env=env)
    assert started.returncode == 0, started.stderr
    short = started.stdout.strip()[:8]

    same = run(tmp_path, "status", short, "--url", sim.crew_url("content"), env=env)
    assert same.returncode == 0, same.stderr
    assert "content" in same.stdout

    for flag, value in (("--crew", "travel"), ("--url", sim.crew_url("travel"))):
        other = run(tmp_path, "status", short, flag, value, env=env)
        assert other.returncode == ExitCode.USAGE, other.stderr
        assert f"Kickoff {short} is a run of the content crew in the history, not of " in (
            other.stderr
        )
        assert "no crew named" not in other.stderr

    _two_crews(tmp_path, sim, "travel")
    gone = run(tmp_path, "status", short, env=env)
    assert gone.returncode == ExitCode.USAGE, gone.stderr
    # The history kept the crew's URL (never its token): given a token, it is polled there.
    assert f"a run of the content crew at {sim.crew_url('content')}, which is not in " in (
        gone.stderr
    )
    assert "give its token (CREWAI_BEARER_TOKEN or --token) to poll it there" in gone.stderr
    polled = run(tmp_path, "status", short, env=env | {"CREWAI_BEARER_TOKEN": sim.options.token})
    assert polled.returncode == 0, polled.stderr
