"""A flow's human-in-the-loop request end to end: simulator → receiver → tracker → callback.

The simulator, given the receiver's URL and the signing secret, sends a signed request when
a run pauses; crewtui shows the run waiting on the request's method; the answer goes to the
request's callback (served by the simulator), which resumes the run to its end. The CLI
answers it from another process, through the shared history.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from crewtui.api.callback import post_feedback
from crewtui.api.errors import ConfigError, NotFoundError, ServerError, TransportError
from crewtui.api.hitl import parse_request
from crewtui.api.models import Kickoff
from crewtui.api.states import RunState
from crewtui.config import resolve_paths
from crewtui.core.runtime import Runtime
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.sim import SimOptions, SimServer
from crewtui.sim.server import ThreadedServer
from tests.cli_helpers import run
from tests.conftest import TEST_SPEED
from tests.core.live_runtime import webhook_runtime
from tests.helpers import wait_until

SIGNING = "hitl-signing-secret-0123456789"
CREW = "travel"


@pytest.fixture
def hitl_sim() -> Iterator[SimServer]:
    """A simulator of its own: the test points its requests at its receiver."""
    with SimServer(SimOptions(dialect="live", speed=TEST_SPEED, seed=3)) as server:
        yield server


@pytest.fixture(params=["live", "documented"])
def hitl_sim_any(request: pytest.FixtureRequest) -> Iterator[SimServer]:
    """Like ``hitl_sim``, once per dialect (the documented one has no paused state)."""
    with SimServer(SimOptions(dialect=request.param, speed=TEST_SPEED, seed=3)) as server:
        yield server


@asynccontextmanager
async def hitl_runtime(sim: SimServer, home: Path, crew: str = CREW) -> AsyncIterator[Runtime]:
    """A running crewtui with a receiver that takes signed requests, which the simulator
    sends to; no per-kickoff webhooks, so the pause is known from the request (and polls)."""
    store_file = resolve_paths(home).store_file  # the history `crewtui --home` reads
    async with webhook_runtime(
        sim, home, crew, hitl_secret=SIGNING, store_file=store_file
    ) as runtime:
        yield runtime


def _waiting_on_request(kickoff: Kickoff | None) -> bool:
    return (
        kickoff is not None
        and kickoff.state is RunState.PAUSED
        and kickoff.waiting_for is not None
        and kickoff.waiting_for.request_id is not None
    )


def _completed(kickoff: Kickoff | None) -> bool:
    return kickoff is not None and kickoff.state is RunState.COMPLETED


async def _paused_by_request(runtime: Runtime, sim: SimServer) -> Kickoff:
    tracker = runtime.tracker
    inputs = sim.sample_inputs(CREW) | {"hold": "1"}
    kickoff_id = (await tracker.kickoff(CREW, inputs)).kickoff_id
    await wait_until(tracker, lambda: _waiting_on_request(tracker.get(kickoff_id)))
    kickoff = tracker.get(kickoff_id)
    assert kickoff is not None
    return kickoff


async def test_a_paused_run_is_shown_waiting_and_answered_through_the_callback(
    hitl_sim_any: SimServer, tmp_path: Path
) -> None:
    async with hitl_runtime(hitl_sim_any, tmp_path) as runtime:
        tracker = runtime.tracker
        kickoff = await _paused_by_request(runtime, hitl_sim_any)
        waiting = kickoff.waiting_for
        assert waiting is not None and waiting.task_id == "research_task"
        assert waiting.message and "research_task" in waiting.message

        resumed = await tracker.resume(kickoff.kickoff_id, feedback="Looks right, go on.")
        assert resumed.callback and resumed.feedback == "Looks right, go on."
        assert resumed.kickoff.waiting_for is None
        assert resumed.kickoff.state is RunState.RUNNING
        assert resumed.kickoff.hitl_answered_at is not None
        assert waiting.request_id is not None
        record = runtime.store.hitl_request(waiting.request_id)
        assert record is not None and record.answer == "Looks right, go on."
        assert record.answered_at is not None

        await wait_until(tracker, lambda: _completed(tracker.get(kickoff.kickoff_id)))


async def test_the_onboarding_flows_reviewer_is_asked_and_answered_through_the_callback(
    hitl_sim: SimServer, tmp_path: Path
) -> None:
    """The simulator's flow deployment pauses in ``approve_account``: its request says so."""
    async with hitl_runtime(hitl_sim, tmp_path, "onboarding") as runtime:
        tracker = runtime.tracker
        started = await tracker.kickoff("onboarding", hitl_sim.sample_inputs("onboarding"))
        kickoff_id = started.kickoff_id
        await wait_until(tracker, lambda: _waiting_on_request(tracker.get(kickoff_id)))
        kickoff = tracker.get(kickoff_id)
        assert kickoff is not None and kickoff.kind == "flow"
        assert kickoff.waiting_for is not None
        assert kickoff.waiting_for.task_id == "approve_account"
        resumed = await tracker.resume(kickoff_id, feedback="Approve: documents check out.")
        assert resumed.callback and resumed.kickoff.waiting_for is None
        await wait_until(tracker, lambda: _completed(tracker.get(kickoff_id)))


