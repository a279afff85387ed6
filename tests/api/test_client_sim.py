"""The client against the simulator, every endpoint in both dialects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from client_support import FakeSleep, assert_clean_message, profile_for

from crewtui.api.client import ClientPolicy, CrewClient
from crewtui.api.errors import (
    AuthError,
    CrewtuiError,
    InputValidationError,
    KickoffUncertainError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from crewtui.api.models import Observation
from crewtui.api.states import Dialect, RunState
from crewtui.sim import SimServer

# A sim run is quick, but a poll over a busy machine may not be: keep the test deadline loose.
SIM_POLICY = ClientPolicy(deadline=10.0, connect_timeout=2.0, read_timeout=10.0, max_retries=3)
# Reference durations times this scale, divided by the test speed: a run of milliseconds.
QUICK = {"duration_scale": "0.05"}


def _client(
    sim: SimServer, token: str | None, sleep: FakeSleep, crew: str = "travel"
) -> CrewClient:
    profile = profile_for(sim.crew_url(crew), token=token, name=crew)
    return CrewClient(profile, SIM_POLICY, sleep=sleep)


@pytest.fixture
async def crew(sim_any: SimServer, fake_sleep: FakeSleep) -> AsyncIterator[CrewClient]:
    """A travel-crew client with the organization token, once per dialect."""
    async with _client(sim_any, sim_any.options.token, fake_sleep) as client:
        yield client


def _dialect(sim: SimServer) -> Dialect:
    return Dialect(sim.options.dialect)


async def _poll_until(
    client: CrewClient, kickoff_id: str, done: Callable[[Observation], bool]
) -> list[Observation]:
    """Poll back to back until ``done`` (each poll is a real round trip; no sleeping)."""
    seen: list[Observation] = []
    async with asyncio.timeout(15):
        while not seen or not done(seen[-1]):
            seen.append(await client.status(kickoff_id))
    return seen


def _waiting_for_input(observation: Observation) -> bool:
    """Live says PAUSED; documented has no such shape: running with the first task done."""
    done = observation.progress.completed if observation.progress else None
    return observation.state is RunState.PAUSED or (
        observation.dialect is Dialect.DOCUMENTED and done == 1
    )


@pytest.mark.parametrize("crew_name", SimServer.CREWS)
async def test_inputs_lists_each_crews_required_inputs(
    sim_any: SimServer, fake_sleep: FakeSleep, crew_name: str
) -> None:
    async with _client(sim_any, sim_any.options.token, fake_sleep, crew_name) as client:
        assert await client.inputs() == sim_any.required_inputs(crew_name)


async def test_both_token_kinds_are_accepted(sim_any: SimServer, fake_sleep: FakeSleep) -> None:
    for token in (sim_any.options.token, sim_any.options.user_token):
        async with _client(sim_any, token, fake_sleep) as client:
            assert await client.inputs() == sim_any.required_inputs("travel")


@pytest.mark.parametrize("token", ["not-the-token", None])
async def test_a_bad_or_missing_token_is_an_auth_error(
    sim_any: SimServer, fake_sleep: FakeSleep, token: str | None
) -> None:
    async with _client(sim_any, token, fake_sleep) as client:
        with pytest.raises(AuthError) as caught:
            await client.inputs()
    assert caught.value.status_code == 401
    assert "not-the-token" not in caught.value.message
    assert_clean_message(caught.value)


async def test_a_wrong_crew_url_is_not_found(sim_any: SimServer, fake_sleep: FakeSleep) -> None:
    profile = profile_for(sim_any.base_url + "/no-such-crew")
    async with CrewClient(profile, SIM_POLICY, sleep=fake_sleep) as client:
        with pytest.raises(NotFoundError) as caught:
            await client.inputs()
    assert "probably wrong" in caught.value.message


async def test_kickoff_without_some_inputs_lists_the_missing(
    sim_any: SimServer, crew: CrewClient
) -> None:
    inputs = sim_any.sample_inputs("travel")
    del inputs["budget"], inputs["age"]
    with pytest.raises(InputValidationError) as caught:
        await crew.kickoff(inputs)
    assert sorted(caught.value.missing) == ["age", "budget"]
    assert_clean_message(caught.value)


async def test_a_kickoff_runs_to_completion_through_status(
    sim_any: SimServer, crew: CrewClient
) -> None:
    kickoff_id = await crew.kickoff(sim_any.sample_inputs("travel") | QUICK, {"requestId": "r-1"})
    seen = await _poll_until(crew, kickoff_id, lambda seen: seen.state is RunState.COMPLETED)
    assert all(item.dialect is _dialect(sim_any) for item in seen)
    assert all(
        item.state in (RunState.PENDING, RunState.RUNNING, RunState.COMPLETED) for item in seen
    )
    final = seen[-1]
    assert final.kickoff_id == kickoff_id
    assert final.output


async def test_an_unknown_kickoff_is_not_found_in_either_dialect(crew: CrewClient) -> None:
    observation = await crew.status("00000000-0000-0000-0000-000000000000")
    assert observation.state is RunState.NOT_FOUND


async def test_resume_answers_a_paused_run_in_either_dialect(
    sim_any: SimServer, crew: CrewClient
) -> None:
    inputs = sim_any.sample_inputs("travel") | QUICK | {"hold": "true"}
    kickoff_id = await crew.kickoff(inputs)
    with pytest.raises(InputValidationError) as not_yet:
        # Not paused yet (or, at worst, paused on another task): the service says so.
        await crew.resume(kickoff_id, "planning_task", "too early")
    assert not_yet.value.status_code == 400
    await _poll_until(crew, kickoff_id, _waiting_for_input)
    result = await crew.resume(kickoff_id, "research_task", "great research")
    if _dialect(sim_any) is Dialect.LIVE:
        assert result.new_kickoff_id
        assert result.new_kickoff_id != kickoff_id
        follow = result.new_kickoff_id
    else:
        assert result.status == "resumed"
        follow = kickoff_id
    seen = await _poll_until(crew, follow, lambda seen: seen.state is RunState.COMPLETED)
    assert seen[-1].output


async def test_resume_of_an_unknown_execution_is_not_found(crew: CrewClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await crew.resume("00000000-0000-0000-0000-000000000000", "research_task", "hi")
    assert_clean_message(caught.value)


# -- the simulator's faults ---------------------------------------------------------------


async def test_rate_limits_are_retried_with_clamped_waits(
    fresh_sim: SimServer, fake_sleep: FakeSleep
) -> None:
    fresh_sim.options.faults.update({"rate_limit_rate": 1, "retry_after": "86400"})
    async with _client(fresh_sim, fresh_sim.options.token, fake_sleep) as client:
        with pytest.raises(RateLimitedError) as caught:
            await client.inputs()
    assert fake_sleep.waits == [SIM_POLICY.retry_after_max] * SIM_POLICY.max_retries
    assert caught.value.retry_after == SIM_POLICY.retry_after_max


async def test_injected_server_errors_carry_a_clean_excerpt(
    fresh_sim: SimServer, fake_sleep: FakeSleep
) -> None:
    fresh_sim.options.faults.update({"error_rate": 1})
    async with _client(fresh_sim, fresh_sim.options.token, fake_sleep) as client:
        for _ in range(6):  # the simulator picks one of three flavours at random
            with pytest.raises(ServerError) as caught:
                await client.status("any")
            assert caught.value.status_code == 500
            assert "Internal Server Error" in caught.value.excerpt
            assert "<" not in caught.value.excerpt
            assert_clean_message(caught.value)


async def test_a_dropped_kickoff_is_uncertain_and_not_retried(
    fresh_sim: SimServer, fake_sleep: FakeSleep
) -> None:
    async with _client(fresh_sim, fresh_sim.options.token, fake_sleep) as client:
        fresh_sim.options.faults.update({"drop_rate": 1})
        with pytest.raises(KickoffUncertainError):
            await client.kickoff(fresh_sim.sample_inputs("travel"))
        fresh_sim.options.faults.update({"drop_rate": 0})
        assert fake_sleep.waits == []


async def test_a_resume_without_the_runs_webhook_urls_names_them_not_inputs(
    crew: CrewClient, sim_any: SimServer
) -> None:
    """The service wants the run's webhook URLs again: the sentence says so, not that
    inputs of the crew are missing."""
    hook = "http://127.0.0.1:9/hook"
    inputs = sim_any.sample_inputs("travel") | {"hold": "1"}
    kickoff_id = await crew.kickoff(
        inputs, task_webhook_url=hook, step_webhook_url=hook, crew_webhook_url=hook
    )
    message = ""
    while not message:  # until the run waits: before that the service answers "not waiting"
        try:
            await crew.resume(kickoff_id, "research_task", "fine")
        except CrewtuiError as refused:
            if "not waiting" not in refused.message:
                message = refused.message
        await asyncio.sleep(0.02)
    assert "webhook URLs the run was started with" in message
    assert "inputs are missing" not in message
    if sim_any.options.dialect == "live":
        assert "taskWebhookUrl" in message
