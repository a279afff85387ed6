"""Where each task of a run sits on one shared time axis: the Gantt, without any drawing.

The two dialects know different things about timing. The live one never says when a task
started; crewtui only sees tasks while polling, so ``started_at``/``finished_at`` are what it
observed. The documented one gives each task's ``execution_time`` at the end of the run but
no timestamps. This module turns whatever is known into bars in seconds from the start of
the run, so the UI draws one picture whatever the service said, and never invents a
negative or impossible duration from a hostile payload.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from crewtui.api.states import TaskState
from crewtui.core.timing import run_start

if TYPE_CHECKING:
    from crewtui.api.models import Kickoff, TaskResult

# Steps between axis ticks, in seconds: people read 0s, 30s, 1m, 1m30s at a glance.
_NICE_STEPS = (
    1.0,
    2.0,
    5.0,
    10.0,
    15.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    10800.0,
    21600.0,
    43200.0,
    86400.0,
)


@dataclass(frozen=True)
class Bar:
    """One task on the axis, in seconds from the start of the run.

    ``end`` is ``None`` while the task is still running: draw it up to "now". ``known`` is
    False when crewtui cannot tell how long the task took (it began before crewtui tracked
    the run, at a moment nobody said): its place is a guess and its duration is not shown;
    ``note`` says why, when there is a reason to give.
    """

    task_id: str
    agent: str | None
    state: TaskState
    start: float
    end: float | None
    known: bool = True
    note: str | None = None


def _utc(moment: datetime) -> datetime:
    """Naive datetimes are UTC by the house rule; comparing mixed ones would raise."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _offset(moment: datetime | None, origin: datetime) -> float | None:
    """Seconds from the origin, never negative; ``None`` when the moment is unknown."""
    if moment is None:
        return None
    return max(0.0, (_utc(moment) - origin).total_seconds())


def _duration(value: float | None) -> float | None:
    """A service duration worth trusting: finite and not negative (payloads are untrusted)."""
    if value is None or not math.isfinite(value) or value < 0:
        return None
    return value


BEFORE_TRACKING = "before tracking"


def _bar(task: TaskResult, origin: datetime, cursor: float, cursor_known: bool) -> Bar:
    """Place one task: observed times first, else stacked after the previous task.

    Stacking is a fair guess only from a known moment (the run's start, the end of a task
    placed from known times); a task with no time of its own, or one whose start is
    neither seen nor stackable, has no known duration.
    """
    started = _offset(task.started_at, origin)
    finished = _offset(task.finished_at, origin)
    duration = _duration(task.execution_time)
    running = task.state is TaskState.RUNNING
    if duration is not None:
        known = True
    elif cursor_known:
        known = started is not None or finished is not None or running
    else:
        known = started is not None
    end: float | None
    if started is not None:
        start = started
        if running:
            end = None
        elif finished is not None:
            end = finished
        else:
            end = start + (duration or 0.0)
    elif finished is not None:
        end = finished
        start = max(0.0, finished - duration) if duration is not None else min(cursor, finished)
    else:
        start = cursor
        end = None if running else start + (duration or 0.0)
    if end is not None:
        end = max(end, start)
    return Bar(
        task_id=task.task_id,
        agent=task.agent,
        state=task.state,
        start=start,
        end=end,
        known=known,
    )


def run_origin(kickoff: Kickoff) -> datetime:
    """Time zero of the axis: the run's start (``run_start``, as the header's duration), or
    for a tracked run whose start is unknown, the moment tracking began.

    The time a run spent pending shows as a gap before its first task.
    """
    start = run_start(kickoff)
    return _utc(start if start is not None else kickoff.tracked_at or kickoff.created_at)


def layout(kickoff: Kickoff, now: datetime) -> tuple[list[Bar], float]:
    """The bars of ``kickoff``'s tasks and the span of the axis in seconds.

    The span covers every bar, the run's own duration (the service's figure when it gave
    one) and, while the run is active, the time up to ``now``.
    """
    origin = run_origin(kickoff)
    cursor_known = run_start(kickoff) is not None
    bars: list[Bar] = []
    cursor = 0.0
    for task in kickoff.tasks:
        bar = _bar(task, origin, cursor, cursor_known)
        cursor_known = bar.known
        if not bar.known and kickoff.tracked_at is not None:
            bar = replace(bar, note=BEFORE_TRACKING)
        bars.append(bar)
        cursor = max(cursor, bar.end if bar.end is not None else bar.start)
    span = cursor
    if kickoff.is_terminal:
        finished = _offset(kickoff.finished_at, origin)
        total = _duration(kickoff.execution_time)
        span = max(span, total if total is not None else (finished or 0.0))
    else:
        span = max(span, _offset(now, origin) or 0.0)
    return bars, span


def nice_ticks(span: float, max_ticks: int) -> list[float]:
    """Tick positions 0, step, 2·step ... within ``span``, at most ``max_ticks`` of them."""
    if max_ticks < 2 or not math.isfinite(span) or span <= 0:
        return [0.0]
    wanted = span / (max_ticks - 1)
    step = next((s for s in _NICE_STEPS if s >= wanted), None)
    if step is None:
        step = math.ceil(wanted / _NICE_STEPS[-1]) * _NICE_STEPS[-1]
    count = int(span // step)
    return [index * step for index in range(count + 1)]
