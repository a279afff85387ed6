"""Valid JSON of any shape, at any status, never crashes the client (hypothesis)."""

from __future__ import annotations

import json
from typing import Any

from hostile_server import HostileServer, raw_reply
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crewtui.api.client import CrewClient, ResumeResult, StopResult
from crewtui.api.errors import ApiError, BadResponseError, KickoffUncertainError
from crewtui.api.models import Observation

KEYS = [
    "inputs",
    "kickoff_id",
    "state",
    "status",
    "result",
    "result_json",
    "progress",
    "error",
    "message",
    "detail",
    "details",
    "missing_inputs",
    "last_executed_task",
    "last_step",
    "execution_time",
    "completed",
    "total",
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["RUNNING", "SUCCESS", "NOT FOUND", "completed", "error", "running"])
)
# Bodies with the keys the client looks for, holding any JSON: arbitrary keys rarely hit them.
BODIES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=15,
)
ENDPOINTS = st.sampled_from(["inputs", "kickoff", "status", "resume", "stop"])
STATUSES = st.sampled_from([200, 200, 200, 400, 401, 404, 422, 500])


async def _call(client: CrewClient, endpoint: str) -> object:
    if endpoint == "inputs":
        return await client.inputs()
    if endpoint == "kickoff":
        return await client.kickoff({"topic": "ai"})
    if endpoint == "status":
        return await client.status("k-1")
    if endpoint == "stop":
        return await client.stop("k-1")
    return await client.resume("k-1", "task", "ok")


def _check_success(endpoint: str, result: object) -> None:
    """What a success must look like, per endpoint: never a guessed value."""
    if endpoint == "inputs":
        assert isinstance(result, list)
        assert all(isinstance(name, str) and name for name in result)
    elif endpoint == "kickoff":
        assert isinstance(result, str)
        assert result.strip()
    elif endpoint == "status":
        assert isinstance(result, Observation)
        assert result.state is not None
    elif endpoint == "stop":
        assert isinstance(result, StopResult)
    else:
        assert isinstance(result, ResumeResult)
        assert result.status is not None or result.new_kickoff_id is not None


# 200 answers that an endpoint may refuse as unusable; anything else must be an ApiError.
REFUSALS: dict[str, type[ApiError]] = {
    "inputs": BadResponseError,
    "kickoff": KickoffUncertainError,
    "resume": BadResponseError,
}


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=BODIES, status=STATUSES, endpoint=ENDPOINTS)
async def test_any_json_at_any_status_is_a_result_or_a_typed_error(
    client: CrewClient, hostile: HostileServer, body: Any, status: int, endpoint: str
) -> None:
    hostile.script(raw_reply(status, json.dumps(body), "application/json"))
    try:
        result = await _call(client, endpoint)
    except ApiError as error:
        assert status != 200 or isinstance(error, REFUSALS[endpoint])
        assert "travel" in error.message
        return
    assert status == 200 or (endpoint, status) in (("status", 404), ("stop", 400))
    _check_success(endpoint, result)
