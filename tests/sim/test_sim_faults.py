"""Injected faults: latency, 500s, 429 with Retry-After, dropped connections, and the
control endpoint that switches them from outside the process."""

from __future__ import annotations

import time

import httpx
import pytest
from sim_helpers import Crews, auth


async def _inputs(crews: Crews) -> httpx.Response:
    return await crews.http.get(crews.url("travel", "/inputs"))


async def test_latency_delays_every_answer(fresh_crews: Crews) -> None:
    fresh_crews.server.options.faults.latency = 0.3
    started = time.monotonic()
    answer = await _inputs(fresh_crews)
    assert answer.status_code == 200
    assert time.monotonic() - started >= 0.3


async def test_error_rate_answers_500_in_several_forms(fresh_crews: Crews) -> None:
    fresh_crews.server.options.faults.error_rate = 1.0
    answers = [await _inputs(fresh_crews) for _ in range(3)]
    assert {answer.status_code for answer in answers} == {500}
    kinds = {answer.headers["content-type"].split(";")[0] for answer in answers}
    assert kinds == {"text/plain", "text/html", "application/json"}


async def test_rate_limit_answers_429_with_retry_after(fresh_crews: Crews) -> None:
    faults = fresh_crews.server.options.faults
    faults.rate_limit_rate, faults.retry_after = 1.0, "3"
    answer = await _inputs(fresh_crews)
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "3"


async def test_drop_closes_the_connection_without_an_answer(fresh_crews: Crews) -> None:
    faults = fresh_crews.server.options.faults
    faults.drop_rate = 1.0
    with pytest.raises(httpx.RemoteProtocolError):
        await _inputs(fresh_crews)
    faults.drop_rate = 0.0
    assert (await _inputs(fresh_crews)).status_code == 200


async def test_faults_can_be_set_over_http_with_the_bearer_token(fresh_crews: Crews) -> None:
    options = fresh_crews.server.options
    url = fresh_crews.server.base_url + "/_sim/faults"
    http = fresh_crews.http
    refused = await http.post(url, json={"error_rate": 1}, headers=auth(options.user_token))
    assert refused.status_code == 401
    assert (await http.post(url, json={"error_rate": 2})).status_code == 422
    assert (await http.post(url, json={"no_such_fault": 1})).status_code == 422
    switched = await http.post(url, json={"error_rate": 1, "retry_after": 5})
    assert switched.status_code == 200
    assert switched.json()["error_rate"] == 1.0 and switched.json()["retry_after"] == "5"
    assert (await _inputs(fresh_crews)).status_code == 500
    # Faults never apply to the control endpoint, so they can always be switched off.
    assert (await http.post(url, json={"error_rate": 0})).status_code == 200
    assert (await _inputs(fresh_crews)).status_code == 200
