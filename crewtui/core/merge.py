"""Merge what is learnt about a kickoff into what was known, the one place that decides.

Polls, webhooks and kickoff answers arrive in any order and repeat. These pure functions
make the result the same whatever the order: a terminal state is final, tasks accumulate,
and a field only changes when a source actually said something about it.

One exception to "terminal is final": a flow execution the service overwrote (its
``inputs.id`` reused) runs again under the same kickoff id. A source that shows the flow
going again after it ended starts a new attempt (:func:`begin_attempt`): the run counts
the restart and keeps the attempt that ended. A crew's end stays final.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from crewtui.api.models import Attempt, Kickoff, Observation, Payload, Step, TaskResult
from crewtui.api.rows import Progress, Usage, WaitingFor
from crewtui.api.states import Dialect, RunState, TaskState
from crewtui.core.calls import (
    merge_call_records,
    merge_usage,
    record_calls,
    run_call_usage,
)

# How long the service may answer NOT FOUND before crewtui calls the run lost. A crew waiting
# for human input was seen answering NOT FOUND, and a fresh kickoff may not be visible yet.
DEFAULT_NOT_FOUND_GRACE = timedelta(minutes=5)


def merge_task(old: TaskResult, new: TaskResult) -> TaskResult:
    """One task seen twice: keep every field someone said, finished beats running."""
    state = old.state
    if new.state is not TaskState.RUNNING:
        state = new.state
    started = [t for t in (old.started_at, new.started_at) if t is not None]
    finished = [t for t in (old.finished_at, new.finished_at) if t is not None]
    return TaskResult(
        task_id=old.task_id,
        agent=new.agent if new.agent is not None else old.agent,
        output=new.output if new.output is not None else old.output,
        execution_time=(
            new.execution_time if new.execution_time is not None else old.execution_time
        ),
        state=state,
        usage=merge_usage(old.usage, new.usage),
        started_at=min(started) if started else None,
        # The earliest time anyone reported wins, so delivery order does not matter; a task
        # already known done at an unknown moment (before tracking) stays so: a later
        # report only says when it was seen done again.
        finished_at=(
            min(finished)
            if finished and state is not TaskState.RUNNING and not _done_at_unknown_time(old)
            else None
        ),
    )


def _with_call_usage(tasks: list[TaskResult], totals: dict[str, Usage]) -> list[TaskResult]:
    """Each task's usage: the sum of its LLM calls, or what it already said if larger."""
    return [
        task
        if task.task_id not in totals
        else task.model_copy(update={"usage": merge_usage(task.usage, totals[task.task_id])})
        for task in tasks
    ]


def _model(*names: str | None) -> str | None:
    """The model a run used; should sources name two, the same one whatever the order."""
    known = [name for name in names if name]
    return max(known) if known else None


def _done_at_unknown_time(task: TaskResult) -> bool:
    """Known done, with no time of its own: it ended before anyone here was watching."""
    done = task.state is not TaskState.RUNNING
    return done and task.finished_at is None and task.started_at is None


def merge_step(old: Step, new: Step) -> Step:
    """One step (same :attr:`~crewtui.api.models.Step.key`) seen through two channels.

    Each field keeps what either copy said, the first arrival dates it, and the fuller
    payload is kept as raw (a step webhook's body says more than a poll's ``last_step``).
    """
    return old.model_copy(
        update={
            "received_at": min(old.received_at, new.received_at),
            "thought": _said(old.thought, new.thought),
            "tool": _said(old.tool, new.tool),
            "tool_input": _said(old.tool_input, new.tool_input),
            "result": _said(old.result, new.result),
            "sequence": old.sequence if old.sequence is not None else new.sequence,
            "raw": new.raw if _richness(new.raw) > _richness(old.raw) else old.raw,
        }
    )


def _said(old: str | None, new: str | None) -> str | None:
    """The fuller of two copies of one text (a channel may trim or drop it)."""
    if old is None or (new is not None and len(new) > len(old)):
        return new
    return old


def _richness(raw: object) -> int:
    """How much a payload says: its number of fields (a non-object counts as one)."""
    if isinstance(raw, dict):
        return len(raw)
    return 0 if raw is None else 1


