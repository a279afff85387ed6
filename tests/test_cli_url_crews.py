"""Crews named by ``--url`` alone: two paths of one host are two crews.

A process that polls a crew polls every active run of it with that crew's URL, so two crews
that shared a name would have each other's runs polled at the wrong URL and marked lost.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

from rich.cells import cell_len

from crewtui.api.models import Kickoff
from crewtui.api.states import RunState
from crewtui.config import resolve_paths
from crewtui.core.store import Store
from crewtui.sim import SimServer
from tests.cli_helpers import QUICK_POLLS, inputs_args, run


def test_runs_of_two_crews_under_one_host_keep_their_own_crew(
    tmp_path: Path, sim: SimServer
) -> None:
    token = {"CREWAI_BEARER_TOKEN": sim.options.token}
    slow = inputs_args(sim, "outreach", duration_scale="50")
    started = run(tmp_path, "kickoff", "--url", sim.crew_url("outreach"), *slow, env=token)
    assert started.returncode == 0, started.stderr
    slow_id = started.stdout.strip()

    watched = run(
        tmp_path,
        "kickoff",
        "--watch",
        *QUICK_POLLS,
        "--url",
        sim.crew_url("travel"),
        *inputs_args(sim, "travel"),
        env=token,
    )

    assert watched.returncode == 0, watched.stderr
    listed = {row["kickoff_id"]: row for row in json.loads(run(tmp_path, "list", "--json").stdout)}
    assert listed[slow_id]["state"] in {"pending", "running"}  # not polled at the travel URL
    assert listed[slow_id]["crew"] != next(
        row["crew"] for kickoff_id, row in listed.items() if kickoff_id != slow_id
    )


def test_status_of_a_run_started_with_url_needs_no_url_again(
    tmp_path: Path, sim: SimServer
) -> None:
    """The history keeps the crew's URL (never its token): ``status ID`` polls it there,
    with the token a ``--url`` would take (here the environment's)."""
    token = {"CREWAI_BEARER_TOKEN": sim.options.token}
    url = sim.crew_url("content")
    # `kickoff` alone starts no tracker: the crew is recorded with its first run all the same.
    started = run(tmp_path, "kickoff", "--url", url, *inputs_args(sim, "content"), env=token)
    assert started.returncode == 0, started.stderr
    kickoff_id = started.stdout.strip()
    status = run(tmp_path, "status", kickoff_id[:8], "--json", env=token)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["kickoff_id"] == kickoff_id
    watched = run(tmp_path, "watch", kickoff_id[:8], "--exit-status", *QUICK_POLLS, env=token)
    assert watched.returncode == 0, watched.stderr
    stored = (tmp_path / "data").rglob("*")
    assert not any(
        sim.options.token.encode() in path.read_bytes() for path in stored if path.is_file()
    ), "the token is never stored"


def test_logs_with_url_shows_that_crew_s_runs_only(tmp_path: Path, sim: SimServer) -> None:
    token = {"CREWAI_BEARER_TOKEN": sim.options.token}
    ids = {}
    for crew in ("content", "travel"):
        started = run(
            tmp_path,
            *[
                "kickoff",
                "--url",
                sim.crew_url(crew),
                *inputs_args(sim, crew),
                "--watch",
                *QUICK_POLLS,
            ],
            env=token,
        )
        assert started.returncode == 0, started.stderr
        ids[crew] = started.stdout.split()[1]
    logged = run(tmp_path, "logs", "--json", "--url", sim.crew_url("travel"), env=token)
    assert logged.returncode == 0, logged.stderr
    runs = {json.loads(line)["kickoff_id"] for line in logged.stdout.splitlines()}
    assert runs == {ids["travel"]}
    # In text, a crew named after its URL keeps the end of its name, where crews differ.
    text = run(tmp_path, "logs", "--url", sim.crew_url("travel"), env=token).stdout
    assert text and all("…" in line and "/travel" in line for line in text.splitlines())
    listed = run(tmp_path, "list").stdout.splitlines()
    assert sorted(line.split()[3].rsplit("/", 1)[1] for line in listed) == ["content", "travel"]


def test_list_cuts_a_url_crew_with_wide_characters_to_its_column_keeping_the_end(
    tmp_path: Path,
) -> None:
    """A CJK character takes two cells: cut to 16 characters, the name took 26 cells and
    pushed the rest of the line right."""
    store = Store.open(resolve_paths(tmp_path).store_file)
    now = datetime.now(UTC)
    try:
        store.save_kickoff(
            Kickoff(
                kickoff_id=str(uuid.uuid4()),
                crew="127.0.0.1:8799/旅行研究员旅行研究员",
                state=RunState.COMPLETED,
                created_at=now,
                updated_at=now,
                finished_at=now,
            )
        )
    finally:
        store.close()
    listed = run(tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    (line,) = listed.stdout.splitlines()
    crew = line.split()[3]
    assert crew == "…究员旅行研究员"
    assert cell_len(crew) <= 16
    # Padded by cells: the state starts where it does after an ASCII crew (8 + 2 + 16 + 2
    # + 16 + 2 cells in), not pushed right by the CJK name's extra cells.
    assert cell_len(line[: line.index("✓ completed")]) == 46
