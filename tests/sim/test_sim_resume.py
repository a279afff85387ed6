"""Human in the loop: ``hold=1`` runs wait after their first task until POST /resume."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from sim_helpers import Crews, Receiver, StatusBody, wall


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


# -- the CLI, end to end: `crewtui resume` against a run waiting for input -------------------


def _cli(home: Path, crews: Crews, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREWAI_", "CREWTUI_"))}
    env |= {
        "CREWTUI_HOME": str(home),
        "CREWAI_API_URL": crews.server.crew_url("travel"),
        "CREWAI_BEARER_TOKEN": crews.server.options.token,
    }
    return subprocess.run(
        [sys.executable, "-m", "crewtui", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


async def _cli_kickoff_on_hold(home: Path, crews: Crews, *options: str) -> str:
    inputs = crews.server.sample_inputs("travel") | {"hold": "1"}
    pairs = [arg for key, value in inputs.items() for arg in ("-i", f"{key}={value}")]
    started = await asyncio.to_thread(_cli, home, crews, "kickoff", *pairs, *options, "--json")
    assert started.returncode == 0, started.stderr
    kickoff_id: str = json.loads(started.stdout)["kickoff_id"]
    await crews.poll("travel", kickoff_id, _waiting)
    return kickoff_id


async def test_cli_status_says_which_task_waits_and_resume_needs_no_guess(
    live_crews: Crews, tmp_path: Path
) -> None:
    crews = live_crews
    kickoff_id = await _cli_kickoff_on_hold(tmp_path, crews)
    status = await asyncio.to_thread(_cli, tmp_path, crews, "status", kickoff_id, "--json")
    waiting = json.loads(status.stdout)["waiting_for"]
    assert waiting["task_id"] == "research_task"
    paused = await crews.status("travel", kickoff_id)
    agent = paused["last_executed_task"]["agent"]
    assert waiting["agent"] == agent
    assert waiting["message"] == "Waiting for human input"
    assert waiting["since"]
    human = await asyncio.to_thread(_cli, tmp_path, crews, "status", kickoff_id)
    assert f"waits for input on research_task ({agent}): Waiting for human" in human.stdout

    answered = await asyncio.to_thread(_cli, tmp_path, crews, "resume", kickoff_id, "--approve")
    assert answered.returncode == 0, answered.stderr
    assert f"Approved task research_task of {kickoff_id}." in answered.stdout
    new_id = re.search(r"continues as (\S+) \(", answered.stdout)
    assert new_id is not None and new_id.group(1) != kickoff_id
    final = (await crews.poll("travel", new_id.group(1)))[-1]
    assert final["state"] == "SUCCESS"
    listed = await asyncio.to_thread(_cli, tmp_path, crews, "list", "--json")
    assert new_id.group(1) in {row["kickoff_id"] for row in json.loads(listed.stdout)}


async def test_cli_resume_in_the_documented_dialect_asks_for_the_task_it_cannot_know(
    documented_crews: Crews, tmp_path: Path
) -> None:
    crews = documented_crews
    kickoff_id = await _cli_kickoff_on_hold(tmp_path, crews)
    status = await asyncio.to_thread(_cli, tmp_path, crews, "status", kickoff_id, "--json")
    assert json.loads(status.stdout)["waiting_for"] is None  # this dialect has no pause
    unknown = await asyncio.to_thread(_cli, tmp_path, crews, "resume", kickoff_id, "--reject")
    assert unknown.returncode == 2
    assert "give the task id (--task TASK_ID)" in unknown.stderr
    answered = await asyncio.to_thread(
        _cli, tmp_path, crews, "resume", kickoff_id, "--reject", "--task", "research_task",
        "--feedback", "More museums", "--json",
    )  # fmt: skip
    assert answered.returncode == 0, answered.stderr
    body = json.loads(answered.stdout)
    assert body["kickoff_id"] == kickoff_id
    assert body["answered"] == {
        "kickoff_id": kickoff_id,
        "task_id": "research_task",
        "approved": False,
        "status": "retrying",
        "message": "Execution retrying with human feedback",
        "continues_as": None,
        "via": "resume",
        "feedback": "More museums",
    }


async def test_cli_resume_wants_an_answer_and_keeps_the_old_feedback_form(
    live_crews: Crews, tmp_path: Path
) -> None:
    crews = live_crews
    kickoff_id = await _cli_kickoff_on_hold(tmp_path, crews)
    bare = await asyncio.to_thread(_cli, tmp_path, crews, "resume", kickoff_id)
    assert bare.returncode == 2 and "--approve or --reject" in bare.stderr
    # The form scripts used before --approve: --task and --feedback, approving.
    old = await asyncio.to_thread(
        _cli, tmp_path, crews, "resume", kickoff_id, "--task", "research_task",
        "--feedback", "Looks good",
    )  # fmt: skip
    assert old.returncode == 0, old.stderr
    assert "Approved task research_task" in old.stdout and "continues as" in old.stdout


async def test_cli_resume_resends_the_webhook_urls_and_names_the_continuation(
    crews: Crews, receiver: Receiver, tmp_path: Path
) -> None:
    """The service refuses a resume without the run's webhook URLs: crewtui keeps them."""
    live = crews.server.options.dialect == "live"
    hooks = [f"--{kind}-webhook={receiver.url(kind)}" for kind in ("task", "step", "crew")]
    kickoff_id = await _cli_kickoff_on_hold(tmp_path, crews, *hooks)
    answered = await asyncio.to_thread(
        _cli, tmp_path, crews, "resume", kickoff_id, "--approve", "--task", "research_task"
    )
    assert answered.returncode == 0, answered.stderr
    # The resent URLs are where the rest of the run is pushed.
    await receiver.wait_for(lambda: bool(receiver.at("crew")))
    if not live:
        assert "The service says resumed" in answered.stdout
        return
    found = re.search(r"continues as (\S+) \(", answered.stdout)
    assert found is not None
    new_id = found.group(1)
    old = await asyncio.to_thread(_cli, tmp_path, crews, "status", kickoff_id, "--json")
    new = await asyncio.to_thread(_cli, tmp_path, crews, "status", new_id, "--json")
    assert json.loads(old.stdout)["continues"] == new_id
    assert json.loads(new.stdout)["continued_from"] == kickoff_id
    assert json.loads(new.stdout)["continues"] is None
    human = await asyncio.to_thread(_cli, tmp_path, crews, "status", new_id)
    assert f"continues {kickoff_id[:8]}" in human.stdout
