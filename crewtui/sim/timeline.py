"""A simulated run: its timeline of events and its state at any moment, as pure functions.

Nothing advances a run in the background: its state is computed from when it started,
its speed and the clock, so a poll can never see a half-updated run and there is no loop to
stop. Times are "simulated seconds": reference seconds multiplied by the run's
``duration_scale``; the wall clock runs ``speed`` times slower than them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from crewtui.sim.crews import SimCrew, SimStep, SimTask, fill

EventKind = Literal[
    "started", "task_started", "step", "task_completed", "task_failed", "paused", "completed",
    "failed", "revoked",
]  # fmt: skip


class Phase(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    REVOKED = "revoked"

    @property
    def ended(self) -> bool:
        return self in (Phase.COMPLETED, Phase.FAILED, Phase.REVOKED)


_PHASE_AFTER: dict[EventKind, Phase] = {
    "started": Phase.PENDING,
    "task_started": Phase.RUNNING,
    "step": Phase.RUNNING,
    "task_completed": Phase.RUNNING,
    "task_failed": Phase.RUNNING,
    "paused": Phase.PAUSED,
    "completed": Phase.COMPLETED,
    "failed": Phase.FAILED,
    "revoked": Phase.REVOKED,
}


@dataclass(frozen=True)
class Event:
    """Something that happens to a run at simulated time ``at``."""

    at: float
    kind: EventKind
    task: SimTask | None = None
    step: SimStep | None = None


@dataclass(frozen=True)
class Hooks:
    """Where a run's webhooks go (classic URLs and/or the newer batched ``webhooks`` form)."""

    task_url: str | None = None
    step_url: str | None = None
    crew_url: str | None = None
    events_url: str | None = None
    events: frozenset[str] | None = None  # None: every event type
    events_token: str | None = field(default=None, repr=False)

    @property
    def any(self) -> bool:
        return any((self.task_url, self.step_url, self.crew_url, self.events_url))


@dataclass
class Run:
    """One kickoff; mutable only through :func:`resume` and :func:`stop`."""

    crew: SimCrew
    kickoff_id: str
    inputs: Mapping[str, str]
    meta: Any
    started_mono: float
    started_wall: float
    speed: float
    scale: float = 1.0
    # Each task's own factor on top of ``scale`` (the ``task_scales`` input), in crew order:
    # tasks of one run vary around what its scale says, as a real crew's do.
    task_scales: tuple[float, ...] = ()
    will_fail: bool = False
    hold: bool = False
    json_result: bool = False
    hooks: Hooks = field(default_factory=Hooks)
    # Set by resume(): simulated time of the pause, monotonic time of the resume, approval.
    pause_at: float | None = None
    resumed_mono: float | None = None
    approved: bool = True
    resumed: asyncio.Event = field(default_factory=asyncio.Event)
    # Set by stop(): the simulated time at which POST /stop ended the run.
    stopped_at: float | None = None
    # A flow's execution (its state's id, which ``inputs.id`` names to restart it) and how
    # many of its methods a restored state had already finished (they do not run again).
    flow_id: str | None = None
    skip: int = 0

    def output_of(self, task: SimTask) -> str:
        """What a task (a flow's method) returns in this run: a rejected review says so."""
        pause = self.crew.pause
        if pause is not None and task.task_id == pause.method and not self.approved:
            return fill(pause.rejected_output, self.inputs)
        return task.render(self.inputs)

    def sim_time(self, now: float) -> float:
        """Simulated seconds since kickoff; the clock stands still while waiting for input."""
        if self.pause_at is None or self.resumed_mono is None:
            return (now - self.started_mono) * self.speed
        return self.pause_at + max(0.0, now - self.resumed_mono) * self.speed

    def mono_at(self, at: float) -> float:
        """The monotonic time at which simulated time ``at`` is (or was) reached."""
        if self.pause_at is not None and self.resumed_mono is not None and at > self.pause_at:
            return self.resumed_mono + (at - self.pause_at) / self.speed
        return self.started_mono + at / self.speed

    def wall_at(self, at: float) -> float:
        """Like :meth:`mono_at` on the wall clock, for timestamps shown to clients."""
        return self.started_wall + (self.mono_at(at) - self.started_mono)


