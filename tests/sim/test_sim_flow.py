"""The flow deployment (``/onboarding``): methods instead of tasks, a pause for a reviewer,
restarts by ``inputs.id`` and restores from a saved state, in both dialects."""

from __future__ import annotations

import asyncio
from typing import Any

from sim_helpers import Crews, Receiver, StatusBody

FLOW = "onboarding"
METHODS = ["collect_profile", "verify_identity", "approve_account", "send_welcome"]


def _live(crews: Crews) -> bool:
    return crews.server.options.dialect == "live"


def _waiting(body: StatusBody) -> bool:
    """Paused (live), or running on the reviewed method (documented has no word for it)."""
    return body.get("state") == "PAUSED" or body.get("current_task") == "approve_account"


def _running(body: StatusBody) -> bool:
    return body.get("state") in ("RUNNING", "PENDING") or body.get("status") == "running"


def _ended(body: StatusBody) -> bool:
    return body.get("state") == "SUCCESS" or body.get("status") == "completed"


async def _start(crews: Crews, body: dict[str, Any]) -> str:
    answer = await crews.http.post(crews.url(FLOW, "/kickoff"), json=body)
    assert answer.status_code == 200, answer.text
    kickoff_id: str = answer.json()["kickoff_id"]
    return kickoff_id


async def _approve(crews: Crews, kickoff_id: str, approve: bool = True) -> str:
    """Answer the reviewer's pause; the id the run goes on under."""
    if _live(crews):
        body: dict[str, Any] = {"executionId": kickoff_id, "taskId": "approve_account"}
        body["isApprove"] = approve
    else:
        body = {"execution_id": kickoff_id, "task_id": "approve_account", "is_approve": approve}
    # The documented dialect cannot say the method has reached its pause: ask until it has.
    async with asyncio.timeout(15):
        while (
            answer := await crews.http.post(crews.url(FLOW, "/resume"), json=body)
        ).status_code == 400:
            await asyncio.sleep(0.02)
    assert answer.status_code == 200, answer.text
    continued: str = answer.json().get("kickoff_id", kickoff_id)
    return continued


async def _finished(crews: Crews) -> str:
    """A flow run that went through its four methods (no reviewer: ``hold=0``)."""
    kickoff_id = await crews.kickoff(FLOW, hold="0")
    await crews.poll(FLOW, kickoff_id, _ended)
    return kickoff_id


async def test_a_flow_needs_no_inputs_and_lists_its_state_fields(crews: Crews) -> None:
    answer = await crews.http.get(crews.url(FLOW, "/inputs"))
    assert answer.json() == {"inputs": ["name", "email", "company", "plan"]}
    assert crews.server.required_inputs(FLOW) == []
    assert await _start(crews, {"inputs": {}})


async def test_a_state_field_left_out_reads_as_its_default(crews: Crews) -> None:
    """A flow's state fields have defaults: none shows up as a raw ``$name`` in outputs."""
    kickoff_id = await _start(crews, {"inputs": {"name": "Ann", "hold": "0"}})
    final = (await crews.poll(FLOW, kickoff_id, _ended))[-1]
    output = final["result"] if _live(crews) else final["result"]["output"]
    assert "Welcome to Beacon, Ann!" in output
    assert "$" not in output.replace("US$", "")


async def test_a_flow_pauses_on_its_reviewer_and_goes_on_once_answered(crews: Crews) -> None:
    kickoff_id = await crews.kickoff(FLOW)
    paused = (await crews.poll(FLOW, kickoff_id, _waiting))[-1]
    if _live(crews):
        assert paused["state"] == "PAUSED"
        progress = paused["progress"]
        assert progress["unit"] == "step"
        assert progress["total"] is None and progress["remaining"] is None
        assert progress["completed"] == 2
        assert progress["current"] == "approve_account"
        assert paused["flow_id"] == kickoff_id
        assert paused["last_executed_task"]["name"] == "verify_identity"
    else:
        assert paused["status"] == "running"
    continued = await _approve(crews, kickoff_id)
    final = (await crews.poll(FLOW, continued, _ended))[-1]
    if _live(crews):
        assert "Welcome to Beacon, Mei Tanaka!" in final["result"]
        assert final["flow_id"] == kickoff_id
    else:
        assert [task["task_id"] for task in final["result"]["tasks"]] == METHODS
        assert "Welcome to Beacon" in final["result"]["output"]


