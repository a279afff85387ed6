"""Which kickoff of a crew to poll next, within its request budget (pure: no I/O, no clock).

At a fixed budget, spreading polls evenly is the worst schedule for freshness: most polls
land in the middle of a task, when nothing can have changed. Polls are best spent where a
change is due. For each run the planner estimates the chance that it changed since its last
poll: from how long its current task usually takes (the crew's history, one lognormal per
task, scaled by this run's pace so far) or, with no history, from how recently the run
changed (``pacing.adaptive_interval``: recently changed runs soon, long quiet ones rarely).

A run becomes *eligible* once that chance reaches ``eligible_chance`` (never sooner than
``min_interval`` after its last poll); each time the budget allows a request, the eligible
run most likely to have changed goes. Nothing starves: a run is eligible again at the latest
``longest_wait`` after its last poll, and then goes before the others, as do a first poll,
a retry after an error, and a poll asked for (``R``). A run that receives webhooks needs
only a slow confirming poll, ``confirm_after`` its last push.

:class:`RoundRobin` is the old even spreading (every run in turn, as often as the budget
allows), kept as the floor ``bench/bench_freshness.py`` measures against.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from statistics import NormalDist, median
from typing import Literal

from crewtui.core.pacing import adaptive_interval

Strategy = Literal["predictive", "round_robin"]

# A task's history is used once it holds this many durations.
MIN_SAMPLES = 5
# How far apart a run's pace (its tasks' durations over the usual) may stray from 1.
PACE_LIMITS = (0.2, 5.0)
# How much of the measured rate and interval is the recent past (requests counted over).
RATE_WINDOW = 10.0
INTERVAL_SMOOTHING = 0.05
_NORMAL = NormalDist()
# The share of task ends the history cannot foresee (a retry, a slow tool, a stuck LLM call):
# taken to come at any moment, at the task's usual rate, so no run's tail is left unpolled.
UNFORESEEN = 0.1


@dataclass(frozen=True)
class PlanSettings:
    """The planner's knobs; ``from_poll`` takes them from ``[poll]``."""

    min_interval: float = 1.0
    max_interval: float = 15.0
    # No run waits longer than this between two polls (unless the budget cannot allow it).
    longest_wait: float = 60.0
    # A run that receives webhooks is polled this long after its last push, to confirm.
    confirm_after: float = 60.0
    # The chance of a change since the last poll at which a run becomes worth a request.
    eligible_chance: float = 0.3
    # A new run's first poll, after it was adopted.
    first_delay: float = 0.5

    @classmethod
    def from_poll(cls, min_interval: float, max_interval: float) -> PlanSettings:
        return cls(
            min_interval=min_interval,
            max_interval=max_interval,
            longest_wait=4.0 * max_interval,
            confirm_after=4.0 * max_interval,
            first_delay=min_interval * 0.5,
        )


# -- how long tasks take ------------------------------------------------------------------


@dataclass(frozen=True)
class TaskFit:
    """A task's durations as a lognormal: the log of the median and the spread of logs."""

    log_median: float
    log_spread: float

    @classmethod
    def of(cls, seconds: Iterable[float]) -> TaskFit | None:
        """Median and scaled median absolute deviation of the logs (robust to a stray
        run that waited an hour); None with fewer than ``MIN_SAMPLES`` usable values."""
        logs = [math.log(value) for value in seconds if value > 0 and math.isfinite(value)]
        if len(logs) < MIN_SAMPLES:
            return None
        centre = median(logs)
        spread = 1.4826 * median(abs(value - centre) for value in logs)
        return cls(centre, max(spread, 0.05))

    @property
    def typical(self) -> float:
        return math.exp(self.log_median)

    def survival(self, elapsed: float, pace: float, blur: float) -> float:
        """The chance the task is still running ``elapsed`` s after it began."""
        if elapsed <= 0:
            return 1.0
        spread = math.hypot(self.log_spread, blur)
        z = (math.log(elapsed) - self.log_median - math.log(pace)) / spread
        return 0.5 * math.erfc(z / math.sqrt(2.0))

    def elapsed_at(self, survival: float, pace: float, blur: float) -> float:
        """When (s after it began) the chance that it still runs falls to ``survival``."""
        spread = math.hypot(self.log_spread, blur)
        chance = min(max(1.0 - survival, 1e-9), 1.0 - 1e-9)
        return math.exp(self.log_median + math.log(pace) + spread * _NORMAL.inv_cdf(chance))


