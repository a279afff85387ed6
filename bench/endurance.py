"""Endurance: hundreds of tracked kickoffs against the simulator while faults come and go.

The simulator runs in a child process (its CPU time must not count as stalls of our event
loop), wrapped in a small ASGI counter of every request it answers. This process runs a real
Tracker with a temporary SQLite store on the simulator's four crews, starts the kickoffs,
then switches the simulator's faults through phases (slow, failing, throttled, dropping, all
at once) for the whole duration. At the end it reports the requests the crews received, the
faults they injected, the poll errors the tracker survived, kickoffs lost (must be 0), RSS at
start and end, and the longest event-loop stall; ``--record`` adds the result to
BENCHMARKS.md.

    .venv/bin/python bench/endurance.py                      # 500 kickoffs, 10 minutes
    .venv/bin/python bench/endurance.py --minutes 1 --kickoffs 50 --phase-seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import types
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from common import (
    ROOT,
    machine,
    rss_mib,
    send_json,
    serve_simulator,
    start_simulator_child,
)
from common import SIM_TOKEN as TOKEN

from crewtui.api.errors import CrewtuiError
from crewtui.api.models import Kickoff
from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.api.states import RunState
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.core.tracker_events import CrewHealthChanged, KickoffChanged, TrackerEvent
from crewtui.sim.crews import CREWS

BENCHMARKS = ROOT / "BENCHMARKS.md"
ROWS_MARKER = "<!-- endurance rows: bench/endurance.py --record adds one above this line -->"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# The fault phases, in turn; each lasts --phase-seconds. A Retry-After of a day is clamped
# by the client, a dropped connection is a reset with no answer.
PHASES: list[tuple[str, dict[str, Any]]] = [
    ("calm", {}),
    ("slow", {"latency": 0.5}),
    ("failing", {"error_rate": 0.3}),
    ("throttled", {"rate_limit_rate": 0.3, "retry_after": "2"}),
    ("dropping", {"drop_rate": 0.2}),
    (
        "storm",
        {
            "latency": 0.2,
            "error_rate": 0.1,
            "rate_limit_rate": 0.1,
            "retry_after": "86400",
            "drop_rate": 0.1,
        },
    ),
]
CALM = {"latency": 0.0, "error_rate": 0.0, "rate_limit_rate": 0.0, "retry_after": "1",
        "drop_rate": 0.0}  # fmt: skip


# -- the child: the simulator behind a request counter ---------------------------------------


class CountingApp:
    """Counts every crew request the simulator answers, by outcome; serves the counts.

    A simulated drop aborts uvicorn's transport through ``send.__self__``, so the watching
    ``send`` stays a method bound to uvicorn's own cycle object.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path.startswith("/_sim/"):
            await self.app(scope, receive, send)
            return
        if path == "/_bench/stats":
            await send_json(send, dict(self.counts))
            return
        statuses: list[int] = []

        async def watch(_cycle: object, message: Message) -> None:
            if message["type"] == "http.response.start":
                statuses.append(int(message["status"]))
            await send(message)

        cycle = getattr(send, "__self__", None)
        watched: Send = types.MethodType(watch, cycle) if cycle is not None else send
        self.counts["requests"] += 1
        self.counts["status polls" if "/status/" in path else "other requests"] += 1
        try:
            await self.app(scope, receive, watched)
        finally:
            self.counts[_outcome(statuses)] += 1


def _outcome(statuses: list[int]) -> str:
    if not statuses:
        return "dropped"
    code = statuses[0]
    return "429" if code == 429 else f"{code // 100}xx"


# -- this process: the tracker ----------------------------------------------------------------


@dataclass
class Watch:
    """What the tracker told its listeners: poll errors and crew health turns."""

    poll_errors: int = 0
    unreachable: int = 0
    last_error: dict[str, str | None] = field(default_factory=dict)

    def __call__(self, event: TrackerEvent) -> None:
        if isinstance(event, KickoffChanged):
            error = event.kickoff.poll_error
            key = event.kickoff.kickoff_id
            if error is not None and error != self.last_error.get(key):
                self.poll_errors += 1
            self.last_error[key] = error
        elif isinstance(event, CrewHealthChanged) and event.health.state == "unreachable":
            self.unreachable += 1


