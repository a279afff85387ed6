"""``crewtui list --state stuck``: running runs past their task's usual time, from the history
and ``[stall]``, in words and in ``--json`` (a ``stuck`` field on every row)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crewtui.api.rows import SUMMARY_FIELDS
from crewtui.core.store import Store
from tests.cli_helpers import run
from tests.core.histories import history_file, past_runs, running_run


def make_home(home: Path) -> None:
    """A crew whose research task takes 10-20 s; one run in it for an hour, one just begun."""
    now = datetime.now(UTC)
    store = Store.open(history_file(home))
    try:
        past_runs(store, "travel", "research", [10.0, 12.0, 15.0, 20.0], ended_before=now)
        running_run(store, "travel", "research", now - timedelta(hours=1), "stuck-0001")
        running_run(store, "travel", "research", now, "fresh-0001")
    finally:
        store.close()


def test_list_state_stuck_shows_only_the_runs_past_their_usual_time(tmp_path: Path) -> None:
    make_home(tmp_path)
    result = run(tmp_path, "list", "--state", "stuck")
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    assert line.startswith("stuck-00")
    assert "maybe stuck" in line
    assert "research has run 1h, past 3× its median of 13.5s" in line


def test_list_json_says_why_a_run_is_stuck_and_null_for_the_others(tmp_path: Path) -> None:
    make_home(tmp_path)
    result = run(tmp_path, "list", "--json", "--state", "running")
    assert result.returncode == 0, result.stderr
    rows = {row["kickoff_id"]: row for row in json.loads(result.stdout)}
    assert list(rows["fresh-0001"]) == [*SUMMARY_FIELDS, "stuck"]
    assert rows["fresh-0001"]["stuck"] is None
    stuck = rows["stuck-0001"]["stuck"]
    assert stuck["task"] == "research" and stuck["basis"] == "median"
    assert stuck["limit"] == 40.5 and stuck["p50"] == 13.5 and stuck["samples"] == 4
    assert stuck["running_for"] >= 3600
    only = run(tmp_path, "list", "--state", "stuck", "--fields", "stuck,kickoff_id")
    assert [list(row) for row in json.loads(only.stdout)] == [["stuck", "kickoff_id"]]


def test_no_stuck_run_is_said_as_such_not_as_an_empty_history(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    store = Store.open(history_file(tmp_path))
    try:
        past_runs(store, "travel", "research", [10.0, 12.0], ended_before=now)
    finally:
        store.close()
    result = run(tmp_path, "list", "--state", "stuck")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "No kickoffs in the history match --state stuck."


def test_a_configured_limit_makes_a_run_stuck_sooner(tmp_path: Path) -> None:
    make_home(tmp_path)
    config = tmp_path / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[stall.travel]\n"*" = 0.001\n')
    result = run(tmp_path, "list", "--state", "stuck", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {row["kickoff_id"] for row in rows} == {"stuck-0001", "fresh-0001"}
    assert {row["stuck"]["basis"] for row in rows} == {"configured"}


def test_a_bad_stall_limit_is_refused_with_one_sentence(tmp_path: Path) -> None:
    config = tmp_path / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[stall.travel]\nresearch = -5\n")
    result = run(tmp_path, "list")
    assert result.returncode == 2
    [message] = result.stderr.splitlines()
    assert "stall" in message and "research" in message and str(config) in message
