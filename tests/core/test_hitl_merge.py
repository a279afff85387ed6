"""How a flow's human-in-the-loop request merges with what polls and pushes say.

The request says exactly what waits; a poll only guesses (the last finished task) and must
not move it. Once answered, the run stops showing as waiting even while the flow has not
taken the answer in yet (polls still say PAUSED), until a new request arrives.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crewtui.api.hitl import parse_request
from crewtui.api.models import Kickoff, Observation, TaskResult
from crewtui.api.rows import WaitingFor
from crewtui.api.states import Dialect, RunState, TaskState
from crewtui.core.merge import answer_request, apply_observation

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
RUN = "7d0c1e52-3f7a-4c61-9b0e-2a4f5c6d7e8f"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def request(request_id: str, method: str, created: float) -> Observation:
    body = {
        "event": "new_request",
        "request": {
            "id": request_id,
            "flow_id": RUN,
            "method_name": method,
            "message": f"Approve {method}?",
            "created_at": at(created).isoformat(),
        },
        "deployment": {"name": "onboarding"},
        "callback_url": "https://example.test/callback",
    }
    parsed = parse_request(body, at(created + 1))
    assert parsed is not None
    return parsed.observation(RUN)


def poll(state: RunState, seconds: float, finished: str | None = None) -> Observation:
    tasks = [TaskResult(task_id=finished, state=TaskState.COMPLETED)] if finished else []
    return Observation(
        kickoff_id=RUN, observed_at=at(seconds), state=state, tasks=tasks, dialect=Dialect.LIVE
    )


def running() -> Kickoff:
    return Kickoff(kickoff_id=RUN, crew="onboarding", state=RunState.RUNNING,
                   created_at=T0, updated_at=T0)  # fmt: skip


def test_a_request_makes_the_run_wait_on_its_method_since_it_was_made() -> None:
    waiting = apply_observation(running(), request("r1", "approve_account", 5))
    assert waiting.state is RunState.PAUSED
    assert waiting.waiting_for == WaitingFor(
        task_id="approve_account", message="Approve approve_account?", since=at(5), request_id="r1"
    )


def test_a_poll_naming_another_finished_task_does_not_move_the_request() -> None:
    waiting = apply_observation(running(), request("r1", "approve_account", 5))
    polled = apply_observation(waiting, poll(RunState.PAUSED, 8, finished="collect_details"))
    assert polled.waiting_for == waiting.waiting_for


def test_an_answered_request_stops_the_wait_even_while_polls_still_say_paused() -> None:
    waiting = apply_observation(running(), request("r1", "approve_account", 5))
    answered = answer_request(waiting, at(10))
    assert (answered.state, answered.waiting_for) == (RunState.RUNNING, None)
    still = apply_observation(answered, poll(RunState.PAUSED, 12, finished="approve_account"))
    assert (still.state, still.waiting_for) == (RunState.RUNNING, None)
    assert still.hitl_answered_at == at(10)


def test_a_new_request_after_an_answer_makes_the_run_wait_again() -> None:
    waiting = apply_observation(running(), request("r1", "approve_account", 5))
    answered = answer_request(waiting, at(10))
    again = apply_observation(answered, request("r2", "confirm_plan", 20))
    assert again.state is RunState.PAUSED
    assert again.waiting_for is not None and again.waiting_for.request_id == "r2"
    assert again.hitl_answered_at is None


def test_the_run_seen_going_again_ends_the_answered_pause() -> None:
    waiting = apply_observation(running(), request("r1", "approve_account", 5))
    answered = answer_request(waiting, at(10))
    going = apply_observation(answered, poll(RunState.RUNNING, 15))
    assert going.hitl_answered_at is None
    paused_later = apply_observation(going, poll(RunState.PAUSED, 30, finished="confirm_plan"))
    assert paused_later.state is RunState.PAUSED
    assert paused_later.waiting_for is not None and paused_later.waiting_for.request_id is None
