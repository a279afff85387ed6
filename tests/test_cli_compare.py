"""``crewtui diff A B`` and ``crewtui stats``, through a child process, over a history made
by the simulator (real runs) or by the store (runs of known durations and tokens)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crewtui.api.errors import ExitCode
from crewtui.api.states import RunState
from crewtui.core.store import Store
from crewtui.sim import SimServer
from tests.cli_helpers import QUICK_POLLS, crew_env, inputs_args, run
from tests.core.histories import history_file, past_runs
from tests.hardening.corpus import EVERYTHING, assert_inert


@pytest.fixture(scope="module")
def sim_home(sim: SimServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Two finished runs of the simulator's content crew, on different topics."""
    home = tmp_path_factory.mktemp("diff-home")
    ids = []
    for topic in ("crabs", "lobsters"):
        started = run(
            home,
            *[
                "kickoff",
                "--watch",
                "--json",
                *QUICK_POLLS,
                *inputs_args(sim, "content", topic=topic),
            ],
            env=crew_env(sim),
        )
        assert started.returncode == 0, started.stderr
        ids.append(json.loads(started.stdout.splitlines()[0])["kickoff_id"])
    return home, ids


def test_diff_puts_two_sim_runs_side_by_side(
    sim: SimServer, sim_home: tuple[Path, list[str]]
) -> None:
    home, (left, right) = sim_home
    result = run(home, "diff", left[:8], right[:8], env=crew_env(sim))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "default"
    assert lines[1].startswith(f"  A  {left[:8]} · completed · ")
    assert lines[4].split() == [
        "task",
        "agent",
        "time",
        "A",
        "time",
        "B",
        "Δ",
        "time",
        "tokens",
        "A",
        "tokens",
        "B",
    ]
    assert "inputs that differ:" in lines
    assert "  topic: 'crabs' → 'lobsters'" in lines
    assert "output diff:" in lines or "The outputs are the same." in lines

    as_json = run(home, "diff", left, right, "--json", env=crew_env(sim))
    assert as_json.returncode == 0, as_json.stderr
    shown = json.loads(as_json.stdout)
    assert shown["left"]["kickoff_id"] == left and shown["right"]["kickoff_id"] == right
    # Polls see the tasks they catch running (a task may pass between two polls).
    assert {task["task_id"] for task in shown["tasks"]} <= {
        "outline_task",
        "draft_task",
        "edit_task",
    }
    for task in shown["tasks"]:
        for side in (task["left"], task["right"]):
            assert side is None or set(side) == {"state", "agent", "seconds", "tokens"}
    assert shown["inputs"] == [{"name": "topic", "left": "crabs", "right": "lobsters"}]


def test_diff_refuses_runs_of_two_crews_and_unknown_runs_in_one_sentence(tmp_path: Path) -> None:
    store = Store.open(history_file(tmp_path))
    try:
        [travel] = past_runs(store, "travel", "research", [30.0])
        [content] = past_runs(store, "content", "draft", [30.0])
    finally:
        store.close()
    mixed = run(tmp_path, "diff", travel.kickoff_id, content.kickoff_id)
    assert mixed.returncode == ExitCode.USAGE and mixed.stdout == ""
    [sentence] = mixed.stderr.splitlines()
    assert sentence.endswith("compare two runs of the same crew.")
    unknown = run(tmp_path, "diff", travel.kickoff_id, "0f0f0f0f-0000-4000-8000-000000000000")
    assert unknown.returncode == ExitCode.NOT_FOUND
    assert "0f0f0f0f is not in the local history" in unknown.stderr


def test_stats_json_over_a_made_history(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    store = Store.open(history_file(tmp_path))
    try:
        past_runs(store, "travel", "research", [10.0, 20.0, 30.0], ended_before=now, tokens=600)
        past_runs(store, "travel", "research", [5.0], ended_before=now, state=RunState.FAILED)
        store.upsert_crew("travel", "https://travel.example")
    finally:
        store.close()
    result = run(tmp_path, "stats", "--json", "--window", "24h")
    assert result.returncode == 0, result.stderr
    [travel] = json.loads(result.stdout)
    assert travel["crew"] == "travel" and travel["window"] == "24h"
    assert (travel["runs"], travel["succeeded"], travel["success_rate"]) == (4, 3, 0.75)
    assert travel["tasks"] == [{"task_id": "research", "p50": 20.0, "p95": 29.0, "samples": 3}]
    assert travel["tokens"] == 1800 and travel["estimated_cost_usd"] is None
    text = run(tmp_path, "stats", "--crew", "travel")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("travel · last 7d: 4 runs, 3 of 4 ended runs completed (75%)")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["stats", "--window", "1w"], "'1w' is not a window: give hours or days"),
        (["stats", "--crew", "nope"], "No crew is called 'nope'"),
    ],
)
def test_stats_refuses_a_bad_window_or_crew_in_one_sentence(
    tmp_path: Path, args: list[str], words: str
) -> None:
    result = run(tmp_path, *args)
    assert result.returncode == ExitCode.USAGE and result.stdout == ""
    assert words in result.stderr.splitlines()[-1]


def test_diff_and_stats_print_hostile_names_and_outputs_inert(tmp_path: Path) -> None:
    hostile = EVERYTHING.text
    store = Store.open(history_file(tmp_path))
    try:
        left, right = past_runs(store, "travel", "t", [30.0, 40.0], ended_before=datetime.now(UTC))
        for run_, output in ((left, f"{hostile}\nsame"), (right, f"other {hostile}\nsame")):
            task = run_.tasks[0].model_copy(update={"task_id": hostile, "agent": hostile})
            store.save_kickoff(
                run_.model_copy(
                    update={"output": output, "tasks": [task], "inputs": {hostile: hostile}}
                )
            )
        store.upsert_crew("travel", "https://travel.example")
    finally:
        store.close()
    for args in (["diff", left.kickoff_id, right.kickoff_id], ["stats"]):
        result = run(tmp_path, *args)
        assert result.returncode == 0, result.stderr
        assert_inert(result.stdout)
        assert EVERYTHING.shows in result.stdout


def test_stats_of_one_run_say_one_run(tmp_path: Path) -> None:
    store = Store.open(history_file(tmp_path))
    try:
        past_runs(store, "travel", "research", [10.0], ended_before=datetime.now(UTC), tokens=600)
        store.upsert_crew("travel", "https://travel.example")
    finally:
        store.close()
    text = run(tmp_path, "stats", "--crew", "travel")
    assert text.returncode == 0, text.stderr
    first, tokens = text.stdout.splitlines()[:2]
    assert first.startswith("travel · last 7d: 1 run, ")
    assert tokens.endswith("over 1 run")
