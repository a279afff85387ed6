"""``waiting_for``: which task a paused run waits on, derived in the merge, kept in the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crewtui.api.models import Kickoff, Observation, RunState, TaskResult, TaskState, WaitingFor
from crewtui.core.merge import apply_observation
from crewtui.core.store import Store

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _paused(at: datetime, task: str = "research_task") -> Observation:
    """A live poll of a paused run: PAUSED, the message, the last task it finished."""
    return Observation(
        kickoff_id="k",
        observed_at=at,
        state=RunState.PAUSED,
        message="Waiting for human input",
        tasks=[TaskResult(task_id=task, agent="Researcher", state=TaskState.COMPLETED)],
    )


def test_a_pause_names_the_last_finished_task_and_keeps_its_start_while_it_lasts() -> None:
    kickoff = Kickoff(kickoff_id="k", crew="travel", created_at=T0, updated_at=T0)
    first = apply_observation(kickoff, _paused(T0 + timedelta(seconds=5)))
    again = apply_observation(first, _paused(T0 + timedelta(seconds=9)))
    expected = WaitingFor(
        task_id="research_task",
        agent="Researcher",
        message="Waiting for human input",
        since=T0 + timedelta(seconds=5),
    )
    assert first.waiting_for == expected and again.waiting_for == expected
    running = apply_observation(
        again,
        Observation(kickoff_id="k", observed_at=T0 + timedelta(seconds=12), state=RunState.RUNNING),
    )
    assert running.waiting_for is None


def test_the_list_rows_of_the_store_carry_the_waiting_task() -> None:
    store = Store.in_memory()
    kickoff = Kickoff(kickoff_id="k", crew="travel", created_at=T0, updated_at=T0)
    store.save_kickoff(apply_observation(kickoff, _paused(T0)))
    [row] = store.list_kickoffs()
    assert row.waiting_for is not None and row.waiting_for.task_id == "research_task"
    store.close()
