"""Every crew endpoint of the simulator, over real HTTP, in both dialects (the API contract)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sim_helpers import Crews, StatusBody, auth, is_terminal, wall

from crewtui.sim import SimServer
from crewtui.sim.crews import CREWS
from crewtui.sim.timeline import Run, timeline


def _live(crews: Crews) -> bool:
    return crews.server.options.dialect == "live"


async def test_inputs_lists_each_crews_required_inputs_for_both_tokens(crews: Crews) -> None:
    options = crews.server.options
    for crew in SimServer.CREWS:
        for token in (options.token, options.user_token):
            answer = await crews.http.get(crews.url(crew, "/inputs"), headers=auth(token))
            assert answer.status_code == 200
            assert answer.json() == {"inputs": crews.server.required_inputs(crew)}


async def test_issue_required_inputs_per_crew(sim: SimServer) -> None:
    assert sim.required_inputs("travel") == ["budget", "interests", "duration", "age"]
    assert sim.required_inputs("outreach") == [
        "name", "title", "company", "industry", "our_product", "linkedin_url",
    ]  # fmt: skip
    assert sim.required_inputs("content") == ["topic", "audience"]
    assert sim.required_inputs("research") == ["topic"]


async def test_unauthorized_in_the_dialects_form(crews: Crews) -> None:
    url = crews.url("travel", "/inputs")
    async with httpx.AsyncClient() as bare:
        missing = await bare.get(url)
        wrong = await bare.get(url, headers=auth("not-the-token"))
    assert missing.status_code == wrong.status_code == 401
    if _live(crews):
        assert missing.json() == {"detail": "Not authenticated"}
        assert wrong.json() == {"detail": "Invalid or missing authentication credentials"}
    else:
        expected = {"error": "Unauthorized", "message": "Invalid or missing bearer token"}
        assert missing.json() == wrong.json() == expected


async def test_missing_inputs_get_422_in_the_dialects_form(crews: Crews) -> None:
    answer = await crews.http.post(
        crews.url("content", "/kickoff"), json={"inputs": {"tone": "friendly"}}
    )
    assert answer.status_code == 422
    if _live(crews):
        assert answer.json() == {"detail": "Missing inputs: audience, topic"}
    else:
        assert answer.json() == {
            "error": "Validation Error",
            "message": "Missing required inputs",
            "details": {"missing_inputs": ["topic", "audience"]},
        }


async def test_a_body_without_the_inputs_wrapper_gets_422(crews: Crews) -> None:
    flat = crews.server.sample_inputs("research")
    answer = await crews.http.post(crews.url("research", "/kickoff"), json=flat)
    assert answer.status_code == 422
    if _live(crews):
        assert answer.json()["detail"][0]["loc"] == ["body", "inputs"]
    else:
        assert answer.json()["error"] == "Validation Error"


async def test_a_body_that_is_not_json(crews: Crews) -> None:
    answer = await crews.http.post(
        crews.url("research", "/kickoff"),
        content=b"topic=ai",
        headers={"Content-Type": "application/json"},
    )
    if _live(crews):
        assert answer.status_code == 500
        assert answer.headers["content-type"].startswith("text/plain")
    else:
        assert answer.status_code == 400
        assert answer.json()["error"] == "Bad Request"


async def test_a_webhook_url_that_is_not_a_url_is_refused(crews: Crews) -> None:
    body = {"inputs": crews.server.sample_inputs("research"), "taskWebhookUrl": "not a url"}
    answer = await crews.http.post(crews.url("research", "/kickoff"), json=body)
    assert answer.status_code == (422 if _live(crews) else 400)


async def test_an_unknown_kickoff_id(crews: Crews) -> None:
    answer = await crews.http.get(crews.url("travel", "/status/no-such-run"))
    if _live(crews):
        assert (answer.status_code, answer.json()) == (200, {"state": "NOT FOUND"})
    else:
        assert answer.status_code == 404
        assert answer.json() == {
            "error": "Execution not found",
            "message": "No execution found with ID: no-such-run",
        }


async def test_a_run_is_only_known_to_its_own_crew(crews: Crews) -> None:
    kickoff_id = await crews.kickoff("research")
    answer = await crews.http.get(crews.url("content", f"/status/{kickoff_id}"))
    assert answer.status_code == (200 if _live(crews) else 404)
    assert answer.json().get("state", "NOT FOUND") == "NOT FOUND"


async def test_unknown_paths_answer_404(crews: Crews) -> None:
    for url in (crews.server.base_url + "/", crews.server.base_url + "/nonexistent/inputs"):
        assert (await crews.http.get(url)).status_code == 404


async def test_travel_run_goes_through_its_tasks_to_success(crews: Crews) -> None:
    kickoff_id = await crews.kickoff("travel")
    seen = await crews.poll("travel", kickoff_id)
    final = seen[-1]
    if _live(crews):
        states = [body["state"] for body in seen]
        assert "RUNNING" in states and states[-1] == "SUCCESS"
        currents = {body["progress"]["current"] for body in seen if body["state"] == "RUNNING"}
        assert currents <= {"research_task", "planning_task"} and "planning_task" in currents
        assert final["result"].startswith("为期 7 天的日本科技文化主题综合旅行行程")
        assert final["status"] is None and final["result_json"] is None
        assert final["progress"]["completed"] == final["progress"]["total"] == 2
        assert final["progress"]["duration_seconds"] == wall(crews, 108.5)
        assert final["last_executed_task"]["agent"] == "行程规划师"
    else:
        assert seen[0]["status"] == "running" and final["status"] == "completed"
        assert final["execution_time"] == wall(crews, 108.5)
        assert final["result"]["output"].startswith("为期 7 天的日本科技文化主题综合旅行行程")
        tasks = [(t["task_id"], t["agent"], t["execution_time"]) for t in final["result"]["tasks"]]
        assert tasks == [
            ("research_task", "旅行研究员", wall(crews, 45.2)),
            ("planning_task", "行程规划师", wall(crews, 62.8)),
        ]


async def test_every_crew_completes_with_its_own_final_output(crews: Crews) -> None:
    crew_names = [crew for crew in SimServer.CREWS if crew != "travel"]
    ids = [await crews.kickoff(crew, duration_scale="0.3") for crew in crew_names]
    finals = await asyncio.gather(
        *(crews.poll(crew, kickoff_id) for crew, kickoff_id in zip(crew_names, ids, strict=True))
    )
    for crew, seen in zip(crew_names, finals, strict=True):
        final = seen[-1]
        output = final["result"] if _live(crews) else final["result"]["output"]
        assert output.startswith("#"), crew
        assert crews.server.sample_inputs(crew)["name" if crew == "outreach" else "topic"] in output


async def test_live_progress_while_running(live_crews: Crews) -> None:
    meta = {"requestId": "req-42"}
    answer = await live_crews.http.post(
        live_crews.url("travel", "/kickoff"),
        json={"inputs": live_crews.server.sample_inputs("travel"), "meta": meta},
    )
    kickoff_id = answer.json()["kickoff_id"]

    def second_task(body: StatusBody) -> bool:
        return body["progress"]["completed"] == 1 or is_terminal(body)

    running = (await live_crews.poll("travel", kickoff_id, second_task))[-1]
    assert running["state"] == "RUNNING" and running["status"] == "Task is Running"
    assert running["result"] is None
    progress = running["progress"]
    assert progress["unit"] == "task" and progress["total"] == 2 and progress["remaining"] == 1
    assert (progress["current"], progress["current_agent"]) == ("planning_task", "行程规划师")
    assert progress["started_at"].endswith("Z") and progress["updated_at"] >= progress["started_at"]
    assert wall(live_crews, 45.2) <= progress["duration_seconds"] < wall(live_crews, 108.5)
    last = running["last_executed_task"]
    assert (last["name"], last["agent"], last["meta"]) == ("research_task", "旅行研究员", meta)
    assert last["output"].startswith("## 日本科技与文化目的地调研")
    assert set(running["last_step"]) == {"thought", "tool", "tool_input", "result"}


async def test_fail_input_makes_the_run_fail(crews: Crews) -> None:
    kickoff_id = await crews.kickoff("travel", fail="1")
    final = (await crews.poll("travel", kickoff_id))[-1]
    if _live(crews):
        assert final["state"] == "FAILED"
        assert final["status"] == "任务执行失败：外部服务的 API 密钥无效"
        assert final["result"] is None
        assert final["progress"]["duration_seconds"] == wall(crews, 23.1)
    else:
        assert final == {
            "status": "error",
            "error": "任务执行失败：外部服务的 API 密钥无效",
            "execution_time": wall(crews, 23.1),
        }


async def test_failure_rate_one_fails_every_run(fresh_crews: Crews) -> None:
    fresh_crews.server.options.failure_rate = 1.0
    kickoff_id = await fresh_crews.kickoff("research", duration_scale="0.3")
    assert (await fresh_crews.poll("research", kickoff_id))[-1]["state"] == "FAILED"


async def test_json_input_gives_a_fenced_json_result(live_crews: Crews) -> None:
    kickoff_id = await live_crews.kickoff("research", json="1", duration_scale="0.3")
    final = (await live_crews.poll("research", kickoff_id))[-1]
    assert final["result"].startswith("```json\n")
    assert final["result_json"]["tasks"] == ["search_task", "synthesis_task", "report_task"]


@pytest.mark.parametrize("value", ["1,0", "1,-1", "1,fast", "nan"])
async def test_bad_task_scales_are_refused(sim: SimServer, value: str) -> None:
    inputs = sim.sample_inputs("research") | {"task_scales": value}
    async with httpx.AsyncClient(headers=auth(sim.options.token)) as http:
        answer = await http.post(sim.crew_url("research") + "/kickoff", json={"inputs": inputs})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "inputs", "task_scales"]


def test_task_scales_stretch_each_task_on_its_own() -> None:
    crew = CREWS["research"]
    run = Run(
        crew=crew, kickoff_id="x", inputs={}, meta=None, started_mono=0.0, started_wall=0.0,
        speed=1.0, scale=2.0, task_scales=(1.0, 0.5),
    )  # fmt: skip
    ends = [event.at for event in timeline(run) if event.kind == "task_completed"]
    first, second, third = (task.duration * 2.0 for task in crew.tasks)
    start = crew.pending * 2.0
    assert ends == pytest.approx(
        [start + first, start + first + second * 0.5, start + first + second * 0.5 + third]
    )


@pytest.mark.parametrize("value", ["0", "-1", "fast", "nan"])
async def test_a_bad_duration_scale_is_refused(sim: SimServer, value: str) -> None:
    inputs = sim.sample_inputs("research") | {"duration_scale": value}
    async with httpx.AsyncClient(headers=auth(sim.options.token)) as http:
        answer = await http.post(sim.crew_url("research") + "/kickoff", json={"inputs": inputs})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "inputs", "duration_scale"]
