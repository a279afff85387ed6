"""How long a run has taken: one answer, used by every view (row, header, toast, CLI).

A run crewtui sent began when it was sent. A run it tracked (started elsewhere) began when
the service says; until the service says, the start is unknown and so is the duration:
``None``, which every view shows as such, never as a guess from when tracking began.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias

from crewtui.api.rows import KickoffSummary
from crewtui.api.states import RunState, TaskState

if TYPE_CHECKING:
    from crewtui.api.models import Kickoff

# A string: the full model is a type here, never imported at run time.
Run: TypeAlias = "Kickoff | KickoffSummary"


def run_start(run: Run) -> datetime | None:
    """When the run began, or ``None`` when nobody here knows."""
    if run.tracked_at is not None:
        return run.started_at
    return min(run.created_at, run.started_at) if run.started_at else run.created_at


def run_duration(run: Run, now: datetime) -> float | None:
    """Seconds the run took (ended) or has taken so far; ``None`` when not known or pending.

    The service's figure for an ended run when it gave one, else measured from the start to
    the end crewtui saw (or to ``now`` while it goes on).
    """
    if run.state.is_terminal:
        if run.execution_time is not None:
            return run.execution_time
        end = run.finished_at
    elif run.state is RunState.PENDING:
        return None
    else:
        end = now
    start = run_start(run)
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def current_task_start(run: Run) -> datetime | None:
    """When the run's current task was first seen running; ``None`` when not known.

    A list row carries it (``task_started_at``, read with the row); a full record finds it
    among its tasks.
    """
    if isinstance(run, KickoffSummary):
        return run.task_started_at
    for task in run.tasks:
        if task.task_id == run.current_task and task.state is TaskState.RUNNING:
            return task.started_at
    return None
