"""Read the service's answers in either dialect, detected per response.

The published reference ("documented") and the production service ("live") disagree on
almost every body (the API contract). Nothing here raises on an unexpected shape: what is not
recognised becomes ``RunState.UNKNOWN`` with the raw payload kept, never a guessed success.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any

from crewtui.api.models import Observation, Step, TaskResult
from crewtui.api.rows import USAGE_FIELDS, Progress, Usage
from crewtui.api.states import AGENT_STEP, Dialect, RunState, TaskState
from crewtui.api.timestamps import wire_derived_time, wire_time

_LIVE_STATES = {
    "PENDING": RunState.PENDING,
    "STARTED": RunState.RUNNING,
    "RUNNING": RunState.RUNNING,
    "PAUSED": RunState.PAUSED,
    "SUCCESS": RunState.COMPLETED,
    "FAILED": RunState.FAILED,
    "FAILURE": RunState.FAILED,
    "REVOKED": RunState.CANCELLED,
    "NOT FOUND": RunState.NOT_FOUND,
    "NOT_FOUND": RunState.NOT_FOUND,
}

_DOCUMENTED_STATES = {
    "running": RunState.RUNNING,
    "completed": RunState.COMPLETED,
    "error": RunState.FAILED,
}

_JSON_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n?```\s*$", re.DOTALL | re.IGNORECASE)


# -- defensive accessors: a wrong type is "not said", never an exception ------------------


def as_str(value: Any) -> str | None:
    """A string field; numbers and booleans are stringified, containers are not text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        try:
            return str(value)
        except ValueError:  # an integer of thousands of digits
            return None
    return None


