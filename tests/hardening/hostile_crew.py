"""A real crew API on 127.0.0.1 that answers with hostile strings in every field.

The crew's base URL says what to send: ``/{dialect}/{mode}/{case}/{fields}``, where

- ``dialect`` is ``live`` or ``documented`` (the API contract);
- ``mode`` is the kind of answer: ``done``, ``failed``, ``running`` (a 200 status of that
  kind), ``http500`` (every endpoint fails with the text as its error body), ``http422``
  (the kickoff is refused with the text as the missing input), ``badid`` (the kickoff id
  itself is the text), ``echo`` (every endpoint fails with a body that quotes the
  ``Authorization`` header back), ``echo_ok`` (a completed run whose texts quote it), or
  ``echo_coded`` and ``echo_coded_ok`` (the same, quoting it only encoded: every character
  as a JSON ``\\u`` escape, every byte percent-encoded, and as Python's bytes repr);
- ``case`` names a corpus entry (``tests.hardening.corpus.BY_NAME``);
- ``fields`` is ``all`` or groups of fields joined by ``+`` (``output``, ``names``,
  ``message``, ``meta``, ``extra``, ``step``, ``inputs``) to carry the text while the others
  carry plain words:
  the 1 MB line in every field at once would exceed the client's body cap, as it should.

The bodies are pure functions of those four (``status_body``, ``inputs_body``), so a test
can compute exactly what the server sent and check that ``--json`` gives it back unaltered.
Bodies are JSON with ``ensure_ascii``, so a lone surrogate goes out as ``\\ud800`` just as a
real server may send it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import Response

from crewtui.sim.server import ThreadedServer
from tests.hardening.corpus import BY_NAME

Dialect = Literal["live", "documented"]
GROUPS = ("output", "names", "message", "meta", "extra", "step", "inputs")
MODES = (
    "done",
    "failed",
    "running",
    "http500",
    "http422",
    "badid",
    "echo",
    "echo_ok",
    "echo_coded",
    "echo_coded_ok",
)
# Stands in the JSON text for the header written as \u escapes (json.dumps keeps ASCII as is).
_ESCAPED = "@@ESCAPED@@"


def selected(fields: str, group: str) -> bool:
    """True when ``fields`` (``all``, or groups joined by ``+``) selects ``group``."""
    return fields == "all" or group in fields.split("+")


def _pick(fields: str, group: str, text: str, plain: str) -> str:
    """The hostile text when ``group`` is selected, else a plain word."""
    return text if selected(fields, group) else plain


def inputs_body(text: str, fields: str) -> dict[str, Any]:
    """GET /inputs: the hostile text as the name of a required input."""
    return {"inputs": [_pick(fields, "inputs", text, "topic"), "audience"]}


def status_body(dialect: str, mode: str, text: str, fields: str) -> dict[str, Any]:
    """GET /status for ``done``, ``failed`` and ``running`` (other modes answer like done)."""
    mode = mode if mode in ("failed", "running") else "done"
    if dialect == "live":
        return _live_status(mode, text, fields)
    return _documented_status(mode, text, fields)


def _extra(text: str, fields: str) -> dict[str, Any]:
    """An unknown field, its key hostile too (it lands in ``raw``)."""
    return {_pick(fields, "extra", text, "events_count"): _pick(fields, "extra", text, "3")}


def _live_status(mode: str, text: str, fields: str) -> dict[str, Any]:
    def pick(group: str, plain: str) -> str:
        return _pick(fields, group, text, plain)

    return {
        "state": {"done": "SUCCESS", "failed": "FAILED", "running": "RUNNING"}[mode],
        "status": None if mode == "done" else pick("message", "Task is Running"),
        "result": pick("output", "final output") if mode == "done" else None,
        "result_json": None,
        "progress": {
            "unit": "task",
            "completed": 1,
            "total": 2,
            "remaining": 1,
            "current": pick("names", "planning_task"),
            "current_agent": pick("names", "Itinerary Planner"),
        },
        "last_executed_task": {
            "name": pick("names", "research_task"),
            "description": pick("output", "research"),
            "agent": pick("names", "Travel Researcher"),
            "output": pick("output", "task output"),
            "meta": {pick("meta", "requestId"): pick("meta", "req-1")},
        },
        "last_step": {
            "thought": pick("step", "thinking"),
            "tool": pick("step", "search"),
            "tool_input": pick("step", "query"),
            "result": pick("output", "found"),
        },
        **_extra(text, fields),
    }


def _documented_status(mode: str, text: str, fields: str) -> dict[str, Any]:
    def pick(group: str, plain: str) -> str:
        return _pick(fields, group, text, plain)

    if mode == "failed":
        body: dict[str, Any] = {
            "status": "error",
            "error": pick("message", "Task execution failed"),
            "execution_time": 23.1,
        }
    elif mode == "running":
        body = {
            "status": "running",
            "current_task": pick("names", "research_task"),
            "progress": {"completed_tasks": 1, "total_tasks": 2},
        }
    else:
        task = {
            "task_id": pick("names", "research_task"),
            "output": pick("output", "task output"),
            "agent": pick("names", "Travel Researcher"),
            "execution_time": 45.2,
        }
        body = {
            "status": "completed",
            "result": {"output": pick("output", "final output"), "tasks": [task]},
            "execution_time": 108.5,
        }
    return {**body, **_extra(text, fields)}


def error_response(dialect: str, status: int, text: str) -> Response:
    """An error in the dialect's own form: documented JSON, live plain text (for a 500)."""
    if dialect == "live":
        return Response(text.encode("utf-8", "surrogatepass"), status, media_type="text/plain")
    return _json({"error": "Internal Server Error", "message": text}, status)


