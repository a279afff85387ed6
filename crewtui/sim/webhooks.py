"""Deliver a run's webhooks when its events happen, like a deployed crew would.

One asyncio task per run that has webhooks: it sleeps until the next event of the run's
timeline, POSTs what is due, and waits on the run's ``resumed`` event while the run waits
for input. Delivery failures are ignored (a crew does not retry either); they are logged at
debug level without the URL, whose path may be the receiver's only secret.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from crewtui.sim.crews import SimTask, fill
from crewtui.sim.timeline import (
    SIM_MODEL,
    Event,
    Run,
    call_usage,
    final_result,
    timeline,
    usage_until,
)

logger = logging.getLogger("crewtui.sim")

# The crewai events each timeline event makes, in order: an agent step is an LLM call that
# picks a tool, then the tool's use; a task ends with the LLM call of its final answer.
_EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "started": ("crew_kickoff_started",),
    "task_started": ("task_started",),
    "step": ("llm_call_completed", "tool_usage_finished"),
    "task_completed": ("llm_call_completed", "task_completed"),
    "task_failed": ("task_failed",),
    "paused": ("human_feedback_requested",),
    "completed": ("crew_kickoff_completed",),
    "failed": ("crew_kickoff_failed",),
}


# A flow's own events for the same timeline: methods instead of tasks, and its pause is
# announced three times over (the method, the flow, and the feedback request).
_FLOW_EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "started": ("flow_started",),
    "task_started": ("method_execution_started",),
    "step": ("llm_call_completed", "tool_usage_finished"),
    "task_completed": ("llm_call_completed", "method_execution_finished"),
    "task_failed": ("method_execution_failed",),
    "paused": ("method_execution_paused", "flow_paused", "human_feedback_requested"),
    "completed": ("flow_finished",),
    "failed": ("flow_failed",),
}


def _summary(text: str) -> str:
    """CrewAI's task summary: the description's first ten words."""
    words = text.split()
    return " ".join(words[:10]) + ("..." if len(words) > 10 else "")


def token_usage(run: Run) -> dict[str, int]:
    """The whole run's usage: the sum of every LLM call of its timeline."""
    return usage_until(run, math.inf) or {}


def task_payload(run: Run, task: SimTask) -> dict[str, Any]:
    description = fill(task.description, run.inputs)
    return {
        "description": description,
        "name": task.task_id,
        "expected_output": fill(task.expected_output, run.inputs),
        "summary": _summary(description),
        "agent": task.agent,
        "output": run.output_of(task),
        "output_json": None,
        "kickoff_id": run.kickoff_id,
        "meta": run.meta,
    }


def _step_payload(run: Run, event: Event) -> dict[str, Any]:
    assert event.task is not None and event.step is not None
    return {
        "prompt": fill(event.task.description, run.inputs),
        "thought": fill(event.step.thought, run.inputs),
        "tool": event.step.tool,
        "tool_input": fill(event.step.tool_input, run.inputs),
        "result": fill(event.step.result, run.inputs),
        "kickoff_id": run.kickoff_id,
        "meta": run.meta,
    }


def _crew_payload(run: Run) -> dict[str, Any]:
    result, result_json = final_result(run)
    return {
        "kickoff_id": run.kickoff_id,
        "result": result,
        "result_json": result_json,
        "token_usage": token_usage(run),
        "meta": run.meta,
    }


def _classic(run: Run, event: Event) -> tuple[str, dict[str, Any]] | None:
    """The (url, payload) of the classic per-kind webhook this event triggers, if any."""
    hooks = run.hooks
    if event.kind == "task_completed" and hooks.task_url and event.task is not None:
        return hooks.task_url, task_payload(run, event.task)
    if event.kind == "step" and hooks.step_url:
        return hooks.step_url, _step_payload(run, event)
    if event.kind == "completed" and hooks.crew_url:
        return hooks.crew_url, _crew_payload(run)
    return None


def flow_state(run: Run, event: Event) -> dict[str, Any]:
    """A flow's state when ``event`` happens: its id, its inputs, and each finished
    method's result under the method's name (crewai's unstructured state)."""
    done = {
        earlier.task.task_id: run.output_of(earlier.task)
        for earlier in timeline(run)
        if earlier.kind == "task_completed" and earlier.task is not None and earlier.at < event.at
    }
    return {"id": run.flow_id, **run.inputs, **done}


def pause_message(run: Run) -> str | None:
    """What a flow's paused method asks the person, filled with the run's inputs."""
    pause = run.crew.pause
    return fill(pause.message, run.inputs) if pause is not None else None


