"""``crewtui status ID --json`` loads what one GET and one write to the history need: not
the webhook receiver (its HTTP server), which only commands that receive pushes import, nor
the line index of large outputs (``text_lines``, which the history names only in its type
hints)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from crewtui.sim import SimServer
from tests.test_layers import crewtui_env, run_python

# What status must not import.
UNNEEDED = (
    "crewtui.core.webhooks",
    "crewtui.core.guarded_http",
    "crewtui.core.text_lines",
    "textual",
)


def started_run(sim: SimServer, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """A run started on the simulator, and the environment of a crewtui that asks about it."""
    reply = httpx.post(
        f"{sim.crew_url('research')}/kickoff",
        json={"inputs": sim.sample_inputs("research")},
        headers={"Authorization": f"Bearer {sim.options.token}"},
    )
    return str(reply.json()["kickoff_id"]), crewtui_env(sim, tmp_path)


def test_status_imports_no_webhook_receiver(sim: SimServer, tmp_path: Path) -> None:
    kickoff_id, env = started_run(sim, tmp_path)
    result = run_python(
        f"""
        import json, sys
        from crewtui.cli import main

        code = main(["status", {kickoff_id!r}, "--json"])
        print(json.dumps([name for name in {UNNEEDED!r} if name in sys.modules]))
        sys.exit(code)
        """,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_the_collector_is_paused_for_the_start_up_and_runs_with_the_command(
    sim: SimServer, tmp_path: Path
) -> None:
    """``crewtui.cli.main`` pauses the garbage collector while it imports and reads the
    config (start-up makes long-lived objects, little garbage), and resumes it before the
    command runs: a long ``watch`` or ``serve`` must collect."""
    kickoff_id, env = started_run(sim, tmp_path)
    result = run_python(
        f"""
        import gc, json, sys
        import crewtui.config, crewtui.headless
        from crewtui.cli import main

        seen = {{}}
        load_config, cmd_status = crewtui.config.load_config, crewtui.headless.cmd_status

        def loading(*args, **kwargs):
            seen["start-up"] = gc.isenabled()
            return load_config(*args, **kwargs)

        async def status(session):
            seen["command"] = gc.isenabled()
            return await cmd_status(session)

        crewtui.config.load_config, crewtui.headless.cmd_status = loading, status
        code = main(["status", {kickoff_id!r}, "--json"])
        seen["after"] = gc.isenabled()
        print(json.dumps(seen))
        sys.exit(code)
        """,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {"start-up": False, "command": True, "after": True}
