"""Two runs of one crew side by side: why was this run slower, or different, from that one?

Task by task (in the order the runs met them): how long each took, its tokens and its
agent; then the inputs that differ and a line diff of the final outputs (``difflib``). The
diff is of untrusted text: it is returned as plain strings, and every view makes it inert.
Outputs can be hundreds of MB, so each side is compared on its first ``OUTPUT_CAP``
characters and the diff is cut at ``DIFF_LINES``; the result says when either happened.

Runs of two crews have no tasks in common: comparing them is refused with one sentence.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crewtui.api.errors import ConfigError, CrewtuiError, ExitCode
from crewtui.core.durations import task_seconds
from crewtui.core.format import UNKNOWN, format_duration, tokens_text
from crewtui.core.history import History
from crewtui.core.pricing import Price, cost_text, estimate_cost
from crewtui.core.timing import run_duration

if TYPE_CHECKING:
    from crewtui.api.models import Kickoff, TaskResult

OUTPUT_CAP = 100_000
DIFF_LINES = 2_000


class NotInHistory(CrewtuiError):
    """A run to compare is not in the local history (only runs crewtui saw can be)."""

    exit_code = ExitCode.NOT_FOUND


@dataclass(frozen=True)
class Output:
    """A run's final output as compared: its first ``OUTPUT_CAP`` characters at most."""

    text: str | None
    cut: bool = False

    @classmethod
    def of(cls, text: str | None) -> Output:
        if text is None or len(text) <= OUTPUT_CAP:
            return cls(text)
        return cls(text[:OUTPUT_CAP], cut=True)


@dataclass(frozen=True)
class TaskPair:
    """One task as each run had it (``None``: that run never reached it)."""

    task_id: str
    left: TaskResult | None
    right: TaskResult | None

    def as_json(self) -> dict[str, Any]:
        def side(task: TaskResult | None) -> dict[str, Any] | None:
            if task is None:
                return None
            seconds = task_seconds(task)
            return {
                "state": task.state.value,
                "agent": task.agent,
                "seconds": None if seconds is None else round(seconds, 3),
                "tokens": task.usage.total_tokens if task.usage else None,
            }

        return {"task_id": self.task_id, "left": side(self.left), "right": side(self.right)}


@dataclass(frozen=True)
class Comparison:
    """Two runs of one crew, task by task, with their inputs and outputs compared."""

    left: Kickoff
    right: Kickoff
    tasks: list[TaskPair]
    inputs: list[tuple[str, str | None, str | None]]
    diff: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def same_output(self) -> bool:
        return not self.diff

    def as_json(self, now: datetime, prices: Mapping[str, Price]) -> dict[str, Any]:
        def run(kickoff: Kickoff) -> dict[str, Any]:
            duration = run_duration(kickoff, now)
            cost = estimate_cost(kickoff.usage, kickoff.model, prices)
            return {
                "kickoff_id": kickoff.kickoff_id,
                "state": kickoff.state.value,
                "seconds": None if duration is None else round(duration, 3),
                "tokens": kickoff.usage.total_tokens if kickoff.usage else None,
                "estimated_cost_usd": None if cost is None else round(cost, 6),
            }

        return {
            "crew": self.left.crew,
            "left": run(self.left),
            "right": run(self.right),
            "tasks": [pair.as_json() for pair in self.tasks],
            "inputs": [
                {"name": name, "left": left, "right": right} for name, left, right in self.inputs
            ],
            "same_output": self.same_output,
            "output_diff": self.diff,
            "notes": self.notes,
        }


# The columns of the side-by-side table (the CLI prints it, the app draws it).
TABLE_COLUMNS = ("task", "agent", "time A", "time B", "Δ time", "tokens A", "tokens B")


def table_rows(comparison: Comparison) -> list[tuple[str, ...]]:
    """One row of words per task (untrusted names: views make them inert). The agent is
    shown once when both runs had the same, else ``A → B``."""
    rows = []
    for pair in comparison.tasks:
        left, right = pair.left, pair.right
        if left is not None and right is not None and left.agent == right.agent:
            agent = left.agent or UNKNOWN
        else:
            agent = " → ".join(_agent(task) for task in (left, right))
        seconds = [task_seconds(task) if task is not None else None for task in (left, right)]
        tokens = [
            task.usage.total_tokens if task is not None and task.usage else None
            for task in (left, right)
        ]
        rows.append(
            (
                pair.task_id,
                agent,
                *(_seconds_text(value) for value in seconds),
                _delta_text(*seconds),
                *("" if value is None else tokens_text(value) for value in tokens),
            )
        )
    return rows