def merge_tasks(old: list[TaskResult], new: list[TaskResult]) -> list[TaskResult]:
    """Union by task id, in order of first appearance."""
    merged = {task.task_id: task for task in old}
    for task in new:
        current = merged.get(task.task_id)
        merged[task.task_id] = task if current is None else merge_task(current, task)
    return list(merged.values())


def _close_running_tasks(
    tasks: list[TaskResult], state: RunState, at: datetime, keep: str | None
) -> list[TaskResult]:
    """Tasks still marked running when another task or the run's end is seen have finished
    (or were cut short, when the run failed or was cancelled)."""
    cut_short = state in (RunState.FAILED, RunState.CANCELLED)
    closed = []
    for task in tasks:
        if task.state is TaskState.RUNNING and task.task_id != keep:
            final = TaskState.FAILED if cut_short else TaskState.COMPLETED
            task = task.model_copy(update={"state": final, "finished_at": task.finished_at or at})
        closed.append(task)
    return closed


# The ends a flow may come back from (a run given up for lost has no end to restart from).
_RESTARTABLE = frozenset({RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED})
_GOING = frozenset({RunState.PENDING, RunState.RUNNING, RunState.PAUSED})


def begin_attempt(kickoff: Kickoff, at: datetime, state: RunState = RunState.PENDING) -> Kickoff:
    """A flow execution started again at ``at``: the attempt so far is kept whole in
    ``earlier_attempts`` and the run starts over (its methods, output, usage and times)."""
    earlier = Attempt(
        state=kickoff.state,
        started_at=kickoff.started_at,
        finished_at=kickoff.finished_at,
        output=kickoff.output,
        error=kickoff.error,
        execution_time=kickoff.execution_time,
        tasks=kickoff.tasks,
        usage=kickoff.usage,
    )
    return kickoff.model_copy(
        update={
            "kind": "flow",
            "state": state,
            "restarts": kickoff.restarts + 1,
            "restarted_at": at,
            "earlier_attempts": [*kickoff.earlier_attempts, earlier],
            "started_at": at,
            "finished_at": None,
            "execution_time": None,
            "output": None,
            "output_json": None,
            "error": None,
            "tasks": [],
            "progress": None,
            "current_task": None,
            "current_agent": None,
            "message": None,
            "waiting_for": None,
            "not_found_since": None,
            "llm_calls": [],
            "call_usage": {},
            "usage": None,
            "cancel_request": None,
            "cancelled_by": None,
            "updated_at": max(kickoff.updated_at, at),
        }
    )


def _restart_seen(kickoff: Kickoff, obs: Observation) -> bool:
    """A flow seen going again after its end, by a source that knows the new attempt.

    A push must be dated after the end (a late event of the attempt that ended is not a
    restart); a poll must say when the run started, after the end (only the live dialect
    says it). A crew's end stays final.
    """
    if kickoff.state not in _RESTARTABLE or obs.state not in _GOING:
        return False
    if "flow" not in (kickoff.kind, obs.kind):
        return False
    ended = kickoff.finished_at
    if obs.source == "webhook":
        return ended is None or obs.observed_at > ended
    if obs.source == "poll":
        return obs.started_at is not None and (ended is None or obs.started_at > ended)
    return False


def _from_earlier_attempt(kickoff: Kickoff, obs: Observation) -> bool:
    """A push dated before the current attempt began belongs to an attempt that ended."""
    restarted = kickoff.restarted_at
    return obs.source == "webhook" and restarted is not None and obs.observed_at < restarted


def _about_an_inner_crew(obs: Observation) -> Observation:
    """A crew's kickoff event in a flow's run: a crew one of its methods ran started or
    ended, which says nothing about the run's state, output or usage."""
    cleared = {"state": None, "output": None, "output_json": None, "error": None, "usage": None}
    return obs.model_copy(update=cleared)


def _pushed_start(obs: Observation, state: RunState) -> TaskResult | None:
    """The task a push says has just started (a ``task_started`` event), if any."""
    if obs.source != "webhook" or state.is_terminal or state is RunState.PAUSED:
        return None
    started = [task for task in obs.tasks if task.state is TaskState.RUNNING]
    return started[-1] if started else None


