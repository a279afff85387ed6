"""The Gantt layout: observed timestamps, documented durations, running and odd payloads."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from crewtui.api.models import Kickoff, TaskResult
from crewtui.api.states import RunState, TaskState
from crewtui.core.format import format_duration
from crewtui.core.timeline import Bar, layout, nice_ticks

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def kickoff(
    tasks: list[TaskResult],
    state: RunState = RunState.COMPLETED,
    *,
    execution_time: float | None = None,
    finished: float | None = None,
) -> Kickoff:
    return Kickoff(
        kickoff_id="k1",
        crew="travel",
        state=state,
        tasks=tasks,
        created_at=T0,
        updated_at=at(200),
        started_at=T0,
        finished_at=at(finished) if finished is not None else None,
        execution_time=execution_time,
    )


def test_live_observed_timestamps_place_bars_where_seen() -> None:
    run = kickoff(
        [
            TaskResult(
                task_id="research_task", agent="旅行研究员", started_at=T0, finished_at=at(45)
            ),
            TaskResult(
                task_id="planning_task", agent="行程规划师", started_at=at(47), finished_at=at(110)
            ),
        ],
        finished=110,
    )
    bars, span = layout(run, at(500))
    assert bars == [
        Bar("research_task", "旅行研究员", TaskState.COMPLETED, 0.0, 45.0),
        Bar("planning_task", "行程规划师", TaskState.COMPLETED, 47.0, 110.0),
    ]
    assert span == 110.0  # a finished run's span does not grow with "now"


def test_documented_durations_are_stacked_and_span_is_the_services_figure() -> None:
    run = kickoff(
        [
            TaskResult(task_id="research_task", execution_time=45.2),
            TaskResult(task_id="planning_task", execution_time=62.8),
        ],
        execution_time=108.5,
        finished=30,  # observed end says less than the service: the service wins
    )
    bars, span = layout(run, at(1000))
    assert [(b.start, b.end) for b in bars] == [(0.0, 45.2), (45.2, pytest.approx(108.0))]
    assert span == 108.5


def test_running_task_has_no_end_and_span_reaches_now() -> None:
    run = kickoff(
        [
            TaskResult(task_id="a", started_at=T0, finished_at=at(10)),
            TaskResult(task_id="b", state=TaskState.RUNNING, started_at=at(12)),
        ],
        RunState.RUNNING,
    )
    bars, span = layout(run, at(30))
    assert bars[1] == Bar("b", None, TaskState.RUNNING, 12.0, None)
    assert span == 30.0


def test_no_tasks_gives_no_bars_and_the_elapsed_span() -> None:
    assert layout(kickoff([], RunState.RUNNING), at(7)) == ([], 7.0)
    assert layout(kickoff([], RunState.PENDING), at(-60)) == ([], 0.0)


def test_mixed_sources_never_go_backwards() -> None:
    """A task seen only finishing (between polls) starts where the previous one ended."""
    run = kickoff(
        [
            TaskResult(task_id="seen", started_at=T0, finished_at=at(20)),
            TaskResult(task_id="between_polls", finished_at=at(50)),
            TaskResult(task_id="pushed", execution_time=5.0, finished_at=at(70)),
            TaskResult(task_id="documented", execution_time=8.0),
        ],
        execution_time=90.0,
    )
    bars, span = layout(run, at(100))
    assert [(b.start, b.end) for b in bars] == [(0, 20), (20, 50), (65, 70), (70, 78)]
    assert span == 90.0


def test_time_zero_is_the_creation_so_pending_time_shows_before_the_first_task() -> None:
    run = kickoff([TaskResult(task_id="a", started_at=at(5), finished_at=at(15))])
    run = run.model_copy(update={"created_at": at(-10), "started_at": at(5)})
    bars, span = layout(run, at(100))
    assert (bars[0].start, bars[0].end) == (15.0, 25.0)
    assert span == 25.0


def test_hostile_numbers_and_naive_datetimes_never_raise_or_go_negative() -> None:
    naive = datetime(2026, 11, 23, 9, 0)  # an hour before the run started, and naive
    run = kickoff(
        [
            TaskResult(task_id="nan", execution_time=math.nan),
            TaskResult(task_id="negative", execution_time=-5.0),
            TaskResult(task_id="early", started_at=naive, finished_at=naive),
            TaskResult(task_id="inf", execution_time=math.inf),
        ],
        execution_time=-1.0,
    )
    bars, span = layout(run, at(10))
    for bar in bars:
        assert bar.start >= 0
        assert bar.end is not None and bar.end >= bar.start
    assert math.isfinite(span) and span >= 0


def test_ticks_are_round_and_bounded() -> None:
    assert nice_ticks(108.5, 5) == [0, 30, 60, 90]
    assert nice_ticks(0, 5) == [0]
    assert len(nice_ticks(10 * 86400, 6)) <= 6


@pytest.mark.parametrize(
    ("seconds", "precise", "text"),
    [
        (45.2, True, "45.2s"),
        (45.2, False, "45s"),
        (108.5, False, "1m48s"),
        (60, False, "1m"),
        (3900, False, "1h05m"),
        (math.nan, False, "?"),
    ],
)
def test_durations_read_naturally(seconds: float, precise: bool, text: str) -> None:
    assert format_duration(seconds, precise=precise) == text