def as_float(value: Any) -> float | None:
    """A finite number of seconds, or None (no inf, no NaN, no thousand-digit integers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def as_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = as_float(value)
    if number is None or number > 2**53:
        return None
    return int(number)


def as_text(value: Any) -> str | None:
    """Text as is; an object or list (tool arguments often are) as compact JSON."""
    if isinstance(value, dict | list):
        try:
            return json.dumps(value, ensure_ascii=False, default=str)
        except (ValueError, RecursionError):
            return None
    return as_str(value)


def agent_step(kickoff_id: str, body: dict[str, Any], received_at: datetime) -> Step:
    """One agent step, from a live ``last_step`` or a step webhook (the same fields)."""
    return Step(
        kickoff_id=kickoff_id,
        received_at=received_at,
        kind=AGENT_STEP,
        thought=as_str(body.get("thought")),
        tool=as_str(body.get("tool")),
        tool_input=as_text(body.get("tool_input")),
        result=as_str(body.get("result")),
        raw=body,
    )


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_usage(value: Any) -> Usage | None:
    """Token counts in crewai's UsageMetrics form, wherever they appear; None when the value
    holds none of them (an absent count stays None, never 0)."""
    counts = {name: as_int(as_dict(value).get(name)) for name in USAGE_FIELDS}
    if all(count is None for count in counts.values()):
        return None
    return Usage(**counts)


def parse_json_text(text: str | None) -> Any:
    """The JSON inside a live ``result`` string (bare or in a ```json fence), else None."""
    if not text:
        return None
    fenced = _JSON_FENCE.match(text)
    candidate = fenced.group(1) if fenced else text
    stripped = candidate.strip()
    if not stripped or stripped[0] not in "[{":
        return None
    try:
        return json.loads(stripped)
    except ValueError:
        return None


# -- status ----------------------------------------------------------------------------------


def detect_dialect(body: Any) -> Dialect | None:
    """``live`` answers carry ``state``; ``documented`` ones carry ``status`` (or ``error``)."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("state"), str):
        return Dialect.LIVE
    if isinstance(body.get("status"), str) or "error" in body:
        return Dialect.DOCUMENTED
    return None


def parse_status(
    kickoff_id: str, http_status: int, body: Any, observed_at: datetime
) -> Observation:
    """Normalize one GET /status answer (already known to be 200 or 404)."""
    if http_status == 404:
        return Observation(
            kickoff_id=kickoff_id,
            observed_at=observed_at,
            state=RunState.NOT_FOUND,
            dialect=Dialect.DOCUMENTED,
            error=error_message(body),
            raw=body,
            channel="poll",
        )
    dialect = detect_dialect(body)
    if dialect is Dialect.LIVE:
        return _parse_live(kickoff_id, as_dict(body), observed_at)
    if dialect is Dialect.DOCUMENTED:
        return _parse_documented(kickoff_id, as_dict(body), observed_at)
    return Observation(
        kickoff_id=kickoff_id,
        observed_at=observed_at,
        state=RunState.UNKNOWN,
        raw=body,
        channel="poll",
    )


def _parse_live(kickoff_id: str, body: dict[str, Any], observed_at: datetime) -> Observation:
    state = _LIVE_STATES.get(str(body["state"]).strip().upper(), RunState.UNKNOWN)
    message = as_str(body.get("status"))
    output = as_str(body.get("result"))
    output_json = body.get("result_json")
    if output_json is None:
        output_json = parse_json_text(output)
    progress_body = as_dict(body.get("progress"))
    progress = None
    current_task = current_agent = None
    execution_time = None
    if progress_body:
        progress = Progress(
            completed=as_int(progress_body.get("completed")),
            total=as_int(progress_body.get("total")),
        )
        current_task = as_str(progress_body.get("current"))
        current_agent = as_str(progress_body.get("current_agent"))
        execution_time = as_float(progress_body.get("duration_seconds"))
    started_at = _run_started_at(progress_body, observed_at)
    tasks: list[TaskResult] = []
    last = as_dict(body.get("last_executed_task"))
    last_name = as_str(last.get("name")) or as_str(last.get("task_id"))
    if last_name:
        tasks.append(
            TaskResult(
                task_id=last_name,
                agent=as_str(last.get("agent")),
                output=as_str(last.get("output")),
                state=TaskState.COMPLETED,
                finished_at=observed_at,
            )
        )
    if current_task and current_task != last_name and not state.is_terminal:
        tasks.append(
            TaskResult(
                task_id=current_task,
                agent=current_agent,
                state=TaskState.RUNNING,
                started_at=observed_at,
            )
        )
    last_step = as_dict(body.get("last_step"))
    steps = [agent_step(kickoff_id, last_step, observed_at)] if last_step else []
    return Observation(
        kickoff_id=kickoff_id,
        observed_at=observed_at,
        state=state,
        message=message,
        current_task=current_task,
        current_agent=current_agent,
        progress=progress,
        output=output,
        output_json=output_json,
        tasks=tasks,
        steps=steps,
        error=message if state is RunState.FAILED else None,
        execution_time=execution_time,
        started_at=started_at,
        usage=parse_usage(body.get("usage_metrics")),
        # A flow counts steps (its methods) and names its execution.
        kind="flow" if progress_body.get("unit") == "step" or "flow_id" in body else None,
        dialect=Dialect.LIVE,
        raw=body,
        channel="poll",
    )


def _run_started_at(progress: dict[str, Any], observed_at: datetime) -> datetime | None:
    """When the run began, from the live progress: its duration so far counted back from
    this answer (no clock skew between the service and here), else its ``started_at``.

    Never after the answer itself, never a time that cannot be compared (naive is UTC).
    """
    duration = as_float(progress.get("duration_seconds"))
    if duration is not None:
        return wire_derived_time(observed_at, duration)
    stamp = wire_time(progress.get("started_at"))
    return None if stamp is None else min(stamp, observed_at)


def _parse_documented(kickoff_id: str, body: dict[str, Any], observed_at: datetime) -> Observation:
    status = as_str(body.get("status"))
    state = _DOCUMENTED_STATES.get((status or "").strip().lower(), RunState.UNKNOWN)
    progress_body = as_dict(body.get("progress"))
    progress = None
    if progress_body:
        progress = Progress(
            completed=as_int(progress_body.get("completed_tasks")),
            total=as_int(progress_body.get("total_tasks")),
        )
    current_task = as_str(body.get("current_task"))
    result = as_dict(body.get("result"))
    output = as_str(result.get("output"))
    tasks: list[TaskResult] = []
    raw_tasks = result.get("tasks")
    for item in raw_tasks if isinstance(raw_tasks, list) else []:
        entry = as_dict(item)
        task_id = as_str(entry.get("task_id")) or as_str(entry.get("name"))
        if not task_id:
            continue
        tasks.append(
            TaskResult(
                task_id=task_id,
                agent=as_str(entry.get("agent")),
                output=as_str(entry.get("output")),
                execution_time=as_float(entry.get("execution_time")),
                state=TaskState.COMPLETED,
            )
        )
    if current_task and state is RunState.RUNNING:
        tasks.append(
            TaskResult(task_id=current_task, state=TaskState.RUNNING, started_at=observed_at)
        )
    error = as_str(body.get("error")) if state is RunState.FAILED else None
    return Observation(
        kickoff_id=kickoff_id,
        observed_at=observed_at,
        state=state,
        current_task=current_task,
        progress=progress,
        output=output,
        output_json=parse_json_text(output),
        tasks=tasks,
        error=error,
        execution_time=as_float(body.get("execution_time")),
        dialect=Dialect.DOCUMENTED,
        raw=body,
        channel="poll",
    )


# -- other endpoints ---------------------------------------------------------------------------


def parse_inputs(body: Any) -> list[str] | None:
    """GET /inputs: ``{"inputs": [...]}``, or an object whose keys are the names (one
    integration models it so); None when the body is neither shape."""
    inputs = as_dict(body).get("inputs")
    if isinstance(inputs, dict):
        inputs = list(inputs)
    if not isinstance(inputs, list):
        return None
    return [name for name in (as_str(item) for item in inputs) if name]


_STOP_REFUSED = re.compile(r"current state:\s*([A-Za-z_ ]+?)\s*\.?\s*$", re.IGNORECASE)


def parse_stop_refusal(body: Any) -> RunState | None:
    """The state a 400 to POST /stop names ("Cannot stop execution. Current state: SUCCESS"),
    or None when it names none crewtui knows."""
    said = body if isinstance(body, str) else error_message(body)
    match = _STOP_REFUSED.search(said or "")
    return _LIVE_STATES.get(match.group(1).strip().upper()) if match else None


def parse_kickoff_id(body: Any) -> str | None:
    """POST /kickoff (and live /resume): ``{"kickoff_id": "..."}``."""
    kickoff_id = as_str(as_dict(body).get("kickoff_id"))
    return kickoff_id.strip() if kickoff_id and kickoff_id.strip() else None


def error_message(body: Any) -> str | None:
    """The service's own words from an error body, in either dialect."""
    data = as_dict(body)
    message = as_str(data.get("message"))
    error = as_str(data.get("error"))
    detail = data.get("detail")
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = [as_str(as_dict(item).get("msg")) for item in detail]
        joined = "; ".join(part for part in parts if part)
        if joined:
            return joined
    if error and message:
        return f"{error}: {message}"
    return message or error


_MISSING_LIVE = re.compile(r"missing (?:required )?inputs?\s*:\s*(.+)", re.IGNORECASE)


def missing_inputs(body: Any) -> list[str]:
    """The missing input names from a 422, in any of the three known forms."""
    data = as_dict(body)
    details = as_dict(data.get("details"))
    listed = details.get("missing_inputs")
    if isinstance(listed, list):
        return [name for name in (as_str(item) for item in listed) if name]
    detail = data.get("detail")
    if isinstance(detail, str):
        match = _MISSING_LIVE.search(detail)
        if match:
            return [part.strip() for part in match.group(1).split(",") if part.strip()]
    if isinstance(detail, list):
        names: list[str] = []
        for item in detail:
            loc = as_dict(item).get("loc")
            if isinstance(loc, list) and loc:
                name = as_str(loc[-1])
                if name and name not in ("body", "inputs"):
                    names.append(name)
        return names
    return []