def apply_observation(
    kickoff: Kickoff,
    observation: Observation,
    *,
    grace: timedelta = DEFAULT_NOT_FOUND_GRACE,
) -> Kickoff:
    """The kickoff as known after ``observation``; equal to ``kickoff`` when nothing changed.

    ``updated_at`` moves only when something else did, so callers can compare to detect a
    real change.
    """
    if _from_earlier_attempt(kickoff, observation):
        return kickoff
    if observation.crew_event and "flow" in (kickoff.kind, observation.kind):
        observation = _about_an_inner_crew(observation)
    known = kickoff
    if _restart_seen(kickoff, observation):
        kickoff = begin_attempt(kickoff, observation.observed_at)
    first_word = _first_word_on_tracked_run(kickoff)
    obs = _without_arrival_times(observation) if first_word else observation
    was_terminal = kickoff.state.is_terminal
    state = kickoff.state
    not_found_since = kickoff.not_found_since
    error = kickoff.error

    if obs.state is not None and not was_terminal:
        if obs.state is RunState.NOT_FOUND:
            not_found_since = not_found_since or obs.observed_at
            if obs.observed_at - not_found_since >= grace:
                state = RunState.LOST
                minutes = max(1, round(grace.total_seconds() / 60))
                error = (
                    f"The service has not known this kickoff for {minutes} min or more; "
                    "it is treated as lost."
                )
            else:
                state = RunState.NOT_FOUND
        elif not _pause_outlasts(kickoff, obs) and not _answered_pause_lingers(kickoff, obs):
            state = obs.state
            not_found_since = None
    elif kickoff.state is RunState.PAUSED and _work_after_pause(kickoff, obs):
        state = RunState.RUNNING
    elif (
        kickoff.state is RunState.LOST
        and obs.source == "webhook"
        and obs.state is not None
        and obs.state.is_terminal
    ):
        # A push about a run given up for lost proves it exists after all.
        state = obs.state
        error = None

    if obs.error is not None and state is RunState.FAILED:
        error = obs.error
    elif state is RunState.COMPLETED:
        error = None

    current_task = kickoff.current_task
    current_agent = kickoff.current_agent
    if obs.source == "poll" and obs.state is not None:
        current_task = obs.current_task
        current_agent = obs.current_agent
    elif pushed_start := _pushed_start(obs, state):
        # A pushed task start is the run's current task, as a poll would say: a run that
        # receives webhooks is polled only to confirm them.
        current_task, current_agent = pushed_start.task_id, pushed_start.agent
        if state is RunState.PENDING:
            state = RunState.RUNNING
    if state.is_terminal:
        current_task = current_agent = None

    llm_calls, call_usage = record_calls(kickoff, obs.llm_calls)
    tasks = _with_call_usage(merge_tasks(kickoff.tasks, obs.tasks), call_usage)
    if state.is_terminal:
        tasks = _close_running_tasks(tasks, state, obs.observed_at, keep=None)
    elif obs.current_task:
        tasks = _close_running_tasks(tasks, state, obs.observed_at, keep=obs.current_task)

    started_at = kickoff.started_at
    if obs.started_at is not None:
        started_at = _earliest(started_at, obs.started_at)
    seen_going = state in (RunState.RUNNING, RunState.PAUSED) or obs.tasks or state.is_terminal
    if seen_going and kickoff.tracked_at is None:
        # A run crewtui sent began no later than it was first seen going.
        started_at = _earliest(started_at, obs.observed_at)
    finished_at = kickoff.finished_at
    ended_here = not was_terminal or (obs.state is not None and obs.state.is_terminal)
    if state.is_terminal and ended_here and not first_word:
        # A tracked run found already ended ended at some unknown moment before.
        finished_at = _earliest(finished_at, obs.observed_at)

    execution_time = kickoff.execution_time
    if (obs.execution_time is not None and not was_terminal) or (
        obs.execution_time is not None and execution_time is None
    ):
        execution_time = obs.execution_time
    elif state.is_terminal and not was_terminal:
        # The live figure of a running poll is how long the run had gone then, not how
        # long it took: an end learnt without a figure is measured instead.
        execution_time = None

    progress = obs.progress if obs.progress is not None else kickoff.progress
    if obs.source == "webhook" and (progress is not None or "flow" in (kickoff.kind, obs.kind)):
        # Pushes move the count as a poll would; a flow's has no total to cap it.
        done = sum(1 for task in tasks if task.state is TaskState.COMPLETED)
        total = progress.total if progress is not None else None
        if done > ((progress.completed if progress is not None else None) or 0):
            progress = Progress(completed=done if total is None else min(done, total), total=total)
    message = obs.message if obs.source == "poll" and obs.state else kickoff.message
    if state is RunState.COMPLETED and progress is not None and progress.total is not None:
        # A run that completed did all its tasks, even when a push said so before a poll.
        progress = Progress(completed=progress.total, total=progress.total)

    update = {
        "state": state,
        "not_found_since": not_found_since,
        "error": error,
        "current_task": current_task,
        "current_agent": current_agent,
        "tasks": tasks,
        "started_at": started_at,
        "finished_at": finished_at,
        "execution_time": execution_time,
        "progress": progress,
        "output": obs.output if obs.output is not None else kickoff.output,
        "output_json": obs.output_json if obs.output_json is not None else kickoff.output_json,
        "message": message,
        "dialect": obs.dialect or kickoff.dialect,
        "raw": obs.raw if obs.source == "poll" and obs.raw is not None else kickoff.raw,
        "raw_by_source": record_payload(kickoff.raw_by_source, obs),
        "llm_calls": llm_calls,
        "call_usage": call_usage,
        "usage": merge_usage(kickoff.usage, obs.usage, run_call_usage(call_usage)),
        "model": _model(kickoff.model, obs.model, *(call.model for call in obs.llm_calls)),
        "kind": "flow" if obs.kind == "flow" else kickoff.kind,
    }
    update["waiting_for"] = _waiting_for(kickoff, obs, state, tasks, message)
    update["hitl_answered_at"] = _answer_outstanding(kickoff, obs, state)
    merged = kickoff.model_copy(update=update)
    if merged == known:
        return known
    return merged.model_copy(update={"updated_at": max(kickoff.updated_at, obs.observed_at)})


