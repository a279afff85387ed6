"""Read what a crew pushes to crewtui's webhook receiver, in every form the service uses.

The service POSTs three kinds of webhook given at kickoff (task, step, crew) and, in its
newer form, batches of crewai events (the API contract "Webhooks"). They carry no signature and
may be forged, repeated or reordered, so this module only turns them into ``Observation``s
and ``Step``s; the tracker merges those with what polls learnt (``crewtui.core.merge``),
which is what makes repeats harmless and order irrelevant.

Like the dialect parsers, nothing here raises on any JSON: a field of the wrong type is
"not said", and an item that does not name a kickoff is dropped, since it cannot be placed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, get_args

from crewtui.api.dialects import (
    agent_step,
    as_dict,
    as_int,
    as_str,
    as_text,
    parse_json_text,
    parse_usage,
)
from crewtui.api.models import LlmCall, Observation, PayloadSource, Step, TaskResult
from crewtui.api.rows import WaitingFor
from crewtui.api.states import AGENT_STEP, RunState, TaskState
from crewtui.api.timestamps import event_time

PushKind = Literal["task", "step", "crew", "events"]
PUSH_KINDS: frozenset[str] = frozenset(get_args(PushKind))

Pushed = Observation | Step


def parse_push(kind: PushKind, body: Any, received_at: datetime) -> list[Pushed]:
    """Every fact one webhook body states, each naming its kickoff.

    ``received_at`` must be timezone-aware: it stamps what the body does not date itself.
    """
    return _PARSERS[kind](body, received_at)


# -- small readers -----------------------------------------------------------------------------


def _kickoff_id(value: Any) -> str | None:
    text = as_str(value)
    return text.strip() if text and text.strip() else None


def _first_text(*values: Any) -> str | None:
    """The first value that is non-blank text; task names hide under several keys."""
    for value in values:
        text = as_str(value)
        if text and text.strip():
            return text
    return None


def _output_text(value: Any) -> str | None:
    """An output given as text, or as crewai's TaskOutput/CrewOutput object (``raw``)."""
    return as_str(value) or as_str(as_dict(value).get("raw"))


def _output_json(output: str | None, explicit: Any) -> Any:
    """The service's parsed form when it sent one, else the JSON inside the text, if any."""
    return explicit if explicit is not None else parse_json_text(output)


def step_payloads(steps: Sequence[Step]) -> list[Observation]:
    """The last pushed payload of each kickoff's step channels, stating nothing else.

    A step webhook's body is its step's raw, and so is an event of the batched form: the
    Raw tab shows the last of each beside the poll's and the other webhooks' payloads.
    """
    last: dict[tuple[str, PayloadSource], Step] = {}
    for step in steps:
        channel: PayloadSource = "step webhook" if step.kind == AGENT_STEP else "events webhook"
        last[(step.kickoff_id, channel)] = step
    return [
        Observation(
            kickoff_id=kickoff_id,
            observed_at=step.received_at,
            source="webhook",
            raw=step.raw,
            channel=channel,
        )
        for (kickoff_id, channel), step in last.items()
    ]


# -- the three per-kickoff webhooks -------------------------------------------------------------


def _parse_task(body: Any, received_at: datetime) -> list[Pushed]:
    data = as_dict(body)
    kickoff_id = _kickoff_id(data.get("kickoff_id"))
    # crewai names an unnamed task by its description.
    task_id = _first_text(data.get("name"), data.get("description"))
    if kickoff_id is None or task_id is None:
        return []
    task = TaskResult(
        task_id=task_id,
        agent=as_str(data.get("agent")),
        output=_output_text(data.get("output")),
        state=TaskState.COMPLETED,
        finished_at=received_at,
    )
    return [
        Observation(
            kickoff_id=kickoff_id,
            observed_at=received_at,
            source="webhook",
            tasks=[task],
            raw=data,
            channel="task webhook",
        )
    ]


def _parse_step(body: Any, received_at: datetime) -> list[Pushed]:
    data = as_dict(body)
    kickoff_id = _kickoff_id(data.get("kickoff_id"))
    if kickoff_id is None:
        return []
    return [agent_step(kickoff_id, data, received_at)]


def _parse_crew(body: Any, received_at: datetime) -> list[Pushed]:
    """The crew webhook is only sent when the run succeeded (the API contract)."""
    data = as_dict(body)
    kickoff_id = _kickoff_id(data.get("kickoff_id"))
    if kickoff_id is None:
        return []
    output = _output_text(data.get("result"))
    return [
        Observation(
            kickoff_id=kickoff_id,
            observed_at=received_at,
            source="webhook",
            state=RunState.COMPLETED,
            output=output,
            output_json=_output_json(output, data.get("result_json")),
            usage=parse_usage(data.get("token_usage")),
            raw=data,
            channel="crew webhook",
        )
    ]


# -- the batched events form ------------------------------------------------------------------