async def test_a_second_answer_is_refused_in_one_sentence_and_sends_nothing(
    hitl_sim: SimServer, tmp_path: Path
) -> None:
    async with hitl_runtime(hitl_sim, tmp_path) as runtime:
        kickoff = await _paused_by_request(runtime, hitl_sim)
        # A second window on the same history, showing the run waiting before the answer.
        profile = runtime.tracker.crews[CREW]
        other = Tracker([profile], runtime.store)
        try:
            assert _waiting_on_request(await other.track(CREW, kickoff.kickoff_id))
            await runtime.tracker.resume(kickoff.kickoff_id, feedback="yes")
            with pytest.raises(ConfigError, match="already answered"):
                await other.resume(kickoff.kickoff_id, feedback="yes again")
        finally:
            await other.stop()


async def test_an_empty_answer_sends_the_decision_as_the_feedback(
    hitl_sim: SimServer, tmp_path: Path
) -> None:
    async with hitl_runtime(hitl_sim, tmp_path) as runtime:
        kickoff = await _paused_by_request(runtime, hitl_sim)
        resumed = await runtime.tracker.resume(kickoff.kickoff_id, approve=False)
        assert resumed.feedback == "rejected"


async def test_the_simulator_resends_a_request_spoiled_as_asked(
    hitl_sim: SimServer, tmp_path: Path
) -> None:
    async with hitl_runtime(hitl_sim, tmp_path) as runtime:
        kickoff = await _paused_by_request(runtime, hitl_sim)
        assert kickoff.waiting_for is not None
        request_id = kickoff.waiting_for.request_id
        receiver = runtime.receiver
        assert receiver is not None
        token = {"Authorization": f"Bearer {hitl_sim.options.token}"}
        statuses = {}
        async with httpx.AsyncClient(timeout=10) as http:
            for how in ("bad_signature", "stale", "future", "unsigned", "replay"):
                answer = await http.post(
                    f"{hitl_sim.base_url}/_sim/hitl/{request_id}/resend",
                    json={"how": how},
                    headers=token,
                )
                statuses[how] = answer.json()["receiver_status"]
        assert statuses == {
            "bad_signature": 401,
            "stale": 401,
            "future": 401,
            "unsigned": 401,
            "replay": 200,
        }
        assert receiver.replayed == 1


# -- the CLI, in another process ---------------------------------------------------------------


def _write_config(home: Path, sim: SimServer) -> dict[str, str]:
    config = resolve_paths(home).config_file
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'[crews.{CREW}]\nurl = "{sim.crew_url(CREW)}"\ntoken_env = "SIM_CREW_TOKEN"\n'
    )
    return {"SIM_CREW_TOKEN": sim.options.token}


