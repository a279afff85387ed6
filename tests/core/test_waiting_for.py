"""``waiting_for``: which task a paused run waits on, derived in the merge, kept in the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crewtui.api.models import Kickoff, Observation, TaskResult
from crewtui.api.pushes import parse_push
from crewtui.api.rows import Progress, WaitingFor
from crewtui.api.states import Dialect, RunState, TaskState
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


# -- a pause pushed as a human_feedback_requested event ---------------------------------------


def _event(kind: str, at: datetime, **data: object) -> dict[str, object]:
    return {"id": f"{kind}-{at.isoformat()}", "execution_id": "k", "timestamp": at.isoformat(),
            "type": kind, "data": data}  # fmt: skip


def _pushed(*events: dict[str, object]) -> list[Observation]:
    facts = parse_push("events", {"events": list(events)}, T0 + timedelta(minutes=5))
    return [fact for fact in facts if isinstance(fact, Observation)]


def _documented_running(at: datetime, completed: int) -> Observation:
    return Observation(
        kickoff_id="k",
        observed_at=at,
        state=RunState.RUNNING,
        dialect=Dialect.DOCUMENTED,
        current_task="planning_task",
        progress=Progress(completed=completed, total=2),
    )


def _paused_by_push(kickoff: Kickoff) -> Kickoff:
    asked = _event(
        "human_feedback_requested",
        T0 + timedelta(seconds=50),
        task_name="research_task",
        agent_role="Travel Researcher",
        message="Approve the research?",
    )
    for fact in _pushed(asked):
        kickoff = apply_observation(kickoff, fact)
    return kickoff


def test_a_human_feedback_requested_event_pauses_the_run_on_its_task() -> None:
    kickoff = Kickoff(kickoff_id="k", crew="travel", created_at=T0, updated_at=T0)
    paused = _paused_by_push(kickoff)
    assert paused.state is RunState.PAUSED
    assert paused.waiting_for == WaitingFor(
        task_id="research_task",
        agent="Travel Researcher",
        message="Approve the research?",
        since=T0 + timedelta(seconds=50),
    )
    # A live poll of the same pause keeps the prompt and the moment it began.
    polled = apply_observation(paused, _paused(T0 + timedelta(seconds=60)))
    assert polled.waiting_for is not None
    assert polled.waiting_for.task_id == "research_task"
    assert polled.waiting_for.message == "Approve the research?"
    assert polled.waiting_for.since == T0 + timedelta(seconds=50)


def test_a_pushed_pause_outlasts_documented_polls_until_the_run_moves_on() -> None:
    kickoff = Kickoff(kickoff_id="k", crew="travel", created_at=T0, updated_at=T0)
    # Last polled before the first task finished; the pause follows it.
    kickoff = apply_observation(kickoff, _documented_running(T0 + timedelta(seconds=40), 0))
    paused = _paused_by_push(kickoff)
    # The documented dialect has no word for a pause: "running", with the waiting task done.
    still = apply_observation(paused, _documented_running(T0 + timedelta(seconds=70), 1))
    assert still.state is RunState.PAUSED and still.waiting_for == paused.waiting_for
    # An event from before the pause, delivered late, does not end it either.
    (late,) = _pushed(_event("crew_kickoff_started", T0 + timedelta(seconds=1)))
    assert apply_observation(still, late).state is RunState.PAUSED
    # Progress beyond the pause, or a task started after it, does.
    moved = apply_observation(still, _documented_running(T0 + timedelta(seconds=90), 2))
    assert moved.state is RunState.RUNNING and moved.waiting_for is None
    (started,) = _pushed(
        _event("task_started", T0 + timedelta(seconds=80), task_name="planning_task")
    )
    answered_elsewhere = apply_observation(still, started)
    assert answered_elsewhere.state is RunState.RUNNING
    assert answered_elsewhere.waiting_for is None
