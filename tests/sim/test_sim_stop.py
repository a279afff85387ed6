"""POST /stop/{kickoff_id} (cancel) and GET / (health), in both dialects."""

from __future__ import annotations

from sim_helpers import Crews, StatusBody, is_terminal

from crewtui.sim import SimServer

# Long enough that a run is still going when the test stops it.
SLOW = "100"


def _running(body: StatusBody) -> bool:
    return body.get("state") == "RUNNING" or body.get("status") == "running"


def _waiting(body: StatusBody) -> bool:
    return body.get("state") == "PAUSED" or body.get("progress", {}).get("completed_tasks") == 1


async def _stop(crews: Crews, kickoff_id: str, crew: str = "travel") -> tuple[int, StatusBody]:
    answer = await crews.http.post(crews.url(crew, f"/stop/{kickoff_id}"))
    return answer.status_code, answer.json()


def _assert_stopped(crews: Crews, body: StatusBody) -> None:
    if crews.server.options.dialect == "live":
        assert body["state"] == "REVOKED"
        assert body["status"] == "Execution stopped"
        assert body["result"] is None
        assert body["progress"]["current"] is None
    else:  # the reference has no cancelled status: a stopped run reads as an error
        assert body["status"] == "error"
        assert body["error"] == "Execution stopped"


async def test_stop_ends_a_running_run_which_then_reports_revoked(crews: Crews) -> None:
    kickoff_id = await crews.kickoff("travel", duration_scale=SLOW)
    await crews.poll("travel", kickoff_id, _running)
    code, body = await _stop(crews, kickoff_id)
    assert (code, body) == (200, {"status": "stopped", "kickoffId": kickoff_id})
    first = await crews.status("travel", kickoff_id)
    _assert_stopped(crews, first)
    # It stays stopped: the clock no longer moves it on.
    assert await crews.status("travel", kickoff_id) == first
    code, body = await _stop(crews, kickoff_id)
    assert (code, body) == (400, {"detail": "Cannot stop execution. Current state: REVOKED"})


async def test_stop_ends_a_paused_run_which_can_no_longer_be_resumed(crews: Crews) -> None:
    kickoff_id = await crews.kickoff("travel", hold="1")
    await crews.poll("travel", kickoff_id, _waiting)
    code, _ = await _stop(crews, kickoff_id)
    assert code == 200
    _assert_stopped(crews, await crews.status("travel", kickoff_id))
    body = {"executionId": kickoff_id, "taskId": "research_task", "humanFeedback": "ok"}
    body |= {"execution_id": kickoff_id, "task_id": "research_task"}
    answer = await crews.http.post(crews.url("travel", "/resume"), json=body)
    assert answer.status_code == 400, answer.text


async def test_stop_refuses_a_run_that_has_ended_naming_its_state(crews: Crews) -> None:
    done = await crews.kickoff("travel")
    failed = await crews.kickoff("travel", fail="1")
    await crews.poll("travel", done)
    await crews.poll("travel", failed)
    assert await _stop(crews, done) == (
        400,
        {"detail": "Cannot stop execution. Current state: SUCCESS"},
    )
    assert await _stop(crews, failed) == (
        400,
        {"detail": "Cannot stop execution. Current state: FAILURE"},
    )
    assert is_terminal(await crews.status("travel", done))


async def test_stop_of_an_unknown_id_is_a_404_with_error_and_message(crews: Crews) -> None:
    code, body = await _stop(crews, "no-such-run")
    assert code == 404
    assert body == {
        "error": "Execution not found",
        "message": "No execution found with ID: no-such-run",
    }


async def test_stop_wants_the_token(crews: Crews) -> None:
    kickoff_id = await crews.kickoff("travel", duration_scale=SLOW)
    answer = await crews.http.post(
        crews.url("travel", f"/stop/{kickoff_id}"), headers={"Authorization": "Bearer nope"}
    )
    assert answer.status_code == 401
    assert not is_terminal(await crews.status("travel", kickoff_id))


async def test_the_health_check_is_healthy_live_and_absent_documented(crews: Crews) -> None:
    server: SimServer = crews.server
    answer = await crews.http.get(crews.url("travel", "/"), headers={"Authorization": ""})
    if server.options.dialect == "live":
        assert answer.status_code == 200
        assert answer.text == "Healthy"
        assert answer.headers["content-type"].startswith("text/plain")
    else:
        assert answer.status_code == 404
