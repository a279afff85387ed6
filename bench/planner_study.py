"""The poll planner on a virtual clock: bench_freshness's workload without processes.

One crew at a time (each crew has its own planner and budget): ``runs`` kickoffs kept
going (a finished run is replaced, as the benchmark does), tasks drawn like the benchmark's
(each run's pace lognormal around ``scale``, each task's factor around it), a history of
finished runs drawn the same way, and a poll that sees the run's state the moment it leaves.
Each change's staleness is the time to the first poll at or after it; p95 and median are
compared with even spreading (``round_robin``) on the same runs. Seconds of CPU, not minutes,
so planner ideas can be tried before the benchmark measures them.

    python bench/planner_study.py             # the full benchmark's sizes and window
    python bench/planner_study.py --quick     # --quick's
    python bench/planner_study.py --steady    # runs kept going 10 minutes past the ramp
    python bench/planner_study.py --bound     # the least p95 any order of polls could get
    python bench/planner_study.py --window    # the same in the benchmark's own window
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from bench_freshness import FULL, HISTORY_RUNS_PER_CREW, QUICK, RUN_SPREAD, TASK_SPREAD, Plan
from common import median, percentile

from crewtui.core.schedule import CrewPlanner, DurationModel, PlanSettings, Strategy
from crewtui.sim.crews import CREWS

PENDING = 0.5  # the simulator's reference seconds queued before the first task
LATENCY = 0.02  # a poll's round trip
KICKOFF_LATENCY = 0.05


@dataclass
class SimRun:
    """One run: when each of its tasks begins and when it ends (virtual seconds)."""

    kickoff_id: str
    began: float
    tasks: list[tuple[str, float]]  # (task id, start)
    end: float
    seen_task: str | None = None
    seen_done: bool = False

    @property
    def changes(self) -> list[float]:
        return [start for _, start in self.tasks] + [self.end]

    def task_at(self, now: float) -> str | None:
        current = None
        for task, start in self.tasks:
            if start <= now:
                current = task
        return current


def draw(rng: random.Random, crew: str, scale: float) -> tuple[float, list[float]]:
    pace = scale * math.exp(rng.gauss(0.0, RUN_SPREAD))
    return pace, [math.exp(rng.gauss(0.0, TASK_SPREAD)) for _ in CREWS[crew].tasks]


def history(crew: str, scale: float, rng: random.Random) -> DurationModel:
    durations: dict[tuple[str, str], list[float]] = {}
    for _ in range(HISTORY_RUNS_PER_CREW):
        pace, factors = draw(rng, crew, scale)
        for task, factor in zip(CREWS[crew].tasks, factors, strict=True):
            durations.setdefault((crew, task.task_id), []).append(task.duration * pace * factor)
    return DurationModel(durations)


def new_run(kickoff_id: str, crew: str, scale: float, began: float, rng: random.Random) -> SimRun:
    pace, factors = draw(rng, crew, scale)
    now = began + PENDING * pace
    tasks = []
    for task, factor in zip(CREWS[crew].tasks, factors, strict=True):
        tasks.append((task.task_id, now))
        now += task.duration * pace * factor
    return SimRun(kickoff_id, began, tasks, now)


@dataclass
class Outcome:
    lags: list[float] = field(default_factory=list)
    polls: int = 0
    # Each lag by what changed: the first task's start (0), a later task's (its index), the end.
    by_change: dict[str, list[float]] = field(default_factory=dict)


def follow(
    crew: str,
    plan: Plan,
    strategy: Strategy,
    *,
    runs: int,
    budget: float = 10.0,
    seed: int = 1,
) -> Outcome:
    """Follow ``runs`` runs of one crew through the plan's ramp, warm-up and window."""
    rng = random.Random(seed)
    poll = plan.poll_settings()
    scale = plan.scale / plan.speed  # on the plan's clock
    planner = CrewPlanner(
        PlanSettings.from_poll(poll.min_interval, poll.max_interval),
        history(crew, scale, random.Random(seed + 1000)),
        crew=crew,
        budget=budget,
        strategy=strategy,
    )
    window = (plan.ramp + plan.warm, plan.ramp + plan.warm + plan.measure)
    stop = window[1] + plan.grace
    live: dict[str, SimRun] = {}
    done: list[SimRun] = []
    seen: dict[str, list[float]] = {}
    # Kickoffs to send: (when, order); answers land KICKOFF_LATENCY later.
    starts: list[tuple[float, int]] = [(plan.ramp * index / runs, index) for index in range(runs)]
    heapq.heapify(starts)
    numbers = iter(range(10**9))
    tokens, stamp = budget, 0.0
    now = 0.0
    outcome = Outcome()

    def adopt(at: float) -> None:
        kickoff_id = f"run-{next(numbers)}"
        run = new_run(kickoff_id, crew, scale, at, rng)
        live[kickoff_id] = run
        seen[kickoff_id] = []
        planner.add(kickoff_id, at + KICKOFF_LATENCY)

    while now < stop:
        due = planner.next_due()
        wake = min(due if due is not None else math.inf, starts[0][0] if starts else math.inf)
        if tokens < 1.0:
            wake = max(wake, now + (1.0 - tokens) / budget + 1e-9)
        if wake == math.inf:
            break
        tokens = min(budget, tokens + (max(wake, now) - stamp) * budget)
        now = stamp = max(wake, now)
        tokens = min(budget, tokens + 1e-6)  # rounding must not hold a token back
        while starts and starts[0][0] <= now:
            at, _ = heapq.heappop(starts)
            adopt(at)
        if tokens < 1.0:
            continue
        kickoff_id = planner.take(now)
        if kickoff_id is None:
            continue
        tokens -= 1.0
        outcome.polls += 1
        planner.sent(kickoff_id, now)
        run = live[kickoff_id]
        looked = now + LATENCY / 2
        answered = now + LATENCY
        observed = seen[kickoff_id]
        while len(observed) < len(run.changes) and run.changes[len(observed)] <= looked:
            observed.append(answered)
        if run.end <= looked:
            planner.remove(kickoff_id)
            del live[kickoff_id]
            done.append(run)
            heapq.heappush(starts, (answered, next(numbers)))  # a new run of the crew
            continue
        task = run.task_at(looked)
        if task != run.seen_task:
            run.seen_task = task
            planner.changed(kickoff_id, answered, task, pushed=False)
        planner.answered(kickoff_id, answered)
    for run in [*done, *live.values()]:
        observed = seen[run.kickoff_id]
        for index, moment in enumerate(run.changes):
            if window[0] <= moment <= window[1]:
                seen_at = observed[index] if index < len(observed) else stop
                outcome.lags.append(seen_at - moment)
                label = "end" if index == len(run.tasks) else f"task {index + 1} starts"
                outcome.by_change.setdefault(label, []).append(seen_at - moment)
    return outcome


