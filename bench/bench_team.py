"""Team: one ``crewtui serve`` and five viewers on a PostgreSQL history, under load.

A real PostgreSQL server (started like the test suite's, ``tests/postgres.py``, with
``pg_stat_statements`` loaded) holds the history; the simulator, in a child process, serves
20 crews (each of its four crews under five names: ``team01`` … ``team20``, each at a base
URL of its own) and counts the requests it answers. The runs are started on the simulator
(one POST each, slowed down so they stay running) and written to the history as accepted,
directly through the store; ``crewtui serve`` (the real command, in its own process) then
follows them all, as the one poller, at the default budget (10 requests/s per crew). Five
viewers follow the same history: each is the app's runtime without the terminal (the store
→ tracker assembly of ``crewtui.core.runtime``, as ``bench_lease.py``'s processes), with
the same 20 crews, in a home of its own (as on five machines); they hold no lease, so
they only read what ``serve`` writes, woken by ``LISTEN/NOTIFY``.

Over a window: requests per second at the simulator (its own count; the budget, 20 x 10/s,
is the floor), the staleness at each viewer (from ``serve`` observing a change, the
kickoff's ``updated_at``, to the viewer's tracker showing it, one clock: p50, p95, max;
and from the service's own last change, its ``progress.updated_at`` at 1 s resolution, to
the viewer), PostgreSQL statements and transactions per second (``pg_stat_statements``
calls and ``pg_stat_database`` commits of the history's database), and CPU (from
/proc/<pid>/stat) and RSS of the simulator, ``serve``, each viewer and PostgreSQL (all its
processes; proportional set size, so shared buffers count once).

    python bench/bench_team.py           # 10,000 running runs, 20 crews, 60 s window
    python bench/bench_team.py --quick   # 500 running runs, 20 crews, 6 s window
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from common import ROOT, Row, emit, log, percentile, rss_mib, send_json, serve_simulator
from common import SIM_TOKEN as TOKEN
from common import start_simulator_child as start_simulator

from crewtui.api.models import Kickoff
from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.api.states import RunState, Submission
from crewtui.config import Config, resolve_paths
from crewtui.core.pg_store import PgStore
from crewtui.core.runtime import assemble
from crewtui.core.tracker import utcnow as now_utc
from crewtui.core.tracker_events import KickoffChanged, LeaseChanged, TrackerEvent
from crewtui.settings import HistorySettings
from crewtui.sim.crews import CREWS
from crewtui.sim.server import SimCounts
from crewtui.sim.timeline import Run
from tests.postgres import PostgresServer, start_server

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

TEAM_CREWS = 20
SIM_CREWS = sorted(CREWS)  # each serves TEAM_CREWS / len(SIM_CREWS) of the team's crews
VIEWERS = 5
BUDGET = 10.0  # requests per second per crew: [poll] requests_per_second's default
# The simulator's pace: runs take ten times their reference time (about 17 minutes, eight
# changes each), so every run is still going at the end, while the service changes ~80 of
# 10,000 runs a second.
SPEED = 0.1
TOKEN_ENV = "BENCH_TEAM_TOKEN"
STATEMENTS = {"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.max": "1000"}


@dataclass(frozen=True)
class Plan:
    runs: int
    settle: float  # seconds after the viewers are ready before the window begins
    window: float  # seconds measured


FULL = Plan(runs=10_000, settle=10.0, window=60.0)
QUICK = Plan(runs=500, settle=2.0, window=6.0)


def team_crew(number: int) -> str:
    return f"team{number + 1:02d}"


def sim_crew(team: str) -> str:
    """The simulator's crew that serves the team crew ``team``."""
    return SIM_CREWS[(int(team.removeprefix("team")) - 1) % len(SIM_CREWS)]


# -- the child: the simulator under 20 names, counting ----------------------------------------


