"""The demo's earlier runs: a seeded, realistic history in every finished state."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crewtui.api.states import Dialect, RunState, TaskState
from crewtui.core.store import Store
from crewtui.demo.history import HISTORY_RUNS, seed_history
from crewtui.sim.crews import CREWS

NOW = datetime(2026, 3, 18, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize("dialect", list(Dialect))
def test_history_holds_every_finished_state_before_now(dialect: Dialect) -> None:
    store = Store.in_memory()
    written = seed_history(store, seed=5, now=NOW, dialect=dialect)
    stored = store.list_kickoffs(limit=None)
    assert len(stored) == len(written) == HISTORY_RUNS
    assert {row.state for row in stored} == {
        RunState.COMPLETED,
        RunState.FAILED,
        RunState.CANCELLED,
        RunState.LOST,
    }
    assert all(row.created_at < row.updated_at < NOW for row in stored)
    assert {row.crew for row in stored} == set(CREWS)


def test_history_runs_are_the_crews_own_work() -> None:
    """Tasks, agents, outputs and failures come from the simulator's crew definitions."""
    store = Store.in_memory()
    for kickoff in seed_history(store, seed=5, now=NOW):
        crew = CREWS[kickoff.crew]
        agents = {task.task_id: task.agent for task in crew.tasks}
        assert kickoff.tasks
        assert all(agents[task.task_id] == task.agent for task in kickoff.tasks)
        assert all(task.started_at and task.finished_at for task in kickoff.tasks)
        if kickoff.state is RunState.COMPLETED:
            assert kickoff.output == crew.tasks[-1].render(kickoff.inputs)
            assert all(task.state is TaskState.COMPLETED for task in kickoff.tasks)
            assert kickoff.execution_time and kickoff.execution_time > crew.pending
            assert store.list_steps(kickoff.kickoff_id)  # polled steps, with webhooks' shape
        if kickoff.state is RunState.FAILED:
            assert kickoff.error == crew.error
        if kickoff.state in (RunState.LOST, RunState.CANCELLED):
            assert kickoff.error or kickoff.message


def test_the_same_seed_gives_the_same_history() -> None:
    first, second = Store.in_memory(), Store.in_memory()
    seed_history(first, seed=11, now=NOW)
    seed_history(second, seed=11, now=NOW)
    other = seed_history(Store.in_memory(), seed=12, now=NOW)
    rows = first.list_kickoffs(limit=None)
    assert rows == second.list_kickoffs(limit=None)
    assert [first.get_kickoff(row.kickoff_id) for row in rows] == [
        second.get_kickoff(row.kickoff_id) for row in rows
    ]
    assert {row.kickoff_id for row in rows}.isdisjoint(kickoff.kickoff_id for kickoff in other)


@pytest.mark.parametrize("dialect", list(Dialect))
def test_history_runs_carry_what_pushes_told_tokens_per_task_and_the_model(
    dialect: Dialect,
) -> None:
    """The demo asks for pushes, so its earlier runs have per-task tokens and a model (and
    so an estimated cost), which no poll tells; the stored run is what was replayed."""
    store = Store.in_memory()
    for kickoff in seed_history(store, seed=5, now=NOW, dialect=dialect):
        if kickoff.state is not RunState.COMPLETED:
            continue
        stored = store.get_kickoff(kickoff.kickoff_id)
        assert stored is not None and stored.model == "gpt-4o"
        assert stored.usage is not None and stored.usage.total_tokens
        per_task = [task.usage.total_tokens for task in stored.tasks if task.usage is not None]
        assert len(per_task) == len(stored.tasks) and all(per_task)
        assert sum(per_task) <= stored.usage.total_tokens
