"""``status --json`` and ``list --json`` carry tokens per task and per run, null when unknown."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from crewtui.api.errors import ExitCode
from crewtui.api.profile import CrewProfile
from crewtui.api.rows import Usage
from crewtui.api.secret import Secret
from crewtui.config import add_crew, resolve_paths
from crewtui.core.format import tokens_text
from crewtui.sim import SimServer
from crewtui.sim.timeline import SIM_MODEL
from tests.cli_helpers import QUICK_POLLS, crew_env, inputs_args, run
from tests.core.live_runtime import run_to_the_end_with_usage, simulated_usage, webhook_runtime


async def test_status_json_shows_usage_per_task_and_per_run_after_a_run_with_pushes(
    sim_any: SimServer, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    paths = resolve_paths(home)
    paths.data_dir.mkdir(parents=True)
    research = CrewProfile(name="research", url=sim_any.crew_url("research"))
    add_crew(paths, replace(research, token=Secret(sim_any.options.token)))
    inputs = sim_any.sample_inputs("research")
    async with webhook_runtime(sim_any, paths.data_dir, "research") as runtime:
        kickoff_id = await run_to_the_end_with_usage(runtime, "research", inputs)
    per_task, whole = simulated_usage("research", inputs)

    result = run(home, "status", kickoff_id, "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert Usage(**status["usage"]) == whole
    assert {task["task_id"]: Usage(**task["usage"]) for task in status["tasks"]} == (per_task)
    assert status["model"] == SIM_MODEL  # named by the LLM call events
    # Keys no source gave are null, never 0.
    assert status["usage"]["reasoning_tokens"] is None

    listed = run(home, "list", "--fields", "kickoff_id,usage")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == [{"kickoff_id": kickoff_id, "usage": asdict(whole)}]

    human = run(home, "status", kickoff_id)
    assert human.returncode == 0, human.stderr
    usage_line = next(line for line in human.stdout.splitlines() if "usage:" in line)
    assert f"{tokens_text(whole.total_tokens or 0)} tokens" in usage_line
    assert usage_line.endswith("(estimate)") and "≈ $" in usage_line


@pytest.mark.parametrize("command", ["kickoff", "watch"])
def test_a_followed_run_with_a_receiver_gets_usage_per_task_and_the_model(
    sim_any: SimServer, tmp_path: Path, command: str
) -> None:
    """``--webhooks 127.0.0.1:0`` runs a receiver for the command's life: the kickoff asks
    for the batched events, so the run's first task gets its tokens and the model is known."""
    home = tmp_path / "home"
    env = crew_env(sim_any, "travel")
    receiver = ["--webhooks", "127.0.0.1:0"]
    inputs = inputs_args(sim_any, "travel")
    if command == "kickoff":
        followed = run(
            home, "kickoff", *inputs, "--watch", "--exit-status", *QUICK_POLLS, *receiver, env=env
        )
        listed = json.loads(run(home, "list", "--json", env=env).stdout)
        kickoff_id = listed[0]["kickoff_id"]
    else:
        kickoff_id = run(home, "kickoff", *inputs, env=env).stdout.strip()
        followed = run(home, "watch", kickoff_id, "--exit-status", *QUICK_POLLS, *receiver, env=env)
    assert followed.returncode == ExitCode.OK, followed.stderr
    # A push may end the run before its event is read: the end is printed all the same.
    assert "✓ completed" in followed.stdout.strip().splitlines()[-1], followed.stdout
    status = json.loads(run(home, "status", kickoff_id, "--json", env=env).stdout)
    assert (home / "data" / "webhook-token").exists(), "--webhooks did not start a receiver"
    if command == "kickoff":
        per_task, _ = simulated_usage("travel", sim_any.sample_inputs("travel"))
        first = status["tasks"][0]
        assert Usage(**first["usage"]) == per_task[first["task_id"]]
        # The model came with the LLM call events: the cost estimate shows.
        assert "(estimate)" in run(home, "status", kickoff_id, env=env).stdout


def test_kickoff_without_watch_refuses_a_receiver(sim: SimServer, tmp_path: Path) -> None:
    result = run(
        tmp_path / "home",
        "kickoff",
        *inputs_args(sim, "content"),
        "--webhooks",
        "127.0.0.1:0",
        env=crew_env(sim),
    )
    assert result.returncode == ExitCode.USAGE
    assert "--webhooks needs --watch" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