def confirm_stop(kickoff: Kickoff, at: datetime) -> Kickoff:
    """The service stopped the run crewtui asked it to stop: cancelled ("stopped by you").

    That answer outranks whatever was learnt while the request was on its way (the
    documented dialect reports a stopped run as an error, and a poll may bring that
    first), and nothing learnt later moves it (see :func:`merge_stored`).
    """
    ended_before = kickoff.state.is_terminal
    return kickoff.model_copy(
        update={
            "state": RunState.CANCELLED,
            "cancel_request": "confirmed",
            "error": None,
            "not_found_since": None,
            "current_task": None,
            "current_agent": None,
            "waiting_for": None,
            "tasks": _close_running_tasks(kickoff.tasks, RunState.CANCELLED, at, keep=None),
            "finished_at": kickoff.finished_at if ended_before else at,
            # The live figure of a running poll is not how long the run took: measured.
            "execution_time": kickoff.execution_time if ended_before else None,
            "updated_at": max(kickoff.updated_at, at),
        }
    )


def answer_request(kickoff: Kickoff, at: datetime) -> Kickoff:
    """crewtui answered the flow's human-in-the-loop request the run waited on: it waits no
    more, even while the flow takes its time to resume (see :func:`_answered_pause_lingers`)."""
    update: dict[str, Any] = {"waiting_for": None, "hitl_answered_at": at}
    if kickoff.state is RunState.PAUSED:
        update["state"] = RunState.RUNNING
    return kickoff.model_copy(update={**update, "updated_at": max(kickoff.updated_at, at)})


def _answered_pause_lingers(kickoff: Kickoff, obs: Observation) -> bool:
    """A run whose flow request crewtui answered still reads PAUSED until the flow takes
    the answer in: only a new request (or the run seen going) makes it wait again."""
    if kickoff.hitl_answered_at is None or obs.state is not RunState.PAUSED:
        return False
    pushed = obs.waiting_for
    if pushed is None:
        return True
    return pushed.request_id is None and obs.observed_at <= kickoff.hitl_answered_at


def _answer_outstanding(kickoff: Kickoff, obs: Observation, state: RunState) -> datetime | None:
    """When crewtui answered the run's flow request, while the flow may not have resumed yet;
    None from the moment the run is seen going, ending or waiting on a new request."""
    answered = kickoff.hitl_answered_at
    if answered is None:
        return None
    moved_on = obs.state is not None and obs.state not in (RunState.PAUSED, RunState.NOT_FOUND)
    if moved_on or state.is_terminal or state is RunState.PAUSED:
        return None
    return answered


