"""Webhook bodies become observations and steps; with the merge, order and repeats don't matter.

The service's webhooks are unsigned, repeated and reordered (the API contract "Webhooks"), so the
parsing must survive any JSON and the merged result must not depend on delivery order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crewtui.api.models import Kickoff, Observation, Step
from crewtui.api.pushes import PushKind, parse_push
from crewtui.api.states import RunState, TaskState
from crewtui.core.merge import apply_observation

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
KICKOFF = "5f1c2a9e-0d4b-4c1e-9a53-7b0f6f1d2c3a"
KINDS: tuple[PushKind, ...] = ("task", "step", "crew", "events")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def iso(seconds: float) -> str:
    return at(seconds).isoformat().replace("+00:00", "Z")


def event(sequence: int, seconds: float, kind: str, **data: Any) -> dict[str, Any]:
    return {
        "id": f"evt-{sequence}",
        "execution_id": KICKOFF,
        "timestamp": iso(seconds),
        "type": kind,
        "data": {"emission_sequence": sequence, **data},
    }


def observations(items: list[Observation | Step]) -> list[Observation]:
    return [item for item in items if isinstance(item, Observation)]


def steps(items: list[Observation | Step]) -> list[Step]:
    return [item for item in items if isinstance(item, Step)]


# -- task, step, crew ----------------------------------------------------------------------------


def test_task_webhook_is_a_completed_task_that_says_nothing_about_the_run() -> None:
    body = {
        "description": "Research destinations",
        "name": "research_task",
        "expected_output": "A list",
        "summary": "Research...",
        "agent": "旅行研究员",
        "output": "东京, 大阪",
        "output_json": None,
        "kickoff_id": KICKOFF,
        "meta": {"requestId": "travel-req-123"},
    }
    [observation] = parse_push("task", body, at(45))
    assert isinstance(observation, Observation)
    assert (observation.kickoff_id, observation.source, observation.state) == (
        KICKOFF,
        "webhook",
        None,
    )
    [task] = observation.tasks
    assert (task.task_id, task.agent, task.output) == ("research_task", "旅行研究员", "东京, 大阪")
    assert task.state is TaskState.COMPLETED
    assert task.finished_at == at(45)


def test_unnamed_task_is_named_by_its_description_as_crewai_does() -> None:
    [observation] = observations(
        parse_push("task", {"kickoff_id": KICKOFF, "description": "Draft it"}, T0)
    )
    assert observation.tasks[0].task_id == "Draft it"


def test_task_webhook_naming_no_task_states_nothing() -> None:
    assert parse_push("task", {"kickoff_id": KICKOFF, "output": "orphan"}, T0) == []


def test_step_webhook_is_a_step_with_tool_arguments_as_text() -> None:
    body = {
        "prompt": "...",
        "thought": "I should search",
        "tool": "search",
        "tool_input": {"query": "京都 寺"},
        "result": "3 hits",
        "kickoff_id": KICKOFF,
        "meta": {},
    }
    [step] = parse_push("step", body, at(10))
    assert isinstance(step, Step)
    assert (step.kind, step.thought, step.tool, step.result) == (
        "step",
        "I should search",
        "search",
        "3 hits",
    )
    assert step.tool_input == '{"query": "京都 寺"}'
    assert step.raw == body
    assert step.received_at == at(10)


def test_crew_webhook_completes_the_run_with_its_output() -> None:
    body = {
        "kickoff_id": KICKOFF,
        "result": "为期 7 天的日本科技文化主题综合旅行行程",
        "result_json": None,
        "token_usage": {"total_tokens": 10, "prompt_tokens": 7, "completion_tokens": 3},
        "meta": {},
    }
    [observation] = observations(parse_push("crew", body, at(108)))
    assert observation.state is RunState.COMPLETED
    assert observation.output == body["result"]
    assert observation.output_json is None


def test_crew_webhook_output_json_is_the_services_or_the_json_inside_the_text() -> None:
    given_json = parse_push(
        "crew", {"kickoff_id": KICKOFF, "result": "{}", "result_json": {"days": 7}}, T0
    )
    fenced = parse_push("crew", {"kickoff_id": KICKOFF, "result": '```json\n{"days": 7}\n```'}, T0)
    assert observations(given_json)[0].output_json == {"days": 7}
    assert observations(fenced)[0].output_json == {"days": 7}


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("task", {"name": "research_task", "output": "x"}),
        ("step", {"thought": "x", "kickoff_id": "   "}),
        ("crew", {"result": "done", "kickoff_id": None}),
        ("events", {"events": [{"type": "crew_kickoff_completed", "data": {}}]}),
        ("crew", ["not", "an", "object"]),
        ("events", {"events": "not a list"}),
    ],
)
def test_what_names_no_kickoff_is_dropped(kind: PushKind, body: Any) -> None:
    assert parse_push(kind, body, T0) == []


# -- the batched events form -------------------------------------------------------------------


def test_events_are_ordered_by_emission_sequence_and_each_is_a_step() -> None:
    batch = {
        "events": [
            event(3, 3, "tool_usage_started", tool_name="search", tool_args={"q": "x"}),
            event(1, 1, "crew_kickoff_started"),
            event(2, 2, "llm_call_started", model="gpt-4"),
        ]
    }
    items = parse_push("events", batch, at(5))
    assert [step.sequence for step in steps(items)] == [1, 2, 3]
    assert [step.kind for step in steps(items)] == [
        "crew_kickoff_started",
        "llm_call_started",
        "tool_usage_started",
    ]
    assert [step.received_at for step in steps(items)] == [at(1), at(2), at(3)]
    tool_step = steps(items)[2]
    assert (tool_step.tool, tool_step.tool_input) == ("search", '{"q": "x"}')
    assert tool_step.raw == batch["events"][0]
    [started] = observations(items)
    assert started.state is RunState.RUNNING
    assert started.observed_at == at(1)


def test_a_step_event_may_carry_the_step_webhooks_own_fields() -> None:
    data = {"thought": "先搜索", "tool": "search", "tool_input": "京都", "result": "12 hits"}
    [step] = parse_push("events", [event(1, 1, "tool_usage_finished", **data)], at(2))
    assert isinstance(step, Step)
    assert (step.thought, step.tool, step.tool_input, step.result) == tuple(data.values())


def test_task_events_carry_the_task_its_agent_output_and_times() -> None:
    batch = {
        "events": [
            event(1, 2, "task_started", task_name="research_task", agent_role="旅行研究员"),
            event(
                2,
                47.2,
                "task_completed",
                task_name="research_task",
                output={"raw": "东京", "agent": "旅行研究员"},
            ),
            event(3, 50, "task_failed", task_name="planning_task", error="boom"),
        ]
    }
    started, completed, failed = (
        obs.tasks[0] for obs in observations(parse_push("events", batch, at(60)))
    )
    assert (started.task_id, started.state, started.started_at, started.agent) == (
        "research_task",
        TaskState.RUNNING,
        at(2),
        "旅行研究员",
    )
    assert (completed.state, completed.output, completed.finished_at, completed.agent) == (
        TaskState.COMPLETED,
        "东京",
        at(47.2),
        "旅行研究员",
    )
    assert (failed.task_id, failed.state, failed.finished_at) == (
        "planning_task",
        TaskState.FAILED,
        at(50),
    )


def test_crew_events_complete_or_fail_the_run() -> None:
    done = event(9, 108, "crew_kickoff_completed", output={"raw": '{"days": 7}'})
    failed = event(4, 23.1, "crew_kickoff_failed", error="任务执行失败：外部服务的 API 密钥无效")
    [completed] = observations(parse_push("events", {"events": [done]}, at(109)))
    [failure] = observations(parse_push("events", {"events": [failed]}, at(24)))
    assert (completed.state, completed.output, completed.output_json) == (
        RunState.COMPLETED,
        '{"days": 7}',
        {"days": 7},
    )
    assert (failure.state, failure.error) == (
        RunState.FAILED,
        "任务执行失败：外部服务的 API 密钥无效",
    )


def test_unknown_event_types_are_steps_only() -> None:
    items = parse_push("events", {"events": [event(1, 1, "flow_plot", plot="...")]}, at(2))
    assert [(type(item), getattr(item, "kind", None)) for item in items] == [(Step, "flow_plot")]


def test_kickoff_id_may_come_from_the_event_data() -> None:
    item = {"type": "crew_kickoff_started", "data": {"kickoff_id": KICKOFF}}
    items = parse_push("events", {"events": [item]}, T0)
    assert {pushed.kickoff_id for pushed in items} == {KICKOFF}
    assert len(items) == 2


def test_a_single_event_or_a_bare_list_is_a_batch_too() -> None:
    single = event(1, 1, "crew_kickoff_started")
    assert parse_push("events", single, at(2)) == parse_push("events", [single], at(2))
    assert parse_push("events", single, at(2)) == parse_push("events", {"events": [single]}, at(2))
    assert len(parse_push("events", single, at(2))) == 2


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (iso(3600), at(5)),  # from the future: never after it arrived
        ("2026-11-23T10:00:01", at(1)),  # no zone: UTC
        ("2026-11-23T12:00:01+02:00", at(1)),  # another zone: converted
        ("0001-01-01T00:00:00+05:00", at(5)),  # before year 1 in UTC: unusable
        ("yesterday", at(5)),
        (12, at(5)),
    ],
)
def test_event_time_is_utc_and_never_later_than_arrival(timestamp: Any, expected: datetime) -> None:
    item = {"execution_id": KICKOFF, "timestamp": timestamp, "type": "crew_kickoff_started"}
    [observation, step] = parse_push("events", {"events": [item]}, at(5))
    assert isinstance(observation, Observation)
    assert isinstance(step, Step)
    assert observation.observed_at == expected
    assert observation.observed_at.utcoffset() == timedelta(0)
    assert step.received_at == expected


# -- never raises ------------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "kickoff_id",
    "name",
    "description",
    "agent",
    "output",
    "output_json",
    "thought",
    "tool",
    "tool_input",
    "result",
    "result_json",
    "execution_id",
    "timestamp",
    "type",
    "data",
    "events",
    "emission_sequence",
    "task_name",
    "agent_role",
    "task",
    "error",
    "tool_name",
    "tool_args",
    "response",
    "raw",
    "json_dict",
    "flow_name",
    "method_name",
    "state",
    "message",
]
# Bodies with the expected keys holding any JSON: arbitrary JSON rarely hits the keys.
SHAPED = st.recursive(
    st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=8),
    lambda children: st.dictionaries(
        st.sampled_from(FIELDS), children | st.lists(children, max_size=3), max_size=6
    ),
    max_leaves=6,
)


@settings(max_examples=100, deadline=None)
@given(kind=st.sampled_from(KINDS), body=JSON | SHAPED)
def test_any_json_parses_without_raising_and_names_a_kickoff(kind: PushKind, body: Any) -> None:
    for item in parse_push(kind, body, at(5)):
        assert item.kickoff_id.strip()
        stamp = item.observed_at if isinstance(item, Observation) else item.received_at
        assert stamp <= at(5)
        assert isinstance(item, Step) or item.source == "webhook"


# -- with the merge: idempotent and order-independent ------------------------------------------

# A travel run as the service reports it through every channel at once, each push with the
# time it arrived. The same facts arrive several times (task webhook and task event).
RUN: list[tuple[PushKind, Any, datetime]] = [
    (
        "events",
        {
            "events": [
                event(1, 1, "crew_kickoff_started"),
                event(2, 2, "task_started", task_name="research_task", agent_role="旅行研究员"),
            ]
        },
        at(3),
    ),
    ("step", {"kickoff_id": KICKOFF, "thought": "search", "tool": "web", "result": "r"}, at(10)),
    (
        "task",
        {"kickoff_id": KICKOFF, "name": "research_task", "agent": "旅行研究员", "output": "东京"},
        at(47.2),
    ),
    (
        "events",
        {
            "events": [
                event(3, 47.2, "task_completed", task_name="research_task", output={"raw": "东京"}),
                event(4, 47.3, "task_started", task_name="planning_task", agent_role="行程规划师"),
                event(5, 50, "tool_usage_started", tool_name="web", tool_args={"q": "京都"}),
            ]
        },
        at(48),
    ),
    (
        "task",
        {"kickoff_id": KICKOFF, "name": "planning_task", "agent": "行程规划师", "output": "行程"},
        at(110.1),
    ),
    (
        "events",
        {
            "events": [
                event(6, 110, "task_completed", task_name="planning_task", output={"raw": "行程"}),
                event(7, 110.5, "crew_kickoff_completed", output={"raw": "为期 7 天"}),
            ]
        },
        at(111),
    ),
    ("crew", {"kickoff_id": KICKOFF, "result": "为期 7 天", "result_json": None}, at(111.2)),
]
PUSHED = [parse_push(kind, body, received) for kind, body, received in RUN]


def orders(count: int) -> st.SearchStrategy[list[int]]:
    """Delivery orders: any permutation of ``count`` pushes, some of them delivered again."""
    return st.permutations(range(count)).flatmap(
        lambda order: st.lists(st.sampled_from(range(count)), max_size=4).map(
            lambda again: [*order, *again]
        )
    )


ORDERS = orders(len(RUN))


def deliver(
    order: list[int], pushed: list[list[Observation | Step]] = PUSHED, crew: str = "travel"
) -> tuple[Kickoff, set[str]]:
    """The kickoff after merging the pushes in ``order``, and the distinct steps stored."""
    kickoff = Kickoff(kickoff_id=KICKOFF, crew=crew, created_at=T0, updated_at=T0)
    step_keys: set[str] = set()
    for index in order:
        for item in pushed[index]:
            if isinstance(item, Observation):
                kickoff = apply_observation(kickoff, item)
            else:
                step_keys.add(item.key)
    return kickoff, step_keys


def facts(kickoff: Kickoff) -> dict[str, Any]:
    """What the run is said to be: everything except when crewtui happened to learn it."""
    return {
        "state": kickoff.state,
        "kind": kickoff.kind,
        "restarts": kickoff.restarts,
        "output": kickoff.output,
        "output_json": kickoff.output_json,
        "error": kickoff.error,
        "tasks": sorted(
            (task.task_id, task.state, task.agent, task.output, task.started_at)
            for task in kickoff.tasks
        ),
    }


def times(kickoff: Kickoff) -> dict[str, Any]:
    """When the run and its tasks started and finished, and the order the tasks are listed."""
    return {
        "started_at": kickoff.started_at,
        "finished_at": kickoff.finished_at,
        "tasks": [(task.task_id, task.finished_at) for task in kickoff.tasks],
    }


IN_ORDER, IN_ORDER_STEPS = deliver(list(range(len(RUN))))


def test_the_run_delivered_in_order_is_complete() -> None:
    assert facts(IN_ORDER) == {
        "state": RunState.COMPLETED,
        "kind": "crew",
        "restarts": 0,
        "output": "为期 7 天",
        "output_json": None,
        "error": None,
        "tasks": [
            ("planning_task", TaskState.COMPLETED, "行程规划师", "行程", at(47.3)),
            ("research_task", TaskState.COMPLETED, "旅行研究员", "东京", at(2)),
        ],
    }
    # One step webhook and seven events.
    assert len(IN_ORDER_STEPS) == 1 + 7


@settings(max_examples=60, deadline=None)
@given(order=ORDERS)
def test_any_delivery_order_with_repeats_gives_the_same_facts_and_steps(order: list[int]) -> None:
    kickoff, step_keys = deliver(order)
    assert facts(kickoff) == facts(IN_ORDER)
    assert step_keys == IN_ORDER_STEPS


def test_a_repeated_delivery_changes_nothing() -> None:
    for index in range(len(RUN)):
        once, _ = deliver([*range(len(RUN))])
        twice, _ = deliver([*range(len(RUN)), index])
        assert twice == once


def test_a_redelivered_step_is_the_same_step() -> None:
    body = {"kickoff_id": KICKOFF, "thought": "again"}
    [first] = steps(parse_push("step", body, at(1)))
    [second] = steps(parse_push("step", body, at(9)))
    assert first.key == second.key


def test_start_and_finish_times_do_not_depend_on_delivery_order() -> None:
    reversed_kickoff, _ = deliver(list(reversed(range(len(RUN)))))
    # Tasks are listed in order of arrival (the timeline's order); their times must agree.
    reversed_times, in_order_times = times(reversed_kickoff), times(IN_ORDER)
    assert reversed_times["started_at"] == in_order_times["started_at"]
    assert reversed_times["finished_at"] == in_order_times["finished_at"]
    assert sorted(reversed_times["tasks"]) == sorted(in_order_times["tasks"])


# -- flows: methods instead of tasks -------------------------------------------------------------

# An onboarding flow as the service pushes it: its methods, an LLM call, the reviewer's pause
# (announced by the method, the flow and the feedback request), the answer, and the end.
STATE = {"id": KICKOFF, "name": "Mei"}
FLOW_RUN: list[dict[str, Any]] = [
    event(1, 1, "flow_started", flow_name="onboarding", inputs={"name": "Mei"}),
    event(2, 1.1, "method_execution_started", flow_name="onboarding",
          method_name="collect_profile", state=STATE, params=None),
    event(3, 4, "llm_call_completed", flow_name="onboarding", task_name="collect_profile",
          model="gpt-4o", usage={"total_tokens": 700, "prompt_tokens": 650}),
    event(4, 5, "method_execution_finished", flow_name="onboarding",
          method_name="collect_profile", result="## Customer profile", state=STATE),
    event(5, 5.1, "method_execution_started", flow_name="onboarding",
          method_name="approve_account", state=STATE, params=None),
    event(6, 7, "method_execution_paused", flow_name="onboarding", method_name="approve_account",
          flow_id=KICKOFF, message="Approve the account?", state=STATE, emit=["approved"]),
    event(7, 7, "flow_paused", flow_name="onboarding", method_name="approve_account",
          flow_id=KICKOFF, message="Approve the account?", state=STATE, emit=["approved"]),
    event(8, 7, "human_feedback_requested", flow_name="onboarding",
          method_name="approve_account", output="summary", message="Approve the account?"),
    event(9, 20, "human_feedback_received", flow_name="onboarding",
          method_name="approve_account", feedback="ok", outcome="approved"),
    event(10, 21, "method_execution_finished", flow_name="onboarding",
          method_name="approve_account", result={"approved": True}, state=STATE),
    event(11, 21.1, "method_execution_started", flow_name="onboarding",
          method_name="send_welcome", state=STATE, params=None),
    event(12, 30, "method_execution_finished", flow_name="onboarding",
          method_name="send_welcome", result="# Welcome", state=STATE),
    event(13, 30, "flow_finished", flow_name="onboarding", result="# Welcome", state=STATE),
]  # fmt: skip
# Each event alone (realtime delivery), arriving a moment after it happened.
FLOW_PUSHED = [parse_push("events", item, at(31)) for item in FLOW_RUN]
FLOW_IN_ORDER, FLOW_IN_ORDER_STEPS = deliver(list(range(len(FLOW_RUN))), FLOW_PUSHED, "onboarding")


def test_a_flow_run_is_a_flow_whose_methods_are_its_tasks() -> None:
    assert facts(FLOW_IN_ORDER) == {
        "state": RunState.COMPLETED,
        "kind": "flow",
        "restarts": 0,
        "output": "# Welcome",
        "output_json": None,
        "error": None,
        "tasks": [
            ("approve_account", TaskState.COMPLETED, None, '{"approved": true}', at(5.1)),
            ("collect_profile", TaskState.COMPLETED, None, "## Customer profile", at(1.1)),
            ("send_welcome", TaskState.COMPLETED, None, "# Welcome", at(21.1)),
        ],
    }
    assert FLOW_IN_ORDER.usage is not None and FLOW_IN_ORDER.usage.total_tokens == 700
    assert len(FLOW_IN_ORDER_STEPS) == len(FLOW_RUN)


def test_a_paused_flow_waits_on_its_method_with_its_message() -> None:
    paused, _ = deliver(list(range(7)), FLOW_PUSHED, "onboarding")
    assert paused.state is RunState.PAUSED
    assert paused.waiting_for is not None
    assert paused.waiting_for.task_id == "approve_account"
    assert paused.waiting_for.message == "Approve the account?"
    assert paused.waiting_for.since == at(7)


def test_a_failed_method_fails_the_flow_with_its_error() -> None:
    failed = [
        *FLOW_RUN[:2],
        event(20, 3, "method_execution_failed", flow_name="onboarding",
              method_name="collect_profile", error="provider timed out"),
        event(21, 3, "flow_failed", flow_name="onboarding", error="provider timed out"),
    ]  # fmt: skip
    kickoff, _ = deliver(
        list(range(len(failed))), [parse_push("events", e, at(4)) for e in failed], "onboarding"
    )
    assert kickoff.state is RunState.FAILED and kickoff.error == "provider timed out"
    assert [(t.task_id, t.state) for t in kickoff.tasks] == [("collect_profile", TaskState.FAILED)]


@settings(max_examples=60, deadline=None)
@given(order=orders(len(FLOW_RUN)))
def test_any_order_and_duplication_of_a_flow_runs_events_gives_the_same_run(
    order: list[int],
) -> None:
    kickoff, step_keys = deliver(order, FLOW_PUSHED, "onboarding")
    assert facts(kickoff) == facts(FLOW_IN_ORDER)
    assert kickoff.waiting_for is None
    assert kickoff.usage == FLOW_IN_ORDER.usage
    assert {t.task_id: t.usage for t in kickoff.tasks} == {
        t.task_id: t.usage for t in FLOW_IN_ORDER.tasks
    }
    assert step_keys == FLOW_IN_ORDER_STEPS


def test_a_crew_that_a_flows_method_runs_does_not_end_the_flow() -> None:
    going, _ = deliver(list(range(5)), FLOW_PUSHED, "onboarding")
    inner = [
        event(30, 5.2, "crew_kickoff_started", crew_name="reviewers"),
        event(31, 6, "crew_kickoff_completed", crew_name="reviewers", output={"raw": "ok"},
              total_tokens=999),
    ]  # fmt: skip
    for item in inner:
        for fact in observations(parse_push("events", item, at(7))):
            going = apply_observation(going, fact)
    assert going.state is RunState.RUNNING and going.output is None
    assert going.usage is not None and going.usage.total_tokens == 700


@pytest.mark.parametrize("kind", ["method_execution_paused", "flow_paused", "flow_input_requested"])
def test_each_way_a_flow_waits_for_a_person_pauses_it_on_a_method(kind: str) -> None:
    body = event(1, 7, kind, flow_name="onboarding", method_name="approve_account",
                 message="Approve?")  # fmt: skip
    [fact] = observations(parse_push("events", body, at(8)))
    assert fact.state is RunState.PAUSED and fact.kind == "flow"
    assert fact.waiting_for is not None
    assert (fact.waiting_for.task_id, fact.waiting_for.message) == ("approve_account", "Approve?")