def _flow_event_data(run: Run, event: Event, kind: str) -> dict[str, Any]:
    """crewai's flow event fields (``flow_name``, ``method_name``, ``state``, ``result``...);
    an LLM or tool event inside a method reads like a crew's, named by the method."""
    data: dict[str, Any] = {"flow_name": run.crew.name}
    task = event.task
    if kind.startswith(("llm_call", "tool_usage")):
        inner = _crew_event_data(run, event, kind)
        del inner["crew_name"]
        return inner | data
    if kind == "flow_started":
        return data | {"inputs": dict(run.inputs)}
    if kind in ("flow_finished", "flow_failed"):
        result, _ = final_result(run)
        if kind == "flow_failed":
            return data | {"error": run.crew.error}
        return data | {"result": result, "state": flow_state(run, event)}
    assert task is not None
    data["method_name"] = task.task_id
    if kind == "method_execution_started":
        data |= {"state": flow_state(run, event), "params": None}
    elif kind == "method_execution_finished":
        data |= {"result": run.output_of(task), "state": flow_state(run, event)}
    elif kind == "method_execution_failed":
        data["error"] = run.crew.error
    else:  # the pause: the method's, the flow's and the feedback request
        pause = run.crew.pause
        data |= {"message": pause_message(run), "emit": list(pause.emit) if pause else None}
        if kind == "human_feedback_requested":
            data |= {"output": run.output_of(task), "request_id": f"{run.flow_id}:{task.task_id}"}
        else:
            data |= {"flow_id": run.flow_id, "state": flow_state(run, event)}
    return data


def _event_data(run: Run, event: Event, kind: str) -> dict[str, Any]:
    if run.crew.is_flow:
        return _flow_event_data(run, event, kind)
    return _crew_event_data(run, event, kind)


def _crew_event_data(run: Run, event: Event, kind: str) -> dict[str, Any]:
    data: dict[str, Any] = {"crew_name": run.crew.name}
    if event.task is not None:
        data |= {"task_name": event.task.task_id, "agent": event.task.agent}
    if kind == "llm_call_completed":
        final = event.kind == "task_completed"
        data |= {
            "model": SIM_MODEL,
            "call_type": "llm_call",
            "finish_reason": "stop" if final else "tool_calls",
            "usage": call_usage(run, event),
        }
    elif event.kind == "step":
        data |= _step_payload(run, event)
    elif event.kind == "task_completed" and event.task is not None:
        data["output"] = run.output_of(event.task)
    elif event.kind == "paused" and event.task is not None:
        data |= {
            "agent_role": event.task.agent,
            "output": run.output_of(event.task),
            "message": f"Review the output of {event.task.task_id} and approve or reject it.",
        }
    elif event.kind in ("task_failed", "failed"):
        data["error"] = run.crew.error
    elif event.kind == "completed":
        data |= _crew_payload(run)
        data["total_tokens"] = token_usage(run).get("total_tokens")
    return data


def event_entries(
    run: Run, event: Event, sequence: int, new_id: Callable[[], str] = lambda: str(uuid.uuid4())
) -> list[dict[str, Any]]:
    """The batched-events entries one timeline event makes (those the run asked for), their
    ``emission_sequence`` counting on from ``sequence``: what the service would POST, also
    replayed by the demo's history (with ids of its own seed) so that its runs carry what
    pushes would have told."""
    wanted = run.hooks.events
    entries = []
    types = _FLOW_EVENT_TYPES if run.crew.is_flow else _EVENT_TYPES
    for kind in types.get(event.kind, ()):
        if wanted is not None and kind not in wanted:
            continue
        sequence += 1
        entries.append(
            {
                "id": new_id(),
                "execution_id": run.kickoff_id,
                "timestamp": datetime.fromtimestamp(run.wall_at(event.at), UTC).isoformat(),
                "type": kind,
                "data": _event_data(run, event, kind) | {"emission_sequence": sequence},
            }
        )
    return entries


class Deliverer:
    """Sends one run's webhooks in timeline order; ``emission_sequence`` counts its events."""

    def __init__(self, run: Run, client: httpx.AsyncClient) -> None:
        self._run = run
        self._client = client
        self._sequence = 0

    async def run(self, skip_past: bool = False) -> None:
        """Deliver every event from now (or from kickoff) until the run ends."""
        run = self._run
        sent = 0
        if skip_past:
            clock = run.sim_time(time.monotonic())
            sent = sum(1 for event in timeline(run) if event.at <= clock)
        while True:
            events = timeline(run)
            clock = run.sim_time(time.monotonic())
            due = [event for event in events[sent:] if event.at <= clock]
            await self._deliver(due)
            sent += len(due)
            # An answer that came while a POST was out has extended the timeline already.
            events = timeline(run)
            if sent < len(events):
                await asyncio.sleep(max(0.0, run.mono_at(events[sent].at) - time.monotonic()))
            elif events[-1].kind == "paused" and run.resumed_mono is None:
                await run.resumed.wait()
            else:
                return

    async def _deliver(self, events: list[Event]) -> None:
        batch = []
        for event in events:
            classic = _classic(self._run, event)
            if classic is not None:
                await self._post(*classic)
            batch += self._batch_entry(event)
        if batch and self._run.hooks.events_url:
            await self._post(self._run.hooks.events_url, {"events": batch}, batched=True)

    def _batch_entry(self, event: Event) -> list[dict[str, Any]]:
        entries = event_entries(self._run, event, self._sequence)
        self._sequence += len(entries)
        return entries

    async def _post(self, url: str, payload: dict[str, Any], batched: bool = False) -> None:
        headers = {}
        token = self._run.hooks.events_token
        if batched and token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            await self._client.post(url, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            logger.debug("webhook delivery failed for %s: %s", self._run.kickoff_id, type(exc))