@dataclass
class StallMeter:
    """The event loop's responsiveness: how late a short periodic sleep wakes up, at worst.

    Also how much CPU the loop's thread used over that worst interval: about the stall's
    length means our own code blocked the loop; much less means the process was waiting for
    a core (a busy machine), or for the GIL held by a store thread.
    """

    tick: float = 0.05
    worst: float = 0.0
    worst_cpu: float = 0.0
    worst_at: float = 0.0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        while True:
            expected = loop.time() + self.tick
            cpu = time.thread_time()
            await asyncio.sleep(self.tick)
            late = loop.time() - expected
            if late > self.worst:
                self.worst, self.worst_at = late, expected - began
                self.worst_cpu = time.thread_time() - cpu


def run_inputs(crew: str, seconds: float, speed: float, rng: random.Random) -> dict[str, str]:
    """Sample inputs, stretched so the run ends after about ``seconds`` of wall time."""
    sim_crew = CREWS[crew]
    reference = sim_crew.pending + sum(task.duration for task in sim_crew.tasks)
    inputs = dict(sim_crew.sample_inputs)
    inputs["duration_scale"] = f"{max(seconds * speed / reference, 0.01):.4f}"
    if rng.random() < 0.05:
        inputs["fail"] = "1"
    return inputs


async def start_kickoffs(
    tracker: Tracker, count: int, duration: float, speed: float
) -> tuple[list[str], int]:
    """Start ``count`` runs ending at random times over about 1.1 × the duration."""
    rng = random.Random(1)
    names = list(CREWS)
    ids: list[str] = []
    refused = 0

    async def one(index: int) -> None:
        nonlocal refused
        crew = names[index % len(names)]
        inputs = run_inputs(crew, rng.uniform(0.1, 1.1) * duration, speed, rng)
        try:
            ids.append((await tracker.kickoff(crew, inputs)).kickoff_id)
        except CrewtuiError:
            refused += 1

    for first in range(0, count, 25):
        await asyncio.gather(*(one(index) for index in range(first, min(first + 25, count))))
    return ids, refused