class DurationModel:
    """How long each task of each crew usually takes, from the history's durations."""

    def __init__(self, durations: Mapping[tuple[str, str], Iterable[float]] | None = None) -> None:
        self._fits: dict[tuple[str, str], TaskFit] = {}
        for key, seconds in (durations or {}).items():
            fit = TaskFit.of(seconds)
            if fit is not None:
                self._fits[key] = fit

    def fit(self, crew: str, task: str | None) -> TaskFit | None:
        return None if task is None else self._fits.get((crew, task))

    def __len__(self) -> int:
        return len(self._fits)


# -- one run ------------------------------------------------------------------------------


@dataclass
class RunPlan:
    """What the planner knows of one run (times are the caller's monotonic seconds)."""

    kickoff_id: str
    last_poll: float
    last_change: float
    task: str | None = None
    # When the current task began, as well as known: it began within ``task_blur`` s before.
    task_since: float | None = None
    task_blur: float = 0.0
    # This run's tasks took ``pace`` times the usual (the geometric mean over its tasks).
    pace: float = 1.0
    pace_logs: list[float] = field(default_factory=list)
    pushed_at: float | None = None
    # Not before (an error's backoff, a 429's wait); then before the others.
    held_until: float = 0.0
    urgent: bool = True
    in_flight: bool = False
    polled: bool = False
    eligible_at: float = 0.0