def _parse_events(body: Any, received_at: datetime) -> list[Pushed]:
    """A batch, ordered by ``data.emission_sequence`` (delivery order is not guaranteed)."""
    events = [as_dict(item) for item in _event_list(body)]
    events.sort(key=_sequence_key)
    pushed: list[Pushed] = []
    for event in events:
        pushed.extend(_parse_event(event, received_at))
    return pushed


def _event_list(body: Any) -> list[Any]:
    """``{"events": [...]}``; a bare list or a single event (realtime delivery) is accepted."""
    if isinstance(body, list):
        return body
    data = as_dict(body)
    events = data.get("events")
    if isinstance(events, list):
        return events
    return [data] if "type" in data else []


def _sequence_key(event: dict[str, Any]) -> tuple[bool, int]:
    sequence = as_int(as_dict(event.get("data")).get("emission_sequence"))
    return (sequence is None, sequence or 0)


def _parse_event(event: dict[str, Any], received_at: datetime) -> list[Pushed]:
    data = as_dict(event.get("data"))
    kickoff_id = _kickoff_id(event.get("execution_id")) or _kickoff_id(data.get("kickoff_id"))
    if kickoff_id is None:
        return []
    kind = _first_text(event.get("type")) or "unknown"
    at = event_time(event.get("timestamp"), received_at)
    reader = _EVENT_READERS.get(kind)
    fact = reader(_EventFacts(kickoff_id, data, at, _event_identity(event))) if reader else None
    pushed: list[Pushed] = [fact] if fact is not None else []
    pushed.append(
        Step(
            kickoff_id=kickoff_id,
            received_at=at,
            kind=kind,
            # crewai's tool events say tool_name/tool_args; a step's own words are also seen.
            thought=as_str(data.get("thought")),
            tool=as_str(data.get("tool_name")) or as_str(data.get("tool")),
            tool_input=as_text(data.get("tool_args")) or as_text(data.get("tool_input")),
            result=(
                _output_text(data.get("output"))
                or as_str(data.get("result"))
                or as_str(data.get("response"))
                or as_str(data.get("error"))
            ),
            sequence=as_int(data.get("emission_sequence")),
            raw=event,
        )
    )
    return pushed


@dataclass(frozen=True, slots=True)
class _EventFacts:
    """What every event reader needs: whose event it is, its data and when it happened."""

    kickoff_id: str
    data: dict[str, Any]
    at: datetime
    # The event's identity (its ``id``), so a repeated delivery reads as the same event.
    identity: str

    def observation(self, **facts: Any) -> Observation:
        # crewai's flow events name their flow: the run is a flow's, whatever it says.
        flow = "flow_name" in self.data or "method_name" in self.data
        return Observation(
            kickoff_id=self.kickoff_id,
            observed_at=self.at,
            source="webhook",
            raw=self.data,
            kind="flow" if flow else None,
            **facts,
        )

    def method(self, state: TaskState) -> Observation | None:
        """A flow method's event: the method is the flow's task, its ``result`` the output."""
        method = _first_text(self.data.get("method_name"))
        if method is None:
            return None
        running = state is TaskState.RUNNING
        result = self.data.get("result")
        task = TaskResult(
            task_id=method,
            output=_output_text(result) or as_text(result),
            state=state,
            started_at=self.at if running else None,
            finished_at=None if running else self.at,
        )
        return self.observation(tasks=[task])

    def task(self, state: TaskState) -> Observation | None:
        """A task event; crewai names a task by ``task_name`` (its name or description)."""
        data = self.data
        task_body = as_dict(data.get("task"))
        output = data.get("output")
        task_id = _first_text(
            data.get("task_name"),
            data.get("name"),
            task_body.get("name"),
            as_dict(output).get("name"),
            task_body.get("description"),
        )
        if task_id is None:
            return None
        running = state is TaskState.RUNNING
        task = TaskResult(
            task_id=task_id,
            agent=_first_text(
                data.get("agent_role"), data.get("agent"), as_dict(output).get("agent")
            ),
            output=_output_text(output),
            state=state,
            started_at=self.at if running else None,
            finished_at=None if running else self.at,
        )
        return self.observation(tasks=[task])


def _event_identity(event: dict[str, Any]) -> str:
    """An event's ``id`` (else crewai's ``event_id``), else a digest of the whole event."""
    given = _first_text(event.get("id"), as_dict(event.get("data")).get("event_id"))
    if given is not None:
        return given
    canonical = json.dumps(event, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:32]


def _run_started(facts: _EventFacts) -> Observation:
    return facts.observation(state=RunState.RUNNING)


def _crew_started(facts: _EventFacts) -> Observation:
    return facts.observation(state=RunState.RUNNING, crew_event=True)