def study(
    plan: Plan,
    *,
    seeds: Sequence[int],
    budget: float = 10.0,
    strategies: Sequence[Strategy] = ("predictive", "round_robin"),
) -> dict[str, Outcome]:
    """Each strategy over every crew and seed; each crew has ``kickoffs / 4`` runs."""
    outcomes: dict[str, Outcome] = {name: Outcome() for name in strategies}
    runs = plan.kickoffs // len(CREWS)
    for strategy in strategies:
        outcome = outcomes[strategy]
        for seed in seeds:
            for crew in CREWS:
                one = follow(crew, plan, strategy, runs=runs, budget=budget, seed=seed)
                outcome.lags += one.lags
                outcome.polls += one.polls
                for label, lags in one.by_change.items():
                    outcome.by_change.setdefault(label, []).extend(lags)
    return outcomes


def study_one(plan: Plan, strategy: Strategy, seed: int) -> Outcome:
    """One strategy over every crew for one seed (as ``study``)."""
    return study(plan, seeds=[seed], strategies=(strategy,))[strategy]


def report(label: str, outcomes: dict[str, Outcome]) -> None:
    mine, floor = outcomes["predictive"], outcomes["round_robin"]
    p95, floor_p95 = percentile(mine.lags, 0.95), percentile(floor.lags, 0.95)
    mid, floor_mid = median(mine.lags), median(floor.lags)
    print(
        f"{label}: {len(mine.lags)} changes; p95 {p95:.2f} s vs {floor_p95:.2f} s "
        f"({p95 / floor_p95:.2f}x), median {mid:.2f} vs {floor_mid:.2f} ({mid / floor_mid:.2f}x); "
        f"polls {mine.polls} vs {floor.polls}"
    )
    for label in sorted(mine.by_change):
        lags, floor_lags = mine.by_change[label], floor.by_change.get(label, [0.0])
        print(
            f"  {label}: {len(lags)}; p95 {percentile(lags, 0.95):.2f} vs "
            f"{percentile(floor_lags, 0.95):.2f} s, median {median(lags):.2f} vs "
            f"{median(floor_lags):.2f} s"
        )


