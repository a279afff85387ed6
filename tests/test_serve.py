"""``crewtui serve`` as a service runs it: a child process against the simulator on loopback.

Each test reads what an operator would: the log lines on stderr, ``/healthz``, ``/metrics``
(parsed with prometheus-client's own parser) and the history file. Nothing sleeps: every
wait ends on a log line, an HTTP answer or the process's exit.
"""

from __future__ import annotations

import asyncio
import json
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from crewtui.api.errors import ExitCode
from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.api.states import RunState
from crewtui.config import resolve_paths
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.serve import check_crew
from crewtui.sim import SimOptions, SimServer, ThreadedServer, create_app
from crewtui.sim.crews import CREWS
from tests.cli_helpers import run
from tests.conftest import TEST_SPEED
from tests.hardening.cli_support import child_env
from tests.helpers import wait_until

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
LogLine = dict[str, Any]

# serve polls with the organization token; the runs are started with the user token, so
# the simulator can tell serve's requests from the test's own.
SERVE_TOKEN = "serve-org-token-0123456789"
STARTER_TOKEN = "starter-user-token-0123456789"
WAIT = 60.0


class CountingApp:
    """The simulator, counting the answers it gives to each bearer token, by crew and status."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.counts: Counter[tuple[str, str, int]] = Counter()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        token = headers.get(b"authorization", b"").decode().removeprefix("Bearer ")
        crew = str(scope["path"]).split("/")[1]

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.counts[(token, crew, int(message["status"]))] += 1
            await send(message)

        await self.app(scope, receive, counted)

    def answered(self, token: str, crew: str) -> Counter[int]:
        """How many answers of each status ``token`` got from ``crew``."""
        return Counter(
            {
                status: n
                for (who, where, status), n in self.counts.items()
                if (who, where) == (token, crew)
            }
        )


@pytest.fixture
def counted() -> Iterator[tuple[ThreadedServer, CountingApp]]:
    options = SimOptions(speed=TEST_SPEED, token=SERVE_TOKEN, user_token=STARTER_TOKEN, seed=3)
    app = CountingApp(create_app(options))
    with ThreadedServer(app) as server:
        yield server, app


def crew_url(server: ThreadedServer, crew: str = "content") -> str:
    return f"{server.base_url}/{crew}"


class Serving:
    """A ``crewtui serve --log-format json`` child and the lines it has logged so far."""

    def __init__(
        self,
        home: Path,
        url: str,
        *args: str,
        token: str = SERVE_TOKEN,
        env: dict[str, str] | None = None,
    ) -> None:
        env = child_env(home, {"CREWAI_API_URL": url, "CREWAI_BEARER_TOKEN": token, **(env or {})})
        command = [sys.executable, "-m", "crewtui", "serve", "--log-format", "json"]
        self.process = subprocess.Popen(
            [*command, "--listen", "127.0.0.1:0", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.raw: list[str] = []
        self.lines: list[LogLine] = []
        self._arrived: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        listening = self.wait_for(lambda line: line["message"].startswith("listening on"))
        self.url = listening["message"].split()[2]

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._arrived.put(line)
        self._arrived.put(None)

    def wait_for(self, wanted: Callable[[LogLine], bool], timeout: float = WAIT) -> LogLine:
        """The first line (logged so far or next) that ``wanted`` accepts."""
        for line in self.lines:
            if wanted(line):
                return line
        deadline = time.monotonic() + timeout
        while True:
            try:
                text = self._arrived.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"no such log line; got {self.raw}") from None
            if text is None:
                raise AssertionError(f"serve exited without it; it logged {self.raw}")
            self.raw.append(text)
            line: LogLine = json.loads(text)  # every line is one JSON object
            self.lines.append(line)
            if wanted(line):
                return line

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of ``/metrics``, by name and labels, as the Prometheus parser reads it."""
        answer = self.get("/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert "://" not in answer.text, "a URL (and any secret in it) in the metrics"
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(answer.text)
            for sample in family.samples
        }

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send ``signum``; the exit code, once every line is read."""
        self.process.send_signal(signum)
        code = self.process.wait(timeout=WAIT)
        while (text := self._arrived.get(timeout=WAIT)) is not None:
            self.raw.append(text)
            self.lines.append(json.loads(text))
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def serving() -> Iterator[Callable[..., Serving]]:
    started: list[Serving] = []

    def start(home: Path, url: str, *args: str, token: str = SERVE_TOKEN) -> Serving:
        child = Serving(home, url, *args, token=token)
        started.append(child)
        return child

    yield start
    for child in started:
        child.kill()


def start_run(home: Path, server: ThreadedServer, **extra: str) -> str:
    """``crewtui kickoff`` in another process, with the user token: the run's id."""
    env = {"CREWAI_API_URL": crew_url(server), "CREWAI_BEARER_TOKEN": STARTER_TOKEN}
    inputs = dict(CREWS["content"].sample_inputs) | extra
    args = [arg for key, value in inputs.items() for arg in ("-i", f"{key}={value}")]
    result = run(home, "kickoff", *args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def about(kickoff_id: str, state: RunState) -> Callable[[LogLine], bool]:
    return lambda line: line.get("kickoff_id") == kickoff_id and line.get("state") == state.value


def stored(home: Path, kickoff_id: str) -> RunState | None:
    store = Store.open(resolve_paths(home).store_file)
    try:
        kickoff = store.get_kickoff(kickoff_id)
    finally:
        store.close()
    return None if kickoff is None else kickoff.state


# -- polling, health, metrics, logs ------------------------------------------------------------


def test_serve_polls_a_run_to_the_end_and_its_metrics_match_what_the_service_counted(
    counted: tuple[ThreadedServer, CountingApp],
    serving: Callable[..., Serving],
    tmp_path: Path,
) -> None:
    server, sim = counted
    service = serving(tmp_path, crew_url(server), "--webhooks", "127.0.0.1:0")
    receiving = service.wait_for(lambda line: line["message"].startswith("receiving webhooks"))
    service.wait_for(lambda line: line["message"].startswith("started"))
    service.wait_for(lambda line: line.get("health") == "ok")

    # Another process adds it to the history; long enough to be seen between its tasks.
    kickoff_id = start_run(tmp_path, server, duration_scale="4")
    # From now on the service fails some answers: serve retries, and counts each attempt.
    sim.app.sim.options.faults.update({"error_rate": 0.3})
    service.wait_for(about(kickoff_id, RunState.COMPLETED))
    assert stored(tmp_path, kickoff_id) is RunState.COMPLETED

    health = service.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["crews"] == {"default": "ok"}
    assert health.json()["history"] == "ok"

    # A push to a path without the receiver's secret is refused and counted.
    base = receiving["message"].split()[-1]
    assert httpx.post(f"{base}/hooks/wrong/task", json={}, timeout=10).status_code == 404

    metrics = service.metrics()
    answered = sim.answered(SERVE_TOKEN, "content")
    requests = {
        labels[1][1]: value
        for (name, labels), value in metrics.items()
        if name == "crewtui_requests_total" and dict(labels)["crew"] == "default"
    }
    assert sum(requests.values()) == answered.total() > 1  # the check at start, then polls
    assert requests["ok"] == answered[200]
    assert requests["server_error"] == answered[500]
    assert metrics[("crewtui_kickoffs", (("state", "completed"),))] == 1
    assert metrics[("crewtui_webhook_pushes_total", (("outcome", "rejected"),))] == 1
    assert metrics[("crewtui_webhook_pushes_total", (("outcome", "received"),))] == 0

    # Each state of the run is logged once, however many changes it went through.
    states = Counter(
        line["state"] for line in service.lines if line.get("kickoff_id") == kickoff_id
    )
    assert states and set(states.values()) == {1}, states
    assert service.stop() == 0
    secret = resolve_paths(tmp_path).webhook_secret_file.read_text().strip()
    assert SERVE_TOKEN not in "".join(service.raw) and secret not in "".join(service.raw)


def test_sigterm_mid_polling_stops_cleanly_and_a_restart_resumes_the_run(
    counted: tuple[ThreadedServer, CountingApp],
    serving: Callable[..., Serving],
    tmp_path: Path,
) -> None:
    server, _ = counted
    service = serving(tmp_path, crew_url(server))
    service.wait_for(lambda line: line["message"].startswith("started"))
    kickoff_id = start_run(tmp_path, server, duration_scale="40")
    service.wait_for(about(kickoff_id, RunState.RUNNING))
    metrics = service.metrics()
    followed = (("crew", "default"), ("polled_by", "this_process"))
    assert metrics[("crewtui_active_kickoffs", followed)] == 1
    assert metrics[("crewtui_staleness_seconds_bucket", (("crew", "default"), ("le", "+Inf")))] == 1

    assert service.stop(signal.SIGTERM) == 0
    messages = [line["message"] for line in service.lines]
    assert messages[-2:] == ["stopping on SIGTERM", "stopped"]
    assert stored(tmp_path, kickoff_id) is RunState.RUNNING  # recorded before: still there

    again = serving(tmp_path, crew_url(server))
    resumed = again.wait_for(lambda line: line["message"].startswith("started"))
    assert resumed["message"] == "started: following 1 active kickoffs"
    assert again.stop(signal.SIGINT) == 0


def test_a_second_signal_exits_at_once_while_the_first_stop_waits(
    counted: tuple[ThreadedServer, CountingApp],
    serving: Callable[..., Serving],
    tmp_path: Path,
) -> None:
    """The first stop waits for the history's write lock (held here, as a stuck writer
    would); the second signal does not wait for it."""
    server, _ = counted
    service = serving(tmp_path, crew_url(server))
    service.wait_for(lambda line: line["message"].startswith("started"))
    stuck = sqlite3.connect(resolve_paths(tmp_path).store_file, isolation_level=None)
    try:
        stuck.execute("BEGIN IMMEDIATE")
        service.process.send_signal(signal.SIGTERM)
        service.wait_for(lambda line: line["message"] == "stopping on SIGTERM")
        assert service.stop(signal.SIGTERM) == 128 + signal.SIGTERM
    finally:
        stuck.execute("ROLLBACK")
        stuck.close()
    assert service.lines[-1]["message"] == "second SIGTERM: exiting at once"


def test_a_rejected_token_is_said_once_and_serve_keeps_running_unhealthy(
    counted: tuple[ThreadedServer, CountingApp],
    serving: Callable[..., Serving],
    tmp_path: Path,
) -> None:
    server, _ = counted
    wrong = "wrong-token-" + "x" * 20
    service = serving(tmp_path, crew_url(server), token=wrong)
    said = service.wait_for(lambda line: line.get("health") == "token_rejected")
    assert said["level"] == "error", "\n".join(service.raw) and said["crew"] == "default"
    health = service.get("/healthz")  # it answers: the process keeps running
    assert health.status_code == 200
    assert health.json()["crews"] == {"default": "token_rejected"}
    assert health.json()["status"] == "degraded"
    assert service.process.poll() is None
    assert service.stop() == 0
    assert [line.get("health") for line in service.lines].count("token_rejected") == 1
    assert wrong not in "".join(service.raw)


def test_healthz_answers_503_when_the_history_cannot_be_written(
    counted: tuple[ThreadedServer, CountingApp],
    serving: Callable[..., Serving],
    immutable: Callable[[Path], None],
    tmp_path: Path,
) -> None:
    server, _ = counted
    store_file = resolve_paths(tmp_path).store_file
    Store.open(store_file).close()
    for path in sorted(store_file.parent.iterdir()):
        immutable(path)
    immutable(store_file.parent)
    service = serving(tmp_path, crew_url(server))
    # Opened read-only, or found so at its first write (the start writes the crews).
    service.wait_for(lambda line: line["message"].startswith("started"))
    assert any("read-only place" in line["message"] for line in service.lines)
    health = service.get("/healthz")
    assert health.status_code == 503
    assert health.json()["history"] in ("readonly", "failing")
    assert health.json()["status"] == "unavailable"
    assert service.stop() == 0


async def test_a_crew_that_refuses_the_token_is_asked_again_until_it_answers(
    fresh_sim: SimServer,
) -> None:
    """No run of the crew is going, so no poll would ever tell that it recovered."""
    token = "rotated-token-0123456789"
    crew = CrewProfile(name="research", url=fresh_sim.crew_url("research"), token=Secret(token))
    tracker = Tracker([crew], Store.in_memory())
    asking = asyncio.create_task(check_crew(tracker, "research", every=0.05))
    try:
        await wait_until(tracker, lambda: tracker.health("research").state == "token_rejected")
        fresh_sim.options.token = token  # the service now takes it
        await wait_until(tracker, lambda: tracker.health("research").state == "ok")
    finally:
        asking.cancel()
        await tracker.stop()


# -- refusals: one sentence, exit 2, nothing opened --------------------------------------------


def test_a_busy_listen_port_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(tmp_path, "serve", "--listen", f"127.0.0.1:{port}", "--url", "http://x.test")
    assert result.returncode == ExitCode.USAGE
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert f"cannot listen on 127.0.0.1:{port}" in lines[0]
    assert not (tmp_path / "data").exists(), "the history is not opened when serve cannot listen"


def test_a_non_loopback_listen_needs_allow_remote(tmp_path: Path) -> None:
    result = run(tmp_path, "serve", "--listen", "0.0.0.0:0", "--url", "http://x.test")
    assert result.returncode == ExitCode.USAGE
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--allow-remote" in result.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("position", ["before", "after"])
def test_serve_takes_home_url_and_token_in_both_places(
    counted: tuple[ThreadedServer, CountingApp], tmp_path: Path, position: str
) -> None:
    server, sim = counted
    given = tmp_path / "given"
    options = ["--home", str(given), "--url", crew_url(server, "travel"), "--token", SERVE_TOKEN]
    args = [*options, "serve"] if position == "before" else ["serve", *options]
    env = child_env(tmp_path / "decoy")
    child = subprocess.Popen(
        [sys.executable, "-m", "crewtui", *args, "--listen", "127.0.0.1:0"],
        env=env,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stderr is not None
        for line in child.stderr:  # text lines by default
            if "answers" in line or "rejected" in line:
                break
        assert "answers" in line, line
    finally:
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=WAIT) == 0
    assert sim.answered(SERVE_TOKEN, "travel")[200] >= 1, "--url or --token was not used"
    assert (given / "data" / "history.sqlite3").exists(), "--home was not used"
    assert not (tmp_path / "decoy").exists()


@pytest.mark.parametrize("position", ["before", "after"])
def test_an_unknown_crew_is_one_sentence_in_both_places(tmp_path: Path, position: str) -> None:
    args = ["--crew", "nope", "serve"] if position == "before" else ["serve", "--crew", "nope"]
    result = run(tmp_path, *args, "--listen", "127.0.0.1:0")
    assert result.returncode == ExitCode.USAGE
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'nope'" in lines[0], lines
    assert not (tmp_path / "data").exists()


def test_serve_refuses_json_for_log_format_in_both_places(tmp_path: Path) -> None:
    before = run(tmp_path, "--json", "serve")
    after = run(tmp_path, "serve", "--json")
    assert before.returncode == after.returncode == ExitCode.USAGE
    assert before.stderr == after.stderr
    assert "--log-format json" in before.stderr
