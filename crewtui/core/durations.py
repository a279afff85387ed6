"""How long a crew's task usually takes: its median and 95th percentile from the history.

One answer for every view that speaks of "usual": the stall rule (``core/stall.py``), the
detail's expected range on the timeline, and the stats of a crew (``core/stats.py``). The
durations themselves are the history's (``Store.task_durations``), the same ones the poll
planner fits (``core/schedule.py``); this module only summarises them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crewtui.api.models import TaskResult


def task_seconds(task: TaskResult) -> float | None:
    """How long one task took: the service's figure, else from when it was seen to start to
    when it was seen to end (as ``Store.task_durations`` reads it); None when not known."""
    if task.execution_time is not None and math.isfinite(task.execution_time):
        return max(task.execution_time, 0.0)
    if task.started_at is None or task.finished_at is None:
        return None
    return max((task.finished_at - task.started_at).total_seconds(), 0.0)


def percentile(ordered: list[float], share: float) -> float:
    """The value below which ``share`` of ``ordered`` (sorted, not empty) lies, by linear
    interpolation between the closest ranks (numpy's default, so figures match a notebook)."""
    position = (len(ordered) - 1) * share
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class ExpectedRange:
    """A task's usual duration in seconds: half its runs took under ``p50``, 95 % under
    ``p95``; ``samples`` says how much history that rests on."""

    p50: float
    p95: float
    samples: int

    @classmethod
    def of(cls, seconds: Iterable[float]) -> ExpectedRange | None:
        """The range of these durations (unusable ones left out); None when none is left."""
        ordered = sorted(value for value in seconds if value > 0 and math.isfinite(value))
        if not ordered:
            return None
        return cls(percentile(ordered, 0.5), percentile(ordered, 0.95), len(ordered))


TaskKey = tuple[str, str]


def expected_ranges(durations: Mapping[TaskKey, Iterable[float]]) -> dict[TaskKey, ExpectedRange]:
    """Each (crew, task)'s range, from ``Store.task_durations``' answer."""
    ranges: dict[TaskKey, ExpectedRange] = {}
    for key, seconds in durations.items():
        found = ExpectedRange.of(seconds)
        if found is not None:
            ranges[key] = found
    return ranges
