"""A team on one PostgreSQL history: crewtui processes with different homes (as on different
machines) show the same runs live, and the history's password is never printed.

Every process is a real ``python -m crewtui`` child with ``CREWTUI_HISTORY_URL``; the server
is the test session's own (``postgres_url``). Nothing sleeps: waits end on a log line or a
process's exit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crewtui.api.errors import ExitCode
from crewtui.api.states import RunState
from crewtui.core.pg_store import redact_url
from crewtui.sim import SimOptions, ThreadedServer, create_app
from crewtui.sim.crews import CREWS
from tests.cli_helpers import run
from tests.conftest import TEST_SPEED
from tests.postgres import PostgresServer
from tests.test_serve import SERVE_TOKEN, STARTER_TOKEN, Serving, about, crew_url


@pytest.fixture
def service() -> Iterator[ThreadedServer]:
    options = SimOptions(speed=TEST_SPEED, token=SERVE_TOKEN, user_token=STARTER_TOKEN, seed=5)
    with ThreadedServer(create_app(options)) as server:
        yield server


def on(history: str, **env: str) -> dict[str, str]:
    return {"CREWTUI_HISTORY_URL": history, **env}


def test_processes_with_different_homes_show_the_same_runs_live(
    service: ThreadedServer, postgres_url: str, tmp_path: Path
) -> None:
    """``serve`` on one home polls a run another home's ``kickoff`` started; a third home
    lists it as serve last wrote it; none of them prints the password."""
    password = urlsplit(postgres_url).password
    assert password
    serving = Serving(tmp_path / "ops-box", crew_url(service), env=on(postgres_url))
    try:
        started = serving.wait_for(lambda line: line["message"].startswith("crewtui serve"))
        assert started["history"] == redact_url(postgres_url)
        serving.wait_for(lambda line: line["message"].startswith("started"))

        laptop = {"CREWAI_API_URL": crew_url(service), "CREWAI_BEARER_TOKEN": STARTER_TOKEN}
        inputs = dict(CREWS["content"].sample_inputs) | {"duration_scale": "4"}
        args = [arg for key, value in inputs.items() for arg in ("-i", f"{key}={value}")]
        kicked = run(tmp_path / "laptop", "kickoff", *args, env=on(postgres_url, **laptop))
        assert kicked.returncode == 0, kicked.stderr
        kickoff_id = kicked.stdout.strip()

        # serve learns of it through the history alone (its NOTIFY), and polls it to the end.
        serving.wait_for(about(kickoff_id, RunState.COMPLETED))
        listed = run(tmp_path / "elsewhere", "list", "--json", env=on(postgres_url))
        assert listed.returncode == 0, listed.stderr
        rows = {row["kickoff_id"]: row for row in json.loads(listed.stdout)}
        assert rows[kickoff_id]["state"] == RunState.COMPLETED.value
        assert serving.stop() == 0
    finally:
        serving.kill()
    printed = "".join(serving.raw) + kicked.stdout + kicked.stderr + listed.stdout
    assert password not in printed


def test_serve_stops_on_sigterm_and_a_serve_on_another_home_resumes_the_run(
    service: ThreadedServer, postgres_url: str, tmp_path: Path
) -> None:
    """What a failover to another machine looks like: the run stays in the shared history,
    and the next serve, wherever it runs, follows it."""
    first = Serving(tmp_path / "box-1", crew_url(service), env=on(postgres_url))
    try:
        first.wait_for(lambda line: line["message"].startswith("started"))
        laptop = {"CREWAI_API_URL": crew_url(service), "CREWAI_BEARER_TOKEN": STARTER_TOKEN}
        inputs = dict(CREWS["content"].sample_inputs) | {"duration_scale": "40"}
        args = [arg for key, value in inputs.items() for arg in ("-i", f"{key}={value}")]
        kicked = run(tmp_path / "laptop", "kickoff", *args, env=on(postgres_url, **laptop))
        assert kicked.returncode == 0, kicked.stderr
        kickoff_id = kicked.stdout.strip()
        first.wait_for(about(kickoff_id, RunState.RUNNING))
        metrics = first.metrics()
        followed = (("crew", "default"), ("polled_by", "this_process"))
        assert metrics[("crewtui_active_kickoffs", followed)] == 1
        assert first.stop() == 0
        assert [line["message"] for line in first.lines][-2:] == ["stopping on SIGTERM", "stopped"]
    finally:
        first.kill()
    second = Serving(tmp_path / "box-2", crew_url(service), env=on(postgres_url))
    try:
        resumed = second.wait_for(lambda line: line["message"].startswith("started"))
        assert resumed["message"] == "started: following 1 active kickoffs"
        assert second.stop() == 0
    finally:
        second.kill()


def test_a_bad_history_url_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    secret = "postgres-pass-987"
    result = run(tmp_path, "list", env=on(f"mysql://u:{secret}@db/x"))
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.strip() == (
        "crewtui: $CREWTUI_HISTORY_URL is not a PostgreSQL URL: write it as "
        "postgresql://user:password@host:port/database (or leave it out for the SQLite "
        "history of the home)"
    )


def test_an_unreachable_history_is_exit_6_and_a_refused_login_exit_2(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    password = postgres_server.password
    down = run(tmp_path, "list", env=on(f"postgresql://crewtui:{password}@127.0.0.1:1/x"))
    assert down.returncode == ExitCode.UNREACHABLE
    assert down.stderr.count("\n") == 1 and "cannot be reached" in down.stderr
    wrong = postgres_server.url().replace(password, "wrong-password-123")
    refused = run(tmp_path, "list", env=on(wrong))
    assert refused.returncode == ExitCode.USAGE
    assert refused.stderr.count("\n") == 1 and "refused the login" in refused.stderr
    for result in (down, refused):
        assert password not in result.stderr + result.stdout
        assert "wrong-password-123" not in result.stderr + result.stdout


def test_doctor_names_the_history_and_its_server_without_the_password(
    service: ThreadedServer, postgres_url: str, tmp_path: Path
) -> None:
    password = urlsplit(postgres_url).password
    assert password
    crew = {"CREWAI_API_URL": crew_url(service), "CREWAI_BEARER_TOKEN": SERVE_TOKEN}
    result = run(tmp_path, "doctor", env=on(postgres_url, **crew))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert f"✔ history  {redact_url(postgres_url)}" in lines
    assert any(line.split()[:2] == ["server", "PostgreSQL"] for line in lines), lines
    assert password not in result.stdout + result.stderr


def test_metrics_answer_while_the_history_does_not(
    service: ThreadedServer, postgres_url: str, tmp_path: Path
) -> None:
    """A history that does not answer (here a table locked by another session; a server down
    makes the pool wait as long) must not take every metric with it: the scrape answers,
    without the history's counts, and has them again once it answers."""
    import psycopg

    serving = Serving(tmp_path / "ops-box", crew_url(service), env=on(postgres_url))
    try:
        serving.wait_for(lambda line: line["message"].startswith("started"))
        counted = ("crewtui_kickoffs", (("state", "completed"),))
        assert counted in serving.metrics()
        with psycopg.connect(postgres_url) as blocker:
            blocker.execute("LOCK TABLE kickoffs IN ACCESS EXCLUSIVE MODE")
            metrics = serving.metrics()
            assert counted not in metrics
            assert metrics[("crewtui_lease_held", (("crew", "default"),))] == 1
        assert counted in serving.metrics()
    finally:
        serving.kill()


def test_serve_is_healthy_again_once_the_history_takes_writes_again(
    service: ThreadedServer, postgres_url: str, tmp_path: Path
) -> None:
    """A shared history refuses writes for a while (a server restarting, here a constraint
    no row meets): /healthz says so, and says it no more once writes go through again."""
    import psycopg

    serving = Serving(tmp_path / "ops-box", crew_url(service), env=on(postgres_url))
    try:
        serving.wait_for(lambda line: line["message"].startswith("started"))
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("ALTER TABLE leases ADD CONSTRAINT refused CHECK (false) NOT VALID")
            serving.wait_for(lambda line: line["message"].startswith("history store: The"))
            assert serving.get("/healthz").json()["history"] == "failing"
            admin.execute("ALTER TABLE leases DROP CONSTRAINT refused")
        serving.wait_for(lambda line: line["message"] == "history store: taking writes again")
        health = serving.get("/healthz")
        assert (health.status_code, health.json()["history"]) == (200, "ok")
    finally:
        serving.kill()