class Aliased:
    """The simulator with ``/teamNN/…`` served by ``/<its crew>/…``; ``/_bench/stats`` says
    how many requests (and status polls) it answered so far."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = 0
        self.polls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if path == "/_bench/stats":
            await send_json(send, {"requests": self.requests, "polls": self.polls})
            return
        if scope["type"] == "http" and path.startswith("/team"):
            team, _, rest = path[1:].partition("/")
            path = f"/{sim_crew(team)}/{rest}"
            scope = dict(scope, path=path, raw_path=path.encode())
            self.requests += 1
            self.polls += "/status/" in path
        await self.app(scope, receive, send)


def count_kickoffs_only() -> None:
    """Leave out the simulator's count of runs going at once (``SimCounts.max_running``, for
    the batch tests): it looks at every run at each kickoff, so starting 10,000 runs would
    take half an hour of CPU; nothing here reads it, and the status polls do not use it."""

    def note_kickoff(counts: SimCounts, meta: Any, runs: Iterable[Run]) -> None:
        counts.kickoff_metas.append(meta)

    SimCounts.note_kickoff = note_kickoff  # type: ignore[method-assign]


# -- the child: one viewer -----------------------------------------------------------------


def team_profiles(base: str) -> list[CrewProfile]:
    return [
        CrewProfile(name=team_crew(n), url=f"{base}/{team_crew(n)}", token=Secret(TOKEN))
        for n in range(TEAM_CREWS)
    ]


async def view(home: Path, base: str, url: str) -> None:
    """Follow the history as the app does (its runtime, no terminal) until told to stop on
    stdin; print, for every change shown, when and how stale it was."""
    config = Config(history=HistorySettings(url=Secret(url)))
    runtime = assemble(team_profiles(base), config, resolve_paths(home), webhooks=False)
    tracker = runtime.tracker
    shown: list[tuple[float, float, float | None]] = []
    leases: list[tuple[str, bool, float]] = []

    def record(event: TrackerEvent) -> None:
        moment = time.time()
        if isinstance(event, KickoffChanged):
            kickoff = event.kickoff
            shown.append((moment, moment - kickoff.updated_at.timestamp(), service_lag(kickoff)))
        elif isinstance(event, LeaseChanged):
            leases.append((event.crew, event.held, moment))

    tracker.listen(record)
    started = time.time()
    await tracker.start(resume=True)
    ready = time.time()
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    await tracker.stop()
    runtime.store.close()
    asked = sum(sum(tracker.request_counts(crew).attempts.values()) for crew in tracker.crews)
    report = {"shown": shown, "leases": leases, "start": ready - started, "requests": asked}
    print(json.dumps(report))


def service_lag(kickoff: Kickoff) -> float | None:
    """Seconds since the service's own last change of the run (its ``progress.updated_at``,
    whole seconds), if the last answer said it."""
    raw = kickoff.raw if isinstance(kickoff.raw, dict) else {}
    progress = raw.get("progress")
    stamp = progress.get("updated_at") if isinstance(progress, dict) else None
    if not isinstance(stamp, str):
        return None
    return time.time() - datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


# -- the parent: the processes -------------------------------------------------------------


def seed(base: str, url: str, runs: int) -> None:
    """Start ``runs`` runs on the service, spread over the crews, and write them to the
    history as accepted (what a kickoff from any crewtui leaves there)."""
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def start(number: int) -> tuple[str, str]:
        team = team_crew(number % TEAM_CREWS)
        body = {"inputs": dict(CREWS[sim_crew(team)].sample_inputs)}
        answer = http.post(f"{base}/{team}/kickoff", json=body, headers=headers)
        answer.raise_for_status()
        return team, str(answer.json()["kickoff_id"])

    with httpx.Client(timeout=60) as http, ThreadPoolExecutor(8) as pool:
        started = list(pool.map(start, range(runs)))
    log(f"  {runs} runs started on the service")
    store = PgStore.open(url)
    try:
        now = now_utc()

        def save(run: tuple[str, str]) -> None:
            team, kickoff_id = run
            store.save_kickoff(
                Kickoff(
                    kickoff_id=kickoff_id,
                    crew=team,
                    inputs=dict(CREWS[sim_crew(team)].sample_inputs),
                    created_at=now,
                    updated_at=now,
                    started_at=now,
                    state=RunState.PENDING,
                    submission=Submission.ACCEPTED,
                )
            )

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(save, started))
    finally:
        store.close()
    log(f"  {runs} runs written to the history")


class Serve:
    """``crewtui serve`` over the history for the 20 crews, logging JSON lines to a pipe."""

    def __init__(self, home: Path, base: str, url: str) -> None:
        paths = resolve_paths(home)
        paths.config_dir.mkdir(parents=True)
        tables = [
            f'[crews.{crew.name}]\nurl = "{crew.url}"\ntoken_env = "{TOKEN_ENV}"\n'
            for crew in team_profiles(base)
        ]
        paths.config_file.write_text("\n".join(tables))
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("CREWAI_", "CREWTUI_"))}
        env = keep | {"CREWTUI_HOME": str(home), "CREWTUI_HISTORY_URL": url, TOKEN_ENV: TOKEN}
        command = [sys.executable, "-m", "crewtui", "serve", "--log-format", "json"]
        self.process = subprocess.Popen(
            [*command, "--listen", "127.0.0.1:0"],
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.lost: list[float] = []  # when serve gave up polling a crew (another polls it)
        threading.Thread(target=self._read, daemon=True).start()
        self.url = self.wait_for("listening on").split()[2]
        self.following = self.wait_for("started: following")

    def _read(self) -> None:
        assert self.process.stderr is not None
        for text in self.process.stderr:
            line = json.loads(text)
            if str(line.get("message", "")).startswith("viewing crew"):
                self.lost.append(time.time())
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, start: str) -> str:
        while (line := self.lines.get(timeout=600)) is not None:
            if str(line.get("message", "")).startswith(start):
                return str(line["message"])
        raise SystemExit(f"crewtui serve exited (code {self.process.wait()}) before {start!r}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=120)


def start_viewer(home: Path, base: str, url: str) -> subprocess.Popen[str]:
    command = [sys.executable, str(Path(__file__).resolve()), "--viewer", str(home), base, url]
    return subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )


def wait_ready(viewer: subprocess.Popen[str]) -> None:
    assert viewer.stdout is not None
    if viewer.stdout.readline().strip() != "ready":
        raise SystemExit("a viewer did not start")


def report_of(viewer: subprocess.Popen[str]) -> dict[str, Any]:
    assert viewer.stdin is not None
    viewer.stdin.write("stop\n")
    viewer.stdin.flush()
    out, _ = viewer.communicate(timeout=120)
    if viewer.returncode != 0:
        raise SystemExit(f"a viewer failed (exit {viewer.returncode})")
    return dict(json.loads(out.strip().splitlines()[-1]))


# -- the parent: what is read from /proc and PostgreSQL ------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def postgres_pids(server: PostgresServer) -> list[int]:
    """The postmaster and every process it started (backends, writers, the collector)."""
    postmaster = int((server.directory / "data" / "postmaster.pid").read_text().split()[0])
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rpartition(")")[2].split()[1]) == postmaster:
                children.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return [postmaster, *children]


def pss_mib(pid: int) -> float:
    """Proportional set size: shared memory (PostgreSQL's buffers) divided among sharers."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def top_statements(url: str, count: int = 6) -> list[str]:
    """The history's most frequent statements: calls, mean ms, the text's start."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(
            "SELECT calls, mean_exec_time, query FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " ORDER BY calls DESC LIMIT %s",
            (count,),
        ).fetchall()
    return [
        f"{calls} x {mean:.2f} ms: {' '.join(query.split())[:90]}" for calls, mean, query in found
    ]


def database_counts(server: PostgresServer, url: str) -> tuple[int, int]:
    """Statements run on the history's database (``pg_stat_statements`` calls) and its
    committed transactions (``pg_stat_database``); this process's own queries excepted by
    the caller (a few per sample)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        calls = conn.execute(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
        commits = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert calls is not None and commits is not None
    return int(calls[0]), int(commits[0])


@dataclass
class Sample:
    moment: float
    requests: int
    polls: int
    statements: int
    commits: int
    cpu: dict[str, float] = field(default_factory=dict)


async def sample(
    base: str, server: PostgresServer, url: str, processes: dict[str, list[int]]
) -> Sample:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        counts = (await http.get("/_bench/stats")).json()
    statements, commits = database_counts(server, url)
    cpu = {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in processes.items()}
    return Sample(time.time(), counts["requests"], counts["polls"], statements, commits, cpu)


# -- the parent: the measurement -----------------------------------------------------------


@dataclass
class Measured:
    plan: Plan
    seconds: float
    requests: int
    polls: int
    statements: int
    commits: int
    cpu: dict[str, float]  # share of one core over the window, by process
    rss: dict[str, float]  # MiB at the end of the window, by process
    lags: dict[str, list[float]]  # viewer → serve's observation to shown, in the window
    service_lags: dict[str, list[float]]  # viewer → the service's change to shown
    viewer_start: list[float]
    viewer_requests: int
    takeovers: int  # leases won by viewers in the window
    takeovers_before: int  # … before it (the viewers starting)
    serve_lost: int  # crews serve gave up polling in the window (another took its lease)
    following: str
    serve_metrics: dict[str, float]


@contextmanager
def postgres() -> Iterator[tuple[PostgresServer, str]]:
    server = start_server(STATEMENTS)
    try:
        url = server.create_database()
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
        yield server, url
    finally:
        server.stop()


async def measure(plan: Plan) -> Measured:
    with postgres() as (server, url), tempfile.TemporaryDirectory() as directory:
        log(f"PostgreSQL on port {server.port}; the simulator at speed {SPEED:g}")
        simulator, base = start_simulator(__file__, SPEED)
        serve: Serve | None = None
        viewers: list[subprocess.Popen[str]] = []
        try:
            seed(base, url, plan.runs)
            serve = Serve(Path(directory) / "serve", base, url)
            log(f"  serve: {serve.following}")
            homes = [Path(directory) / f"viewer{n + 1}" for n in range(VIEWERS)]
            viewers = [start_viewer(home, base, url) for home in homes]
            for viewer in viewers:
                await asyncio.to_thread(wait_ready, viewer)
            log(f"  {VIEWERS} viewers ready; settling {plan.settle:g} s")
            await asyncio.sleep(plan.settle)  # the viewers' first looks, not measured
            processes = {
                "simulator": [simulator.pid],
                "serve": [serve.process.pid],
                **{f"viewer {n + 1}": [v.pid] for n, v in enumerate(viewers)},
                "postgres": postgres_pids(server),
            }
            before = await sample(base, server, url, processes)
            await asyncio.sleep(plan.window)  # the window's length, not a wait for work
            processes["postgres"] = postgres_pids(server)  # the backends opened since
            after = await sample(base, server, url, processes)
            rss = {name: rss_mib(pids[0]) for name, pids in processes.items()}
            rss["postgres"] = sum(pss_mib(pid) for pid in processes["postgres"])
            serve_metrics = scrape(serve.url)
            for line in top_statements(url):
                log(f"  {line}")
        finally:
            reports = [await asyncio.to_thread(report_of, viewer) for viewer in viewers]
            if serve is not None:
                serve.stop()
            simulator.terminate()
            simulator.wait(timeout=10)
    seconds = after.moment - before.moment
    lags: dict[str, list[float]] = {}
    service_lags: dict[str, list[float]] = {}
    for number, report in enumerate(reports):
        inside = [s for s in report["shown"] if before.moment <= s[0] <= after.moment]
        lags[f"viewer {number + 1}"] = [s[1] for s in inside]
        service_lags[f"viewer {number + 1}"] = [s[2] for s in inside if s[2] is not None]
    return Measured(
        plan=plan,
        seconds=seconds,
        requests=after.requests - before.requests,
        polls=after.polls - before.polls,
        statements=after.statements - before.statements,
        commits=after.commits - before.commits,
        cpu={name: (after.cpu[name] - before.cpu.get(name, 0.0)) / seconds for name in after.cpu},
        rss=rss,
        lags=lags,
        service_lags=service_lags,
        viewer_start=[report["start"] for report in reports],
        viewer_requests=sum(report["requests"] for report in reports),
        takeovers=won(reports, before.moment, after.moment),
        takeovers_before=won(reports, 0.0, before.moment),
        serve_lost=sum(before.moment <= at <= after.moment for at in serve.lost) if serve else 0,
        following=serve.following if serve is not None else "",
        serve_metrics=serve_metrics,
    )


def won(reports: list[dict[str, Any]], began: float, ended: float) -> int:
    """Leases the viewers took between ``began`` and ``ended``."""
    return sum(
        held and began <= at < ended for report in reports for _, held, at in report["leases"]
    )


def scrape(url: str) -> dict[str, float]:
    """The figures of ``serve``'s /metrics this benchmark quotes, summed over crews."""
    wanted = ("crewtui_staleness_max_seconds", "crewtui_poll_errors_total")
    totals: dict[str, float] = {}
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        name = line.split("{")[0].split(" ")[0]
        if name in wanted:
            value = float(line.rsplit(" ", 1)[1])
            so_far = totals.get(name, 0.0)
            summed = name != "crewtui_staleness_max_seconds"
            totals[name] = so_far + value if summed else max(so_far, value)
    return totals


# -- the rows ------------------------------------------------------------------------------


def rows(result: Measured) -> list[Row]:
    plan, seconds = result.plan, result.seconds
    label = f"{plan.runs:,} running runs, 20 crews, 1 serve + {VIEWERS} viewers, {seconds:.0f} s"
    budget = TEAM_CREWS * BUDGET
    rate = result.requests / seconds
    table = [
        Row(
            f"requests/s at the service ({label})",
            round(rate, 1),
            "req/s",
            "the budget: 20 crews x 10/s",
            None,
            floor=budget,
            ratio=round(rate / budget, 3),
            note=(
                f"status polls {result.polls / seconds:.1f}/s; one round of every run "
                f"takes {plan.runs / rate:.0f} s at this rate; requests by viewers "
                f"{result.viewer_requests}; leases taken by viewers {result.takeovers} in the "
                f"window, {result.takeovers_before} while they started; crews serve stopped "
                f"polling in the window {result.serve_lost}"
            ),
        )
    ]
    round_length = plan.runs / budget
    for viewer, lags in result.lags.items():
        service = result.service_lags[viewer]
        p95 = percentile(lags, 0.95) if lags else float("nan")
        table.append(
            Row(
                f"staleness p95 at {viewer}: serve's poll → shown",
                round(p95, 3),
                "s",
                "informational",
                None,
                note=(
                    f"{len(lags)} changes shown; p50 {percentile(lags, 0.5) if lags else 0:.3f} s, "
                    f"max {max(lags, default=0):.3f} s; service's change → shown p50 "
                    f"{percentile(service, 0.5) if service else 0:.1f} s, p95 "
                    f"{percentile(service, 0.95) if service else 0:.1f} s (a round of polls "
                    f"at the budget: {round_length:.0f} s)"
                ),
            )
        )
    table.append(
        Row(
            "PostgreSQL statements/s",
            round(result.statements / seconds, 1),
            "stmt/s",
            "informational",
            None,
            note=(
                f"pg_stat_statements calls on the history's database; "
                f"{result.commits / seconds:.1f} commits/s (pg_stat_database xact_commit)"
            ),
        )
    )
    for name, share in result.cpu.items():
        table.append(
            Row(
                f"CPU of {name}",
                round(share * 100, 1),
                "% of a core",
                "informational",
                None,
                note=f"RSS {result.rss[name]:.0f} MiB"
                + (" (Pss of all its processes)" if name == "postgres" else ""),
            )
        )
    starts = result.viewer_start
    table.append(
        Row(
            "viewer start (history opened, runs loaded)",
            round(max(starts), 2),
            "s",
            "informational",
            None,
            note=(
                f"slowest of {VIEWERS}; fastest {min(starts):.2f} s; serve: "
                f"{result.following}; serve's /metrics: {result.serve_metrics}"
            ),
        )
    )
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 runs, a 6 s window")
    parser.add_argument("--runs", type=int, help="running runs (default 10,000; quick 500)")
    parser.add_argument("--window", type=float, help="seconds measured (default 60; quick 6)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--speed", type=float, default=SPEED, help=argparse.SUPPRESS)
    parser.add_argument("--viewer", nargs=3, help=argparse.SUPPRESS)  # HOME BASE URL
    args = parser.parse_args()
    if args.serve:
        count_kickoffs_only()
        serve_simulator(Aliased, args.speed)
        return 0
    if args.viewer:
        home, base, url = args.viewer
        asyncio.run(view(Path(home), base, url))
        return 0
    plan = QUICK if args.quick else FULL
    plan = Plan(args.runs or plan.runs, plan.settle, args.window or plan.window)
    result = asyncio.run(measure(plan))
    for name, share in result.cpu.items():
        log(f"  {name}: {share * 100:.1f} % of a core, {result.rss[name]:.0f} MiB")
    emit("team", rows(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
