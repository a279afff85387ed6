"""Lease: one poller per history, whatever the number of crewtui processes sharing it.

1, 3 and 10 crewtui processes (each a tracker assembled like ``crewtui serve``'s, in a
process of its own) share one SQLite history that tracks the same 200 running kickoffs of
one crew, against the simulator in a child process that counts its status polls. With the
lease, one process polls and the others view, so the service receives the same number of
requests (the 1-process figure is the floor) and every viewer shows each change the poller
writes soon after it: the lag from the poller's event to each viewer's, by wall clock
(one machine, one clock). A change a viewer skipped (two writes between its looks) counts
as shown when it showed a later change of the run.

    python bench/bench_lease.py           # 200 runs; 1, 3, 10 processes twice, 30 s windows
    python bench/bench_lease.py --quick   # 200 runs; 1, 3, 10 processes once, 4 s windows
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from common import ROOT, Row, emit, log, median, percentile, send_json, serve_simulator
from common import SIM_TOKEN as TOKEN
from common import start_simulator_child as start_simulator

from crewtui.api.models import Kickoff
from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.api.states import RunState, Submission
from crewtui.config import Config, resolve_paths
from crewtui.core.runtime import assemble
from crewtui.core.store import Store
from crewtui.core.tracker import progress_signature
from crewtui.core.tracker import utcnow as now_utc
from crewtui.core.tracker_events import KickoffChanged, LeaseChanged, TrackerEvent
from crewtui.sim.crews import CREWS

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

CREW = "content"
RUNS = 200
PROCESSES = (1, 3, 10)
# The runs' pace: about 200 s each (the crew's five tasks stretched, each run its own
# pace), so they all go on through a window while the crew changes ~10 times a second.
RUN_SCALE = 2.0
RUN_SPREAD = 0.25
TARGET_REQUESTS = 0.05  # within 5 % of one process
TARGET_LAG = 1.0  # seconds from the poller's write to every viewer showing it


@dataclass(frozen=True)
class Plan:
    rounds: int  # each process count is measured this many times, in turn
    settle: float  # seconds after processes joined before a window begins
    window: float  # seconds of counted polls


FULL = Plan(rounds=2, settle=3.0, window=30.0)
QUICK = Plan(rounds=1, settle=1.0, window=4.0)


# -- the child: the simulator, counting status polls --------------------------------------


class Counted:
    """The simulator, counting its status polls; ``/_bench/stats`` says how many so far."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.polls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if path == "/_bench/stats":
            await send_json(send, {"polls": self.polls})
            return
        if scope["type"] == "http" and "/status/" in path:
            self.polls += 1
        await self.app(scope, receive, send)


# -- the child: one crewtui process on the shared history ---------------------------------


async def follow(home: Path, base: str) -> None:
    """Track every active run of the history until told to stop on stdin; print what was
    seen when (each change's signature) and whether this process held the lease."""
    crew = CrewProfile(name=CREW, url=f"{base}/{CREW}", token=Secret(TOKEN))
    runtime = assemble([crew], Config(), resolve_paths(home), webhooks=False)
    tracker = runtime.tracker
    seen: list[tuple[str, str, float]] = []
    leases: list[tuple[bool, float]] = []

    def record(event: TrackerEvent) -> None:
        moment = time.time()
        if isinstance(event, KickoffChanged):
            signature = repr(progress_signature(event.kickoff))
            seen.append((event.kickoff.kickoff_id, signature, moment))
        elif isinstance(event, LeaseChanged):
            leases.append((event.held, moment))

    tracker.listen(record)
    await tracker.start(resume=True)
    ready_at, cpu_at_ready = time.time(), time.process_time()
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    stopped = time.time()
    await tracker.stop()
    runtime.store.close()
    asked = sum(tracker.request_counts(CREW).attempts.values())
    report = {
        "seen": seen,
        "leases": leases,
        "stopped": stopped,
        "ready": ready_at,
        "cpu": time.process_time() - cpu_at_ready,  # following, start-up left out
        "requests": asked,
    }
    print(json.dumps(report))


# -- the parent ----------------------------------------------------------------------------


async def stats(base: str) -> int:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        return int((await http.get("/_bench/stats")).json()["polls"])