def coded_echo(authorization: str) -> str:
    """A text quoting the header only in encoded forms (``_ESCAPED`` becomes the escapes)."""
    percent = "".join(f"%{byte:02X}" for byte in authorization.encode())
    return f"you sent {_ESCAPED} = {percent} = {authorization.encode()!r}"


def _with_escapes(response: Response, authorization: str) -> Response:
    """``response`` with ``_ESCAPED`` replaced by the header, every character ``\\u``-escaped."""
    escaped = "".join(f"\\u{ord(char):04x}" for char in authorization).encode()
    return Response(
        response.body.replace(_ESCAPED.encode(), escaped),
        response.status_code,
        media_type=response.media_type,
    )


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=True), status, media_type="application/json")


def _refused(dialect: str, text: str) -> Response:
    if dialect == "live":
        return _json({"detail": f"Missing inputs: {text}"}, 422)
    return _json(
        {
            "error": "Validation Error",
            "message": text,
            "details": {"missing_inputs": [text]},
        },
        422,
    )


def build_app() -> FastAPI:
    """The hostile crew as an ASGI app (serve it with ``ThreadedServer``)."""
    app = FastAPI()
    base = "/{dialect}/{mode}/{case}/{fields}"

    def failure(request: Request, dialect: str, mode: str, text: str) -> Response | None:
        if mode == "http500":
            return error_response(dialect, 500, text)
        authorization = request.headers.get("authorization", "")
        if mode == "echo":
            return error_response(dialect, 500, f"bad credentials: {authorization}")
        if mode == "echo_coded":
            said = f"bad credentials: {coded_echo(authorization)}"
            return _with_escapes(error_response(dialect, 500, said), authorization)
        return None

    def text_for(request: Request, mode: str, case: str) -> str:
        authorization = request.headers.get("authorization", "")
        if mode == "echo_ok":
            return f"you sent {authorization}"
        if mode == "echo_coded_ok":
            return coded_echo(authorization)
        return BY_NAME[case].text

    def answer(request: Request, mode: str, response: Response) -> Response:
        if mode == "echo_coded_ok":
            return _with_escapes(response, request.headers.get("authorization", ""))
        return response

    @app.get(base + "/inputs")
    async def inputs(request: Request, dialect: str, mode: str, case: str, fields: str) -> Response:
        text = text_for(request, mode, case)
        return failure(request, dialect, mode, text) or answer(
            request, mode, _json(inputs_body(text, fields))
        )

    @app.post(base + "/kickoff")
    async def kickoff(
        request: Request, dialect: str, mode: str, case: str, fields: str
    ) -> Response:
        text = text_for(request, mode, case)
        if mode == "http422":
            return _refused(dialect, text)
        if mode == "badid":
            return _json({"kickoff_id": text})
        return failure(request, dialect, mode, text) or _json({"kickoff_id": str(uuid.uuid4())})

    @app.get(base + "/status/{kickoff_id}")
    async def status(request: Request, dialect: str, mode: str, case: str, fields: str) -> Response:
        text = text_for(request, mode, case)
        return failure(request, dialect, mode, text) or answer(
            request, mode, _json(status_body(dialect, mode, text, fields))
        )

    return app


class HostileCrew:
    """The hostile crew served on a free loopback port; ``url`` builds a crew's base URL."""

    def __init__(self) -> None:
        self.server = ThreadedServer(build_app())

    def url(self, dialect: str, mode: str, case: str, fields: str = "all") -> str:
        assert mode in MODES and case in BY_NAME
        assert fields == "all" or set(fields.split("+")) <= set(GROUPS)
        return f"{self.server.base_url}/{dialect}/{mode}/{case}/{fields}"

    def __enter__(self) -> HostileCrew:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
