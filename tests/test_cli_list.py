"""``crewtui list --json``: scripts can tell runs apart, and pick the fields they want."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crewtui.api.errors import ExitCode
from crewtui.api.models import KickoffSummary
from crewtui.sim import SimServer
from tests.cli_helpers import crew_env, inputs_args, run


@pytest.fixture(scope="module")
def home(sim: SimServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A history with one run started with known inputs and meta."""
    path = tmp_path_factory.mktemp("list-home")
    started = run(
        path,
        *["kickoff", *inputs_args(sim, "content", topic="crabs")],
        *["--meta", "ticket=T-42", "--meta", "team=docs"],
        env=crew_env(sim),
    )
    assert started.returncode == 0, started.stderr
    return path


def listed(home: Path, sim: SimServer, *args: str) -> list[dict[str, object]]:
    result = run(home, "list", *args, env=crew_env(sim))
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_list_json_carries_the_inputs_and_meta(sim: SimServer, home: Path) -> None:
    (row,) = listed(home, sim, "--json")
    assert row["inputs"] == sim.sample_inputs("content") | {"topic": "crabs"}
    assert row["meta"] == {"ticket": "T-42", "team": "docs"}
    assert list(row) == [*KickoffSummary.model_fields, "stuck"]


def test_fields_chooses_the_keys_and_their_order(sim: SimServer, home: Path) -> None:
    (row,) = listed(home, sim, "--json", "--fields", "meta, kickoff_id,state")
    assert list(row) == ["meta", "kickoff_id", "state"]
    assert row["meta"] == {"ticket": "T-42", "team": "docs"}
    (alone,) = listed(home, sim, "--fields", "inputs")  # --fields implies --json
    assert list(alone) == ["inputs"]


@pytest.mark.parametrize("fields", ["kickoff_id,nope", "", ","])
def test_an_unknown_field_gets_one_sentence_listing_the_valid_ones(
    tmp_path: Path, fields: str
) -> None:
    result = run(tmp_path, "list", "--json", "--fields", fields)
    assert result.returncode == ExitCode.USAGE
    assert result.stdout == ""
    message = result.stderr.splitlines()[-1]
    assert all(name in message for name in KickoffSummary.model_fields)
    assert not (tmp_path / "data").exists(), "nothing is opened for a refused command"


@pytest.mark.parametrize("position", ["before", "after"])
def test_a_crew_filter_naming_no_crew_is_a_mistake_not_an_empty_list(
    sim: SimServer, home: Path, position: str
) -> None:
    crew = ["--crew", "nope"]
    args = [*crew, "list"] if position == "before" else ["list", *crew]
    result = run(home, *args, env=crew_env(sim))
    assert result.returncode == ExitCode.USAGE, result.stdout
    assert "No crew is called 'nope'" in result.stderr
    assert "default" in result.stderr  # the crews there are, named
    known = run(home, *["list", "--crew", "default", "--state", "failed"], env=crew_env(sim))
    assert known.returncode == 0 and "No kickoffs" in known.stdout, known.stderr
