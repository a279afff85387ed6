"""``crewtui inbox``: the runs of the history waiting for a person, oldest first."""

from __future__ import annotations

import json
from pathlib import Path

from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.api.states import RunState
from crewtui.config import resolve_paths
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.sim import SimServer
from tests.cli_helpers import crew_env, run
from tests.helpers import wait_until


def state(tracker: Tracker, kickoff_id: str) -> RunState | None:
    kickoff = tracker.get(kickoff_id)
    return None if kickoff is None else kickoff.state


async def seed(home: Path, sim: SimServer) -> tuple[list[str], str]:
    """Two runs paused one after the other, and one that completed."""
    crew = CrewProfile(name="travel", url=sim.crew_url("travel"), token=Secret(sim.options.token))
    store = Store.open(resolve_paths(home).store_file)
    tracker = Tracker([crew], store)
    await tracker.start()
    try:
        held = sim.sample_inputs("travel") | {"hold": "1"}
        paused: list[str] = []
        for _ in range(2):
            run_ = await tracker.kickoff("travel", held)
            paused.append(run_.kickoff_id)
            await wait_until(tracker, lambda: state(tracker, paused[-1]) is RunState.PAUSED)
        done = await tracker.kickoff("travel", sim.sample_inputs("travel"))
        await wait_until(tracker, lambda: state(tracker, done.kickoff_id) is RunState.COMPLETED)
    finally:
        await tracker.stop()
        store.close()
    return paused, done.kickoff_id


async def test_inbox_lists_the_paused_runs_oldest_first(sim: SimServer, tmp_path: Path) -> None:
    paused, done = await seed(tmp_path, sim)
    env = crew_env(sim, "travel")

    as_json = run(tmp_path, "inbox", "--json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    rows = json.loads(as_json.stdout)
    assert [row["kickoff_id"] for row in rows] == paused
    assert all(row["waiting_for"]["task_id"] == "research_task" for row in rows)

    text = run(tmp_path, "inbox", env=env)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert [line.split()[1] for line in lines[:2]] == [kickoff_id[:8] for kickoff_id in paused]
    assert "Waits for input on research_task" in lines[0]
    assert done[:8] not in text.stdout
    assert "crewtui resume" in lines[-1]


def test_an_empty_inbox_says_so(tmp_path: Path) -> None:
    result = run(tmp_path, "inbox")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "No run is waiting for you.\n"
    assert json.loads(run(tmp_path, "inbox", "--json").stdout) == []
