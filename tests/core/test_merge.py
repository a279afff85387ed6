"""The merge rules on their own: pure functions, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crewtui.api.models import Kickoff, Observation, TaskResult
from crewtui.api.rows import Progress
from crewtui.api.states import RunState, TaskState
from crewtui.core.format import methods_done
from crewtui.core.merge import apply_observation

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_a_push_that_completes_the_run_completes_its_progress() -> None:
    running = apply_observation(
        Kickoff(kickoff_id="k", crew="c", created_at=T0, updated_at=T0),
        Observation(
            kickoff_id="k",
            observed_at=T0,
            state=RunState.RUNNING,
            progress=Progress(completed=1, total=2),
        ),
    )
    done = apply_observation(
        running,
        Observation(
            kickoff_id="k",
            observed_at=T0 + timedelta(seconds=5),
            source="webhook",
            state=RunState.COMPLETED,
            output="all done",
        ),
    )
    assert done.state is RunState.COMPLETED
    assert done.progress == Progress(completed=2, total=2)
    assert done.finished_at == T0 + timedelta(seconds=5)


def test_a_terminal_state_is_final_against_a_stale_poll() -> None:
    done = apply_observation(
        Kickoff(kickoff_id="k", crew="c", created_at=T0, updated_at=T0),
        Observation(kickoff_id="k", observed_at=T0, source="webhook", state=RunState.COMPLETED),
    )
    stale = apply_observation(
        done,
        Observation(kickoff_id="k", observed_at=T0, state=RunState.RUNNING, current_task="x"),
    )
    assert stale.state is RunState.COMPLETED
    assert stale.current_task is None


def test_not_found_turns_lost_only_after_the_grace() -> None:
    kickoff = Kickoff(kickoff_id="k", crew="c", created_at=T0, updated_at=T0)
    grace = timedelta(minutes=5)
    first = apply_observation(
        kickoff,
        Observation(kickoff_id="k", observed_at=T0, state=RunState.NOT_FOUND),
        grace=grace,
    )
    assert first.state is RunState.NOT_FOUND
    later = apply_observation(
        first,
        Observation(kickoff_id="k", observed_at=T0 + grace, state=RunState.NOT_FOUND),
        grace=grace,
    )
    assert later.state is RunState.LOST
    assert later.error and "lost" in later.error


def test_nothing_new_returns_the_same_kickoff() -> None:
    kickoff = Kickoff(kickoff_id="k", crew="c", created_at=T0, updated_at=T0)
    observation = Observation(kickoff_id="k", observed_at=T0 + timedelta(seconds=1))
    assert apply_observation(kickoff, observation) is kickoff


def test_pushed_task_events_move_the_current_task_and_the_progress_as_a_poll_would() -> None:
    """A run that receives webhooks is only polled to confirm them: its row must move."""
    polled = apply_observation(
        Kickoff(kickoff_id="k", crew="c", created_at=T0, updated_at=T0),
        Observation(
            kickoff_id="k",
            observed_at=T0,
            state=RunState.PENDING,
            progress=Progress(completed=0, total=2),
        ),
    )

    def pushed(seconds: int, *tasks: TaskResult) -> Observation:
        at = T0 + timedelta(seconds=seconds)
        return Observation(kickoff_id="k", observed_at=at, source="webhook", tasks=list(tasks))

    started = apply_observation(
        polled, pushed(1, TaskResult(task_id="plan", agent="Planner", state=TaskState.RUNNING))
    )
    assert started.state is RunState.RUNNING
    assert (started.current_task, started.current_agent) == ("plan", "Planner")
    moved = apply_observation(
        started,
        pushed(
            9,
            TaskResult(task_id="plan", state=TaskState.COMPLETED),
            TaskResult(task_id="write", agent="Writer", state=TaskState.RUNNING),
        ),
    )
    assert (moved.current_task, moved.current_agent) == ("write", "Writer")
    assert moved.progress == Progress(completed=1, total=2)


def test_pushed_method_ends_move_a_flows_count_which_has_no_total() -> None:
    """A flow's progress has no total; its count still follows the pushed method ends (the
    header and the list said "0 methods done" under two done methods)."""
    start = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    flow = Kickoff(
        kickoff_id="f",
        crew="onboarding",
        created_at=start,
        updated_at=start,
        state=RunState.RUNNING,
        kind="flow",
        progress=Progress(completed=0, total=None),
    )
    for index, method in enumerate(("collect_profile", "verify_identity"), start=1):
        at = start + timedelta(seconds=index)
        pushed = Observation(
            kickoff_id="f",
            observed_at=at,
            source="webhook",
            kind="flow",
            tasks=[TaskResult(task_id=method, state=TaskState.COMPLETED, finished_at=at)],
        )
        flow = apply_observation(flow, pushed)
        assert flow.progress == Progress(completed=index, total=None)


def test_a_flows_count_reads_in_words() -> None:
    assert [methods_done(n) for n in (0, 1, 2)] == [
        "0 methods done",
        "1 method done",
        "2 methods done",
    ]
