"""Tokens and LLM calls: read from every source that carries them, merged without counting
anything twice, kept in the history, the same over loopback in both dialects."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from crewtui.api.dialects import parse_status
from crewtui.api.models import Kickoff, LlmCall, Observation
from crewtui.api.pushes import parse_push
from crewtui.api.rows import Usage
from crewtui.core.calls import merge_usage
from crewtui.core.merge import apply_observation, merge_stored
from crewtui.sim import SimServer
from crewtui.sim.timeline import SIM_MODEL
from tests.core.live_runtime import (
    run_to_the_end_with_usage,
    simulated_calls,
    simulated_usage,
    webhook_runtime,
)

KICKOFF = "5f1c2a9e-0d4b-4c1e-9a53-7b0f6f1d2c3a"
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def fresh() -> Kickoff:
    return Kickoff(kickoff_id=KICKOFF, crew="travel", created_at=T0, updated_at=T0)


def event(kind: str, event_id: str, seconds: int, **data: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "execution_id": KICKOFF,
        "timestamp": (T0 + timedelta(seconds=seconds)).isoformat(),
        "type": kind,
        "data": data,
    }


def llm_call(event_id: str, task: str, seconds: int, prompt: int, completion: int) -> Any:
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    return event(
        "llm_call_completed", event_id, seconds, task_name=task, model="gpt-4o", usage=usage
    )


def observations(kind: str, body: Any, seconds: int = 100) -> list[Observation]:
    pushed = parse_push(kind, body, T0 + timedelta(seconds=seconds))  # type: ignore[arg-type]
    return [item for item in pushed if isinstance(item, Observation)]


# -- each source -----------------------------------------------------------------------------


def test_the_crew_webhook_token_usage_is_the_runs_usage() -> None:
    body = {
        "kickoff_id": KICKOFF,
        "result": "done",
        "token_usage": {"total_tokens": 30, "prompt_tokens": 20, "completion_tokens": 10},
    }
    [obs] = observations("crew", body)
    assert obs.usage == Usage(total_tokens=30, prompt_tokens=20, completion_tokens=10)
    # What was not said stays unknown, never 0.
    assert obs.usage.reasoning_tokens is None and obs.usage.successful_requests is None


def test_crew_kickoff_completed_total_tokens_and_a_live_usage_metrics() -> None:
    done = event("crew_kickoff_completed", "e9", 90, output="done", total_tokens=1234)
    [obs] = observations("events", {"events": [done]})
    assert obs.usage == Usage(total_tokens=1234)
    body = {"state": "RUNNING", "usage_metrics": {"total_tokens": 50, "successful_requests": 2}}
    polled = parse_status(KICKOFF, 200, body, T0)
    assert polled.usage == Usage(total_tokens=50, successful_requests=2)
    assert parse_status(KICKOFF, 200, {"state": "RUNNING"}, T0).usage is None


def test_llm_calls_sum_by_task_and_a_repeated_call_counts_once() -> None:
    calls = [
        llm_call("c1", "research_task", 10, 100, 20),
        llm_call("c2", "research_task", 20, 150, 30),
        llm_call("c3", "planning_task", 40, 200, 50),
    ]
    tasks = [
        event("task_completed", "t1", 30, task_name="research_task", output={"raw": "a"}),
        event("task_completed", "t2", 50, task_name="planning_task", output={"raw": "b"}),
    ]
    kickoff = fresh()
    for body in ({"events": calls + tasks}, {"events": calls[:2]}, {"events": [calls[0]]}):
        for obs in observations("events", body):
            kickoff = apply_observation(kickoff, obs)
    by_task = {task.task_id: task.usage for task in kickoff.tasks}
    assert by_task == {
        "research_task": Usage(
            total_tokens=300, prompt_tokens=250, completion_tokens=50, successful_requests=2
        ),
        "planning_task": Usage(
            total_tokens=250, prompt_tokens=200, completion_tokens=50, successful_requests=1
        ),
    }
    assert kickoff.usage == Usage(
        total_tokens=550, prompt_tokens=450, completion_tokens=100, successful_requests=3
    )
    assert kickoff.model == "gpt-4o"
    # Two calls that said the same numbers are still two calls (their ids differ).
    twin = llm_call("c4", "planning_task", 45, 200, 50)
    for obs in observations("events", {"events": [twin]}):
        kickoff = apply_observation(kickoff, obs)
    assert kickoff.usage is not None and kickoff.usage.successful_requests == 4


def test_a_run_report_and_the_calls_seen_agree_by_the_largest_count() -> None:
    """A report is a running total: a smaller, older one never lowers what is known."""
    assert merge_usage(None, None) is None
    early = Usage(total_tokens=100, prompt_tokens=80)
    late = Usage(total_tokens=300, completion_tokens=40)
    assert merge_usage(late, early) == merge_usage(early, late, late)
    assert merge_usage(early, late) == Usage(
        total_tokens=300, prompt_tokens=80, completion_tokens=40
    )


def test_two_processes_keep_the_union_of_their_calls() -> None:
    usage = Usage(total_tokens=5, prompt_tokens=4, completion_tokens=1, successful_requests=1)
    one = fresh().model_copy(update={"llm_calls": [LlmCall(call_id="a", usage=usage)]})
    other = fresh().model_copy(
        update={
            "llm_calls": [LlmCall(call_id="b", usage=usage)],
            "usage": Usage(total_tokens=10),
            "updated_at": T0 + timedelta(seconds=1),
        }
    )
    merged = merge_stored(one, other)
    assert [call.call_id for call in merged.llm_calls] == ["a", "b"]
    # The run's usage is at least its calls' sum: the two calls, each once.
    assert merged.usage == Usage(
        total_tokens=10, prompt_tokens=8, completion_tokens=2, successful_requests=2
    )


# -- any order, any repetition ---------------------------------------------------------------

RUN_BODIES: list[tuple[str, Any]] = [
    ("events", {"events": [event("task_started", "s1", 1, task_name="research_task")]}),
    ("events", {"events": [llm_call("c1", "research_task", 5, 700, 40)]}),
    ("events", {"events": [llm_call("c2", "research_task", 9, 900, 60)]}),
    (
        "events",
        {"events": [event("task_completed", "t1", 10, task_name="research_task", output="a")]},
    ),
    ("task", {"kickoff_id": KICKOFF, "name": "planning_task", "agent": "x", "output": "b"}),
    ("events", {"events": [llm_call("c3", "planning_task", 15, 1000, 200)]}),
    ("events", {"events": [event("crew_kickoff_completed", "e1", 20, total_tokens=2900)]}),
    (
        "crew",
        {
            "kickoff_id": KICKOFF,
            "result": "b",
            "token_usage": {"total_tokens": 2900, "prompt_tokens": 2600, "completion_tokens": 300},
        },
    ),
]
# A poll halfway through: a smaller running total, then one at the end.
POLLS = [
    {"state": "RUNNING", "usage_metrics": {"total_tokens": 740, "successful_requests": 1}},
    {"state": "SUCCESS", "result": "b", "usage_metrics": {"total_tokens": 2900}},
]


def _facts() -> list[list[Observation]]:
    pushed = [observations(kind, body, seconds=30) for kind, body in RUN_BODIES]
    polled = [[parse_status(KICKOFF, 200, body, T0 + timedelta(seconds=30))] for body in POLLS]
    return pushed + polled


@settings(max_examples=60, deadline=None)
@given(
    order=st.permutations(range(len(RUN_BODIES) + len(POLLS))),
    repeats=st.lists(st.integers(0, len(RUN_BODIES) + len(POLLS) - 1), max_size=8),
    seed=st.randoms(use_true_random=False),
)
def test_any_order_and_any_repetition_gives_the_same_usage(
    order: list[int], repeats: list[int], seed: random.Random
) -> None:
    facts = _facts()
    deliveries = [*order, *repeats]
    seed.shuffle(deliveries)
    kickoff = fresh()
    for index in deliveries:
        for obs in facts[index]:
            kickoff = apply_observation(kickoff, obs)
    assert kickoff.usage == Usage(
        total_tokens=2900, prompt_tokens=2600, completion_tokens=300, successful_requests=3
    )
    assert {task.task_id: task.usage for task in kickoff.tasks} == {
        "research_task": Usage(
            total_tokens=1700, prompt_tokens=1600, completion_tokens=100, successful_requests=2
        ),
        "planning_task": Usage(
            total_tokens=1200, prompt_tokens=1000, completion_tokens=200, successful_requests=1
        ),
    }
    assert [call.call_id for call in kickoff.llm_calls] == ["c1", "c2", "c3"]


# -- end to end ------------------------------------------------------------------------------


async def test_usage_per_task_and_per_run_over_loopback(sim_any: SimServer, tmp_path: Path) -> None:
    inputs = sim_any.sample_inputs("travel")
    per_task, whole = simulated_usage("travel", inputs)
    async with webhook_runtime(sim_any, tmp_path, "travel") as runtime:
        kickoff_id = await run_to_the_end_with_usage(runtime, "travel", inputs)
        kickoff = runtime.tracker.get(kickoff_id)
        stored = runtime.store.get_kickoff(kickoff_id)
    assert kickoff is not None and stored is not None
    for known in (kickoff, stored):
        assert {task.task_id: task.usage for task in known.tasks} == per_task
        assert known.usage == whole
        assert known.model == SIM_MODEL
    assert whole.total_tokens == sum(usage.total_tokens or 0 for usage in per_task.values())
    assert whole.successful_requests == simulated_calls("travel", inputs)
