"""A crew over a window of time (24 h, 7 d, 30 d): how many runs, how many succeeded, how long
each task takes (p50/p95), the tokens spent and what they are estimated to cost.

Counts and tokens come from one SQL aggregate (``Store.run_tallies``), task durations from
``Store.task_durations`` (the history the poll planner and the stall rule read), so a long
history costs a pass over the crew's index, never a load of its runs; the app computes it
in a thread. The series (runs, failures, tokens per stretch of the window) feed the stats
view's sparklines; ``crewtui stats --json`` prints all of it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crewtui.api.errors import ConfigError
from crewtui.api.rows import Usage
from crewtui.api.states import TERMINAL_STATES, RunState
from crewtui.core.durations import ExpectedRange, expected_ranges
from crewtui.core.history import History
from crewtui.core.pricing import Price, estimate_cost

# Task durations read per crew and window: the newest runs of the window, at most this many.
MAX_RUNS = 10_000


@dataclass(frozen=True)
class Window:
    """A stretch of time back from now, cut into ``buckets`` for the sparklines."""

    name: str
    seconds: float
    buckets: int


WINDOWS: dict[str, Window] = {
    "24h": Window("24h", 86_400.0, 24),  # hours
    "7d": Window("7d", 7 * 86_400.0, 28),  # quarter days
    "30d": Window("30d", 30 * 86_400.0, 30),  # days
}
_WINDOW = re.compile(r"(\d{1,4})([hd])")
_LONGEST = 366 * 86_400.0


def parse_window(text: str) -> Window:
    """``24h``, ``7d``, ``30d``, or any ``Nh`` / ``Nd`` up to a year."""
    if text in WINDOWS:
        return WINDOWS[text]
    found = _WINDOW.fullmatch(text.strip())
    seconds = int(found.group(1)) * (3600 if found.group(2) == "h" else 86_400) if found else 0
    if not 0 < seconds <= _LONGEST:
        raise ConfigError(
            f"{text!r} is not a window: give hours or days, such as 24h, 7d or 30d (at most 366d)."
        )
    return Window(text.strip(), float(seconds), 24 if seconds <= 86_400 else 30)


@dataclass(frozen=True)
class TaskStats:
    task_id: str
    expected: ExpectedRange


@dataclass(frozen=True)
class CrewStats:
    """What the stats view and ``crewtui stats`` show of one crew over one window."""

    crew: str
    window: Window
    since: datetime
    until: datetime
    states: dict[RunState, int]
    tasks: list[TaskStats]
    tokens: int
    runs_with_tokens: int
    cost: float | None
    runs_costed: int
    runs_per_bucket: list[int]
    failed_per_bucket: list[int]
    tokens_per_bucket: list[int]

    @property
    def runs(self) -> int:
        return sum(self.states.values())

    @property
    def ended(self) -> int:
        return sum(count for state, count in self.states.items() if state in TERMINAL_STATES)

    @property
    def succeeded(self) -> int:
        return self.states.get(RunState.COMPLETED, 0)

    @property
    def success_rate(self) -> float | None:
        """Completed runs among the ended ones (running ones have not said yet)."""
        return self.succeeded / self.ended if self.ended else None

    def as_json(self) -> dict[str, Any]:
        rate = self.success_rate
        return {
            "crew": self.crew,
            "window": self.window.name,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "runs": self.runs,
            "by_state": {state.value: count for state, count in sorted(self.states.items())},
            "ended": self.ended,
            "succeeded": self.succeeded,
            "success_rate": None if rate is None else round(rate, 4),
            "tasks": [
                {
                    "task_id": task.task_id,
                    "p50": round(task.expected.p50, 3),
                    "p95": round(task.expected.p95, 3),
                    "samples": task.expected.samples,
                }
                for task in self.tasks
            ],
            "tokens": self.tokens,
            "runs_with_tokens": self.runs_with_tokens,
            "estimated_cost_usd": None if self.cost is None else round(self.cost, 6),
            "runs_costed": self.runs_costed,
            "bucket_seconds": self.window.seconds / self.window.buckets,
            "runs_per_bucket": self.runs_per_bucket,
            "failed_per_bucket": self.failed_per_bucket,
            "tokens_per_bucket": self.tokens_per_bucket,
        }


_FAILED = frozenset({RunState.FAILED, RunState.LOST})


def crew_stats(
    store: History, crew: str, window: Window, now: datetime, prices: Mapping[str, Price]
) -> CrewStats:
    """The crew's stats over ``window`` up to ``now`` (reads the store: call it in a thread)."""
    since = now - timedelta(seconds=window.seconds)
    bucket_seconds = window.seconds / window.buckets
    states: dict[RunState, int] = {}
    runs = [0] * window.buckets
    failed = [0] * window.buckets
    tokens = [0] * window.buckets
    split: dict[str | None, list[int]] = {}
    runs_with_tokens = 0
    for tally in store.run_tallies(crew, since, now, bucket_seconds):
        bucket = min(max(tally.bucket, 0), window.buckets - 1)
        states[tally.state] = states.get(tally.state, 0) + tally.runs
        runs[bucket] += tally.runs
        tokens[bucket] += tally.tokens
        runs_with_tokens += tally.runs_with_tokens
        if tally.state in _FAILED:
            failed[bucket] += tally.runs
        if tally.runs_with_split:
            sums = split.setdefault(tally.model, [0, 0, 0])
            sums[0] += tally.prompt_tokens
            sums[1] += tally.completion_tokens
            sums[2] += tally.runs_with_split
    cost, costed = _cost(split, prices)
    durations = store.task_durations(MAX_RUNS, crew=crew, since=since)
    tasks = sorted(
        (
            TaskStats(task_id, expected)
            for (_, task_id), expected in expected_ranges(durations).items()
        ),
        key=lambda task: (-task.expected.p50, task.task_id),
    )
    return CrewStats(
        crew=crew,
        window=window,
        since=since,
        until=now,
        states=states,
        tasks=tasks,
        tokens=sum(tokens),
        runs_with_tokens=runs_with_tokens,
        cost=cost,
        runs_costed=costed,
        runs_per_bucket=runs,
        failed_per_bucket=failed,
        tokens_per_bucket=tokens,
    )


def _cost(
    split: Mapping[str | None, list[int]], prices: Mapping[str, Price]
) -> tuple[float | None, int]:
    """The estimated cost of the runs whose model has a price and that told both prompt
    and completion tokens, and how many runs that is (the rest are left out, not guessed)."""
    total, costed = 0.0, 0
    for model, (prompt, completion, count) in split.items():
        usage = Usage(prompt_tokens=prompt, completion_tokens=completion)
        cost = estimate_cost(usage, model, prices)
        if cost is not None:
            total += cost
            costed += count
    return (total if costed else None), costed


_SPARKS = "▁▂▃▄▅▆▇█"


def spark(values: list[int], top: int | None = None) -> str:
    """A text sparkline (the CLI's; the app draws Textual's): blank for none, ▁ to █ up to
    ``top`` (the largest value by default; give the runs' to draw failures on their scale)."""
    top = max(values, default=0) if top is None else top
    if top <= 0:
        return " " * len(values)
    return "".join(
        " " if value <= 0 else _SPARKS[min(7, max(0, math.ceil(value * 8 / top) - 1))]
        for value in values
    )