class CrewPlanner:
    """The polls of one crew: when each run is next worth a request, and which goes first."""

    def __init__(
        self,
        settings: PlanSettings,
        durations: DurationModel | None = None,
        *,
        crew: str = "",
        budget: float = 10.0,
        strategy: Strategy = "predictive",
    ) -> None:
        self.settings = settings
        self.budget = budget
        self.durations = durations or DurationModel()
        self.crew = crew
        self.strategy: Strategy = strategy
        self._runs: dict[str, RunPlan] = {}
        self._waiting: list[tuple[float, int, str]] = []
        self._ready: set[str] = set()
        self._order = itertools.count()
        self._sent: deque[float] = deque()
        self._interval: float | None = None
        self._last_sent: dict[str, float] = {}

    # -- the runs -------------------------------------------------------------------------

    def __contains__(self, kickoff_id: object) -> bool:
        return kickoff_id in self._runs

    def __len__(self) -> int:
        return len(self._runs)

    def run(self, kickoff_id: str) -> RunPlan | None:
        return self._runs.get(kickoff_id)

    def add(
        self,
        kickoff_id: str,
        now: float,
        *,
        task: str | None = None,
        task_age: float | None = None,
        quiet_for: float = 0.0,
    ) -> None:
        """Plan a run's first poll soon; ``task_age``: how long its current task has run,
        ``quiet_for``: how long ago the run last changed (as its record says)."""
        if kickoff_id in self._runs:
            return
        last_change = now - max(quiet_for, 0.0)
        run = RunPlan(kickoff_id, last_poll=now, last_change=last_change, task=task)
        if task is not None and task_age is not None:
            run.task_since = now - max(task_age, 0.0)
        self._runs[kickoff_id] = run
        self._plan(run, now + self.settings.first_delay)

    def remove(self, kickoff_id: str) -> None:
        self._runs.pop(kickoff_id, None)
        self._ready.discard(kickoff_id)
        self._last_sent.pop(kickoff_id, None)

    def set_durations(self, durations: DurationModel) -> None:
        """A fresher history; each run's next poll is planned with it from its next answer."""
        self.durations = durations

    def set_strategy(self, strategy: Strategy, now: float) -> None:
        """Switch how runs are chosen (the benchmark's floor); every run is planned anew."""
        self.strategy = strategy
        for run in self._runs.values():
            if not run.in_flight:
                self._plan(run, self._eligible_time(run))

    # -- what happened ------------------------------------------------------------------

    def sent(self, kickoff_id: str, now: float) -> None:
        """A poll of the run left: it is in flight until ``answered``."""
        run = self._runs.get(kickoff_id)
        if run is None:
            return
        run.in_flight = True
        self._ready.discard(kickoff_id)
        self._sent.append(now)
        previous = self._last_sent.get(kickoff_id)
        self._last_sent[kickoff_id] = now
        if previous is not None:
            gap = now - previous
            smoothed = self._interval
            self._interval = (
                gap if smoothed is None else smoothed + INTERVAL_SMOOTHING * (gap - smoothed)
            )

    def changed(self, kickoff_id: str, now: float, task: str | None, *, pushed: bool) -> None:
        """The run moved (a poll, a push or another process saw it): note its new task.

        A polled change happened since the last poll that saw none: the task began within
        that window. A pushed one happened now. The task that ended tells this run's pace.
        What a run's first poll adds to its stored record is no sign that it moves now.
        """
        run = self._runs.get(kickoff_id)
        if run is None:
            return
        if run.polled or pushed:  # a first poll only says how stale the record was
            run.last_change = now
        if task != run.task:
            began, blur = (now, 0.0) if pushed else ((run.last_poll + now) / 2, now - run.last_poll)
            self._learn_pace(run, began)
            run.task, run.task_since, run.task_blur = task, began, blur
        if pushed:
            self.pushed(kickoff_id, now)

    def pushed(self, kickoff_id: str, now: float) -> None:
        """A webhook about the run arrived (changed or not): it only needs confirming."""
        run = self._runs.get(kickoff_id)
        if run is None:
            return
        run.pushed_at = now
        if not run.in_flight and not run.urgent:
            self._plan(run, self._eligible_time(run))

    def answered(self, kickoff_id: str, now: float, *, hold: float = 0.0) -> None:
        """The poll came back; ``hold``: wait at least this long (an error's backoff)."""
        run = self._runs.get(kickoff_id)
        if run is None:
            return
        run.in_flight = False
        run.polled = True
        run.last_poll = now
        run.urgent = hold > 0
        run.held_until = now + hold if hold > 0 else 0.0
        self._plan(run, self._eligible_time(run))

    def poll_now(self, now: float, kickoff_id: str | None = None) -> None:
        """Make one run (or every run) eligible now, ahead of the others."""
        runs = self._runs.values() if kickoff_id is None else [self._runs.get(kickoff_id)]
        for run in runs:
            if run is not None and not run.in_flight:
                run.urgent = True
                run.held_until = 0.0
                self._plan(run, now)

    # -- choosing -------------------------------------------------------------------------

    def next_due(self) -> float | None:
        """The earliest moment a run is (or becomes) eligible; None when none waits."""
        if self._ready:
            return min(self._runs[kickoff_id].eligible_at for kickoff_id in self._ready)
        while self._waiting:
            due, _, kickoff_id = self._waiting[0]
            run = self._runs.get(kickoff_id)
            if run is None or run.in_flight or run.eligible_at != due or kickoff_id in self._ready:
                heapq.heappop(self._waiting)
                continue
            return due
        return None

    def take(self, now: float) -> str | None:
        """The eligible run to poll now (the most likely to have changed), or None."""
        while self._waiting and self._waiting[0][0] <= now:
            due, _, kickoff_id = heapq.heappop(self._waiting)
            run = self._runs.get(kickoff_id)
            if run is not None and not run.in_flight and run.eligible_at == due:
                self._ready.add(kickoff_id)
        if not self._ready:
            return None
        best = max(self._ready, key=lambda kickoff_id: self._priority(self._runs[kickoff_id], now))
        self._ready.discard(best)
        return best

    def chance_changed(self, run: RunPlan, now: float) -> float:
        """The chance that the run changed since its last poll."""
        waited = max(now - run.last_poll, 0.0)
        fit = self._fit(run)
        if fit is not None and run.task_since is not None:
            before = fit.survival(run.last_poll - run.task_since, run.pace, self._blur(run, fit))
            if before > 1e-6:
                after = fit.survival(now - run.task_since, run.pace, self._blur(run, fit))
                anywhen = 1.0 - math.exp(-waited / (fit.typical * run.pace))
                return (1.0 - UNFORESEEN) * (1.0 - after / before) + UNFORESEEN * anywhen
        return 1.0 - math.exp(-waited / self._mean_quiet(run))

    # -- the crew's pace, for the status line ---------------------------------------------

    def rate(self, now: float) -> float:
        """Requests sent per second over the last ``RATE_WINDOW`` seconds."""
        while self._sent and self._sent[0] < now - RATE_WINDOW:
            self._sent.popleft()
        return len(self._sent) / RATE_WINDOW

    def interval(self) -> float | None:
        """About how long a run waits between two polls: measured once runs were polled
        twice, else the shortest wait planned after a first answer (None before one)."""
        if self._interval is not None:
            return self._interval
        planned = [run.eligible_at - run.last_poll for run in self._runs.values() if run.polled]
        return min(planned) if planned else None

    # -- planning -------------------------------------------------------------------------

    def _plan(self, run: RunPlan, at: float) -> None:
        run.eligible_at = at
        self._ready.discard(run.kickoff_id)
        heapq.heappush(self._waiting, (at, next(self._order), run.kickoff_id))

    def _eligible_time(self, run: RunPlan) -> float:
        settings = self.settings
        if run.held_until > run.last_poll:
            return run.held_until
        if run.urgent:
            return run.last_poll
        if self.strategy == "round_robin":
            return run.last_poll + settings.min_interval
        if run.pushed_at is not None:
            return max(run.pushed_at, run.last_poll) + settings.confirm_after
        soonest = run.last_poll + settings.min_interval
        return min(max(self._crossing(run), soonest), run.last_poll + self.fair_period())

    def fair_period(self) -> float:
        """The longest a run waits to become eligible: ``max_interval``, or as long as
        polling every run in turn takes within the budget, if longer. So no run is polled
        less often than even spreading would poll it, budget allowing; the polls a crew's
        budget has beyond that go where a change is likeliest."""
        return max(self.settings.max_interval, len(self._runs) / self.budget)

    def _crossing(self, run: RunPlan) -> float:
        """When the chance of a change since the last poll reaches ``eligible_chance``."""
        chance = self.settings.eligible_chance
        fit = self._fit(run)
        if fit is not None and run.task_since is not None:
            blur = self._blur(run, fit)
            before = fit.survival(run.last_poll - run.task_since, run.pace, blur)
            if before > 1e-6:
                return run.task_since + fit.elapsed_at((1.0 - chance) * before, run.pace, blur)
        return run.last_poll + self._mean_quiet(run) * -math.log(1.0 - chance)

    def _priority(self, run: RunPlan, now: float) -> tuple[bool, float]:
        """Higher goes first: first polls, retries, asked-for and starving runs (oldest
        first), then, by strategy, the likeliest change or the longest wait."""
        waited = now - run.last_poll
        if run.urgent or waited >= self.settings.longest_wait or run.pushed_at is not None:
            return True, waited
        if self.strategy == "round_robin":
            return False, waited
        return False, self.expected_staleness(run, now)

    def expected_staleness(self, run: RunPlan, now: float) -> float:
        """How stale the run is expected to be now: the integral of the chance that it
        changed since its last poll (Simpson's rule), so a change that probably happened
        long ago goes before one that probably just happened."""
        waited = now - run.last_poll
        if waited <= 0:
            return 0.0
        fit = self._fit(run)
        if fit is None or run.task_since is None:
            mean = self._mean_quiet(run)
            return waited - mean * (1.0 - math.exp(-waited / mean))
        middle = self.chance_changed(run, run.last_poll + waited / 2)
        return waited / 6.0 * (4.0 * middle + self.chance_changed(run, now))

    def _mean_quiet(self, run: RunPlan) -> float:
        """Without a prediction: the mean time to a change that makes ``adaptive_interval``
        the moment its chance reaches ``eligible_chance``."""
        settings = self.settings
        wait = adaptive_interval(
            run.last_poll - run.last_change, settings.min_interval, settings.max_interval
        )
        return wait / -math.log(1.0 - settings.eligible_chance)

    def _fit(self, run: RunPlan) -> TaskFit | None:
        return None if self.strategy == "round_robin" else self.durations.fit(self.crew, run.task)

    @staticmethod
    def _blur(run: RunPlan, fit: TaskFit) -> float:
        """The uncertainty of the task's start, as a spread of logs (a uniform window)."""
        return run.task_blur / math.sqrt(12.0) / (fit.typical * run.pace)

    def _learn_pace(self, run: RunPlan, ended: float) -> None:
        """The task that just ended took how long against the usual: this run's pace."""
        fit = self._fit(run)
        if fit is None or run.task_since is None or ended <= run.task_since:
            return
        run.pace_logs.append(math.log((ended - run.task_since) / fit.typical))
        low, high = PACE_LIMITS
        run.pace = min(max(math.exp(sum(run.pace_logs) / len(run.pace_logs)), low), high)
