"""The commands on a history they cannot write: a damaged store and one in a read-only place
are shown as they are, with one sentence saying why nothing is saved, and stay unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from crewtui.api.models import Step
from crewtui.config import resolve_paths
from crewtui.core.store import Store
from crewtui.sim import SimServer
from tests.cli_helpers import run
from tests.core.test_store_files import T0, damage_a_table, make_store, snapshot


def damaged_home(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "home"
    path = resolve_paths(home).store_file
    path.parent.mkdir(parents=True)
    make_store(path, kickoffs=5)
    filler = Store.open(path)
    filler.add_steps([Step(kickoff_id="k1", received_at=T0, raw={"n": n}) for n in range(40)])
    filler.close()
    damage_a_table(path, "steps")
    return home, path


def test_kickoff_on_a_damaged_store_says_so_once_and_writes_nothing(
    tmp_path: Path, sim: SimServer
) -> None:
    home, path = damaged_home(tmp_path)
    before = snapshot(path.parent)

    listed = run(home, "list")  # reads only: what can be read is listed
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 5

    env = {"CREWAI_API_URL": sim.crew_url("research"), "CREWAI_BEARER_TOKEN": sim.options.token}
    inputs = [arg for k, v in sim.sample_inputs("research").items() for arg in ("-i", f"{k}={v}")]
    started = run(home, "kickoff", *inputs, env=env)
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip()  # the run started; only the history could not keep it
    assert started.stderr.count("is damaged") == 1, started.stderr
    assert "saves nothing there" in started.stderr
    assert snapshot(path.parent) == before


def test_list_shows_a_history_in_a_read_only_place(
    tmp_path: Path, immutable: Callable[[Path], None]
) -> None:
    home = tmp_path / "home"
    path = resolve_paths(home).store_file
    path.parent.mkdir(parents=True)
    make_store(path, kickoffs=4)
    before = snapshot(path.parent)
    immutable(path)
    immutable(path.parent)

    listed = run(home, "list")
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 4  # not "No kickoffs"
    assert listed.stderr.count("\n") == 1 and "read-only place" in listed.stderr
    assert snapshot(path.parent) == before
