"""The simulator: a real HTTP server that answers like crews deployed on CrewAI AMP.

Four example crews live at path prefixes of one server (``/travel``, ...), each a base URL
of its own. Everything is in memory; a run's state is computed from the clock (see
:mod:`crewtui.sim.timeline`), so the only background work is webhook delivery.

Kickoff inputs beyond a crew's required ones steer a run (a real crew ignores extras):

- ``fail=1``: the run fails during its first or second task, with the crew's error;
- ``hold=1``: the run waits for human input after its first task (live state ``PAUSED``;
  documented ``running`` with one task done; a ``human_feedback_requested`` event) until
  POST /resume, which must carry the webhook URLs the run was started with;
- ``duration_scale=X``: every duration of the run is multiplied by X;
- ``task_scales=A,B,...``: each task's duration is also multiplied by its own factor, in
  the crew's order (tasks of one run vary, as a real crew's do);
- ``json=1``: the final result is JSON in a ```json fence (live ``result_json`` is set).

POST /stop ends a pending, running or paused run (live ``REVOKED``; documented ``error``).

One flow deployment, ``/onboarding``, is served beside them: its units are methods, its
inputs are optional state fields, and its ``approve_account`` method waits for a person
(with a message) until POST /resume names it (``hold=0`` skips the wait). Its batched
events are crewai's ``flow_*`` and ``method_execution_*``; its live status counts steps
without a total and names the execution (``flow_id``, which is its first kickoff id):

- ``inputs.id`` naming an execution of the flow restarts that execution under the same
  kickoff id (the service overwrites it: a finished run goes back to running);
- ``restoreFromStateId`` naming an execution starts a new kickoff (a new id) from that
  execution's state: the methods it had finished are not run again.

With ``hitl_url`` and ``hitl_secret`` a paused run also sends a signed human-in-the-loop
request there, and its callback resumes the run (:mod:`crewtui.sim.hitl`).
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import math
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    MutableMapping,
)
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from types import TracebackType
from typing import Any, Literal, Self, cast

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from crewtui.sim import bodies
from crewtui.sim.crews import DEPLOYMENTS, FLOWS, SimCrew
from crewtui.sim.hitl import RESENDS, HitlSender, Resend
from crewtui.sim.timeline import Hooks, Run, restored, resume, snapshot, stop, waiting_task
from crewtui.sim.webhooks import Deliverer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_TRUE = frozenset({"1", "true", "yes", "on"})
_HOOK_FIELDS = ("taskWebhookUrl", "stepWebhookUrl", "crewWebhookUrl")


@dataclass
class FaultSettings:
    """Misbehaviour injected into every crew endpoint; mutable while the server runs."""

    latency: float = 0.0
    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after: str = "1"
    drop_rate: float = 0.0
    # The next this many POST /kickoff are answered 429 (with ``retry_after``), whatever the
    # rates: a client's backoff tested without chance.
    kickoff_rate_limits: int = 0

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply a partial update, validating every value first (all or nothing)."""
        known = {item.name: item.type for item in fields(self)}
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault {name!r}")
            checked[name] = _fault_value(name, value)
        for name, value in checked.items():
            setattr(self, name, value)


def _fault_value(name: str, value: Any) -> Any:
    if name == "retry_after":
        return str(value)
    if name == "kickoff_rate_limits":
        if isinstance(value, int | str) and not isinstance(value, bool) and str(value).isdigit():
            return int(value)
        raise ValueError(f"{name} must be a whole number, 0 or more")
    number = float(value)
    if not math.isfinite(number) or number < 0 or (name != "latency" and number > 1):
        raise ValueError(f"{name} must be a number between 0 and {'∞' if name == 'latency' else 1}")
    return number


@dataclass
class SimOptions:
    """How the simulated deployment behaves; ``speed`` 10 runs ten times faster."""

    dialect: Literal["live", "documented"] = "live"
    speed: float = 1.0
    token: str = field(default="sim-bearer-token", repr=False)
    user_token: str = field(default="sim-user-token", repr=False)
    failure_rate: float = 0.0
    seed: int | None = None
    faults: FaultSettings = field(default_factory=FaultSettings)
    # Where a paused run sends a flow's signed human-in-the-loop request, and the secret
    # it is signed with; both or neither.
    hitl_url: str | None = None
    hitl_secret: str | None = field(default=None, repr=False)


