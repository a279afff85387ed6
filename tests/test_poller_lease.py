"""One poller per history, with real processes: two ``crewtui serve`` children and a
tracker in this process share one history against the simulator on loopback: one SQLite
file in one home, then one PostgreSQL database with a home each (as on several machines).

The first service polls; the second and this process view. The poller is killed with
SIGKILL mid-run: the second service takes the crew over, nothing is lost, this process
sees every run to its end, and the simulator's log of status polls shows no run polled
twice in the same second (one process never polls a run twice within ``min_interval``,
1 s). Nothing sleeps: each wait ends on a log line, a tracker event or an exit.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections import Counter
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crewtui.api.models import Kickoff
from crewtui.api.states import RunState
from crewtui.config import resolve_paths
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.core.tracker_events import KickoffChanged, TrackerEvent
from crewtui.sim import SimOptions, ThreadedServer, create_app
from crewtui.sim.crews import CREWS
from tests.conftest import TEST_SPEED, open_at
from tests.hardening.cli_support import child_env
from tests.helpers import wait_until
from tests.test_serve import SERVE_TOKEN, STARTER_TOKEN, LogLine, Serving

CREW = "default"  # the crew serve makes of CREWAI_API_URL
RUNS = 3
# About 15 s per run at the tests' speed: the poller is killed once every run is running
# (a second or two in), and the lease lapses and is taken within LEASE_TTL +
# LEASE_RENEW_EVERY (6 s) of the kill, so the takeover lands mid-run with room to spare;
# longer runs only add seconds of waiting for them to end.
RUN_SCALE = "15"
TAKEOVER_WAIT = 30.0
HOST = socket.gethostname()

Scope = MutableMapping[str, Any]


class PollLog:
    """The simulator, counting its answers to status polls by run and by second of the
    clock, and by the token that asked."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.by_second: Counter[tuple[str, int]] = Counter()
        self.by_token: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and "/status/" in path:
            headers = dict(scope.get("headers") or [])
            token = headers.get(b"authorization", b"").decode().removeprefix("Bearer ")
            self.by_token[token] += 1
            self.by_second[(path.rsplit("/", 1)[-1], int(asyncio.get_running_loop().time()))] += 1
        await self.app(scope, receive, send)


@pytest.fixture
def logged() -> Iterator[tuple[ThreadedServer, PollLog]]:
    options = SimOptions(speed=TEST_SPEED, token=SERVE_TOKEN, user_token=STARTER_TOKEN, seed=11)
    app = PollLog(create_app(options))
    with ThreadedServer(app) as server:
        yield server, app


def lease_line(crew: str, lease: str, poller: str) -> Callable[[LogLine], bool]:
    return lambda line: (
        line.get("crew") == crew and line.get("lease") == lease and line.get("poller") == poller
    )


def poller_of(service: Serving) -> str:
    return f"{service.process.pid}@{HOST}"


@dataclass(frozen=True)
class Team:
    """Where each process keeps its history: one shared home on SQLite (one machine), or
    a home of its own and one PostgreSQL database (as on several machines)."""

    base: Path
    history: str
    env: dict[str, str]

    def home(self, name: str) -> Path:
        return self.base / name if self.env else self.base

    def open(self) -> Store:
        return open_at(self.history)


@pytest.fixture
def team(history_at: str, tmp_path: Path) -> Team:
    if history_at.startswith("postgresql://"):
        return Team(tmp_path, history_at, {"CREWTUI_HISTORY_URL": history_at})
    return Team(tmp_path, str(resolve_paths(tmp_path).store_file), {})


async def kick_off(home: Path, url: str, history_env: dict[str, str]) -> str:
    """``crewtui kickoff`` in a process of its own (it never polls): the run's id."""
    env = child_env(
        home, {"CREWAI_API_URL": url, "CREWAI_BEARER_TOKEN": STARTER_TOKEN, **history_env}
    )
    inputs = dict(CREWS["content"].sample_inputs) | {"duration_scale": RUN_SCALE}
    args = [arg for key, value in inputs.items() for arg in ("-i", f"{key}={value}")]
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "crewtui",
        "kickoff",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(child.communicate(), timeout=60)
    assert child.returncode == 0, err.decode()
    return out.decode().strip()


