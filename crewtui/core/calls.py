"""A run's LLM calls, each counted once, in bounded space however long the run.

Each ``llm_call_completed`` event says one call's tokens; the service may deliver one twice
(a retried push comes seconds later). A run keeps two things, not every call it ever saw:

- ``Kickoff.call_usage``: per task, the running sum of its distinct calls (a call no task
  claims is summed under :data:`NO_TASK`). A task's and the run's usage are read from these.
- ``Kickoff.llm_calls``: the newest :data:`CALL_WINDOW` calls by event time, whose ids tell
  a repeat from a new call.

The trade-off: a repeat of a call that has left the window (more than ``CALL_WINDOW`` newer
calls of the same run arrived since) is counted again. Repeats are retries within seconds,
and no run makes hundreds of LLM calls in that time, so in practice every repeat is caught;
in exchange a run with 100,000 calls stores, loads and rewrites what one with 500 does
(about 100 KB: every merge of the run reads and writes it, so the window stays small).

A history written before the sums existed kept every call and no sums: its list is summed
when it is next merged (:func:`call_totals`), so old runs read and continue exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from crewtui.api.models import Kickoff, LlmCall
from crewtui.api.rows import USAGE_FIELDS, Usage

# How many of a run's newest calls are kept to recognise a repeat (see the module doc).
CALL_WINDOW = 500
# The key of the calls no task claimed: they count in the run's usage only.
NO_TASK = ""
_UNDATED = datetime.min.replace(tzinfo=UTC)

CallRecord = tuple[list[LlmCall], dict[str, Usage]]


def call_totals(kickoff: Kickoff) -> dict[str, Usage]:
    """The sums of the run's distinct calls, per task (an old history's from its full list)."""
    if kickoff.call_usage or not kickoff.llm_calls:
        return kickoff.call_usage
    return _sum_by_task(kickoff.llm_calls)


def record_calls(kickoff: Kickoff, new: list[LlmCall]) -> CallRecord:
    """The run's newest calls and per-task sums once ``new`` is counted: a call whose id is
    in the window is a repeat and counts nothing."""
    totals = dict(call_totals(kickoff))
    seen = {call.call_id for call in kickoff.llm_calls}
    fresh: list[LlmCall] = []
    for call in new:
        if call.call_id in seen:
            continue
        seen.add(call.call_id)
        fresh.append(call)
        task = call.task_id or NO_TASK
        known = totals.get(task)
        totals[task] = call.usage if known is None else _added(known, call.usage)
    if not fresh and len(kickoff.llm_calls) <= CALL_WINDOW:
        return kickoff.llm_calls, totals
    return _newest([*kickoff.llm_calls, *fresh]), totals


def merge_call_records(one: Kickoff, other: Kickoff) -> CallRecord:
    """What two writers of one run (two processes) counted, without counting a call twice.

    Sums cannot be added: both writers may have seen the same calls. Each of three figures
    is a sum of distinct calls, so none exceeds the truth: one writer's sum, the other's,
    and the sum of the calls in the union of their windows. Each count of each task takes
    the largest of the three, which never over-counts and is exact while no call has left
    either window (every run under ``CALL_WINDOW`` calls). It under-counts a task only when
    calls have left the windows and each writer alone saw some of that task's calls that
    the other never did (two processes each receiving a part of one run's pushes).
    """
    union = {call.call_id: call for call in other.llm_calls}
    union.update({call.call_id: call for call in one.llm_calls})
    calls = list(union.values())
    sums = (call_totals(one), call_totals(other), _sum_by_task(calls))
    tasks = sorted({task for totals in sums for task in totals})
    totals = {task: _largest(*(totals.get(task) for totals in sums)) for task in tasks}
    return _newest(calls), totals


def run_call_usage(totals: dict[str, Usage]) -> Usage | None:
    """Every distinct call of the run added up (tasks' and unclaimed ones)."""
    return sum_usage(list(totals.values()))


def merge_usage(*reports: Usage | None) -> Usage | None:
    """Several usage reports of one thing (a run, a task) as one: each count the largest.

    Every source reports a running total (the crew webhook, ``usage_metrics`` on each poll,
    the sum of the LLM calls seen so far), never an increment, and totals only grow. So the
    same report seen twice, late or in any order, cannot count twice: taking the largest is
    the same whatever the order and however often. A count no report gave stays None.
    """
    known = [report for report in reports if report is not None]
    if not known:
        return None
    return Usage(**_count_by_count(known, max))


def sum_usage(reports: list[Usage]) -> Usage | None:
    """Distinct LLM calls added up, count by count; a count none of them gave stays None."""
    return Usage(**_count_by_count(reports, sum)) if reports else None


def _count_by_count(
    reports: list[Usage], combine: Callable[[list[int]], int]
) -> dict[str, int | None]:
    combined: dict[str, int | None] = {}
    for name in USAGE_FIELDS:
        values = [value for report in reports if (value := getattr(report, name)) is not None]
        combined[name] = combine(values) if values else None
    return combined


def _sum_by_task(calls: list[LlmCall]) -> dict[str, Usage]:
    by_task: dict[str, list[Usage]] = {}
    for call in calls:
        by_task.setdefault(call.task_id or NO_TASK, []).append(call.usage)
    return {task: _largest(sum_usage(usages)) for task, usages in by_task.items()}


def _added(known: Usage, call: Usage) -> Usage:
    return _largest(sum_usage([known, call]))


def _largest(*reports: Usage | None) -> Usage:
    """:func:`merge_usage` of reports at least one of which is known."""
    merged = merge_usage(*reports)
    assert merged is not None, "a sum of at least one call"
    return merged


def _newest(calls: list[LlmCall]) -> list[LlmCall]:
    """The newest ``CALL_WINDOW`` calls, by event time then id: the same list whatever
    order they arrived in."""
    ordered = sorted(calls, key=lambda call: (call.at or _UNDATED, call.call_id))
    return ordered[-CALL_WINDOW:]
