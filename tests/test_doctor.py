"""``crewtui doctor``: every crew checked, every problem counted in the verdict, plain words."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from pathlib import Path

import pytest

from crewtui.api.errors import ExitCode
from crewtui.core.store import Store
from crewtui.sim import SimServer
from tests.cli_helpers import run
from tests.hardening.cli_support import Cli

CREW = "research"


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> Cli:
    home = tmp_path / "home"
    home.mkdir()
    return Cli(home, monkeypatch, capsysbinary)


def write_config(home: Path, text: str) -> None:
    config_dir = home / "config"
    config_dir.mkdir(mode=0o700)
    (config_dir / "config.toml").write_text(text, encoding="utf-8")
    (config_dir / "config.toml").chmod(0o600)


def test_an_unset_token_env_is_reported_and_the_other_crews_are_checked(
    sim: SimServer, cli: Cli
) -> None:
    write_config(
        cli.home,
        f'[crews.ghost]\nurl = "{sim.crew_url(CREW)}"\ntoken_env = "GHOST_CREW_TOKEN"\n\n'
        f'[crews.{CREW}]\nurl = "{sim.crew_url(CREW)}"\ntoken = "{sim.options.token}"\n',
    )
    outcome = cli("doctor")
    assert outcome.code == ExitCode.USAGE, outcome.err
    lines = outcome.out.splitlines()
    assert f"✖ crew ghost  {sim.crew_url(CREW)}" in lines
    assert "    token     missing ($GHOST_CREW_TOKEN is not set)" in lines
    assert f"✔ crew {CREW}  {sim.crew_url(CREW)}" in lines
    assert any(line.startswith("    reachable yes") for line in lines)
    assert lines[-1] == "1 problem found: see the ✖ lines above."
    report = json.loads(cli("doctor", "--json").out)
    assert [crew["exit_code"] for crew in report["crews"]] == [ExitCode.USAGE, ExitCode.OK]
    assert report["ok"] is False


def test_counts_are_words_and_a_missing_config_file_is_said(sim: SimServer, cli: Cli) -> None:
    cli.setenv("CREWAI_API_URL", sim.crew_url(CREW))
    cli.setenv("CREWAI_BEARER_TOKEN", sim.options.token)
    outcome = cli("doctor")
    assert outcome.code == ExitCode.OK, outcome.out + outcome.err
    lines = outcome.out.splitlines()
    config_file = cli.home / "config" / "config.toml"
    assert lines[0] == f"config   {config_file} (not present: using the environment and flags)"
    assert "    token     set (from $CREWAI_BEARER_TOKEN)" in lines
    assert "    holds          0 kickoffs, 0 tasks, 0 steps, 0 crews" in lines
    assert "{" not in outcome.out
    assert lines[-1] == "All good."


def damage(store_file: Path) -> None:
    """Fill one b-tree page of a real history with garbage, as a bad disk or a crash would."""
    store = Store.open(store_file)
    for number in range(100):
        store.upsert_crew(f"crew{number}", f"https://crew{number}.example")
    store.close()
    with sqlite3.connect(store_file) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_crews_1'"
        ).fetchone()[0]
    conn.close()
    with store_file.open("r+b") as handle:
        handle.seek(page_size * (root - 1))
        handle.write(b"\x0d" + b"\xff" * (page_size - 1))


def test_a_damaged_history_is_never_all_good(sim: SimServer, cli: Cli) -> None:
    damage(cli.home / "data" / "history.sqlite3")
    cli.setenv("CREWAI_API_URL", sim.crew_url(CREW))
    cli.setenv("CREWAI_BEARER_TOKEN", sim.options.token)
    outcome = cli("doctor")
    assert outcome.code != ExitCode.OK
    assert "All good." not in outcome.out
    assert "✖ history" in outcome.out or "✖ The history" in outcome.out
    assert outcome.out.splitlines()[-1] == "1 problem found: see the ✖ lines above."
    assert json.loads(cli("doctor", "--json").out)["ok"] is False


def test_a_healthy_answer_and_a_404_at_get_slash_are_both_fine(
    sim_any: SimServer, cli: Cli
) -> None:
    cli.setenv("CREWAI_API_URL", sim_any.crew_url(CREW))
    cli.setenv("CREWAI_BEARER_TOKEN", sim_any.options.token)
    outcome = cli("doctor")
    assert outcome.code == ExitCode.OK, outcome.out + outcome.err
    live = sim_any.options.dialect == "live"
    said = "Healthy" if live else "no health check (404)"
    assert f"    health    {said}" in outcome.out.splitlines()
    report = json.loads(cli("doctor", "--json").out)
    assert report["crews"][0]["health"] == ("Healthy" if live else None)


def test_the_pollers_of_the_history_are_listed(sim: SimServer, cli: Cli) -> None:
    cli.setenv("CREWAI_API_URL", sim.crew_url(CREW))
    cli.setenv("CREWAI_BEARER_TOKEN", sim.options.token)
    other = Store.open(cli.home / "data" / "history.sqlite3")
    try:
        assert other.claim_lease("default", 60.0)
        other.mark_refreshed("default")
        assert other.claim_lease("travel", 0.0)  # a poller that stopped renewing
        other.mark_refreshed("travel", "Could not reach the travel crew.")
        outcome = cli("doctor")
        report = json.loads(cli("doctor", "--json").out)
    finally:
        other.close()
    assert outcome.code == ExitCode.OK, outcome.out + outcome.err
    poller = f"{os.getpid()}@{socket.gethostname()}"
    lines = [line for line in outcome.out.splitlines() if line.startswith("    poller")]
    assert len(lines) == 2
    assert lines[0].startswith(f"    poller         default  {poller} polls it, last round ")
    assert lines[1].startswith(f"    poller         travel  nobody polls it ({poller} stopped ")
    assert lines[1].endswith("; its last round was told: Could not reach the travel crew.")
    assert [(lease["crew"], lease["live"]) for lease in report["leases"]] == [
        ("default", True),
        ("travel", False),
    ]
    assert report["leases"][0]["poller"] == poller
    assert report["leases"][1]["trouble"] == "Could not reach the travel crew."


def test_an_empty_home_is_diagnosed_not_refused_and_left_empty(tmp_path: Path) -> None:
    """A newcomer's first command: where the config and history would be, that neither
    exists, and how to add a crew; exit 2, since nothing can run yet (the README's table)."""
    home = tmp_path / "empty"
    home.mkdir()
    outcome = run(home, "doctor")
    assert outcome.returncode == ExitCode.USAGE, outcome.stdout + outcome.stderr
    lines = outcome.stdout.splitlines()
    config_file = home / "config" / "config.toml"
    history = home / "data" / "history.sqlite3"
    assert lines[0] == f"config   {config_file} (not present: using the environment and flags)"
    assert f"○ history  {history} (none yet: the first kickoff or track starts it)" in lines
    assert any(
        line.startswith("✖ No crew is configured: set CREWAI_API_URL and CREWAI_BEARER_TOKEN")
        and "`crewtui sim`" in line
        for line in lines
    )
    assert lines[-1] == "1 problem found: see the ✖ lines above."
    assert outcome.stderr == ""
    assert not list(home.iterdir())  # diagnosing created nothing
    report = json.loads(run(home, "doctor", "--json").stdout)
    assert report["crews"] == [] and report["store"]["exists"] is False
    assert report["ok"] is False
    # A crew named on the command line that is not there is still refused outright.
    named = run(home, "doctor", "--crew", "nope")
    assert named.returncode == ExitCode.USAGE and "'nope'" in named.stderr
