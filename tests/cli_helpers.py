"""Running the ``crewtui`` command in a child process against the simulator, for CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from crewtui.sim import SimServer

# For a command that follows runs (``watch``, ``kickoff --watch``, ``batch``) in a test that
# is not about how often it polls: the default interval (adaptive, from 1 s up to 15 s when
# nothing changes) only adds waiting between a simulated run's end and the poll that sees it.
QUICK_POLLS = ("--interval", "0.2")


def run(
    home: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    stdin: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """``crewtui ARGS`` in a child process with its own home and only the given crew env
    (and ``stdin``, a file descriptor, when given: by default the test's own)."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("CREWAI_", "CREWTUI_"))}
    child_env["CREWTUI_HOME"] = str(home)
    child_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "crewtui", *args],
        capture_output=True,
        text=True,
        env=child_env,
        stdin=stdin,
        timeout=timeout,
        check=False,
    )


def crew_env(sim: SimServer, crew: str = "content", token: str | None = None) -> dict[str, str]:
    return {
        "CREWAI_API_URL": sim.crew_url(crew),
        "CREWAI_BEARER_TOKEN": token if token is not None else sim.options.token,
    }


def inputs_args(sim: SimServer, crew: str, **extra: str) -> list[str]:
    args = []
    for key, value in (sim.sample_inputs(crew) | extra).items():
        args += ["-i", f"{key}={value}"]
    return args