def _waiting_for(
    kickoff: Kickoff,
    obs: Observation,
    state: RunState,
    tasks: list[TaskResult],
    message: str | None,
) -> WaitingFor | None:
    """Which task a paused run waits on: the last one it finished (the live service names it
    in ``last_executed_task``); kept, with its ``since``, while the pause goes on."""
    if state is not RunState.PAUSED:
        return None
    previous = kickoff.waiting_for
    pushed = obs.waiting_for
    if previous is not None and previous.request_id:
        # A flow's request says exactly what waits; a poll's guess or the pause's own event
        # about the same method leaves it as it is, answerable through its callback.
        same_method = pushed is not None and pushed.task_id in (None, previous.task_id)
        if pushed is None or (pushed.request_id is None and same_method):
            return previous
    said = [task for task in obs.tasks if task.state is TaskState.COMPLETED]
    known = [task for task in tasks if task.state is TaskState.COMPLETED]
    finished = said or known
    task = finished[-1] if finished else None
    task_id = task.task_id if task else (previous.task_id if previous else None)
    agent = task.agent if task else (previous.agent if previous else None)
    flow = "flow" in (kickoff.kind, obs.kind)
    if pushed is not None and pushed.task_id:
        # The pause's own event names its task; a poll's "last finished" only guesses it.
        task_id, agent = pushed.task_id, pushed.agent or agent
    elif flow and obs.current_task:
        # A flow waits inside its method, which a poll names as the current one.
        task_id, agent = obs.current_task, obs.current_agent
    elif flow and previous is not None and previous.task_id:
        task_id, agent = previous.task_id, previous.agent
    elif not said and previous is not None and previous.task_id:
        # Only a report of a finished task moves the wait to another task.
        task_id, agent = previous.task_id, previous.agent
    if pushed is not None and pushed.message:
        message = pushed.message
    elif previous is not None and previous.message and previous.task_id == task_id:
        # A pushed prompt beats the service's generic status word for the same pause.
        message = previous.message
    same = previous is not None and previous.task_id == task_id
    since = previous.since if previous is not None and same else obs.observed_at
    request_id = pushed.request_id if pushed is not None else None
    if pushed is not None and request_id is not None:
        since = pushed.since  # when the flow asked, not when crewtui heard
    return WaitingFor(
        task_id=task_id, agent=agent, message=message, since=since, request_id=request_id
    )


def _pause_outlasts(kickoff: Kickoff, obs: Observation) -> bool:
    """A pause a push announced outlasts what cannot end it: a documented poll (that dialect
    has no word for a pause and reads "running" while progress stands still) and a push
    dated before the pause began."""
    waiting = kickoff.waiting_for
    if kickoff.state is not RunState.PAUSED or waiting is None or obs.state is not RunState.RUNNING:
        return False
    if obs.source == "webhook":
        return obs.observed_at < waiting.since
    if obs.source != "poll" or obs.dialect is not Dialect.DOCUMENTED:
        return False
    # The waiting task is done, whether or not a poll has counted it yet.
    done = {task.task_id for task in kickoff.tasks if task.state is TaskState.COMPLETED}
    done |= {waiting.task_id} if waiting.task_id else set()
    counted = kickoff.progress.completed if kickoff.progress else None
    done_now = obs.progress.completed if obs.progress else None
    return done_now is None or done_now <= max(counted or 0, len(done))


def _work_after_pause(kickoff: Kickoff, obs: Observation) -> bool:
    """A task pushed as started after the pause began: someone answered it (elsewhere)."""
    waiting = kickoff.waiting_for
    if waiting is None or obs.source != "webhook":
        return False
    return any(
        task.state is TaskState.RUNNING
        and task.started_at is not None
        and task.started_at > waiting.since
        for task in obs.tasks
    )


def _earliest(known: datetime | None, seen: datetime) -> datetime:
    return seen if known is None else min(known, seen)


def _first_word_on_tracked_run(kickoff: Kickoff) -> bool:
    """Nothing learnt yet about a run crewtui did not start (tracked, not sent)."""
    return kickoff.tracked_at is not None and kickoff.updated_at <= kickoff.tracked_at


def _without_arrival_times(obs: Observation) -> Observation:
    """The first answer about a tracked run, without the times that are only its arrival.

    A task it reports done (or running) finished (or started) at some moment before
    crewtui was watching, not when the answer came: that moment is unknown, not now.
    """
    arrived = obs.observed_at
    tasks = [
        task.model_copy(
            update={
                "started_at": None if task.started_at == arrived else task.started_at,
                "finished_at": None if task.finished_at == arrived else task.finished_at,
            }
        )
        for task in obs.tasks
    ]
    return obs.model_copy(update={"tasks": tasks})


