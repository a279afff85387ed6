"""Webhooks the simulator sends to a real receiving server, in both forms of the API contract."""

from __future__ import annotations

import socket
from collections.abc import Mapping

from sim_helpers import Crews, Receiver


async def _kickoff(crews: Crews, crew: str, body: Mapping[str, object], **inputs: str) -> str:
    payload = {"inputs": crews.server.sample_inputs(crew) | inputs, **body}
    answer = await crews.http.post(crews.url(crew, "/kickoff"), json=payload)
    assert answer.status_code == 200, answer.text
    kickoff_id: str = answer.json()["kickoff_id"]
    return kickoff_id


def _classic(receiver: Receiver) -> dict[str, object]:
    return {
        "taskWebhookUrl": receiver.url("task"),
        "stepWebhookUrl": receiver.url("step"),
        "crewWebhookUrl": receiver.url("crew"),
    }


def _batched(receiver: Receiver, events: list[str] | None = None) -> dict[str, object]:
    hooks: dict[str, object] = {
        "url": receiver.url("events"),
        "realtime": False,
        "authentication": {"strategy": "bearer", "token": "receiver-secret"},
    }
    if events is not None:
        hooks["events"] = events
    return {"webhooks": hooks}


def _event_types(receiver: Receiver) -> list[str]:
    return [event["type"] for batch in receiver.at("events") for event in batch.body["events"]]


async def test_task_step_and_crew_webhooks_with_meta(crews: Crews, receiver: Receiver) -> None:
    meta = {"requestId": "travel-req-123", "source": "test"}
    kickoff_id = await _kickoff(crews, "travel", {"meta": meta, **_classic(receiver)})
    await receiver.wait_for(lambda: bool(receiver.at("crew")))
    tasks = [delivery.body for delivery in receiver.at("task")]
    assert [(task["name"], task["agent"]) for task in tasks] == [
        ("research_task", "旅行研究员"),
        ("planning_task", "行程规划师"),
    ]
    assert all(task["kickoff_id"] == kickoff_id and task["meta"] == meta for task in tasks)
    assert set(tasks[0]) == {
        "description", "name", "expected_output", "summary", "agent", "output", "output_json",
        "kickoff_id", "meta",
    }  # fmt: skip
    steps = [delivery.body for delivery in receiver.at("step")]
    assert len(steps) == 5
    assert all(set(step) == {"prompt", "thought", "tool", "tool_input", "result", "kickoff_id",
                             "meta"} for step in steps)  # fmt: skip
    (crew,) = [delivery.body for delivery in receiver.at("crew")]
    assert crew["kickoff_id"] == kickoff_id and crew["meta"] == meta
    assert crew["result"].startswith("为期 7 天的日本科技文化主题综合旅行行程")
    usage = crew["token_usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


async def test_batched_events_with_bearer_token_and_filter(
    crews: Crews, receiver: Receiver
) -> None:
    wanted = ["task_completed", "crew_kickoff_completed"]
    kickoff_id = await _kickoff(crews, "research", _batched(receiver, wanted), duration_scale="0.3")
    await receiver.wait_for(lambda: "crew_kickoff_completed" in _event_types(receiver))
    assert _event_types(receiver) == ["task_completed"] * 3 + ["crew_kickoff_completed"]
    batches = receiver.at("events")
    assert all(batch.headers["authorization"] == "Bearer receiver-secret" for batch in batches)
    events = [event for batch in batches for event in batch.body["events"]]
    assert {event["execution_id"] for event in events} == {kickoff_id}
    sequence = [event["data"]["emission_sequence"] for event in events]
    assert sequence == sorted(sequence) and len(set(sequence)) == len(sequence)
    assert all({"id", "execution_id", "timestamp", "type", "data"} == set(e) for e in events)


async def test_a_failed_run_sends_no_crew_webhook(crews: Crews, receiver: Receiver) -> None:
    body = {**_classic(receiver), **_batched(receiver)}
    await _kickoff(crews, "travel", body, fail="1")
    await receiver.wait_for(lambda: "crew_kickoff_failed" in _event_types(receiver))
    # Deliveries of one run go out in timeline order, so nothing else is on its way.
    assert receiver.at("crew") == [] and receiver.at("task") == []
    types = _event_types(receiver)
    assert types[0] == "crew_kickoff_started" and types[-2:] == [
        "task_failed",
        "crew_kickoff_failed",
    ]
    failed = receiver.at("events")[-1].body["events"][-1]["data"]
    assert failed["error"] == "任务执行失败：外部服务的 API 密钥无效"


async def test_resume_sends_the_rest_of_the_webhooks(
    documented_crews: Crews, receiver: Receiver
) -> None:
    crews = documented_crews
    kickoff_id = await _kickoff(crews, "travel", _classic(receiver), hold="1")
    await receiver.wait_for(lambda: len(receiver.at("task")) == 1)
    answer = await crews.http.post(
        crews.url("travel", "/resume"),
        json={
            "execution_id": kickoff_id,
            "task_id": "research_task",
            "human_feedback": "ok",
            "is_approve": True,
            **_classic(receiver),
        },
    )
    assert answer.status_code == 200, answer.text
    await receiver.wait_for(lambda: bool(receiver.at("crew")))
    assert [delivery.body["name"] for delivery in receiver.at("task")] == [
        "research_task",
        "planning_task",
    ]


async def test_an_unreachable_receiver_does_not_stop_the_run(crews: Crews) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"
    body = {"taskWebhookUrl": url, "stepWebhookUrl": url, "crewWebhookUrl": url}
    kickoff_id = await _kickoff(crews, "research", body, duration_scale="0.3")
    final = (await crews.poll("research", kickoff_id))[-1]
    assert final.get("state", final.get("status")) in ("SUCCESS", "completed")


async def test_resume_without_the_runs_webhook_urls_is_refused(
    crews: Crews, receiver: Receiver
) -> None:
    """The service requires the URLs the run was started with, sent again."""
    live = crews.server.options.dialect == "live"
    kickoff_id = await _kickoff(crews, "travel", _classic(receiver), hold="1")
    await receiver.wait_for(lambda: len(receiver.at("task")) == 1)
    keys = ("executionId", "taskId") if live else ("execution_id", "task_id")
    answer = {keys[0]: kickoff_id, keys[1]: "research_task"}
    refused = await crews.http.post(crews.url("travel", "/resume"), json=answer)
    assert refused.status_code == 422
    named = "taskWebhookUrl" in refused.text and "crewWebhookUrl" in refused.text
    assert named, refused.text
    accepted = await crews.http.post(
        crews.url("travel", "/resume"), json=answer | _classic(receiver)
    )
    assert accepted.status_code == 200, accepted.text


async def test_a_held_run_sends_human_feedback_requested(crews: Crews, receiver: Receiver) -> None:
    kickoff_id = await _kickoff(crews, "travel", _batched(receiver), hold="1")
    await receiver.wait_for(lambda: "human_feedback_requested" in _event_types(receiver))
    events = [event for batch in receiver.at("events") for event in batch.body["events"]]
    (asked,) = [event for event in events if event["type"] == "human_feedback_requested"]
    assert asked["execution_id"] == kickoff_id
    assert asked["data"]["task_name"] == "research_task"
    assert asked["data"]["agent_role"] == asked["data"]["agent"]
    assert asked["data"]["message"].startswith("Review the output of research_task")
    assert _event_types(receiver)[-1] == "human_feedback_requested"