def _task_events(task: SimTask, start: float, scale: float) -> list[Event]:
    """A task's start, its steps spread evenly over its duration, and its completion."""
    duration = task.duration * scale
    gap = duration / (len(task.steps) + 1)
    events = [Event(start, "task_started", task)]
    events += [
        Event(start + gap * (index + 1), "step", task, step)
        for index, step in enumerate(task.steps)
    ]
    events.append(Event(start + duration, "task_completed", task))
    return events


def _planned(run: Run) -> list[Event]:
    """Every event of the run as if it succeeded and any pause were answered."""
    if run.crew.is_flow:
        return _planned_flow(run)
    tasks = run.crew.tasks
    events = [Event(0.0, "started")]
    now = run.crew.pending * run.scale
    plan: list[SimTask | None] = list(tasks)
    if run.hold:
        again = tasks if not run.approved else tasks[1:]
        plan = [tasks[0], None, *again]  # None marks the wait for human input
    for task in plan:
        if task is None:
            events.append(Event(now, "paused", tasks[0]))
            continue
        events += _task_events(task, now, run.scale * _task_scale(run, task))
        now = events[-1].at
    events.append(Event(now, "completed"))
    return events


def _planned_flow(run: Run) -> list[Event]:
    """A flow's methods one after the other, from the first its state has not done yet.

    The method that asks for a person (``run.crew.pause``) does its own work, pauses after
    its last step while ``hold`` is on, and finishes once answered; a rejection routes the
    flow to its end without the methods after it.
    """
    pause = run.crew.pause
    events = [Event(0.0, "started")]
    now = run.crew.pending * run.scale
    for task in run.crew.tasks[run.skip :]:
        work = _task_events(task, now, run.scale)
        if run.hold and pause is not None and task.task_id == pause.method:
            *going, done = work
            work = [*going, Event(going[-1].at, "paused", task), done]
        events += work
        now = events[-1].at
        if not run.approved and pause is not None and task.task_id == pause.method:
            break
    events.append(Event(now, "completed"))
    return events


def _with_failure(run: Run, events: list[Event]) -> list[Event]:
    """Cut the plan at the crew's failure point: the running task fails, then the run.

    The point is never past the middle of the plan's last task (a restored flow runs
    fewer methods than the whole flow).
    """
    last = next(event for event in reversed(events) if event.kind == "task_started")
    assert last.task is not None
    fail_at = min(run.crew.fail_at * run.scale, last.at + last.task.duration * run.scale / 2)
    kept = [event for event in events if event.at < fail_at]
    running = next((event.task for event in reversed(kept) if event.kind == "task_started"), None)
    return [*kept, Event(fail_at, "task_failed", running), Event(fail_at, "failed")]


def _task_scale(run: Run, task: SimTask) -> float:
    index = run.crew.tasks.index(task)
    return run.task_scales[index] if index < len(run.task_scales) else 1.0


def timeline(run: Run) -> list[Event]:
    """The events the run goes through, ending at a pause that has not been answered."""
    events = _planned(run)
    if run.will_fail:
        events = _with_failure(run, events)
    if run.hold and run.resumed_mono is None:
        for index, event in enumerate(events):
            if event.kind == "paused":
                events = events[: index + 1]
                break
    if run.stopped_at is not None:
        events = [event for event in events if event.at <= run.stopped_at]
        events.append(Event(run.stopped_at, "revoked"))
    return events


# The LLM every simulated agent calls, as crewai names it in its llm_call events.
SIM_MODEL = "gpt-4o"
USAGE_COUNTS = (
    "total_tokens", "prompt_tokens", "cached_prompt_tokens", "completion_tokens",
    "successful_requests",
)  # fmt: skip


def call_usage(run: Run, event: Event) -> dict[str, int] | None:
    """The tokens of the LLM call an event stands for, or None if it is no call.

    Each agent step is one call (the model picks a tool) and a task's final answer one more.
    The prompt grows with the task's scratchpad and, after the first call of a task, half of
    it is a cached prefix; the completion is the text the model wrote. Deterministic, so a
    run's figures agree on every channel and in every test.
    """
    task = event.task
    if task is None or event.kind not in ("step", "task_completed"):
        return None
    index = task.steps.index(event.step) if event.step is not None else len(task.steps)
    brief = fill(task.description, run.inputs) + fill(task.expected_output, run.inputs)
    prompt = 640 + len(brief) // 3 + 210 * index
    written = (
        fill(event.step.thought + event.step.tool_input, run.inputs)
        if event.step is not None
        else run.output_of(task)
    )
    completion = 18 + len(written) // 3
    return {
        "total_tokens": prompt + completion,
        "prompt_tokens": prompt,
        "cached_prompt_tokens": 0 if index == 0 else prompt // 2,
        "completion_tokens": completion,
        "successful_requests": 1,
    }


