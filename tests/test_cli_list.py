"""``crewtui list --json``: scripts can tell runs apart, and pick the fields they want."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crewtui.api.errors import ExitCode
from crewtui.api.rows import SUMMARY_FIELDS
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
    assert list(row) == [*SUMMARY_FIELDS, "stuck"]


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
    assert all(name in message for name in SUMMARY_FIELDS)
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


@pytest.fixture(scope="module")
def two_crews(sim: SimServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A history with one run of the content crew and one of the travel crew, both started
    with ``--url`` (no config file): each is stored under the name its URL gives."""
    path = tmp_path_factory.mktemp("two-crews")
    for crew in ("content", "travel"):
        url = ["--url", sim.crew_url(crew), "--token", sim.options.token]
        started = run(path, "kickoff", *inputs_args(sim, crew), *url)
        assert started.returncode == 0, started.stderr
    return path


def test_url_shows_the_runs_of_that_crew_alone(sim: SimServer, two_crews: Path) -> None:
    """``--url`` (and ``--token``) name the crew ``status`` would poll: the history commands
    show its runs only, as ``--crew`` does, and a URL with no run is an empty answer."""
    for crew in ("content", "travel"):
        url = ["--url", sim.crew_url(crew), "--token", sim.options.token]
        listed = run(two_crews, "list", "--json", *url)
        assert listed.returncode == 0, listed.stderr
        (row,) = json.loads(listed.stdout)
        assert row["crew"] == sim.crew_url(crew).split("://")[1]
        stats = run(two_crews, "stats", "--json", *url)
        assert stats.returncode == 0, stats.stderr
        assert [entry["crew"] for entry in json.loads(stats.stdout)] == [row["crew"]]
        waiting = run(two_crews, "inbox", "--json", *url)
        assert waiting.returncode == 0 and json.loads(waiting.stdout) == [], waiting.stderr
    elsewhere = run(two_crews, "list", "--url", sim.crew_url("research"))
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert elsewhere.stdout.strip() == (
        f"No kickoffs in the history match --url {sim.crew_url('research')}."
    )


@pytest.mark.parametrize("args", [["list"], ["list", "--json"]])
def test_a_reader_gone_before_the_output_ends_it_quietly(args: list[str], tmp_path: Path) -> None:
    """`crewtui list | head`: the pipe closes early; that is no error of crewtui's."""
    reader, writer = os.pipe()
    os.close(reader)  # head has read its lines and gone
    try:
        ended = subprocess.run(
            [sys.executable, "-m", "crewtui", "--home", str(tmp_path), *args],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(writer)
    assert (ended.returncode, ended.stderr) == (ExitCode.OK, "")
