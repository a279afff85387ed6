"""Is a running run stuck, or just slow? Its current task against how long that task takes.

A run is "maybe stuck" once its current task has run past a limit, taken in this order:

1. the config's, ``[stall.CREW]`` ``TASK = SECONDS`` (``"*"`` for every task of the crew):
   the user knows their crew best;
2. with at least ``ENOUGH_FOR_P95`` durations of the task in the history, their 95th
   percentile: one run in twenty is that slow, so past it is worth a look (hence "maybe");
3. with fewer, ``FEW_RUNS_FACTOR`` times their median: the p95 of a handful of runs is
   only the slowest of them, too close to call a run stuck;
4. with no history and no setting, nothing is said.

Only a running run is judged: a paused one waits for a person, a pending one has no task.
Pure: the history's durations (``Store.task_durations``, what the poll planner reads too),
the config's limits and the clock come in; the list, the status line, the toast and
``crewtui list --state stuck`` only show the verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from crewtui.api.rows import KickoffSummary
from crewtui.api.states import RunState
from crewtui.core.durations import ExpectedRange, TaskKey, expected_ranges
from crewtui.core.format import format_duration
from crewtui.core.timing import current_task_start

if TYPE_CHECKING:
    from crewtui.api.models import Kickoff

ENOUGH_FOR_P95 = 20
FEW_RUNS_FACTOR = 3.0
# The key of ``[stall.CREW]`` that sets the limit of every task of the crew.
ANY_TASK = "*"
# What the state column and ``list --state`` call such a run.
STUCK = "stuck"

Basis = Literal["configured", "p95", "median"]


@dataclass(frozen=True)
class StallLimit:
    """How long a task may run before its run is maybe stuck, and where that comes from."""

    seconds: float
    basis: Basis
    expected: ExpectedRange | None

    def words(self) -> str:
        """``its p95 of 1m12s`` / ``3× its median of 40s`` / ``the configured 10m``."""
        amount = format_duration(self.seconds, precise=True)
        if self.basis == "configured":
            return f"the configured {amount}"
        if self.basis == "median" and self.expected is not None:
            median = format_duration(self.expected.p50, precise=True)
            return f"{FEW_RUNS_FACTOR:g}× its median of {median}"
        return f"its p95 of {amount}"


@dataclass(frozen=True)
class Stall:
    """A run's current task has run past its limit."""

    task: str
    running_for: float
    limit: StallLimit

    def words(self) -> str:
        """``research_task has run 5m12s, past its p95 of 1m12s`` (the task name is
        untrusted: callers make it inert)."""
        running = format_duration(self.running_for, precise=True)
        return f"{self.task} has run {running}, past {self.limit.words()}"

    def as_json(self) -> dict[str, Any]:
        expected = self.limit.expected
        return {
            "task": self.task,
            "running_for": round(self.running_for, 3),
            "limit": round(self.limit.seconds, 3),
            "basis": self.limit.basis,
            "p50": None if expected is None else round(expected.p50, 3),
            "p95": None if expected is None else round(expected.p95, 3),
            "samples": 0 if expected is None else expected.samples,
        }


class StallRule:
    """The limits of every (crew, task) from the history and the config; judges runs."""

    def __init__(
        self,
        durations: Mapping[TaskKey, Iterable[float]] | None = None,
        limits: Mapping[str, Mapping[str, float]] | None = None,
    ) -> None:
        self._ranges = expected_ranges(durations or {})
        self._limits = {crew: dict(tasks) for crew, tasks in (limits or {}).items()}

    def expected(self, crew: str, task: str) -> ExpectedRange | None:
        """The task's usual range, from the history (None without one)."""
        return self._ranges.get((crew, task))

    def limit(self, crew: str, task: str) -> StallLimit | None:
        """How long ``task`` of ``crew`` may run; None when nothing can say."""
        expected = self.expected(crew, task)
        configured = self._limits.get(crew, {})
        seconds = configured.get(task, configured.get(ANY_TASK))
        if seconds is not None:
            return StallLimit(seconds, "configured", expected)
        if expected is None:
            return None
        if expected.samples >= ENOUGH_FOR_P95:
            return StallLimit(expected.p95, "p95", expected)
        return StallLimit(FEW_RUNS_FACTOR * expected.p50, "median", expected)

    def judge(self, run: Kickoff | KickoffSummary, now: datetime) -> Stall | None:
        """The run's stall, if its current task has run past its limit at ``now``."""
        if run.state is not RunState.RUNNING or run.current_task is None:
            return None
        began = current_task_start(run)
        if began is None:
            return None
        limit = self.limit(run.crew, run.current_task)
        running_for = (now - began).total_seconds()
        if limit is None or running_for <= limit.seconds:
            return None
        return Stall(run.current_task, running_for, limit)