async def test_a_rejected_review_ends_the_flow_without_its_welcome(crews: Crews) -> None:
    kickoff_id = await crews.kickoff(FLOW)
    await crews.poll(FLOW, kickoff_id, _waiting)
    continued = await _approve(crews, kickoff_id, approve=False)
    final = (await crews.poll(FLOW, continued, _ended))[-1]
    output = final["result"] if _live(crews) else final["result"]["output"]
    assert "Account rejected" in output


async def test_reusing_inputs_id_restarts_the_execution_under_the_same_kickoff_id(
    crews: Crews,
) -> None:
    kickoff_id = await _finished(crews)
    inputs = crews.server.sample_inputs(FLOW) | {"id": kickoff_id, "hold": "0"}
    again = await _start(crews, {"inputs": inputs})
    assert again == kickoff_id
    # The finished run is running again, then finishes again.
    assert _running(await crews.status(FLOW, kickoff_id))
    await crews.poll(FLOW, kickoff_id, _ended)


async def test_restore_from_state_starts_a_new_run_after_the_finished_methods(
    crews: Crews,
) -> None:
    failed = await crews.kickoff(FLOW, fail="1")
    await crews.poll(FLOW, failed, lambda body: body.get("state") == "FAILED" or "error" in body)
    inputs = crews.server.sample_inputs(FLOW) | {"hold": "0"}
    restored = await _start(crews, {"inputs": inputs, "restoreFromStateId": failed})
    assert restored != failed
    final = (await crews.poll(FLOW, restored, _ended))[-1]
    if _live(crews):
        assert final["progress"]["completed"] == 3  # collect_profile was in the state
    else:
        ran = [task["task_id"] for task in final["result"]["tasks"]]
        assert ran == METHODS[1:]


async def test_restore_from_an_unknown_state_is_refused(crews: Crews) -> None:
    body = {"inputs": {}, "restoreFromStateId": "no-such-state"}
    answer = await crews.http.post(crews.url(FLOW, "/kickoff"), json=body)
    assert answer.status_code == 400
    assert "no-such-state" in answer.text


async def test_a_crew_ignores_inputs_id_and_restore(crews: Crews) -> None:
    first = await crews.kickoff("research")
    inputs = crews.server.sample_inputs("research") | {"id": first}
    again = await crews.http.post(
        crews.url("research", "/kickoff"), json={"inputs": inputs, "restoreFromStateId": first}
    )
    assert again.status_code == 200
    assert again.json()["kickoff_id"] != first


async def test_flow_events_carry_crewais_fields(crews: Crews, receiver: Receiver) -> None:
    hooks = {"url": receiver.url("events"), "realtime": True}
    kickoff_id = await _start(
        crews, {"inputs": crews.server.sample_inputs(FLOW), "webhooks": hooks}
    )
    await receiver.wait_for(lambda: "flow_paused" in _types(receiver))
    continued = await _approve(crews, kickoff_id)
    await receiver.wait_for(lambda: "flow_finished" in _types(receiver))
    events = [event for batch in receiver.at("events") for event in batch.body["events"]]
    types = [event["type"] for event in events]
    assert types[0] == "flow_started"
    assert {
        "method_execution_started",
        "method_execution_finished",
        "method_execution_paused",
        "human_feedback_requested",
        "llm_call_completed",
    } <= set(types)
    assert not any(kind.startswith(("crew_", "task_")) for kind in types)
    by_type = {event["type"]: event["data"] for event in events}
    paused = by_type["method_execution_paused"]
    assert paused["flow_name"] == FLOW and paused["method_name"] == "approve_account"
    assert paused["flow_id"] == kickoff_id
    assert paused["message"].startswith("Approve the Team account for Kaizen Robotics")
    assert paused["emit"] == ["approved", "rejected"]
    assert by_type["flow_paused"]["message"] == paused["message"]
    started = [e["data"] for e in events if e["type"] == "method_execution_started"]
    assert [data["method_name"] for data in started] == METHODS
    finished = [e["data"] for e in events if e["type"] == "method_execution_finished"]
    assert finished[-1]["result"].startswith("# Welcome to Beacon")
    assert finished[-1]["state"]["verify_identity"].startswith("## Identity check")
    assert by_type["flow_finished"]["result"].startswith("# Welcome to Beacon")
    calls = [e["data"] for e in events if e["type"] == "llm_call_completed"]
    assert all(call["usage"]["total_tokens"] > 0 for call in calls)
    assert {event["execution_id"] for event in events} <= {kickoff_id, continued}


def _types(receiver: Receiver) -> list[str]:
    return [event["type"] for batch in receiver.at("events") for event in batch.body["events"]]