# -- the best any order of polls could do -------------------------------------------------


def _survival(x: float, spread: float) -> float:
    """The chance that a lognormal (median 1, ``spread`` of logs) is above ``x``."""
    return 1.0 if x <= 0 else 0.5 * math.erfc(math.log(x) / (spread * math.sqrt(2.0)))


def _upper_hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The concave upper envelope of (cost, coverage) points: mixing two ways of polling
    (at random, run by run) reaches any point on it."""
    hull: list[tuple[float, float]] = []
    for point in sorted(points):
        if hull and point[1] <= hull[-1][1]:
            continue
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (y2 - y1) * (point[0] - x1) <= (point[1] - y1) * (x2 - x1):
                hull.pop()
            else:
                break
        hull.append(point)
    return hull


def ways_to_poll(spacing: float, spread: float, steps: int = 4) -> list[tuple[float, float]]:
    """For one task end (lognormal, median 1: times in units of the task's median), every
    window of polls ``spacing`` apart: its expected polls and the chance the end is seen
    within ``spacing``. Polls stop once the end is seen (the next task's are planned
    then), one more poll is spent if the end comes after the window; the window may start
    anywhere (``steps`` positions per spacing) and hold any number of polls."""
    grid = spacing / steps
    size = int(4.0 / grid) + 2
    alive = [_survival(index * grid, spread) for index in range(size)]
    points = [(1.0, 0.0)]
    for first in range(size):
        if alive[first] < 0.5:
            break  # a window starting past the median is never the cheapest
        cost = 1.0
        for count in range(1, size):
            end = first + count * steps
            if end >= size:
                break
            cost += alive[end]
            points.append((cost, alive[first] - alive[end]))
            if alive[end] < 1e-4:
                break
    return _upper_hull(points)


def best_p95(plan: Plan, *, pace_known: bool, budget: float = 10.0, runs: int = 200) -> float:
    """A floor under the p95 staleness of any order of polls at this budget, for runs
    drawn like the benchmark's (a run's start and its tasks' ends), runs kept going.

    Each task end is predicted as well as the runs allow (favourably: its task's start
    known exactly): from the history for a run's first task (the run's pace unknown), then
    from its pace so far, or with ``pace_known`` its exact pace. A run's start costs one
    poll and is seen at once. Polls per run are the budget over a run's length. The best
    mix of windows (one Lagrange multiplier over every end's cost/coverage hull) is found
    for each lag; the answer is the least lag at which 95 % of changes can be seen."""
    rng = random.Random(5)
    # Each crew's task ends (median duration, spread of logs) and polls (its own budget).
    crews: list[tuple[list[tuple[float, float]], float]] = []
    per_crew = plan.kickoffs // len(CREWS)
    for crew, spec in CREWS.items():
        ends: list[tuple[float, float]] = []
        lengths = []
        for _ in range(runs):
            pace, factors = draw(rng, crew, plan.scale)
            lengths.append(
                sum(t.duration * pace * f for t, f in zip(spec.tasks, factors, strict=True))
            )
            for index, task in enumerate(spec.tasks):
                if pace_known:
                    ends.append((task.duration * pace, TASK_SPREAD))
                elif index == 0:
                    ends.append((task.duration * plan.scale, math.hypot(RUN_SPREAD, TASK_SPREAD)))
                else:
                    ends.append((task.duration * pace, TASK_SPREAD * math.sqrt(1 + 1 / index)))
        crews.append((ends, budget * sum(lengths) / per_crew - runs))  # less the starts'
    starts = runs * len(CREWS)
    count = starts + sum(len(ends) for ends, _ in crews)
    hulls: dict[tuple[float, int], list[tuple[float, float]]] = {}

    def hull(typical: float, spread: float, lag: float) -> list[tuple[float, float]]:
        key = (spread, round(math.log(lag / typical) * 50))  # 2 % steps of spacing
        if key not in hulls:
            hulls[key] = ways_to_poll(math.exp(key[1] / 50), spread)
        return hulls[key]

    def seen(lag: float) -> float:
        """How many changes can be seen within ``lag``: each crew's polls spent where they
        see most (one price of a poll per crew, found by bisection)."""
        total = float(starts)
        for ends, polls in crews:
            options = [hull(typical, spread, lag) for typical, spread in ends]
            low, high = 0.0, 10.0  # the price of a poll, in changes seen
            for _ in range(40):
                price = (low + high) / 2
                chosen = [max(option, key=lambda p: p[1] - price * p[0]) for option in options]
                if sum(cost for cost, _ in chosen) > polls:
                    low = price
                else:
                    high = price
            total += sum(max(option, key=lambda p: p[1] - high * p[0])[1] for option in options)
        return total / count

    low, high = 0.0, 4.0 * per_crew / budget
    for _ in range(20):
        lag = (low + high) / 2
        if seen(lag) < 0.95:
            low = lag
        else:
            high = lag
    return high


# -- the least p95 in the benchmark's own window --------------------------------------------


@dataclass(frozen=True)
class EndForecast:
    """A task end as a planner could foresee it: the task began at ``start`` (taken as
    known exactly) and lasts a lognormal of ``typical`` s, ``spread`` of logs."""

    start: float
    typical: float
    spread: float

    def done_by(self, moment: float) -> float:
        """The chance the task has ended by ``moment``."""
        return 1.0 - _survival((moment - self.start) / self.typical, self.spread)


@dataclass
class CrewWorkload:
    """One crew's runs through the plan, drawn as ``follow`` draws them: every task end,
    with what could be known of it, and each run's first task start (seen at its first
    poll)."""

    ends: list[EndForecast]
    first_starts: list[float]


def crew_workload(crew: str, plan: Plan, runs: int, seed: int) -> CrewWorkload:
    """The crew's runs started over the ramp and replaced as they end, until the window's
    grace is over. Each end is forecast as in ``best_p95``: the first from the history
    (pace unknown), later ones from the run's pace so far (the mean log of its tasks' ratios
    to their usual), with the task's own spread left (scaled for the pace's error)."""
    rng = random.Random(seed)
    scale = plan.scale / plan.speed
    stop = plan.ramp + plan.warm + plan.measure + plan.grace
    workload = CrewWorkload([], [])
    waiting = [plan.ramp * index / runs + KICKOFF_LATENCY for index in range(runs)]
    while waiting:
        run = new_run("run", crew, scale, waiting.pop(), rng)
        bounds = [start for _, start in run.tasks] + [run.end]
        if bounds[0] < stop:
            workload.first_starts.append(bounds[0])
        ratios: list[float] = []
        for index, task in enumerate(CREWS[crew].tasks):
            if bounds[index] >= stop:
                break
            if index == 0:
                typical, spread = task.duration * scale, math.hypot(RUN_SPREAD, TASK_SPREAD)
            else:
                typical = task.duration * math.exp(sum(ratios) / len(ratios))
                spread = TASK_SPREAD * math.sqrt(1 + 1 / index)
            ratios.append(math.log((bounds[index + 1] - bounds[index]) / task.duration))
            workload.ends.append(EndForecast(bounds[index], typical, spread))
        if run.end < stop:
            waiting.append(run.end + LATENCY)  # a new run of the crew
    return workload


@dataclass
class PollWindow:
    """Polls ``lag`` apart from one moment on, for one end: the slots (time bucket, chance
    the poll is sent) of the polls so far and of the one that sees a later end, and the
    chance that the end falls in the measured window and is seen within ``lag``, after
    each poll."""

    slots: list[tuple[int, float]]
    tails: list[tuple[int, float]]
    covered: list[float]

    def best(self, prices: list[float]) -> tuple[float, int]:
        """The most valuable length of this window at these prices: (value, last poll)."""
        best, last, cost = -math.inf, 0, 0.0
        for index, (slot, chance) in enumerate(self.slots):
            cost += prices[slot] * chance if slot >= 0 else 0.0
            tail_slot, tail_chance = self.tails[index]
            tail = prices[tail_slot] * tail_chance if tail_slot >= 0 else 0.0
            value = self.covered[index] - cost - tail
            if value > best:
                best, last = value, index
        return best, last


def poll_windows(
    end: EndForecast, lag: float, window: tuple[float, float], bucket: float, buckets: int
) -> list[PollWindow]:
    """Every way to watch for one end: a first poll at any multiple of half the lag from
    3.3 spreads before its median to its median, then a poll every ``lag`` until it is
    seen; one more poll, later, if it comes after the last (counted at its earliest)."""

    def slot(moment: float) -> int:
        index = int(moment / bucket)
        return index if index < buckets else -1  # after the grace: free

    def covered(low: float, high: float) -> float:
        low, high = max(low, window[0]), min(high, window[1])
        return max(end.done_by(high) - end.done_by(low), 0.0) if high > low else 0.0

    earliest = end.typical * math.exp(-3.3 * end.spread) - lag
    step = lag / 2
    options = []
    first = end.start + max(0, int(earliest / step)) * step
    while end.done_by(first) <= 0.5:
        slots, tails, seen = [(slot(first), 1.0)], [], [covered(first - lag, first)]
        moment = first
        while True:
            left = 1.0 - end.done_by(moment)
            tails.append((slot(moment + lag), left))
            if left < 1e-3 or len(slots) > 60:
                break
            slots.append((slot(moment + lag), left))
            seen.append(seen[-1] + covered(moment, moment + lag))
            moment += lag
        options.append(PollWindow(slots, tails, seen))
        first += step
    return options


def crew_coverage(
    workload: CrewWorkload,
    plan: Plan,
    lag: float,
    *,
    budget: float,
    bucket: float,
    iterations: int,
) -> float:
    """At most how many of the crew's changes in the window any order of polls sees within
    ``lag``: the Lagrangian dual of the best mix of windows under the budget of every
    time bucket (a relaxation, so a bound whatever the prices; the prices are improved by
    projected subgradient steps, and the least bound found is the answer)."""
    window = (plan.ramp + plan.warm, plan.ramp + plan.warm + plan.measure)
    stop = window[1] + plan.grace
    buckets = math.ceil(stop / bucket)
    room = [budget * bucket] * buckets
    room[0] += budget  # the token bucket's burst
    for start in workload.first_starts:
        room[int(start / bucket)] -= 1.0  # a run's first poll, which sees its first task
    starts_seen = sum(1.0 for start in workload.first_starts if window[0] <= start <= window[1])
    ends = [poll_windows(end, lag, window, bucket, buckets) for end in workload.ends]
    prices = [0.0] * buckets
    least, step = math.inf, 0.02
    for _ in range(iterations):
        used = [0.0] * buckets
        bound = starts_seen + sum(price * free for price, free in zip(prices, room, strict=True))
        for options in ends:
            value, last, chosen = max(
                (*option.best(prices), index) for index, option in enumerate(options)
            )
            bound += value
            option = options[chosen]
            for slot, chance in [*option.slots[: last + 1], option.tails[last]]:
                if slot >= 0:
                    used[slot] += chance
        least = min(least, bound)
        prices = [
            max(0.0, price + step * (spent - free) / max(free, 1.0))
            for price, spent, free in zip(prices, used, room, strict=True)
        ]
        step *= 0.97
    return least


def window_floor(plan: Plan, *, seed: int, budget: float = 10.0, iterations: int = 100) -> float:
    """A floor under the p95 staleness any order of polls gets in the benchmark's own
    window: runs drawn as ``follow`` draws them (started within the ramp, in step, replaced
    as they end), each end forecast as well as polling allows (``crew_workload``), and the
    budget of each crew counted per twenty-fourth of the window (5 s in the full plan),
    not over the whole run as ``best_p95`` counts it. The least lag at which 95 % of the
    window's changes can be seen. Favourable to polling where it must guess: a task's start
    is known exactly, an end after its window costs one more poll, polls may be split
    (expected counts) and are never late (no queue). Fewer ``iterations`` give a lower
    floor, still a floor."""
    runs = plan.kickoffs // len(CREWS)
    window = (plan.ramp + plan.warm, plan.ramp + plan.warm + plan.measure)
    workloads = [crew_workload(crew, plan, runs, seed) for crew in CREWS]
    changes = sum(
        sum(1.0 for start in workload.first_starts if window[0] <= start <= window[1])
        + sum(end.done_by(window[1]) - end.done_by(window[0]) for end in workload.ends)
        for workload in workloads
    )
    low, high = 0.0, runs / budget
    for _ in range(10):
        lag = (low + high) / 2
        seen = sum(
            crew_coverage(
                workload, plan, lag, budget=budget, bucket=plan.measure / 24,
                iterations=iterations,
            )
            for workload in workloads
        )  # fmt: skip
        if seen < 0.95 * changes:
            low = lag
        else:
            high = lag
    return high


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="--quick's sizes and window")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steady", action="store_true", help="a window of 600 s, late")
    parser.add_argument("--bound", action="store_true", help="the best any schedule can do")
    parser.add_argument(
        "--window", action="store_true", help="the best in the benchmark's own window"
    )
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.steady:  # every run's phase mixed, as --bound assumes
        plan = replace(FULL, warm=400.0, measure=600.0, grace=60.0)
    if args.bound:
        period = plan.kickoffs / len(CREWS) / 10.0
        for pace_known in (False, True):
            lag = best_p95(plan, pace_known=pace_known)
            print(
                f"best p95 (pace {'known' if pace_known else 'learnt'}): {lag:.2f} s, "
                f"{lag / (0.95 * period):.2f}x even spreading's {0.95 * period:.2f} s"
            )
        return 0
    if args.window:
        period = plan.kickoffs / len(CREWS) / 10.0
        for seed in range(1, args.seeds + 1):
            lag = window_floor(plan, seed=seed)
            floor = percentile(study_one(plan, "round_robin", seed).lags, 0.95)
            shipped = percentile(study_one(plan, "predictive", seed).lags, 0.95)
            print(
                f"seed {seed}: best p95 in the window {lag:.2f} s, {lag / floor:.2f}x round "
                f"robin's {floor:.2f} s here ({lag / (0.95 * period):.2f}x even spreading's "
                f"{0.95 * period:.2f} s); the planner {shipped:.2f} s ({shipped / floor:.2f}x)"
            )
        return 0
    label = "quick" if args.quick else "steady" if args.steady else "full"
    report(label, study(plan, seeds=range(1, args.seeds + 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
