"""Flow human-in-the-loop in the simulator: a paused run sends a signed request once, its
callback resumes the run, and the control route resends it spoiled on demand."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sim_helpers import Crews, Receiver

from crewtui.api.hitl import signature_problem
from crewtui.sim.cli import main as sim_main

SECRET = "sim-hitl-secret-0123456789"


def _point_at(crews: Crews, receiver: Receiver) -> None:
    crews.server.options.hitl_url = receiver.url("hitl")
    crews.server.options.hitl_secret = SECRET


async def _requested(crews: Crews, receiver: Receiver) -> tuple[str, dict[str, Any]]:
    _point_at(crews, receiver)
    kickoff_id = await crews.kickoff("travel", hold="1")
    await receiver.wait_for(lambda: bool(receiver.at("hitl")))
    [delivery] = receiver.at("hitl")
    assert delivery.body["request"]["flow_id"] == kickoff_id
    return kickoff_id, delivery.body


async def test_a_paused_run_sends_one_request_signed_with_the_secret(
    fresh_crews: Crews, receiver: Receiver
) -> None:
    kickoff_id, body = await _requested(fresh_crews, receiver)
    [delivery] = receiver.at("hitl")
    headers = delivery.headers
    problem = signature_problem(
        SECRET.encode(), headers["x-timestamp"], headers["x-signature"], delivery.raw, time.time()
    )
    assert problem is None
    assert body["event"] == "new_request"
    assert body["request"]["method_name"] == "research_task"
    assert body["deployment"]["name"] == "travel"
    assert str(body["callback_url"]).startswith(fresh_crews.server.base_url + "/travel/hitl/")
    status = await fresh_crews.status("travel", kickoff_id)
    assert status["state"] == "PAUSED"


async def test_a_run_that_does_not_pause_sends_nothing(
    fresh_crews: Crews, receiver: Receiver
) -> None:
    _point_at(fresh_crews, receiver)
    kickoff_id = await fresh_crews.kickoff("travel")
    await fresh_crews.poll("travel", kickoff_id)
    assert receiver.at("hitl") == []


async def test_the_callback_resumes_the_run_and_takes_one_answer(
    fresh_crews: Crews, receiver: Receiver
) -> None:
    kickoff_id, body = await _requested(fresh_crews, receiver)
    callback = str(body["callback_url"])
    bad = await fresh_crews.http.post(callback, json={"feedback": 42})
    assert bad.status_code == 422
    answer = await fresh_crews.http.post(callback, json={"feedback": "ok", "source": "test"})
    assert (answer.status_code, answer.json()) == (200, {"status": "received"})
    again = await fresh_crews.http.post(callback, json={"feedback": "ok", "source": "test"})
    assert again.status_code == 409
    final = (await fresh_crews.poll("travel", kickoff_id))[-1]
    assert final["state"] == "SUCCESS"
    unknown = await fresh_crews.http.post(
        fresh_crews.url("travel", "/hitl/no-such-request/callback"), json={"feedback": "x"}
    )
    assert unknown.status_code == 404


async def test_the_resend_route_wants_the_token_and_a_known_way(
    fresh_crews: Crews, receiver: Receiver
) -> None:
    _, body = await _requested(fresh_crews, receiver)
    request_id = body["request"]["id"]
    url = f"{fresh_crews.server.base_url}/_sim/hitl/{request_id}/resend"
    unknown_way = await fresh_crews.http.post(url, json={"how": "sideways"})
    assert unknown_way.status_code == 422
    no_token = await fresh_crews.http.post(url, json={}, headers={"Authorization": ""})
    assert no_token.status_code == 401
    replay = await fresh_crews.http.post(url, json={"how": "replay"})
    assert replay.json() == {"receiver_status": 204}
    await receiver.wait_for(lambda: len(receiver.at("hitl")) == 2)
    first, second = receiver.at("hitl")
    assert first.raw == second.raw


def test_the_url_and_the_secret_go_together() -> None:
    with pytest.raises(SystemExit) as exited:
        sim_main(["--hitl-url", "http://127.0.0.1:9/hitl"])
    assert exited.value.code == 2