def _crew_completed(facts: _EventFacts) -> Observation:
    output_body = facts.data.get("output")
    output = _output_text(output_body) or _output_text(facts.data.get("result"))
    explicit = as_dict(output_body).get("json_dict")
    data = facts.data
    # ``total_tokens`` on the event itself; a fuller report may ride along.
    counts = {**as_dict(data.get("token_usage")), **as_dict(data.get("usage_metrics")), **data}
    return facts.observation(
        state=RunState.COMPLETED,
        output=output,
        output_json=_output_json(output, explicit),
        usage=parse_usage(counts),
        crew_event=True,
    )


def _crew_failed(facts: _EventFacts) -> Observation:
    error = as_str(facts.data.get("error"))
    return facts.observation(state=RunState.FAILED, error=error, crew_event=True)


def _task_started(facts: _EventFacts) -> Observation | None:
    return facts.task(TaskState.RUNNING)


def _task_completed(facts: _EventFacts) -> Observation | None:
    return facts.task(TaskState.COMPLETED)


def _task_failed(facts: _EventFacts) -> Observation | None:
    return facts.task(TaskState.FAILED)


def _llm_call_completed(facts: _EventFacts) -> Observation | None:
    """One LLM call's tokens, for the task it served (summed per task by the merge)."""
    data = facts.data
    usage = parse_usage(data.get("usage"))
    if usage is None:
        return None
    if usage.successful_requests is None:
        usage = replace(usage, successful_requests=1)  # it is one call
    model = as_str(data.get("model"))
    call = LlmCall(
        call_id=facts.identity,
        task_id=_first_text(data.get("task_name"), as_dict(data.get("task")).get("name")),
        model=model,
        usage=usage,
        at=facts.at,
    )
    return facts.observation(llm_calls=[call], model=model)


def _feedback_requested(facts: _EventFacts) -> Observation:
    """The run waits for a person: on which task (or flow method), asking what."""
    data = facts.data
    waiting = WaitingFor(
        task_id=_first_text(data.get("task_name"), data.get("method_name"), data.get("name")),
        agent=_first_text(data.get("agent_role"), data.get("agent")),
        message=_first_text(data.get("message"), data.get("prompt")),
        since=facts.at,
    )
    return facts.observation(state=RunState.PAUSED, waiting_for=waiting)


def _feedback_received(facts: _EventFacts) -> Observation:
    return facts.observation(state=RunState.RUNNING)


def _flow_finished(facts: _EventFacts) -> Observation:
    """The flow's ``result`` is whatever its last method returned: text or an object."""
    result = facts.data.get("result")
    output = _output_text(result) or as_text(result)
    explicit = result if isinstance(result, dict | list) else as_dict(result).get("json_dict")
    return facts.observation(
        state=RunState.COMPLETED, output=output, output_json=_output_json(output, explicit)
    )


def _flow_failed(facts: _EventFacts) -> Observation:
    return facts.observation(state=RunState.FAILED, error=as_text(facts.data.get("error")))


def _method_started(facts: _EventFacts) -> Observation | None:
    return facts.method(TaskState.RUNNING)


def _method_finished(facts: _EventFacts) -> Observation | None:
    return facts.method(TaskState.COMPLETED)


def _method_failed(facts: _EventFacts) -> Observation | None:
    return facts.method(TaskState.FAILED)


# Event types that change the run or a task; every other type is only a step.
_EVENT_READERS: dict[str, Callable[[_EventFacts], Observation | None]] = {
    "crew_kickoff_started": _crew_started,
    "crew_kickoff_completed": _crew_completed,
    "crew_kickoff_failed": _crew_failed,
    "task_started": _task_started,
    "task_completed": _task_completed,
    "task_failed": _task_failed,
    "llm_call_completed": _llm_call_completed,
    "human_feedback_requested": _feedback_requested,
    "human_feedback_received": _feedback_received,
    # A flow's life: its methods are its tasks; a paused method, a paused flow and a
    # question (``Flow.ask``) all wait for a person, on a method, with a message.
    "flow_started": _run_started,
    "flow_finished": _flow_finished,
    "flow_failed": _flow_failed,
    "flow_paused": _feedback_requested,
    "method_execution_started": _method_started,
    "method_execution_finished": _method_finished,
    "method_execution_failed": _method_failed,
    "method_execution_paused": _feedback_requested,
    "flow_input_requested": _feedback_requested,
    "flow_input_received": _feedback_received,
}

_PARSERS: dict[str, Callable[[Any, datetime], list[Pushed]]] = {
    "task": _parse_task,
    "step": _parse_step,
    "crew": _parse_crew,
    "events": _parse_events,
}

# The event types a kickoff asks for in the batched form: those that change the run or a
# task, and those shown as steps (tools, agents, LLM calls, flows, waits for a person).
SUBSCRIBED_EVENTS: tuple[str, ...] = (
    *_EVENT_READERS,
    "agent_execution_started",
    "agent_execution_completed",
    "tool_usage_started",
    "tool_usage_finished",
    "tool_usage_error",
    "llm_call_started",
    "llm_call_failed",
)