async def seed_runs(base: str, home: Path) -> list[str]:
    """Start ``RUNS`` runs on the service and write them to the history as accepted."""
    rng = random.Random(5)
    paces = [RUN_SCALE * math.exp(rng.gauss(0.0, RUN_SPREAD)) for _ in range(RUNS)]
    inputs = dict(CREWS[CREW].sample_inputs)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:

        async def start(pace: float) -> str:
            body = {"inputs": inputs | {"duration_scale": f"{pace:.4f}"}}
            answer = await http.post(f"/{CREW}/kickoff", json=body, headers=headers)
            return str(answer.json()["kickoff_id"])

        ids = await asyncio.gather(*(start(pace) for pace in paces))
    store = Store.open(resolve_paths(home).store_file)
    try:
        now = now_utc()
        for kickoff_id in ids:
            store.save_kickoff(
                Kickoff(
                    kickoff_id=kickoff_id,
                    crew=CREW,
                    inputs=inputs,
                    created_at=now,
                    updated_at=now,
                    started_at=now,
                    state=RunState.PENDING,
                    submission=Submission.ACCEPTED,
                )
            )
    finally:
        store.close()
    return list(ids)


def start_process(home: Path, base: str) -> subprocess.Popen[str]:
    command = [sys.executable, str(Path(__file__).resolve()), "--process", str(home), base]
    return subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )


def ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise SystemExit("a crewtui process did not start")


