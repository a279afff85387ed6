"""Every answer body the simulator sends, in both dialects of the API contract.

Kept apart from the routes so that the exact shapes (the part clients depend on) can be
read in one place and compared with the contract line by line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi.responses import JSONResponse, PlainTextResponse, Response

from crewtui.sim.crews import fill
from crewtui.sim.timeline import Phase, Run, Snapshot, final_result, usage_until

SimDialect = Literal["live", "documented"]

_LIVE_STATE = {
    Phase.PENDING: "PENDING",
    Phase.RUNNING: "RUNNING",
    Phase.PAUSED: "PAUSED",
    Phase.COMPLETED: "SUCCESS",
    Phase.FAILED: "FAILED",
    Phase.REVOKED: "REVOKED",
}
_LIVE_MESSAGE = {
    Phase.PENDING: "Task is Pending",
    Phase.RUNNING: "Task is Running",
    Phase.PAUSED: "Waiting for human input",
    Phase.REVOKED: "Execution stopped",
}
# The state POST /stop names when the run has already ended (Celery's words).
_ENDED_STATE = {Phase.COMPLETED: "SUCCESS", Phase.FAILED: "FAILURE", Phase.REVOKED: "REVOKED"}


def _iso(timestamp: float) -> str:
    return (
        datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def _seconds(value: float, run: Run) -> float:
    """Simulated seconds as the wall clock saw them: a sim at speed 10 is a crew 10x faster,
    so the durations it reports agree with the time a client watched the run take."""
    return round(value / run.speed, 3)


# -- status ---------------------------------------------------------------------------------


def live_status(run: Run, snap: Snapshot) -> dict[str, Any]:
    """``GET /status`` as production answers it: one shape with a ``state``.

    A flow counts steps (its methods), without a total (a router may skip some), and names
    its execution (``flow_id``).
    """
    flow = run.crew.is_flow
    total = None if flow else len(run.crew.tasks)
    completed = len(snap.done)
    result, result_json = final_result(run) if snap.phase is Phase.COMPLETED else (None, None)
    last_task = None
    if snap.done:
        task, _ = snap.done[-1]
        last_task = {
            "name": task.task_id,
            "description": fill(task.description, run.inputs),
            "agent": task.agent,
            "output": run.output_of(task),
            "meta": run.meta,
        }
    step = snap.last_step
    body: dict[str, Any] = {
        "state": _LIVE_STATE[snap.phase],
        "status": run.crew.error if snap.phase is Phase.FAILED else _LIVE_MESSAGE.get(snap.phase),
        "result": result,
        "result_json": result_json,
        "progress": {
            "unit": "step" if flow else "task",
            "completed": completed,
            "total": total,
            "remaining": None if total is None else total - completed,
            "current": snap.current.task_id if snap.current else None,
            "current_agent": snap.current.agent if snap.current else None,
            "started_at": _iso(run.started_wall),
            "updated_at": _iso(run.wall_at(snap.last_change)),
            "duration_seconds": _seconds(snap.elapsed, run),
        },
        "last_executed_task": last_task,
        "last_step": None
        if step is None
        else {
            "thought": fill(step.thought, run.inputs),
            "tool": step.tool,
            "tool_input": fill(step.tool_input, run.inputs),
            "result": fill(step.result, run.inputs),
        },
        # The LLM calls made so far (crewai's UsageMetrics), null before the first.
        "usage_metrics": usage_until(run, snap.last_change),
    }
    if flow:
        body["flow_id"] = run.flow_id
    return body


def documented_status(run: Run, snap: Snapshot) -> dict[str, Any]:
    """``GET /status`` as the OpenAPI reference prints it: running, completed or error."""
    if snap.phase in (Phase.FAILED, Phase.REVOKED):
        # The reference has no word for a stopped run: it reads as an error.
        error = run.crew.error if snap.phase is Phase.FAILED else "Execution stopped"
        return {
            "status": "error",
            "error": error,
            "execution_time": _seconds(snap.elapsed, run),
        }
    if snap.phase is Phase.COMPLETED:
        output, _ = final_result(run)
        tasks = [
            {
                "task_id": task.task_id,
                "output": run.output_of(task),
                "agent": task.agent,
                "execution_time": _seconds(seconds, run),
            }
            for task, seconds in snap.done
        ]
        return {
            "status": "completed",
            "result": {"output": output, "tasks": tasks},
            "execution_time": _seconds(snap.elapsed, run),
        }
    # Pending and waiting for input have no documented shape: both read as running.
    current = snap.current or _next_task(run, snap)
    return {
        "status": "running",
        "current_task": current.task_id,
        "progress": {
            "completed_tasks": len(snap.done),
            "total_tasks": len(run.crew.tasks) - run.skip,
        },
    }


def _next_task(run: Run, snap: Snapshot) -> Any:
    finished = {task.task_id for task, _ in snap.done}
    planned = run.crew.tasks[run.skip :] or run.crew.tasks[-1:]
    return next((task for task in planned if task.task_id not in finished), planned[-1])


def _documented_not_found(kickoff_id: str) -> JSONResponse:
    return documented_error(404, "Execution not found", f"No execution found with ID: {kickoff_id}")


def not_found(dialect: SimDialect, kickoff_id: str) -> Response:
    """An unknown id on GET /status: live answers 200 with a state, documented a 404."""
    if dialect == "live":
        return JSONResponse({"state": "NOT FOUND"})
    return _documented_not_found(kickoff_id)


def stopped(kickoff_id: str) -> JSONResponse:
    """POST /stop of a run that was going: the same answer in both dialects."""
    return JSONResponse({"status": "stopped", "kickoffId": kickoff_id})


def cannot_stop(phase: Phase) -> JSONResponse:
    """POST /stop of a run that has already ended."""
    state = _ENDED_STATE[phase]
    return live_error(400, f"Cannot stop execution. Current state: {state}")


def stop_not_found(kickoff_id: str) -> JSONResponse:
    """POST /stop of an unknown id: the ``{error, message}`` form in both dialects."""
    return _documented_not_found(kickoff_id)


def health(dialect: SimDialect) -> Response:
    """``GET /`` of a crew: the live service says it is healthy, the documented one has no
    such route."""
    if dialect == "live":
        return PlainTextResponse("Healthy")
    return JSONResponse({"detail": "Not Found"}, status_code=404)


# -- errors ---------------------------------------------------------------------------------


def documented_error(
    code: int, error: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse(body, status_code=code)


def live_error(code: int, detail: Any) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=code)


def unauthorized(dialect: SimDialect, header_present: bool) -> JSONResponse:
    if dialect == "documented":
        return documented_error(401, "Unauthorized", "Invalid or missing bearer token")
    if not header_present:
        return live_error(401, "Not authenticated")
    return live_error(401, "Invalid or missing authentication credentials")


def missing_inputs(dialect: SimDialect, names: list[str]) -> JSONResponse:
    if dialect == "live":
        return live_error(422, "Missing inputs: " + ", ".join(sorted(names)))
    return documented_error(
        422, "Validation Error", "Missing required inputs", {"missing_inputs": names}
    )


def missing_fields(dialect: SimDialect, names: list[str]) -> JSONResponse:
    """A body without a required field: FastAPI's list form live, a 422 with details else."""
    if dialect == "live":
        detail = [
            {"loc": ["body", name], "msg": "Field required", "type": "missing"} for name in names
        ]
        return live_error(422, detail)
    return documented_error(
        422, "Validation Error", "Missing required fields", {"missing_fields": names}
    )