def run_line(kickoff: Kickoff, now: datetime, prices: Mapping[str, Price]) -> str:
    """``5f1c2d3e completed · 1m48s · 12.3k tokens · ≈ $0.042 (estimate)``."""
    parts = [kickoff.short_id, kickoff.state.value]
    duration = run_duration(kickoff, now)
    if duration is not None:
        parts.append(format_duration(duration, precise=True))
    if kickoff.usage is not None and kickoff.usage.total_tokens is not None:
        parts.append(f"{tokens_text(kickoff.usage.total_tokens)} tokens")
    cost = estimate_cost(kickoff.usage, kickoff.model, prices)
    if cost is not None:
        parts.append(cost_text(cost))
    return " · ".join(parts)


def _agent(task: TaskResult | None) -> str:
    """A side's agent; ``·`` when that run never reached the task."""
    if task is None:
        return "·"
    return task.agent or UNKNOWN


def _seconds_text(seconds: float | None) -> str:
    return UNKNOWN if seconds is None else format_duration(seconds, precise=True)


def _delta_text(left: float | None, right: float | None) -> str:
    """``+17.6s`` (B took longer), ``-3.0s``, or blank when either is not known."""
    if left is None or right is None:
        return ""
    delta = right - left
    return ("+" if delta >= 0 else "-") + format_duration(abs(delta), precise=True)


def compare(left: Kickoff, right: Kickoff, left_output: Output, right_output: Output) -> Comparison:
    """``left`` against ``right`` (their final outputs as read, maybe cut)."""
    if left.crew != right.crew:
        raise ConfigError(
            f"{left.short_id} is a run of {left.crew} and {right.short_id} of {right.crew}: "
            "compare two runs of the same crew."
        )
    return Comparison(
        left=left,
        right=right,
        tasks=_pairs(left, right),
        inputs=[
            (name, left.inputs.get(name), right.inputs.get(name))
            for name in sorted({*left.inputs, *right.inputs})
            if left.inputs.get(name) != right.inputs.get(name)
        ],
        diff=(diff := _diff(left, right, left_output, right_output)),
        notes=_notes(left_output, right_output, diff),
    )


def _pairs(left: Kickoff, right: Kickoff) -> list[TaskPair]:
    """Every task of either run: the left run's order, then tasks only the right one met."""
    lefts = {task.task_id: task for task in left.tasks}
    rights = {task.task_id: task for task in right.tasks}
    order = [*lefts, *(task_id for task_id in rights if task_id not in lefts)]
    return [TaskPair(task_id, lefts.get(task_id), rights.get(task_id)) for task_id in order]


def _diff(left: Kickoff, right: Kickoff, left_output: Output, right_output: Output) -> list[str]:
    """A unified diff of the outputs, at most ``DIFF_LINES`` lines (plus one that says so)."""
    lines = difflib.unified_diff(
        (left_output.text or "").splitlines(),
        (right_output.text or "").splitlines(),
        fromfile=left.short_id,
        tofile=right.short_id,
        lineterm="",
    )
    diff: list[str] = []
    for line in lines:
        if len(diff) == DIFF_LINES:
            return [*diff, _CUT_DIFF]
        diff.append(line)
    return diff


_CUT_DIFF = f"… the diff goes on; only its first {DIFF_LINES:,} lines are shown"


def _notes(left: Output, right: Output, diff: list[str]) -> list[str]:
    notes = []
    cut = [side for side, output in (("left", left), ("right", right)) if output.cut]
    if cut:
        which = " and ".join(cut)
        notes.append(
            f"The {which} output{'s were' if len(cut) == 2 else ' was'} compared on "
            f"{'their' if len(cut) == 2 else 'its'} first {OUTPUT_CAP:,} characters only."
        )
    if diff and diff[-1] == _CUT_DIFF:
        notes.append(f"The diff was cut at {DIFF_LINES:,} lines.")
    if left.text is None or right.text is None:
        notes.append("A run without an output is compared as empty.")
    return notes


def load_compared(store: History, kickoff_id: str) -> tuple[Kickoff, Output]:
    """A run from the history and its output as compared: a large output is read from the
    history in pieces, only as far as the cap (never whole)."""
    lean = store.get_kickoff_lean(kickoff_id, hold=OUTPUT_CAP)
    if lean is None:
        raise NotInHistory(
            f"Kickoff {kickoff_id[:8]} is not in the local history; only runs crewtui has "
            "seen can be compared (`crewtui track ID` adds one)."
        )
    kickoff, stored = lean
    try:
        source = stored.get(None)
        if source is None:
            return kickoff, Output.of(kickoff.output)
        head = source.read(0, OUTPUT_CAP * 4).decode("utf-8", errors="ignore")
        return kickoff, Output(head[:OUTPUT_CAP], cut=True)
    finally:
        for held in stored.values():
            held.close()