def tell_stop(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("stop\n")
    process.stdin.flush()


def report_of(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = process.communicate(timeout=120)
    if process.returncode != 0:
        raise SystemExit(f"a crewtui process failed (exit {process.returncode})")
    return dict(json.loads(out.strip().splitlines()[-1]))


@dataclass
class Measured:
    """One window: how many processes shared the history, the polls the service received
    in it, and each viewer's lags."""

    processes: int
    polls: int
    takeovers: int  # leases won during the window (0 when all is well)
    lags: list[float]
    missed: int  # changes a viewer never showed before it stopped
    viewer_requests: int  # requests the viewers sent, over their whole life
    viewer_cpu: float  # CPU seconds per second of each viewer, the largest


@dataclass(frozen=True)
class Window:
    processes: int
    polls: int
    began: float
    ended: float


async def measure_round(base: str, plan: Plan) -> list[Measured]:
    """One history and its runs; 1 process, then 3, then 10 (those added join the running
    ones), and a window of polls counted at each size."""
    windows: list[Window] = []
    with tempfile.TemporaryDirectory() as directory:
        home = Path(directory)
        await seed_runs(base, home)
        children: list[subprocess.Popen[str]] = []
        try:
            for processes in PROCESSES:
                added = [start_process(home, base) for _ in range(processes - len(children))]
                for child in added:
                    await asyncio.to_thread(ready, child)
                children += added
                await asyncio.sleep(plan.settle)  # the newcomers' first looks, not counted
                before, began = await stats(base), time.time()
                await asyncio.sleep(plan.window)  # the window's length, not a wait for work
                windows.append(Window(processes, await stats(base) - before, began, time.time()))
                log(f"  {processes} process(es): {windows[-1].polls} polls")
        finally:
            for child in children:  # all at once: the first to stop releases its lease
                tell_stop(child)
            reports = [await asyncio.to_thread(report_of, child) for child in children]
    return [measured(window, reports) for window in windows]


def measured(window: Window, reports: list[dict[str, Any]]) -> Measured:
    """The window's figures from what the processes that ran through it reported."""
    present = [report for report in reports if report["ready"] < window.began]
    poller = max(present, key=lambda report: holding_since(report, window.ended))
    takeovers = sum(
        1
        for report in present
        for held, at in report["leases"]
        if held and window.began < at < window.ended
    )
    viewers = [report for report in present if report is not poller]
    written = [change for change in poller["seen"] if window.began <= change[2] <= window.ended]
    lags: list[float] = []
    missed = 0
    for viewer in viewers:
        found, lost = viewer_lags(written, viewer["seen"], viewer["stopped"])
        lags += found
        missed += lost
    busy = max((viewer["cpu"] / (viewer["stopped"] - viewer["ready"]) for viewer in viewers),
               default=0.0)  # fmt: skip
    asked = sum(viewer["requests"] for viewer in viewers)
    return Measured(window.processes, window.polls, takeovers, lags, missed, asked, busy)


def holding_since(report: dict[str, Any], moment: float) -> float:
    """When this process last won the lease before ``moment``, if it held it then; else -inf."""
    before = [(at, held) for held, at in report["leases"] if at <= moment]
    if not before or not max(before)[1]:
        return float("-inf")
    return float(max(before)[0])


def viewer_lags(
    poller: list[tuple[str, str, float]], viewer: list[tuple[str, str, float]], stopped: float
) -> tuple[list[float], int]:
    """Seconds from each change the poller wrote to the viewer showing it (or a later change
    of the same run); changes written in the viewer's last 2 s are left out, and those it
    never showed are counted."""
    order: dict[str, dict[str, int]] = {}
    written: dict[str, list[float]] = {}
    for kickoff_id, signature, moment in poller:
        signatures = order.setdefault(kickoff_id, {})
        if signature not in signatures:
            signatures[signature] = len(signatures)
            written.setdefault(kickoff_id, []).append(moment)
    shown: dict[str, list[tuple[int, float]]] = {}
    for kickoff_id, signature, moment in viewer:
        position = order.get(kickoff_id, {}).get(signature)
        if position is not None:
            shown.setdefault(kickoff_id, []).append((position, moment))
    lags, missed = [], 0
    for kickoff_id, moments in written.items():
        for position, moment in enumerate(moments):
            if moment > stopped - 2.0:
                continue
            later = [at for seen, at in shown.get(kickoff_id, []) if seen >= position]
            if later:
                lags.append(max(min(later) - moment, 0.0))
            else:
                missed += 1
    return lags, missed


async def measure(plan: Plan) -> list[Measured]:
    simulator, base = start_simulator(__file__, 1.0)
    results: list[Measured] = []
    try:
        for round_number in range(plan.rounds):
            log(f"round {round_number + 1}: {RUNS} runs on one history")
            results += await measure_round(base, plan)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    for result in results:
        log(
            f"{result.processes} process(es): {result.polls} polls, {result.takeovers} "
            f"takeover(s), {len(result.lags)} changes seen by viewers, {result.missed} missed, "
            f"{result.viewer_requests} requests by viewers"
        )
    return results


def rows(plan: Plan, results: list[Measured]) -> list[Row]:
    def of(processes: int) -> list[Measured]:
        return [result for result in results if result.processes == processes]

    floor = median([result.polls for result in of(1)])
    table: list[Row] = []
    for processes in PROCESSES:
        runs = of(processes)
        polls = median([result.polls for result in runs])
        ratio = polls / floor if floor else float("nan")
        takeovers = sum(result.takeovers for result in runs)
        table.append(
            Row(
                f"status polls in {plan.window:g} s, {processes} process(es)",
                polls,
                "req",
                "within 5 % of 1 process",
                abs(ratio - 1.0) <= TARGET_REQUESTS,
                floor=floor,
                ratio=round(ratio, 3),
                note=(
                    f"{RUNS} running kickoffs, 1 crew, 10 req/s budget; "
                    f"lease taken over {takeovers} time(s) in the windows"
                ),
            )
        )
        if processes == 1:
            continue
        lags = [lag for result in runs for lag in result.lags] or [float("nan")]
        missed = sum(result.missed for result in runs)
        worst = max(lags, default=float("nan"))
        cpu = max(result.viewer_cpu for result in runs)
        table.append(
            Row(
                f"poller's write → every viewer shows it, max, {processes} processes",
                round(worst, 3),
                "s",
                "<= 1 s",
                worst <= TARGET_LAG and missed == 0 and not any(r.viewer_requests for r in runs),
                note=(
                    f"{len(lags)} changes x viewers; p50 {percentile(lags, 0.5):.3f} s, "
                    f"p99 {percentile(lags, 0.99):.3f} s; missed {missed}; "
                    f"busiest viewer {cpu * 100:.1f} % of a core; "
                    f"requests by viewers {sum(result.viewer_requests for result in runs)}"
                ),
            )
        )
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round, 4 s windows")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--speed", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--process", nargs=2, metavar=("HOME", "BASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_simulator(Counted, args.speed)
        return 0
    if args.process:
        home, base = args.process
        asyncio.run(follow(Path(home), base))
        return 0
    plan = QUICK if args.quick else FULL
    emit("lease", rows(plan, asyncio.run(measure(plan))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