def bad_request(dialect: SimDialect, message: str) -> Response:
    """A body that is not JSON or not an object: plain text 500 live, 400 documented."""
    if dialect == "live":
        return PlainTextResponse("Internal Server Error", status_code=500)
    return documented_error(400, "Bad Request", message)


def server_error(dialect: SimDialect, turn: int) -> Response:
    """An injected 500: in turn plain text, a proxy's HTML page, the dialect's JSON."""
    flavour = turn % 3
    if flavour == 0:
        return PlainTextResponse("Internal Server Error", status_code=500)
    if flavour == 1:
        html = "<html><head><title>500 Internal Server Error</title></head><body>" \
            "<h1>500 Internal Server Error</h1></body></html>"  # fmt: skip
        return Response(html, status_code=500, media_type="text/html")
    if dialect == "live":
        return live_error(500, "Internal Server Error")
    return documented_error(500, "Internal Server Error", "An unexpected error occurred")


def rate_limited(dialect: SimDialect, retry_after: str) -> JSONResponse:
    headers = {"Retry-After": retry_after}
    if dialect == "live":
        return JSONResponse({"detail": "Too Many Requests"}, status_code=429, headers=headers)
    body = {"error": "Too Many Requests", "message": "Rate limit exceeded, retry later"}
    return JSONResponse(body, status_code=429, headers=headers)


def invalid_field(dialect: SimDialect, name: str, message: str) -> JSONResponse:
    """A field with a value the service refuses (a webhook URL that is not a URL, ...)."""
    if dialect == "live":
        loc = ["body", *name.split(".")]
        return live_error(422, [{"loc": loc, "msg": message, "type": "value_error"}])
    return documented_error(400, "Bad Request", f"{name} {message}")


def no_saved_state(dialect: SimDialect, state_id: str) -> JSONResponse:
    """``restoreFromStateId`` that names no execution of the flow: a refused kickoff (a 404
    would read as a wrong deployment URL)."""
    message = f"No saved state with id {state_id}"
    if dialect == "live":
        return live_error(400, message)
    return documented_error(400, "Bad Request", message)


def resume_not_found(dialect: SimDialect, execution_id: str) -> JSONResponse:
    if dialect == "live":
        return live_error(404, "Execution not found")
    return _documented_not_found(execution_id)


def not_waiting(dialect: SimDialect, execution_id: str) -> JSONResponse:
    message = f"Execution {execution_id} is not waiting for human input"
    if dialect == "live":
        return live_error(400, message)
    return documented_error(400, "Bad Request", message)