def usage_until(run: Run, at: float, task: SimTask | None = None) -> dict[str, int] | None:
    """The run's usage (or one task's) over its LLM calls up to simulated time ``at``; None
    before the first call."""
    calls = [
        usage
        for event in timeline(run)
        if event.at <= at and (task is None or event.task == task)
        if (usage := call_usage(run, event)) is not None
    ]
    if not calls:
        return None
    return {name: sum(call[name] for call in calls) for name in USAGE_COUNTS}


@dataclass(frozen=True)
class Snapshot:
    """A run as seen at one moment."""

    phase: Phase
    elapsed: float
    done: tuple[tuple[SimTask, float], ...]  # finished tasks with their execution times
    current: SimTask | None
    last_step: SimStep | None
    last_change: float


def snapshot(run: Run, now: float) -> Snapshot:
    """The run's state at monotonic time ``now``."""
    clock = run.sim_time(now)
    seen = [event for event in timeline(run) if event.at <= clock]
    last = seen[-1]
    phase = _PHASE_AFTER[last.kind]
    started: dict[str, float] = {}
    done: dict[str, tuple[SimTask, float]] = {}
    current: SimTask | None = None
    last_step: SimStep | None = None
    for event in seen:
        if event.task is not None and event.kind == "task_started":
            started[event.task.task_id] = event.at
            current = event.task
        elif event.task is not None and event.kind == "task_completed":
            done.pop(event.task.task_id, None)  # a retried task counts once, at its last run
            done[event.task.task_id] = (event.task, event.at - started[event.task.task_id])
            current = None
        elif event.step is not None:
            last_step = event.step
    moving = phase in (Phase.PENDING, Phase.RUNNING)
    return Snapshot(
        phase=phase,
        elapsed=clock if moving else last.at,
        done=tuple(done.values()),
        # A paused flow is inside its method; a paused crew is between two tasks.
        current=current if phase in (Phase.RUNNING, Phase.PAUSED) else None,
        last_step=last_step,
        last_change=last.at,
    )


def waiting_task(run: Run, now: float) -> SimTask | None:
    """The task whose output awaits human feedback, or None if the run is not paused."""
    events = [event for event in timeline(run) if event.at <= run.sim_time(now)]
    last = events[-1]
    return last.task if last.kind == "paused" and run.resumed_mono is None else None


def resume(run: Run, now: float, approved: bool) -> None:
    """Answer the pause: the clock restarts now; a rejection runs the first task again."""
    events = timeline(run)
    run.pause_at = events[-1].at
    run.approved = approved
    run.resumed_mono = now
    run.resumed.set()


def stop(run: Run, now: float) -> None:
    """POST /stop: the run ends now, as REVOKED; a deliverer waiting on a pause wakes up."""
    run.stopped_at = run.sim_time(now)
    run.resumed.set()


def restored(run: Run, now: float) -> int:
    """How many of a flow's methods the state of ``run`` holds done at ``now`` (a restore
    from it starts after them)."""
    return min(len(run.crew.tasks), run.skip + len(snapshot(run, now).done))


def final_result(run: Run) -> tuple[str, Any]:
    """The crew's answer (the last task's output) and its parsed JSON, if it is JSON."""
    finished = [
        event.task
        for event in _planned(run)
        if event.kind == "task_completed" and event.task is not None
    ]
    last = finished[-1] if finished else run.crew.tasks[-1]
    text = run.output_of(last)
    if not run.json_result:
        return text, None
    payload = {
        "crew": run.crew.name,
        "summary": text.strip().splitlines()[0],
        "tasks": [task.task_id for task in run.crew.tasks[run.skip :]],
    }
    return "```json\n" + json.dumps(payload, ensure_ascii=False, indent=2) + "\n```", payload
