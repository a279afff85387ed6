"""The cancel rule: a run crewtui stopped stays cancelled, whatever is said next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crewtui.api.models import Kickoff, Observation, TaskResult
from crewtui.api.states import RunState, TaskState
from crewtui.core.merge import apply_observation, confirm_stop, merge_stored

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LATER = T0 + timedelta(seconds=30)


def running() -> Kickoff:
    return apply_observation(
        Kickoff(kickoff_id="k", crew="c", created_at=T0, updated_at=T0, cancel_request="sent"),
        Observation(
            kickoff_id="k",
            observed_at=T0 + timedelta(seconds=1),
            state=RunState.RUNNING,
            current_task="planning_task",
            tasks=[TaskResult(task_id="planning_task", state=TaskState.RUNNING)],
            execution_time=12.0,
        ),
    )


def documented_error(at: datetime) -> Observation:
    """How the documented dialect reports a stopped run: an error."""
    return Observation(kickoff_id="k", observed_at=at, state=RunState.FAILED, error="stopped")


def test_a_confirmed_stop_cancels_and_cuts_the_running_task_short() -> None:
    stopped = confirm_stop(running(), LATER)
    assert stopped.state is RunState.CANCELLED
    assert stopped.cancel_request == "confirmed"
    assert stopped.current_task is None
    assert stopped.tasks[0].state is TaskState.FAILED
    assert stopped.finished_at == LATER
    assert stopped.execution_time is None  # a running figure is not how long it took


def test_the_confirmation_outranks_an_error_polled_while_it_was_on_its_way() -> None:
    raced = apply_observation(running(), documented_error(LATER))
    assert raced.state is RunState.FAILED
    stopped = confirm_stop(raced, LATER + timedelta(seconds=1))
    assert (stopped.state, stopped.error) == (RunState.CANCELLED, None)
    assert stopped.finished_at == LATER


def test_what_is_said_after_the_stop_never_moves_it() -> None:
    stopped = confirm_stop(running(), LATER)
    assert apply_observation(stopped, documented_error(LATER + timedelta(seconds=5))) == stopped


def test_another_process_unaware_of_the_stop_cannot_overwrite_it() -> None:
    stopped = confirm_stop(running(), LATER)
    elsewhere = apply_observation(running(), documented_error(LATER + timedelta(seconds=5)))
    assert elsewhere.updated_at > stopped.updated_at
    for stored, incoming in ((stopped, elsewhere), (elsewhere, stopped)):
        merged = merge_stored(stored, incoming)
        assert merged.state is RunState.CANCELLED
        assert merged.cancel_request == "confirmed"
