"""A run's LLM calls in bounded space: each counted once, totals exact, however many calls."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crewtui.api.models import Kickoff, LlmCall
from crewtui.api.rows import Usage
from crewtui.core import calls as calls_module
from crewtui.core.calls import CALL_WINDOW
from crewtui.core.merge import apply_observation, merge_stored
from crewtui.core.store import Store
from tests.core.test_usage import KICKOFF, T0, fresh, llm_call, observations

TASKS = ("research_task", "planning_task")


def deliver(kickoff: Kickoff, numbers: range | list[int]) -> Kickoff:
    """Call ``n``: ``n`` prompt and 1 completion tokens, for task ``n % 2``, at second ``n``."""
    for n in numbers:
        body = {"events": [llm_call(f"c{n:05}", TASKS[n % 2], n, n, 1)]}
        for obs in observations("events", body, seconds=n):
            kickoff = apply_observation(kickoff, obs)
    return kickoff


def expected(numbers: range) -> tuple[dict[str, Usage], Usage]:
    per_task: dict[str, Usage] = {}
    for index, task in enumerate(TASKS):
        mine = [n for n in numbers if n % 2 == index]
        prompt = sum(mine)
        per_task[task] = Usage(
            total_tokens=prompt + len(mine),
            prompt_tokens=prompt,
            completion_tokens=len(mine),
            successful_requests=len(mine),
        )
    prompt = sum(numbers)
    whole = Usage(
        total_tokens=prompt + len(numbers),
        prompt_tokens=prompt,
        completion_tokens=len(numbers),
        successful_requests=len(numbers),
    )
    return per_task, whole


def with_tasks(kickoff: Kickoff) -> Kickoff:
    body = {"events": [{"id": f"s{i}", "execution_id": KICKOFF, "type": "task_started",
                        "timestamp": T0.isoformat(), "data": {"task_name": task}}
                       for i, task in enumerate(TASKS)]}  # fmt: skip
    for obs in observations("events", body, seconds=0):
        kickoff = apply_observation(kickoff, obs)
    return kickoff


def stored_extra_size(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        [(size,)] = conn.execute("SELECT length(extra) FROM kickoffs").fetchall()
    return int(size)


def test_ten_thousand_calls_leave_a_bounded_record_and_exact_totals(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    store = Store.open(path)
    try:
        kickoff = with_tasks(fresh())
        sizes = []
        for start in range(0, 10_000, 2_500):
            kickoff = deliver(kickoff, range(start, start + 2_500))
            kickoff = store.save_kickoff(kickoff)
            sizes.append(stored_extra_size(path))
        # Retried deliveries of calls still in the window count nothing.
        kickoff = store.save_kickoff(deliver(kickoff, range(9_500, 10_000)))
        stored = store.get_kickoff(KICKOFF)
    finally:
        store.close()
    assert stored is not None
    per_task, whole = expected(range(10_000))
    for known in (kickoff, stored):
        assert len(known.llm_calls) == CALL_WINDOW
        assert known.llm_calls[-1].call_id == "c09999"
        assert {task.task_id: task.usage for task in known.tasks} == per_task
        assert known.usage == whole
    # The record stops growing once the window is full: 2,500 calls or 10,000, one size.
    assert max(sizes) - min(sizes) < 1_000, sizes


def test_a_repeated_call_within_the_window_counts_once_in_any_order() -> None:
    numbers = list(range(50))
    kickoff = deliver(with_tasks(fresh()), [*reversed(numbers), *numbers[::3], *numbers])
    per_task, whole = expected(range(50))
    assert {task.task_id: task.usage for task in kickoff.tasks} == per_task
    assert kickoff.usage == whole


def test_a_history_that_kept_every_call_loads_and_continues_exactly(tmp_path: Path) -> None:
    """Before the sums, a run kept every call: it reads as it was and counts on from it."""
    every_call = [
        LlmCall(call_id=f"c{n:05}", task_id=TASKS[n % 2], usage=Usage(total_tokens=n))
        for n in range(CALL_WINDOW + 500)
    ]
    old = with_tasks(fresh()).model_copy(update={"llm_calls": every_call})
    store = Store.open(tmp_path / "history.sqlite3")
    try:
        store.save_kickoff(old)
        loaded = store.get_kickoff(KICKOFF)
        assert loaded is not None and loaded.llm_calls == every_call
        body = {"events": [llm_call("new", TASKS[0], 1, 7, 3)]}
        [obs] = observations("events", body)
        saved = store.save_kickoff(apply_observation(loaded, obs))
    finally:
        store.close()
    assert len(saved.llm_calls) == CALL_WINDOW
    research = sum(range(0, CALL_WINDOW + 500, 2)) + 10
    assert saved.call_usage["research_task"].total_tokens == research
    assert saved.usage is not None
    assert saved.usage.total_tokens == sum(range(CALL_WINDOW + 500)) + 10


# -- two processes ---------------------------------------------------------------------------


def test_two_processes_that_saw_the_same_calls_count_them_once() -> None:
    one = deliver(with_tasks(fresh()), range(0, 400))
    other = deliver(with_tasks(fresh()), range(200, 450)).model_copy(
        update={"updated_at": T0 + timedelta(hours=1)}
    )
    per_task, whole = expected(range(450))
    assert CALL_WINDOW >= 450  # every call is still in a window: the merge is exact
    for merged in (merge_stored(one, other), merge_stored(other, one)):
        assert {task.task_id: task.usage for task in merged.tasks} == per_task
        assert merged.usage == whole


@settings(max_examples=40, deadline=None)
@given(
    seen=st.lists(st.sampled_from([0, 1, 2]), min_size=1, max_size=40),
    window=st.integers(1, 12),
)
def test_two_processes_never_over_count_and_are_exact_while_the_window_holds(
    seen: list[int], window: int
) -> None:
    """Call ``n`` was seen by the first process (0), the second (1) or both (2); each
    process counted exactly what it saw; merged, no count exceeds the truth, and it is the
    truth when every call is still in a window."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(calls_module, "CALL_WINDOW", window)
        both = range(len(seen))
        one = deliver(fresh(), [n for n in both if seen[n] in (0, 2)])
        other = deliver(fresh(), [n for n in both if seen[n] in (1, 2)])
        merged = merge_stored(one, other)
    _, truth = expected(both)
    assert merged.usage is not None
    for name in ("total_tokens", "prompt_tokens", "completion_tokens", "successful_requests"):
        count = getattr(merged.usage, name)
        assert count <= getattr(truth, name)
        for alone in (one.usage, other.usage):
            assert alone is None or count >= getattr(alone, name)
    if len(seen) <= window:
        assert merged.usage == truth
