"""The stall rule: a running run whose current task ran past its usual time, judged from a
real SQLite history (``Store.task_durations``) and the config's ``[stall]`` limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from crewtui.api.states import RunState
from crewtui.core.durations import ExpectedRange
from crewtui.core.stall import ENOUGH_FOR_P95, FEW_RUNS_FACTOR, StallRule
from crewtui.core.store import Store
from tests.core.histories import NOW, past_runs, running_run


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "history.sqlite3")
    yield opened
    opened.close()


def rule_of(store: Store, limits: dict[str, dict[str, float]] | None = None) -> StallRule:
    return StallRule(store.task_durations(), limits)


def test_the_range_is_the_median_and_95th_percentile() -> None:
    expected = ExpectedRange.of([float(n) for n in range(1, 21)])
    assert expected == ExpectedRange(p50=10.5, p95=pytest.approx(19.05), samples=20)
    assert ExpectedRange.of([0.0, -1.0, float("nan")]) is None


def test_a_task_past_its_p95_is_maybe_stuck_and_not_before(store: Store) -> None:
    past_runs(store, "travel", "research", [float(n) for n in range(10, 10 + ENOUGH_FOR_P95)])
    rule = rule_of(store)
    limit = rule.limit("travel", "research")
    assert limit is not None and limit.basis == "p95"
    assert limit.seconds == pytest.approx(28.05)  # 10..29 s: the p95 by interpolation
    run = running_run(store, "travel", "research", NOW)
    assert rule.judge(run, NOW + timedelta(seconds=limit.seconds - 0.5)) is None
    stall = rule.judge(run, NOW + timedelta(seconds=limit.seconds + 0.5))
    assert stall is not None and stall.task == "research"
    assert stall.words() == "research has run 28.6s, past its p95 of 28.1s"


def test_with_little_history_the_limit_is_three_times_the_median(store: Store) -> None:
    past_runs(store, "travel", "research", [10.0, 20.0, 30.0])
    rule = rule_of(store)
    run = running_run(store, "travel", "research", NOW)
    assert rule.judge(run, NOW + timedelta(seconds=59)) is None  # past p95 (29 s), not 3x
    stall = rule.judge(run, NOW + timedelta(seconds=61))
    assert stall is not None and stall.limit.basis == "median"
    assert stall.limit.seconds == pytest.approx(FEW_RUNS_FACTOR * 20.0)
    assert "3× its median of 20.0s" in stall.words()


def test_a_configured_limit_wins_and_a_star_covers_every_task(store: Store) -> None:
    past_runs(store, "travel", "research", [10.0] * ENOUGH_FOR_P95)
    rule = rule_of(store, {"travel": {"*": 300.0, "research": 120.0}})
    research = running_run(store, "travel", "research", NOW)
    assert rule.judge(research, NOW + timedelta(seconds=100)) is None  # past the p95 of 10 s
    stall = rule.judge(research, NOW + timedelta(seconds=121))
    assert stall is not None and stall.limit.basis == "configured"
    assert stall.as_json()["p95"] == pytest.approx(10.0)
    booking = running_run(store, "travel", "book", NOW, kickoff_id="running-0002")
    assert rule.judge(booking, NOW + timedelta(seconds=299)) is None
    assert rule.judge(booking, NOW + timedelta(seconds=301)) is not None


def test_nothing_is_said_without_history_setting_running_task_or_known_start(
    store: Store,
) -> None:
    past_runs(store, "travel", "research", [10.0] * 5)
    past_runs(store, "travel", "research", [1.0] * 5, state=RunState.FAILED)
    rule = rule_of(store)
    late = NOW + timedelta(hours=5)
    assert rule.judge(running_run(store, "travel", "unseen", NOW), late) is None
    assert rule.judge(running_run(store, "other", "research", NOW, "r-2"), late) is None
    paused = running_run(store, "travel", "research", NOW, "r-3").model_copy(
        update={"state": RunState.PAUSED}
    )
    assert rule.judge(paused, late) is None
    unknown_start = running_run(store, "travel", "research", NOW, "r-4")
    unknown_start = unknown_start.model_copy(
        update={"tasks": [unknown_start.tasks[0].model_copy(update={"started_at": None})]}
    )
    assert rule.judge(unknown_start, late) is None
    # The failed runs' tasks are no measure of how long the task takes.
    assert rule.expected("travel", "research") == ExpectedRange(10.0, 10.0, 5)


def test_a_list_row_is_judged_as_its_full_record_is(store: Store) -> None:
    """The list reads summaries: the current task's start rides along with each row."""
    past_runs(store, "travel", "research", [10.0] * 5)
    began = NOW - timedelta(minutes=5)
    running_run(store, "travel", "research", began)
    rule = rule_of(store)
    [row] = store.list_kickoffs(states=[RunState.RUNNING])
    assert row.task_started_at == began
    full = store.get_kickoff(row.kickoff_id)
    assert full is not None
    assert rule.judge(row, NOW) == rule.judge(full, NOW) is not None