async def test_the_cli_answers_a_request_shown_in_another_process(
    hitl_sim: SimServer, tmp_path: Path
) -> None:
    env = _write_config(tmp_path, hitl_sim)
    async with hitl_runtime(hitl_sim, tmp_path) as runtime:
        tracker = runtime.tracker
        kickoff = await _paused_by_request(runtime, hitl_sim)
        answered = await asyncio.to_thread(
            run, tmp_path, "resume", kickoff.kickoff_id[:8], "--feedback", "Ship it", env=env
        )
        assert answered.returncode == 0, answered.stderr
        assert "through its callback" in answered.stdout and "Ship it" in answered.stdout
        assert kickoff.waiting_for is not None and kickoff.waiting_for.request_id is not None
        record = runtime.store.hitl_request(kickoff.waiting_for.request_id)
        assert record is not None and record.answer == "Ship it"
        await wait_until(tracker, lambda: _completed(tracker.get(kickoff.kickoff_id)))


async def test_the_cli_answers_a_request_of_a_deployment_no_crew_is_configured_for(
    target: CallbackTarget, tmp_path: Path
) -> None:
    store = Store.open(resolve_paths(tmp_path).store_file)
    tracker = Tracker([], store)
    body = {
        "event": "new_request",
        "request": {"id": "req-9", "flow_id": "flow-run-9", "method_name": "approve_account"},
        "deployment": {"name": "billing"},
        "callback_url": f"{target.server.base_url}/hitl/req-9?sig=abc",
    }
    request = parse_request(body, datetime.now(UTC))
    assert request is not None and await tracker.hitl_requested(request)
    store.close()

    answered = await asyncio.to_thread(run, tmp_path, "resume", "flow-run-9", "--reject", "--json")
    assert answered.returncode == 0, answered.stderr
    printed = json.loads(answered.stdout)
    assert printed["answered"]["via"] == "callback"
    assert printed["answered"]["feedback"] == "rejected"
    assert printed["crew"] == "billing" and printed["waiting_for"] is None
    [(_, sent)] = target.seen
    assert sent == {"feedback": "rejected", "source": "crewtui"}


# -- the callback client -----------------------------------------------------------------------


class CallbackTarget:
    """A callback endpoint that records what it is sent and answers a chosen status."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.seen: list[tuple[dict[str, str], Any]] = []
        app = FastAPI()

        async def callback(request: Request) -> Response:
            self.seen.append((dict(request.headers), await request.json()))
            return JSONResponse({"detail": "nope"}, status_code=self.status)

        app.add_api_route("/hitl/{rest:path}", callback, methods=["POST"])
        self.server = ThreadedServer(app)


@pytest.fixture
def target() -> Iterator[CallbackTarget]:
    target = CallbackTarget()
    with target.server:
        yield target


async def test_the_callback_gets_the_feedback_and_none_of_crewtuis_tokens(
    target: CallbackTarget,
) -> None:
    await post_feedback(f"{target.server.base_url}/hitl/r1?sig=x", "Ship it")
    [(headers, body)] = target.seen
    assert body == {"feedback": "Ship it", "source": "crewtui"}
    assert "authorization" not in headers


@pytest.mark.parametrize(
    ("status", "error", "says"),
    [(404, NotFoundError, "no longer knows"), (500, ServerError, "refused the answer")],
)
async def test_a_callback_that_does_not_take_the_answer_says_so_in_one_sentence(
    target: CallbackTarget, status: int, error: type[Exception], says: str
) -> None:
    target.status = status
    with pytest.raises(error) as caught:
        await post_feedback(f"{target.server.base_url}/hitl/r1?sig=secret-part", "x")
    message = str(caught.value)
    assert says in message and f"HTTP {status}" in message
    assert "secret-part" not in message and "/hitl/" not in message


async def test_an_unreachable_callback_says_so() -> None:
    with pytest.raises(TransportError, match="could not be reached"):
        await post_feedback("http://127.0.0.1:9/hitl/r1", "x")
