"""Human in the loop: ``hold=1`` runs wait after their first task until POST /resume."""

from __future__ import annotations

from sim_helpers import Crews, StatusBody, wall


def _waiting(body: StatusBody) -> bool:
    """Paused (live) or, in the documented dialect that has no word for it, one task done."""
    return body.get("state") == "PAUSED" or body.get("progress", {}).get("completed_tasks") == 1


def _snake(
    kickoff_id: str, task_id: str = "research_task", approve: bool = True
) -> dict[str, object]:
    return {
        "execution_id": kickoff_id,
        "task_id": task_id,
        "human_feedback": "Looks good",
        "is_approve": approve,
    }


def _camel(kickoff_id: str, task_id: str = "research_task") -> dict[str, object]:
    return {"executionId": kickoff_id, "taskId": task_id, "humanFeedback": "Looks good"}


async def test_resume_continues_a_waiting_run_to_success(crews: Crews) -> None:
    live = crews.server.options.dialect == "live"
    kickoff_id = await crews.kickoff("travel", hold="1")
    paused = (await crews.poll("travel", kickoff_id, _waiting))[-1]
    if live:
        assert paused["state"] == "PAUSED"
        assert paused["status"] == "Waiting for human input"
        assert paused["last_executed_task"]["name"] == "research_task"
        # The clock stands still while the run waits.
        assert (await crews.status("travel", kickoff_id))["progress"] == paused["progress"]
    body = _camel(kickoff_id) if live else _snake(kickoff_id)
    answer = await crews.http.post(crews.url("travel", "/resume"), json=body)
    assert answer.status_code == 200, answer.text
    if live:
        continued = answer.json()["kickoff_id"]
        assert continued != kickoff_id
    else:
        assert answer.json()["status"] == "resumed"
        continued = kickoff_id
    final = (await crews.poll("travel", continued))[-1]
    assert final.get("state", final.get("status")) in ("SUCCESS", "completed")


async def test_live_resume_wants_camel_case(live_crews: Crews) -> None:
    crews = live_crews
    kickoff_id = await crews.kickoff("travel", hold="1")
    await crews.poll("travel", kickoff_id, _waiting)
    answer = await crews.http.post(crews.url("travel", "/resume"), json=_snake(kickoff_id))
    assert answer.status_code == 422
    assert {tuple(item["loc"]) for item in answer.json()["detail"]} == {
        ("body", "executionId"),
        ("body", "taskId"),
    }


async def test_resume_refuses_a_run_that_is_not_waiting(crews: Crews) -> None:
    live = crews.server.options.dialect == "live"
    kickoff_id = await crews.kickoff("research")
    body = _camel(kickoff_id, "search_task") if live else _snake(kickoff_id, "search_task")
    answer = await crews.http.post(crews.url("research", "/resume"), json=body)
    assert answer.status_code == 400
    assert "not waiting for human input" in answer.text


async def test_resume_of_an_unknown_execution_is_404(crews: Crews) -> None:
    live = crews.server.options.dialect == "live"
    body = _camel("no-such-run") if live else _snake("no-such-run")
    answer = await crews.http.post(crews.url("travel", "/resume"), json=body)
    assert answer.status_code == 404


async def test_documented_rejection_retries_the_first_task(documented_crews: Crews) -> None:
    crews = documented_crews
    kickoff_id = await crews.kickoff("travel", hold="1")
    await crews.poll("travel", kickoff_id, _waiting)
    answer = await crews.http.post(
        crews.url("travel", "/resume"), json=_snake(kickoff_id, approve=False)
    )
    assert answer.json()["status"] == "retrying"
    # Right after the answer the first task runs again: nothing is complete any more.
    again = await crews.status("travel", kickoff_id)
    assert again == {
        "status": "running",
        "current_task": "research_task",
        "progress": {"completed_tasks": 1, "total_tasks": 2},
    }
    final = (await crews.poll("travel", kickoff_id))[-1]
    assert [task["task_id"] for task in final["result"]["tasks"]] == [
        "research_task",
        "planning_task",
    ]
    assert final["execution_time"] == wall(crews, 0.5 + 45.2 * 2 + 62.8)