@dataclass
class SimCounts:
    """What the simulator served, for tests and benchmarks that must prove a client's
    behaviour from the service's side: each kickoff's meta in the order they came (a batch
    row started twice shows twice), the most runs going at once, the 429s sent, and the
    status polls each kickoff id was asked for (known to the service or not)."""

    kickoff_metas: list[Any] = field(default_factory=list)
    max_running: int = 0
    rate_limited: int = 0
    status_polls: Counter[str] = field(default_factory=Counter)

    def note_kickoff(self, meta: Any, runs: Iterable[Run]) -> None:
        """A kickoff was accepted; ``runs`` are every run, the new one included."""
        self.kickoff_metas.append(meta)
        now = time.monotonic()
        going = sum(1 for run in runs if not snapshot(run, now).phase.ended)
        self.max_running = max(self.max_running, going)


class _Invalid(Exception):
    """A kickoff or resume body the service would refuse; carries the answer to send."""

    def __init__(self, response: Response) -> None:
        super().__init__("invalid request")
        self.response = response


class _Sim:
    """The state shared by the routes of one app: options, runs, webhook tasks."""

    def __init__(self, options: SimOptions) -> None:
        self.options = options
        self.rng = random.Random(options.seed)
        self.errors_sent = itertools.count()  # injected 500s take turns between forms
        self.runs: dict[tuple[str, str], Run] = {}
        self.deliveries: dict[int, asyncio.Task[None]] = {}
        self.client: httpx.AsyncClient | None = None
        self.hitl: HitlSender | None = None
        self.watchers: set[asyncio.Task[None]] = set()
        self.counts = SimCounts()

    @property
    def dialect(self) -> bodies.SimDialect:
        return self.options.dialect

    def authorize(self, request: Request, allow_user_token: bool = True) -> Response | None:
        """None when the request carries one of the crew's tokens, else the 401 to send."""
        header = request.headers.get("authorization")
        if header is None:
            return bodies.unauthorized(self.dialect, header_present=False)
        scheme, _, token = header.partition(" ")
        accepted = [self.options.token] + ([self.options.user_token] if allow_user_token else [])
        if scheme.lower() == "bearer" and any(
            hmac.compare_digest(token.strip().encode(), good.encode()) for good in accepted
        ):
            return None
        return bodies.unauthorized(self.dialect, header_present=True)

    def deliver(self, run: Run, skip_past: bool = False) -> None:
        """Start delivering the run's webhooks unless that is already under way."""
        running = self.deliveries.get(id(run))
        if not run.hooks.any or self.client is None or (running and not running.done()):
            return
        task = asyncio.create_task(Deliverer(run, self.client).run(skip_past))
        self.deliveries[id(run)] = task
        task.add_done_callback(lambda _: self._forget(id(run), task))

    def replace_run(self, old: Run, new: Run) -> None:
        """A flow execution overwritten by a restart: its old webhooks stop, the new run
        answers under the same key."""
        running = self.deliveries.pop(id(old), None)
        if running is not None:
            running.cancel()
        old.resumed.set()
        self.runs[(new.crew.name, new.kickoff_id)] = new

    def watch_for_pause(self, run: Run, crew: str, callback_base: str) -> None:
        """Send the run's human-in-the-loop request when it pauses, if configured (now:
        the options may change while the server runs)."""
        url, secret = self.options.hitl_url, self.options.hitl_secret
        if self.hitl is None or not url or not secret:
            return
        task = asyncio.create_task(
            self.hitl.watch(run, crew, callback_base, (url, secret), self._current(crew))
        )
        self.watchers.add(task)
        task.add_done_callback(self.watchers.discard)

    def _current(self, crew: str) -> Callable[[Run], bool]:
        """Whether a run is still the one its kickoff id names (not replaced since)."""
        return lambda run: self.runs.get((crew, run.kickoff_id)) is run

    def _forget(self, key: int, task: asyncio.Task[None]) -> None:
        if self.deliveries.get(key) is task:
            del self.deliveries[key]

    async def close(self) -> None:
        pending = [*self.deliveries.values(), *self.watchers]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self.client is not None:
            await self.client.aclose()