def record_payload(known: list[Payload], obs: Observation) -> list[Payload]:
    """Each source's last payload, newest first, with ``obs``'s if it brought a new one.

    A repeated body keeps its first arrival time, so a poll that says nothing new changes
    nothing; an older body delivered late never replaces a newer one.
    """
    channel = obs.channel
    if channel is None or obs.raw is None:
        return known
    current = next((payload for payload in known if payload.source == channel), None)
    if current is not None and (current.body == obs.raw or current.received_at > obs.observed_at):
        return known
    fresh = Payload(source=channel, received_at=obs.observed_at, body=obs.raw)
    return merge_payloads([payload for payload in known if payload.source != channel], [fresh])


def merge_payloads(old: list[Payload], new: list[Payload]) -> list[Payload]:
    """The newest payload of each source in either list, newest first."""
    newest: dict[str, Payload] = {}
    for payload in [*old, *new]:
        kept = newest.get(payload.source)
        if kept is None or payload.received_at > kept.received_at:
            newest[payload.source] = payload
    return sorted(newest.values(), key=lambda payload: payload.received_at, reverse=True)


def merge_stored(stored: Kickoff, incoming: Kickoff) -> Kickoff:
    """Two processes wrote the same kickoff: keep the union, never move a terminal state back.

    The store calls this inside its write transaction, so a second SSH session that only
    polls never erases tasks the first one learnt from webhooks.
    """
    if stored.restarts != incoming.restarts:
        return _later_attempt(stored, incoming)
    newer, older = (
        (incoming, stored) if incoming.updated_at >= stored.updated_at else (stored, incoming)
    )
    state = newer.state
    if older.state.is_terminal and not newer.state.is_terminal:
        state = older.state
    stopped = next((k for k in (newer, older) if k.cancel_request == "confirmed"), None)
    if stopped is not None:
        # A run crewtui stopped stays cancelled, whatever a process unaware of it wrote.
        state = RunState.CANCELLED
    base = newer if state == newer.state else older
    if stopped is not None and base.cancel_request != "confirmed":
        base = stopped
    llm_calls, call_usage = merge_call_records(stored, incoming)
    return base.model_copy(
        update={
            "state": state,
            "tasks": _with_call_usage(merge_tasks(older.tasks, newer.tasks), call_usage),
            "output": base.output if base.output is not None else (newer.output or older.output),
            "archived": stored.archived,  # archiving is its own store call
            "updated_at": max(stored.updated_at, incoming.updated_at),
            "raw_by_source": merge_payloads(stored.raw_by_source, incoming.raw_by_source),
            "tracked_at": stored.tracked_at or incoming.tracked_at,
            "inputs": stored.inputs or incoming.inputs,
            "meta": stored.meta or incoming.meta,
            "webhooks": stored.webhooks or incoming.webhooks,
            "continues": newer.continues or older.continues,
            "continued_from": newer.continued_from or older.continued_from,
            "created_at": min(stored.created_at, incoming.created_at),
            "llm_calls": llm_calls,
            "call_usage": call_usage,
            "usage": merge_usage(stored.usage, incoming.usage, run_call_usage(call_usage)),
            "model": _model(stored.model, incoming.model),
        }
    )


def _later_attempt(stored: Kickoff, incoming: Kickoff) -> Kickoff:
    """Two writers saw different attempts of a restarted flow: the later attempt is the run
    (it holds the earlier ones); what is not about an attempt is kept from both."""
    later, other = (incoming, stored) if incoming.restarts > stored.restarts else (stored, incoming)
    return later.model_copy(
        update={
            "archived": stored.archived,
            "updated_at": max(stored.updated_at, incoming.updated_at),
            "raw_by_source": merge_payloads(stored.raw_by_source, incoming.raw_by_source),
            "tracked_at": stored.tracked_at or incoming.tracked_at,
            "webhooks": later.webhooks or other.webhooks,
            "continues": later.continues or other.continues,
            "continued_from": later.continued_from or other.continued_from,
            "created_at": min(stored.created_at, incoming.created_at),
        }
    )
