"""A flow execution overwritten under the same id runs again: shown restarted, the attempt
that ended kept; a crew's end stays final (the merge rules, then the tracker over loopback)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from crewtui.api.models import Kickoff, Observation, TaskResult
from crewtui.api.profile import CrewProfile
from crewtui.api.pushes import parse_push
from crewtui.api.secret import Secret
from crewtui.api.states import RunState, TaskState
from crewtui.core.merge import apply_observation, begin_attempt, merge_stored
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.settings import PollSettings
from crewtui.sim import SimServer
from tests.core.live_runtime import webhook_runtime
from tests.helpers import wait_until

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
FAST = PollSettings(min_interval=0.05, max_interval=0.2, not_found_grace=0.5)
FLOW = "onboarding"
METHODS = ["collect_profile", "verify_identity", "approve_account", "send_welcome"]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _ended(kind: str = "flow", state: RunState = RunState.COMPLETED) -> Kickoff:
    """A run that went through one method (task) and ended at 30 s."""
    going = Kickoff(kickoff_id="k", crew="onboarding", created_at=T0, updated_at=T0)
    going = apply_observation(
        going,
        Observation(
            kickoff_id="k",
            observed_at=at(1),
            source="webhook",
            state=RunState.RUNNING,
            kind="flow" if kind == "flow" else None,
            tasks=[TaskResult(task_id="collect_profile", output="profile")],
        ),
    )
    return apply_observation(
        going,
        Observation(
            kickoff_id="k",
            observed_at=at(30),
            source="webhook",
            state=state,
            output="# Welcome" if state is RunState.COMPLETED else None,
            error="boom" if state is RunState.FAILED else None,
        ),
    )


def _started(seconds: float, source: str = "webhook", **facts: object) -> Observation:
    return Observation(
        kickoff_id="k",
        observed_at=at(seconds),
        source=source,  # type: ignore[arg-type]
        state=RunState.RUNNING,
        **facts,  # type: ignore[arg-type]
    )


def test_a_flow_seen_going_after_its_end_is_restarted_and_keeps_the_attempt_that_ended() -> None:
    ended = _ended()
    assert ended.kind == "flow" and ended.state is RunState.COMPLETED
    again = apply_observation(ended, _started(40, kind="flow"))
    assert again.state is RunState.RUNNING
    assert again.restarts == 1 and again.restarted_at == at(40)
    assert again.tasks == [] and again.output is None and again.finished_at is None
    [earlier] = again.earlier_attempts
    assert earlier.state is RunState.COMPLETED
    assert earlier.output == "# Welcome"
    assert earlier.finished_at == at(30)
    assert [task.task_id for task in earlier.tasks] == ["collect_profile"]


def test_a_failed_flow_restarts_too() -> None:
    again = apply_observation(_ended(state=RunState.FAILED), _started(40))
    assert again.state is RunState.RUNNING
    assert again.earlier_attempts[0].error == "boom"


def test_a_crews_end_stays_final() -> None:
    ended = _ended(kind="crew")
    assert ended.kind == "crew"
    assert apply_observation(ended, _started(40)) is ended


def test_a_late_event_of_the_attempt_that_ended_is_no_restart() -> None:
    ended = _ended()
    assert apply_observation(ended, _started(20, kind="flow")).state is RunState.COMPLETED


def test_a_late_event_of_an_earlier_attempt_leaves_the_new_attempt_alone() -> None:
    again = apply_observation(_ended(), _started(40))
    late = Observation(
        kickoff_id="k",
        observed_at=at(29),
        source="webhook",
        tasks=[TaskResult(task_id="send_welcome", state=TaskState.COMPLETED)],
    )
    assert apply_observation(again, late) is again


def test_only_a_poll_that_says_when_the_run_started_proves_a_restart() -> None:
    ended = _ended()
    documented = _started(40, source="poll")
    assert apply_observation(ended, documented).state is RunState.COMPLETED
    stale = _started(40, source="poll", started_at=at(0))
    assert apply_observation(ended, stale).state is RunState.COMPLETED
    live = _started(40, source="poll", started_at=at(35), kind="flow")
    restarted = apply_observation(ended, live)
    assert restarted.state is RunState.RUNNING and restarted.restarts == 1


def test_two_writers_keep_the_later_attempt_whatever_order() -> None:
    ended = _ended().model_copy(update={"archived": True})
    again = begin_attempt(ended, at(40))
    for stored, incoming in ((ended, again), (again, ended)):
        merged = merge_stored(stored, incoming)
        assert merged.restarts == 1 and merged.state is RunState.PENDING
        assert merged.archived is stored.archived
        assert merged.earlier_attempts == again.earlier_attempts


async def test_kicking_off_a_flow_with_the_id_of_a_run_restarts_that_run(
    sim_any: SimServer, tmp_path: Path
) -> None:
    profile = CrewProfile(
        name=FLOW, url=sim_any.crew_url(FLOW), token=Secret(sim_any.options.token)
    )
    store = Store.open(tmp_path / "history.sqlite3")
    async with Tracker([profile], store, FAST) as tracker:
        first = await tracker.kickoff(FLOW, {"hold": "0"})
        kickoff_id = first.kickoff_id
        await wait_until(tracker, lambda: _state(tracker, kickoff_id) is RunState.COMPLETED)
        again = await tracker.kickoff(FLOW, {"hold": "0", "id": kickoff_id})
        assert again.kickoff_id == kickoff_id
        assert again.restarts == 1 and again.kind == "flow" and not again.is_terminal
        assert again.inputs == {"hold": "0", "id": kickoff_id}
        assert again.earlier_attempts[0].state is RunState.COMPLETED
        # Followed again to its new end; the earlier attempt's methods are kept apart.
        await wait_until(tracker, lambda: _state(tracker, kickoff_id) is RunState.COMPLETED)
        done = tracker.get(kickoff_id)
        assert done is not None and done.restarts == 1
        assert sorted(task.task_id for task in done.earlier_attempts[0].tasks) == sorted(METHODS)
        assert {task.task_id for task in done.tasks} <= set(METHODS)
    [row] = store.list_kickoffs()
    assert row.kind == "flow" and row.restarts == 1
    assert store.get_kickoff(kickoff_id) == done
    store.close()


async def test_a_flow_restarted_elsewhere_is_seen_by_a_live_poll_and_followed(
    sim: SimServer, tmp_path: Path
) -> None:
    async with webhook_runtime(sim, tmp_path, FLOW) as runtime:
        tracker = runtime.tracker
        kickoff_id = (await tracker.kickoff(FLOW, {"hold": "0"})).kickoff_id
        await wait_until(tracker, lambda: _state(tracker, kickoff_id) is RunState.COMPLETED)
        # Someone else reuses the execution's id; asking for the run's status shows it.
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                sim.crew_url(FLOW) + "/kickoff",
                json={"inputs": {"id": kickoff_id, "hold": "0"}},
                headers={"Authorization": f"Bearer {sim.options.token}"},
            )
        assert answer.json()["kickoff_id"] == kickoff_id
        await tracker.track(FLOW, kickoff_id)
        await wait_until(tracker, lambda: _restarts(tracker, kickoff_id) == 1)
        await wait_until(tracker, lambda: _state(tracker, kickoff_id) is RunState.COMPLETED)


def _state(tracker: Tracker, kickoff_id: str) -> RunState | None:
    kickoff = tracker.get(kickoff_id)
    return kickoff.state if kickoff is not None else None


def _restarts(tracker: Tracker, kickoff_id: str) -> int:
    kickoff = tracker.get(kickoff_id)
    return kickoff.restarts if kickoff is not None else 0


async def test_a_restart_with_pushes_on_counts_the_new_attempts_methods_and_tokens_only(
    sim_any: SimServer, tmp_path: Path
) -> None:
    async with webhook_runtime(sim_any, tmp_path, FLOW) as runtime:
        tracker = runtime.tracker

        def finished(restarts: int) -> bool:
            kickoff = tracker.get(kickoff_id)
            return (
                kickoff is not None
                and kickoff.restarts == restarts
                and kickoff.state is RunState.COMPLETED
                and len(kickoff.llm_calls) == calls
            )

        # Slow enough that its first events come after crewtui holds its kickoff id.
        inputs = {"hold": "0", "duration_scale": "4"}
        kickoff_id = (await tracker.kickoff(FLOW, inputs)).kickoff_id
        calls = 9  # one per method step and one per method's answer: 5 steps, 4 methods
        await wait_until(tracker, lambda: finished(0))
        first = tracker.get(kickoff_id)
        assert first is not None and first.kind == "flow"
        await tracker.kickoff(FLOW, inputs | {"id": kickoff_id})
        await wait_until(tracker, lambda: finished(1))
        again = tracker.get(kickoff_id)
        assert again is not None
        assert sorted(task.task_id for task in again.tasks) == sorted(METHODS)
        # The same work again: the same tokens, not twice as many.
        assert again.usage == first.usage
        [earlier] = again.earlier_attempts
        assert earlier.usage == first.usage and earlier.output == first.output


async def test_a_restart_whose_first_push_beats_the_kickoff_answer_is_one_restart(
    sim: SimServer, tmp_path: Path
) -> None:
    """The service starts pushing as soon as the run starts again, and a busy crewtui may
    read that push before the kickoff's answer: the answer then joins the attempt the push
    began instead of beginning a second one (which filed what was pushed under the first)."""
    async with webhook_runtime(sim, tmp_path, FLOW) as runtime:
        tracker = runtime.tracker
        kickoff_id = (await tracker.kickoff(FLOW, {"hold": "0"})).kickoff_id
        await wait_until(tracker, lambda: _state(tracker, kickoff_id) is RunState.COMPLETED)
        now = datetime.now(UTC)
        event = {
            "id": "first-of-the-new-attempt",
            "execution_id": kickoff_id,
            "timestamp": now.isoformat(),
            "type": "flow_started",
            "data": {"flow_name": FLOW},
        }
        await tracker.ingest(parse_push("events", {"events": [event]}, now))
        assert _restarts(tracker, kickoff_id) == 1

        # The push above stands for the service's own: the restart is sent without webhook
        # URLs, or the service's real "flow_started" could come too (a second restart).
        tracker.webhook_urls = None
        answered = await tracker.kickoff(FLOW, {"hold": "0", "id": kickoff_id})
        assert answered.kickoff_id == kickoff_id
        assert answered.restarts == 1 and len(answered.earlier_attempts) == 1
        assert answered.restarted_at == now