class _SimApp(FastAPI):
    """FastAPI with faults applied in front of everything, where uvicorn's own ``send`` is
    still reachable (a dropped connection needs the transport, not a response)."""

    sim: _Sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not str(scope.get("path", "")).startswith("/_sim/"):
            answer = await self._fault(scope)
            if answer == "drop":
                _drop_connection(send)
                return
            if isinstance(answer, Response):
                await answer(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _fault(self, scope: Scope) -> Response | Literal["drop"] | None:
        faults = self.sim.options.faults
        if faults.latency > 0:
            await asyncio.sleep(faults.latency)
        draw = self.sim.rng.random()
        if draw < faults.drop_rate:
            return "drop"
        draw -= faults.drop_rate
        if draw < faults.error_rate:
            return bodies.server_error(self.sim.dialect, next(self.sim.errors_sent))
        draw -= faults.error_rate
        if draw < faults.rate_limit_rate:
            self.sim.counts.rate_limited += 1
            return bodies.rate_limited(self.sim.dialect, faults.retry_after)
        return None


def _drop_connection(send: Send) -> None:
    """Close the client's connection without an answer.

    uvicorn's ``send`` is a bound method of the request cycle, which holds the transport;
    marking the cycle disconnected stops uvicorn from sending its own 500 afterwards. Under
    another server (no transport to reach), an exception is the closest thing to a drop.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("simulated dropped connection")
    transport.abort()
    cycle.disconnected = True  # type: ignore[union-attr]


def create_app(options: SimOptions) -> FastAPI:
    """The simulator as an ASGI app (serve it with uvicorn, or use :class:`SimServer`)."""
    sim = _Sim(options)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        sim.client = httpx.AsyncClient(timeout=5.0)
        sim.hitl = HitlSender(sim.client)
        try:
            yield
        finally:
            await sim.close()

    app = _SimApp(title="crewtui AMP simulator", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.sim = sim
    _add_crew_routes(app, sim)
    _add_control_routes(app, sim)
    return app


def _crew(name: str) -> SimCrew:
    crew = DEPLOYMENTS.get(name)
    if crew is None:
        raise _Invalid(JSONResponse({"detail": "Not Found"}, status_code=404))
    return crew


async def _json_object(request: Request, sim: _Sim) -> dict[str, Any]:
    """The request's JSON object; what is not JSON gets the dialect's 500/400 answer."""
    try:
        body = json.loads(await request.body())
    except ValueError as exc:
        raise _Invalid(bodies.bad_request(sim.dialect, "Request body must be JSON")) from exc
    if not isinstance(body, dict):
        raise _Invalid(bodies.bad_request(sim.dialect, "Request body must be a JSON object"))
    return body


def _add_crew_routes(app: FastAPI, sim: _Sim) -> None:
    def guarded(
        handler: Callable[[SimCrew, Request], Awaitable[Response]],
    ) -> Callable[[str, Request], Awaitable[Response]]:
        """Resolve the crew, check the token, and turn _Invalid into its answer."""

        async def route(crew: str, request: Request) -> Response:
            try:
                found = _crew(crew)
                denied = sim.authorize(request)
                return denied if denied is not None else await handler(found, request)
            except _Invalid as invalid:
                return invalid.response

        return route

    async def inputs(crew: SimCrew, _: Request) -> Response:
        return JSONResponse({"inputs": list(crew.inputs)})

    async def kickoff(crew: SimCrew, request: Request) -> Response:
        faults = sim.options.faults
        if faults.kickoff_rate_limits > 0:
            faults.kickoff_rate_limits -= 1
            sim.counts.rate_limited += 1
            return bodies.rate_limited(sim.dialect, faults.retry_after)
        body = await _json_object(request, sim)
        run = _new_run(crew, body, sim)
        overwritten = _execution(crew, run.inputs.get("id"), sim)
        if overwritten is not None:
            run.kickoff_id = overwritten.kickoff_id
            run.flow_id = overwritten.flow_id
            sim.replace_run(overwritten, run)
        else:
            sim.runs[(crew.name, run.kickoff_id)] = run
        sim.counts.note_kickoff(run.meta, sim.runs.values())
        sim.deliver(run)
        sim.watch_for_pause(run, crew.name, str(request.base_url))
        return JSONResponse({"kickoff_id": run.kickoff_id})

    async def status(crew: SimCrew, request: Request) -> Response:
        kickoff_id = request.path_params["kickoff_id"]
        sim.counts.status_polls[kickoff_id] += 1
        run = sim.runs.get((crew.name, kickoff_id))
        if run is None:
            return bodies.not_found(sim.dialect, kickoff_id)
        snap = snapshot(run, time.monotonic())
        if sim.dialect == "live":
            return JSONResponse(bodies.live_status(run, snap))
        return JSONResponse(bodies.documented_status(run, snap))

    async def resume_run(crew: SimCrew, request: Request) -> Response:
        return _resume(crew, await _json_object(request, sim), sim)

    async def stop_run(crew: SimCrew, request: Request) -> Response:
        kickoff_id = request.path_params["kickoff_id"]
        run = sim.runs.get((crew.name, kickoff_id))
        if run is None:
            return bodies.stop_not_found(kickoff_id)
        now = time.monotonic()
        phase = snapshot(run, now).phase
        if phase.ended:
            return bodies.cannot_stop(phase)
        stop(run, now)
        return bodies.stopped(kickoff_id)

    async def health(crew: str) -> Response:
        """``GET /``, the one route that needs no token."""
        return bodies.health(sim.dialect) if crew in DEPLOYMENTS else bodies.health("documented")

    app.add_api_route("/{crew}/inputs", guarded(inputs), methods=["GET"])
    app.add_api_route("/{crew}/kickoff", guarded(kickoff), methods=["POST"])
    app.add_api_route("/{crew}/resume", guarded(resume_run), methods=["POST"])

    status_route, stop_route = guarded(status), guarded(stop_run)

    async def status_with_id(crew: str, kickoff_id: str, request: Request) -> Response:
        return await status_route(crew, request)

    async def stop_with_id(crew: str, kickoff_id: str, request: Request) -> Response:
        return await stop_route(crew, request)

    async def hitl_callback(crew: str, request_id: str, request: Request) -> Response:
        """A flow request's ``callback_url``: the URL is the credential, as on the service."""
        sent = sim.hitl.sent.get(request_id) if sim.hitl is not None else None
        if sent is None or sent.crew != crew:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        try:
            body = await _json_object(request, sim)
        except _Invalid as invalid:
            return invalid.response
        feedback = body.get("feedback")
        if not isinstance(feedback, str):
            return JSONResponse({"detail": "feedback must be a string"}, status_code=422)
        now = time.monotonic()
        if sent.answered or waiting_task(sent.run, now) is None:
            return JSONResponse({"detail": "This request was already answered"}, status_code=409)
        sent.answered = True
        resume(sent.run, now, approved=not feedback.strip().lower().startswith("reject"))
        sim.deliver(sent.run, skip_past=True)
        return JSONResponse({"status": "received"})

    app.add_api_route("/{crew}/hitl/{request_id}/callback", hitl_callback, methods=["POST"])
    app.add_api_route("/{crew}/status/{kickoff_id}", status_with_id, methods=["GET"])
    app.add_api_route("/{crew}/stop/{kickoff_id}", stop_with_id, methods=["POST"])
    app.add_api_route("/{crew}/", health, methods=["GET"])


def _url(body: Mapping[str, Any], name: str, sim: _Sim) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return value
    raise _Invalid(bodies.invalid_field(sim.dialect, name, "must be an absolute http(s) URL"))


def _hooks(body: Mapping[str, Any], sim: _Sim) -> Hooks:
    """The classic webhook URLs and the newer ``webhooks`` object of a kickoff body."""
    task_url, step_url, crew_url = (_url(body, name, sim) for name in _HOOK_FIELDS)
    batched = body.get("webhooks")
    if batched is None:
        return Hooks(task_url, step_url, crew_url)
    if not isinstance(batched, dict):
        raise _Invalid(bodies.invalid_field(sim.dialect, "webhooks", "must be an object"))
    events = batched.get("events")
    auth = batched.get("authentication")
    token = auth.get("token") if isinstance(auth, dict) else None
    return Hooks(
        task_url,
        step_url,
        crew_url,
        events_url=_url(batched, "url", sim),
        events=frozenset(str(name) for name in events) if isinstance(events, list) else None,
        events_token=token if isinstance(token, str) else None,
    )


def _stringify(value: Any) -> str:
    """The service turns every input into a string."""
    return value if isinstance(value, str) else json.dumps(value)


def _scale(inputs: Mapping[str, str], sim: _Sim) -> float:
    try:
        scale = float(inputs.get("duration_scale", "1"))
    except ValueError:
        scale = -1.0
    if not math.isfinite(scale) or scale <= 0:
        message = "must be a positive number"
        raise _Invalid(bodies.invalid_field(sim.dialect, "inputs.duration_scale", message))
    return scale


def _task_scales(inputs: Mapping[str, str], sim: _Sim) -> tuple[float, ...]:
    """The ``task_scales`` input: one positive factor per task, comma-separated."""
    text = inputs.get("task_scales", "").strip()
    if not text:
        return ()
    try:
        scales = tuple(float(part) for part in text.split(","))
    except ValueError:
        scales = (-1.0,)
    if not all(math.isfinite(scale) and scale > 0 for scale in scales):
        message = "must be positive numbers separated by commas"
        raise _Invalid(bodies.invalid_field(sim.dialect, "inputs.task_scales", message))
    return scales


def _new_run(crew: SimCrew, body: dict[str, Any], sim: _Sim) -> Run:
    raw_inputs = body.get("inputs")
    if not isinstance(raw_inputs, dict):
        raise _Invalid(bodies.missing_fields(sim.dialect, ["inputs"]))
    inputs = dict(crew.state_defaults) | {
        str(name): _stringify(value) for name, value in raw_inputs.items()
    }
    missing = [name for name in crew.required_inputs if name not in inputs]
    if missing:
        raise _Invalid(bodies.missing_inputs(sim.dialect, missing))
    forced = inputs.get("fail", "").lower() in _TRUE
    kickoff_id = str(uuid.uuid4())
    skip = 0
    if crew.is_flow and body.get("restoreFromStateId") is not None:
        state_id = _stringify(body["restoreFromStateId"])
        source = _execution(crew, state_id, sim)
        if source is None:
            raise _Invalid(bodies.no_saved_state(sim.dialect, state_id))
        skip = restored(source, time.monotonic())
    # A flow holds for its reviewer unless told not to; a crew only when asked.
    hold = inputs.get("hold", "1" if crew.is_flow else "").lower() in _TRUE
    return Run(
        crew=crew,
        kickoff_id=kickoff_id,
        inputs=inputs,
        meta=body.get("meta"),
        started_mono=time.monotonic(),
        started_wall=time.time(),
        speed=sim.options.speed,
        scale=_scale(inputs, sim),
        task_scales=_task_scales(inputs, sim),
        will_fail=forced or sim.rng.random() < sim.options.failure_rate,
        hold=hold,
        json_result=inputs.get("json", "").lower() in _TRUE,
        hooks=_hooks(body, sim),
        flow_id=inputs.get("id", kickoff_id) if crew.is_flow else None,
        skip=skip,
    )


def _execution(crew: SimCrew, execution_id: str | None, sim: _Sim) -> Run | None:
    """The run of a flow that ``execution_id`` names (its kickoff id or its flow id)."""
    if not crew.is_flow or not execution_id:
        return None
    found = sim.runs.get((crew.name, execution_id))
    if found is not None:
        return found
    runs = (run for (name, _), run in sim.runs.items() if name == crew.name)
    return next((run for run in runs if run.flow_id == execution_id), None)


def _resume(crew: SimCrew, body: dict[str, Any], sim: _Sim) -> Response:
    """POST /resume: live wants camelCase and answers a new kickoff id; documented snake."""
    live = sim.dialect == "live"
    id_field, task_field, approve_field = (
        ("executionId", "taskId", "isApprove")
        if live
        else ("execution_id", "task_id", "is_approve")
    )
    missing = [name for name in (id_field, task_field) if not isinstance(body.get(name), str)]
    if missing:
        return bodies.missing_fields(sim.dialect, missing)
    execution_id = body[id_field]
    run = sim.runs.get((crew.name, execution_id))
    if run is None:
        return bodies.resume_not_found(sim.dialect, execution_id)
    waiting = waiting_task(run, time.monotonic())
    if waiting is None or waiting.task_id != body[task_field]:
        return bodies.not_waiting(sim.dialect, execution_id)
    hooks = _hooks(body, sim)
    # The service requires the webhook URLs the run was started with, sent again.
    started_with = (run.hooks.task_url, run.hooks.step_url, run.hooks.crew_url)
    resent = (hooks.task_url, hooks.step_url, hooks.crew_url)
    unsent = [
        name
        for name, had, again in zip(_HOOK_FIELDS, started_with, resent, strict=True)
        if had and not again
    ]
    if unsent:
        return bodies.missing_fields(sim.dialect, unsent)
    run.hooks = replace(
        run.hooks, task_url=hooks.task_url, step_url=hooks.step_url, crew_url=hooks.crew_url
    )
    approved = body.get(approve_field, True) is not False
    resume(run, time.monotonic(), approved)
    if live:
        run.kickoff_id = str(uuid.uuid4())
        sim.runs[(crew.name, run.kickoff_id)] = run
    sim.deliver(run, skip_past=True)
    if live:
        return JSONResponse({"kickoff_id": run.kickoff_id})
    word = "resumed" if approved else "retrying"
    return JSONResponse({"status": word, "message": f"Execution {word} with human feedback"})


def _add_control_routes(app: FastAPI, sim: _Sim) -> None:
    async def set_faults(request: Request) -> Response:
        """Switch faults on and off from outside the process (benchmarks, demos)."""
        denied = sim.authorize(request, allow_user_token=False)
        if denied is not None:
            return denied
        try:
            sim.options.faults.update(await _json_object(request, sim))
        except _Invalid as invalid:
            return invalid.response
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=422)
        return JSONResponse(asdict(sim.options.faults))

    async def resend_request(request_id: str, request: Request) -> Response:
        """Send a human-in-the-loop request again: ``{"how": "replay" | "bad_signature" |
        "stale" | "future" | "unsigned"}``; answers the receiver's status."""
        denied = sim.authorize(request, allow_user_token=False)
        if denied is not None:
            return denied
        try:
            how = (await _json_object(request, sim)).get("how", "replay")
        except _Invalid as invalid:
            return invalid.response
        if how not in RESENDS:
            known = ", ".join(sorted(RESENDS))
            return JSONResponse({"detail": f"how must be one of {known}"}, status_code=422)
        if sim.hitl is None or request_id not in sim.hitl.sent:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        status = await sim.hitl.resend(request_id, cast(Resend, how))
        return JSONResponse({"receiver_status": status})

    app.add_api_route("/_sim/faults", set_faults, methods=["POST"])
    app.add_api_route("/_sim/hitl/{request_id}/resend", resend_request, methods=["POST"])


