"""POST /stop and GET / through the client, against the simulator in both dialects; the
shapes the simulator does not send (an object of inputs, usage_metrics) from a scripted one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from client_support import FakeSleep, assert_clean_message, profile_for
from hostile_server import HostileServer, raw_reply

from crewtui.api.client import ClientPolicy, CrewClient
from crewtui.api.errors import ExitCode, NotFoundError
from crewtui.api.states import RunState
from crewtui.sim import SimServer

SIM_POLICY = ClientPolicy(deadline=10.0, connect_timeout=2.0, read_timeout=10.0, max_retries=3)


@pytest.fixture
async def crew(sim_any: SimServer, fake_sleep: FakeSleep) -> AsyncIterator[CrewClient]:
    profile = profile_for(sim_any.crew_url("travel"), token=sim_any.options.token)
    async with CrewClient(profile, SIM_POLICY, sleep=fake_sleep) as client:
        yield client


async def _ended(client: CrewClient, kickoff_id: str) -> RunState:
    while True:  # each poll is a real round trip; the run lasts milliseconds
        state = (await client.status(kickoff_id)).state
        if state is not None and state.is_terminal:
            return state


async def test_stop_stops_a_going_run_and_names_how_an_ended_one_ended(
    crew: CrewClient, sim_any: SimServer
) -> None:
    going = await crew.kickoff(sim_any.sample_inputs("travel") | {"duration_scale": "100"})
    stopped = await crew.stop(going)
    assert stopped.stopped and stopped.raw == {"status": "stopped", "kickoffId": going}
    again = await crew.stop(going)
    assert (again.stopped, again.ended_as) == (False, RunState.CANCELLED)

    quick = await crew.kickoff(sim_any.sample_inputs("travel") | {"duration_scale": "0.05"})
    assert await _ended(crew, quick) is RunState.COMPLETED
    refused = await crew.stop(quick)
    assert (refused.stopped, refused.ended_as) == (False, RunState.COMPLETED)
    assert refused.raw == {"detail": "Cannot stop execution. Current state: SUCCESS"}


async def test_stop_of_an_unknown_id_is_not_found_exit_four(crew: CrewClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await crew.stop("5f1c2d3e-0000-4000-8000-000000000000")
    assert caught.value.exit_code == ExitCode.NOT_FOUND
    assert "knows no kickoff 5f1c2d3e-0000-4000-8000-000000000000 to stop" in str(caught.value)
    assert_clean_message(caught.value)


async def test_health_is_healthy_live_and_absent_documented(
    crew: CrewClient, sim_any: SimServer
) -> None:
    expected = "Healthy" if sim_any.options.dialect == "live" else None
    assert await crew.health() == expected


async def test_inputs_as_an_object_are_its_keys(client: CrewClient, hostile: HostileServer) -> None:
    body = {"inputs": {"budget": "", "interests": "", "duration": "", "age": ""}}
    hostile.script(raw_reply(200, json.dumps(body), "application/json"))
    assert await client.inputs() == ["budget", "interests", "duration", "age"]


async def test_usage_metrics_in_a_live_status_is_kept_raw(
    client: CrewClient, hostile: HostileServer
) -> None:
    usage = {"total_tokens": 1234, "prompt_tokens": 1000, "completion_tokens": 234}
    body = {"state": "SUCCESS", "status": None, "result": "done", "usage_metrics": usage}
    hostile.script(raw_reply(200, json.dumps(body), "application/json"))
    observation = await client.status("k-1")
    assert observation.state is RunState.COMPLETED
    assert observation.raw["usage_metrics"] == usage


async def test_a_stop_refusal_in_plain_text_still_names_the_state(
    client: CrewClient, hostile: HostileServer
) -> None:
    hostile.script(raw_reply(400, "Cannot stop execution. Current state: FAILURE", "text/plain"))
    refused = await client.stop("k-1")
    assert (refused.stopped, refused.ended_as) == (False, RunState.FAILED)