def metric(service: Serving, name: str, **labels: str) -> float | None:
    return service.metrics().get((name, tuple(sorted(labels.items()))))


async def test_the_poller_killed_mid_run_is_taken_over_and_nothing_is_polled_twice(
    logged: tuple[ThreadedServer, PollLog],
    team: Team,
) -> None:
    server, polls = logged
    url = f"{server.base_url}/content"
    first = await asyncio.to_thread(Serving, team.home("box-1"), url, env=team.env)
    second: Serving | None = None
    store = team.open()
    viewer = Tracker([], store)  # a process without the crew's profile: it only views
    try:
        await asyncio.to_thread(first.wait_for, lease_line(CREW, "held", poller_of(first)))
        second = await asyncio.to_thread(Serving, team.home("box-2"), url, env=team.env)
        viewing = lease_line(CREW, "viewing", poller_of(first))
        await asyncio.to_thread(second.wait_for, viewing)
        assert metric(second, "crewtui_lease_held", crew=CREW) == 0
        holder = metric(second, "crewtui_lease_holder", crew=CREW, holder=poller_of(first))
        assert holder == 1

        seen: list[KickoffChanged] = []
        await viewer.start()
        viewer.listen(lambda event: _keep_changes(event, seen))
        laptop = team.home("laptop")
        ids = await asyncio.gather(*(kick_off(laptop, url, team.env) for _ in range(RUNS)))

        def all_running() -> bool:
            runs = [viewer.get(kickoff_id) for kickoff_id in ids]
            return all(run is not None and run.state is RunState.RUNNING for run in runs)

        await wait_until(viewer, all_running, timeout=60)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
        killed_at = len(seen)

        taking = lease_line(CREW, "held", poller_of(second))
        await asyncio.to_thread(second.wait_for, taking, TAKEOVER_WAIT)

        def all_ended() -> bool:
            runs = [viewer.get(kickoff_id) for kickoff_id in ids]
            return all(run is not None and run.is_terminal for run in runs)

        await wait_until(viewer, all_ended, timeout=120)
        assert metric(second, "crewtui_lease_held", crew=CREW) == 1
        assert metric(second, "crewtui_lease_holder", crew=CREW, holder=poller_of(second)) == 1
    finally:
        await viewer.stop()
        first.kill()
        if second is not None:
            assert second.stop() == 0
            second.kill()

    # Nothing lost: every run ended completed, as this viewer saw it and the history has it.
    for kickoff_id in ids:
        stored = store.get_kickoff(kickoff_id)
        assert stored is not None and stored.state is RunState.COMPLETED
        assert _same_record(viewer.get(kickoff_id), stored)
    # The viewer followed each run through the takeover: its later changes reached it.
    after_kill = {event.kickoff.kickoff_id for event in seen[killed_at:]}
    assert after_kill == set(ids)
    # One poller at a time: no run was asked about twice in one second, and nothing but
    # the services polled (the kickoffs' processes and this one never did).
    assert polls.by_second, "no status poll was logged"
    assert max(polls.by_second.values()) == 1, polls.by_second.most_common(3)
    assert set(polls.by_token) == {SERVE_TOKEN}
    # The second service released its lease when it stopped: free for whoever comes next.
    lease = store.leases()[CREW]
    assert lease.poller == poller_of(second)
    assert not lease.is_live(lease.expires_at)
    store.close()


def _keep_changes(event: TrackerEvent, seen: list[KickoffChanged]) -> None:
    if isinstance(event, KickoffChanged):
        seen.append(event)


def _same_record(shown: Kickoff | None, stored: Kickoff) -> bool:
    """What the viewer shows is what the history holds (its in-memory form has no payloads
    of other processes' polls beyond what the store returns)."""
    return shown is not None and shown.model_dump() == stored.model_dump()