class _Uvicorn(uvicorn.Server):
    """uvicorn that tells another thread when it is listening (or gave up trying)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: Any = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()


class ThreadedServer:
    """Any ASGI app on uvicorn in a background thread (the simulator, a test's receiver)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
        self._server = _Uvicorn(config)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start serving; returns once the server accepts connections (``port`` is then
        the real one, even when 0 asked for a free port)."""
        self._thread = threading.Thread(target=self._serve, name="crewtui-sim", daemon=True)
        self._thread.start()
        self._server.ready.wait()
        if not self._server.started:
            self._thread.join()
            raise RuntimeError(f"could not listen on {self.host}:{self.port}")
        self.port = self._server.servers[0].sockets[0].getsockname()[1]

    def _serve(self) -> None:
        try:
            self._server.run()
        except SystemExit:  # uvicorn exits when it cannot listen; it has logged why
            return

    def stop(self) -> None:
        """Stop serving and wait for the server thread to finish its shutdown."""
        self._server.should_exit = True
        self.wait()

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C interrupts the wait in the main thread)."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class SimServer(ThreadedServer):
    """The simulator on uvicorn in a background thread, for tests, the demo and the CLI."""

    CREWS: tuple[str, ...] = ("travel", "outreach", "content", "research")
    FLOWS: tuple[str, ...] = tuple(FLOWS)

    def __init__(
        self, options: SimOptions | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.options = options if options is not None else SimOptions()
        app = create_app(self.options)
        # What it served (read from the test's thread: counters and a list, no locking).
        self.counts: SimCounts = cast(_SimApp, app).sim.counts
        super().__init__(app, host, port)

    def crew_url(self, crew: str) -> str:
        return f"{self.base_url}/{DEPLOYMENTS[crew].name}"

    def required_inputs(self, crew: str) -> list[str]:
        return list(DEPLOYMENTS[crew].required_inputs)

    def sample_inputs(self, crew: str) -> dict[str, str]:
        return dict(DEPLOYMENTS[crew].sample_inputs)