async def switch_faults(base: str, phase_seconds: float, log: Callable[[str], None]) -> None:
    """Cycle through the phases until cancelled."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as control:
        for number in range(10**9):
            name, faults = PHASES[number % len(PHASES)]
            answer = await control.post("/_sim/faults", json=CALM | faults)
            answer.raise_for_status()
            log(f"phase {number + 1}: {name}")
            await asyncio.sleep(phase_seconds)  # the phase's length, not waiting for work


def is_kept(kickoff_id: str, store: Store, tracker: Tracker) -> bool:
    """In the store, not given up as lost, and either finished or still being followed."""
    stored = store.get_kickoff(kickoff_id)
    if stored is None or stored.state is RunState.LOST:
        return False
    followed: Kickoff | None = tracker.get(kickoff_id)
    return stored.is_terminal or (followed is not None and not followed.is_terminal)


@dataclass
class Result:
    minutes: float
    kickoffs: int
    refused: int
    server: dict[str, int]
    poll_errors: int
    unreachable: int
    lost: int
    states: dict[str, int]
    rss_start: float
    rss_end: float
    rss_peak: float
    stall: StallMeter
    stop_seconds: float


async def endurance(args: argparse.Namespace) -> Result:
    log = _logger()
    child, base = start_simulator_child(__file__, args.speed)
    duration = args.minutes * 60
    try:
        with tempfile.TemporaryDirectory() as home:
            store = Store.open(Path(home) / "history.sqlite3")
            crews = [
                CrewProfile(name=name, url=f"{base}/{name}", token=Secret(TOKEN)) for name in CREWS
            ]
            tracker = Tracker(crews, store)
            watch = Watch()
            tracker.listen(watch)
            stall = StallMeter()
            ticker = asyncio.create_task(stall.run())
            rss_start = rss_mib()
            await tracker.start()
            ids, refused = await start_kickoffs(tracker, args.kickoffs, duration, args.speed)
            log(f"started {len(ids)} kickoffs ({refused} refused)")
            switcher = asyncio.create_task(switch_faults(base, args.phase_seconds, log))
            await asyncio.sleep(duration)  # the benchmark's length, not waiting for work
            # Stalls are the tracker's: the final checks below read the store on the loop.
            ticker.cancel()
            switcher.cancel()
            async with httpx.AsyncClient(base_url=base, timeout=10) as control:
                auth = {"Authorization": f"Bearer {TOKEN}"}
                await control.post("/_sim/faults", json=CALM, headers=auth)
                server = (await control.get("/_bench/stats")).json()
            lost = sum(1 for kickoff_id in ids if not is_kept(kickoff_id, store, tracker))
            states = Counter(str(k.state) for k in (store.get_kickoff(i) for i in ids) if k)
            began = time.monotonic()
            await tracker.stop()
            stop_seconds = time.monotonic() - began
            store.close()
            return Result(
                minutes=args.minutes,
                kickoffs=len(ids),
                refused=refused,
                server=server,
                poll_errors=watch.poll_errors,
                unreachable=watch.unreachable,
                lost=lost,
                states=dict(states),
                rss_start=rss_start,
                rss_end=rss_mib(),
                rss_peak=rss_mib(field_name="VmHWM"),
                stall=stall,
                stop_seconds=stop_seconds,
            )
    finally:
        child.terminate()
        child.wait(timeout=10)


def _logger() -> Callable[[str], None]:
    began = time.monotonic()

    def log(text: str) -> None:
        print(f"[{time.monotonic() - began:7.1f} s] {text}", file=sys.stderr, flush=True)

    return log


# -- reporting --------------------------------------------------------------------------------


def faults_injected(server: dict[str, int]) -> int:
    return sum(server.get(key, 0) for key in ("5xx", "429", "dropped"))


def table(result: Result) -> str:
    server = result.server
    served = ", ".join(f"{key} {server[key]}" for key in sorted(server) if key != "requests")
    rows = [
        ("duration", f"{result.minutes:g} min"),
        ("kickoffs started", f"{result.kickoffs} ({result.refused} refused at kickoff)"),
        ("requests made", f"{server.get('requests', 0)} ({served})"),
        ("faults injected", str(faults_injected(server))),
        ("poll errors survived", f"{result.poll_errors} (crew unreachable {result.unreachable}×)"),
        ("kickoffs lost", str(result.lost)),
        ("final states", ", ".join(f"{k} {v}" for k, v in sorted(result.states.items()))),
        ("RSS start → end (peak)", f"{result.rss_start:.0f} → {result.rss_end:.0f} MiB "
         f"({result.rss_peak:.0f})"),
        ("longest event-loop stall", describe_stall(result.stall)),
        ("tracker stop", f"{result.stop_seconds * 1000:.0f} ms"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def describe_stall(stall: StallMeter) -> str:
    interval = (stall.tick + stall.worst) * 1000
    return (
        f"{stall.worst * 1000:.0f} ms, {stall.worst_at:.0f} s in "
        f"(loop thread on CPU {stall.worst_cpu * 1000:.0f} ms of that {interval:.0f} ms)"
    )


def markdown_row(result: Result, speed: float) -> str:
    cells = [
        datetime.now(UTC).strftime("%Y-%m-%d"),
        machine(),
        f"{result.minutes:g} min, sim speed {speed:g}",
        str(result.kickoffs),
        str(result.server.get("requests", 0)),
        str(faults_injected(result.server)),
        str(result.poll_errors),
        f"**{result.lost}**",
        f"{result.rss_start:.0f} → {result.rss_end:.0f} MiB",
        f"{result.stall.worst * 1000:.0f} ms",
    ]
    return "| " + " | ".join(cells) + " |"


def record(row: str) -> None:
    """Add the row to the endurance table of BENCHMARKS.md, above the marker."""
    text = BENCHMARKS.read_text()
    if ROWS_MARKER not in text:
        raise SystemExit(f"{BENCHMARKS} has no endurance marker; add: {ROWS_MARKER}")
    BENCHMARKS.write_text(text.replace(ROWS_MARKER, f"{row}\n{ROWS_MARKER}", 1))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--kickoffs", type=int, default=500)
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulator speed (runs are stretched to fit)"
    )
    parser.add_argument("--phase-seconds", type=float, default=30.0, help="length of a phase")
    parser.add_argument("--record", action="store_true", help="add the result to BENCHMARKS.md")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    return parser


def main() -> int:
    args = _parser().parse_args()
    if args.serve:
        serve_simulator(CountingApp, args.speed)
        return 0
    result = asyncio.run(endurance(args))
    print(table(result))
    if args.record:
        record(markdown_row(result, args.speed))
    return 0 if result.lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
