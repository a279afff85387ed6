"""Freshness: how soon a change on the service is in crewtui's history, at a fixed budget.

The simulator runs in a child process that logs each status poll by kickoff id and, at the
end, says when each run changed (its timeline: a task began, the run ended, on the shared
monotonic clock). Runs vary like a real crew's: each has its own pace (``duration_scale``,
lognormal) and each task its own factor on top (``task_scales``), and every store starts
with a history of finished runs drawn the same way.

Without webhooks, two trackers in this process follow the same workload side by side, each
with its own store and the default budget (10 requests/s per crew): the default planner
(``predictive``) and even spreading (``round_robin``, the floor). Each keeps ``--kickoffs``
runs going over the four crews (a finished run is replaced) and the staleness of every
change (the service changed → the tracker's store has it) is measured over a window after a
warm-up. With webhooks, a third tracker (the real receiver, batched events) follows runs to
their end: staleness and requests per kickoff. Requests are compared with a naive poller
that asks about every run once a second; event-loop lateness is a 10 ms sleep's delay.

    python bench/bench_freshness.py           # 1,000 kickoffs, about 4 minutes
    python bench/bench_freshness.py --quick   # the same, 10x smaller and faster, under 35 s

``--quick`` is the full run on a clock ten times faster: a tenth of the runs, the
simulator at speed 10, and the poll intervals, ramp, warm-up and window a tenth as long,
so each run gets as many polls per change as in the full run, and the window holds the same
mix of changes (first tasks, later ones, ends), not only first tasks. Its 30 pushed runs
are started over 3 s and followed 4.5 s past that (not to their end, as the full run's).

Every process starts at once (the simulators, and the polling fleets, which read the
simulator's URL when it is up and say when their trackers are); the webhooks' fleet starts
during the polling fleets' ramp and waits, and the polled simulator is stopped before the
pushed runs begin, so they have the cores to themselves.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
from common import (
    ROOT,
    Row,
    emit,
    log,
    median,
    percentile,
    send_json,
    serve_simulator,
    start_simulator_child,
)
from common import SIM_TOKEN as TOKEN

from crewtui.api.errors import CrewtuiError
from crewtui.api.models import Kickoff, TaskResult
from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.api.states import RunState, TaskState
from crewtui.config import Config, resolve_paths
from crewtui.core.runtime import assemble
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker, utcnow
from crewtui.core.tracker_events import KickoffChanged, TrackerEvent
from crewtui.settings import PollSettings, WebhookSettings
from crewtui.sim.crews import CREWS

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

# How runs vary: a run's own pace, and each task's around it (spreads of the logs).
RUN_SPREAD = 0.25
TASK_SPREAD = 0.15
HISTORY_RUNS_PER_CREW = 30


@dataclass(frozen=True)
class Plan:
    """One size of the benchmark."""

    kickoffs: int
    scale: float  # the runs' median duration_scale: 2 makes tasks of 40-130 s
    ramp: float  # seconds over which the kickoffs are started
    warm: float  # then this long before the measured window
    measure: float
    grace: float  # how long a change late in the window has to be seen
    hooked_kickoffs: int
    hooked_speed: float
    hooked_scale: float
    hooked_wait: float  # the longest the pushed runs are waited for, after the ramp
    hooked_ramp: float
    # The polled simulator's speed: its runs, and the trackers' poll intervals, take
    # 1/speed of their time (a faster clock; the budget stays 10 requests/s per crew).
    speed: float = 1.0

    def poll_settings(self) -> PollSettings:
        """The default intervals on this plan's clock."""
        default = PollSettings()
        return PollSettings(
            min_interval=default.min_interval / self.speed,
            max_interval=default.max_interval / self.speed,
        )


FULL = Plan(1000, 2.0, 45.0, 45.0, 120.0, 20.0, 1000, 4.0, 2.0, 150.0, 45.0)
QUICK = Plan(100, 2.0, 4.5, 4.5, 12.0, 2.0, 30, 4.0, 0.5, 4.5, 3.0, speed=10.0)


# -- the child: the simulator, with a log of polls and each run's change times -------------


class Observed:
    """The simulator, counting status polls per kickoff and kickoffs; serves both, and when
    each run changed (``/_bench/changes``: kickoff id → monotonic times)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.polls: Counter[str] = Counter()
        self.kickoffs = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if path == "/_bench/stats":
            await send_json(send, {"polls": dict(self.polls), "kickoffs": self.kickoffs})
            return
        if path == "/_bench/changes":
            await send_json(send, self._changes())
            return
        if scope["type"] == "http" and "/status/" in path:
            self.polls[path.rsplit("/", 1)[-1]] += 1
        elif scope["type"] == "http" and path.endswith("/kickoff"):
            self.kickoffs += 1
        await self.app(scope, receive, send)

    def _changes(self) -> dict[str, list[float]]:
        from crewtui.sim.timeline import timeline

        changes = {}
        for (_, kickoff_id), run in self.app.sim.runs.items():
            moments = [
                run.mono_at(event.at)
                for event in timeline(run)
                if event.kind in ("task_started", "completed", "failed", "revoked")
            ]
            changes[kickoff_id] = moments
        return changes


async def simulator_log(base: str) -> tuple[dict[str, list[float]], dict[str, int]]:
    """What the simulator child saw: when each run changed, and each run's status polls."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        changes = (await http.get("/_bench/changes")).json()
        polls = (await http.get("/_bench/stats")).json()["polls"]
    return changes, polls


def stop_child(child: subprocess.Popen[str]) -> None:
    if child.poll() is None:
        child.terminate()
        child.wait(timeout=10)


# -- the workload ---------------------------------------------------------------------------


def draw_scales(rng: random.Random, crew: str, scale: float) -> tuple[float, list[float]]:
    """A run's pace and its tasks' own factors."""
    pace = scale * math.exp(rng.gauss(0.0, RUN_SPREAD))
    return pace, [math.exp(rng.gauss(0.0, TASK_SPREAD)) for _ in CREWS[crew].tasks]


def run_inputs(rng: random.Random, crew: str, scale: float) -> dict[str, str]:
    pace, factors = draw_scales(rng, crew, scale)
    return dict(CREWS[crew].sample_inputs) | {
        "duration_scale": f"{pace:.4f}",
        "task_scales": ",".join(f"{factor:.4f}" for factor in factors),
    }


def seed_history(path: Path, scale: float, speed: float) -> None:
    """Finished runs of every crew, drawn like the live ones, with their tasks' times."""
    rng = random.Random(7)
    store = Store.open(path)
    try:
        for crew, spec in CREWS.items():
            for number in range(HISTORY_RUNS_PER_CREW):
                pace, factors = draw_scales(rng, crew, scale)
                began = utcnow() - timedelta(hours=number + 1)
                tasks = [
                    TaskResult(
                        task_id=task.task_id,
                        state=TaskState.COMPLETED,
                        execution_time=task.duration * pace * factor / speed,
                    )
                    for task, factor in zip(spec.tasks, factors, strict=True)
                ]
                store.save_kickoff(
                    Kickoff(
                        kickoff_id=f"history-{crew}-{number}",
                        crew=crew,
                        state=RunState.COMPLETED,
                        created_at=began,
                        updated_at=began,
                        tasks=tasks,
                    )
                )
    finally:
        store.close()


def changes_seen(kickoff: Kickoff) -> int:
    """How many of the run's changes (each task's start, then its end) this record shows:
    by its progress (a poll's word) or by the tasks it knows began (a push's)."""
    if kickoff.state.is_terminal:
        return len(CREWS[kickoff.crew].tasks) + 1
    by_progress = 0
    if kickoff.current_task is not None:
        by_progress = (kickoff.progress.completed or 0) + 1 if kickoff.progress else 1
    begun = (TaskState.RUNNING, TaskState.COMPLETED)
    return max(by_progress, sum(1 for task in kickoff.tasks if task.state in begun))


@dataclass
class Fleet:
    """One tracker and the runs it keeps going; when it saw each change of each run."""

    name: str
    tracker: Tracker
    store: Store
    scale: float
    keep: int
    replace: bool = True
    rng: random.Random = field(default_factory=lambda: random.Random(11))
    started: dict[str, float] = field(default_factory=dict)
    ended: dict[str, float] = field(default_factory=dict)
    seen: dict[str, list[float]] = field(default_factory=dict)
    finished: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    launched: int = 0
    # Set once every run started has ended (after ``all_started``), for fleets that end.
    all_started: bool = False
    all_ended: asyncio.Event = field(default_factory=asyncio.Event)
    # Kickoffs sent at once, at most: a crew's client keeps a few connections.
    sending: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))

    def __call__(self, event: TrackerEvent) -> None:
        if not isinstance(event, KickoffChanged):
            return
        now = time.monotonic()
        kickoff = event.kickoff
        detected = self.seen.setdefault(kickoff.kickoff_id, [])
        while len(detected) < changes_seen(kickoff):
            detected.append(now)
        if kickoff.state.is_terminal and kickoff.kickoff_id not in self.ended:
            self.ended[kickoff.kickoff_id] = now
            if self.replace:
                self.finished.put_nowait(kickoff.crew)
            self.check_ended()

    def check_ended(self) -> None:
        if self.all_started and len(self.ended) >= len(self.started):
            self.all_ended.set()

    async def launch(self, crew: str) -> None:
        inputs = run_inputs(self.rng, crew, self.scale)
        self.launched += 1
        began = time.monotonic()
        try:
            async with self.sending:
                kickoff = await self.tracker.kickoff(crew, inputs)
        except CrewtuiError as error:
            log(f"{self.name}: a kickoff was refused: {error.message}")
            return
        self.started[kickoff.kickoff_id] = began

    async def keep_going(self) -> None:
        """Start a run of the same crew whenever one ends."""
        while True:
            crew = await self.finished.get()
            await self.launch(crew)


async def ramp_up(fleet: Fleet, seconds: float) -> None:
    """Start the fleet's runs over the four crews, spread evenly over ``seconds``."""
    crews = list(CREWS)
    began = time.monotonic()
    launches = []
    for index in range(fleet.keep):
        await asyncio.sleep(max(0.0, began + seconds * index / fleet.keep - time.monotonic()))
        launches.append(asyncio.create_task(fleet.launch(crews[index % len(crews)])))
    await asyncio.gather(*launches)


@dataclass
class LoopLateness:
    """How late a 10 ms sleep wakes up, each time: the event loop's responsiveness.

    ``on_cpu`` keeps the part of each delay the loop's thread spent running (our code
    holding the loop): on a machine shared with other busy processes, the rest is time
    spent waiting for a core, which no code of ours can shorten.
    """

    tick: float = 0.01
    samples: list[float] = field(default_factory=list)
    on_cpu: list[float] = field(default_factory=list)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self.tick
            cpu = time.thread_time()
            await asyncio.sleep(self.tick)
            late = max(loop.time() - expected, 0.0)
            self.samples.append(late)
            self.on_cpu.append(min(late, time.thread_time() - cpu))

    def clear(self) -> None:
        self.samples.clear()
        self.on_cpu.clear()


def profiles(base: str) -> list[CrewProfile]:
    return [CrewProfile(name=crew, url=f"{base}/{crew}", token=Secret(TOKEN)) for crew in CREWS]


# -- a fleet: one tracker in a process of its own, as crewtui runs ---------------------------

FleetKind = Literal["predictive", "round_robin", "webhooks"]


async def follow(kind: FleetKind, plan: Plan, home: Path) -> None:
    """Read the simulator's URL on stdin (the process starts while the simulator does),
    start the fleet's tracker, say ``ready``, run from the shared monotonic time the parent
    then sends, and print what it saw."""
    base = (await asyncio.to_thread(sys.stdin.readline)).strip()
    if not base:  # the parent gave up (a simulator did not start)
        return
    shutil.copy(home / "history.sqlite3", home / f"{kind}.sqlite3")
    store = Store.open(home / f"{kind}.sqlite3")
    crews = profiles(base)
    receiver = None
    if kind == "webhooks":
        settings = WebhookSettings(listen="127.0.0.1:0", form="events")
        config = Config(crews={crew.name: crew for crew in crews}, webhooks=settings)
        runtime = assemble(crews, config, resolve_paths(home / "crewtui"), store=store)
        tracker, receiver = runtime.tracker, runtime.receiver
        assert receiver is not None
        await receiver.start()
        tracker.webhook_urls = receiver.urls
        fleet = Fleet(kind, tracker, store, plan.hooked_scale, plan.hooked_kickoffs, False)
    else:
        tracker = Tracker(crews, store, plan.poll_settings(), strategy=kind)
        fleet = Fleet(kind, tracker, store, plan.scale, plan.kickoffs)
    tracker.listen(fleet)
    await tracker.start(resume=False)
    print("ready", flush=True)
    begin = float(await asyncio.to_thread(sys.stdin.readline))
    lateness = LoopLateness()
    meter = asyncio.create_task(lateness.run())
    await asyncio.sleep(max(0.0, begin - time.monotonic()))  # the common start
    keeper = asyncio.create_task(fleet.keep_going())
    await ramp_up(fleet, plan.hooked_ramp if receiver is not None else plan.ramp)
    if receiver is not None:
        fleet.all_started = True
        fleet.check_ended()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fleet.all_ended.wait(), timeout=plan.hooked_wait)
    else:
        await asyncio.sleep(max(0.0, begin + plan.ramp + plan.warm - time.monotonic()))
        lateness.clear()  # the measured window's lateness, ramp and warm-up left out
        await asyncio.sleep(plan.measure + plan.grace)  # the window's length, not a wait
    meter.cancel()
    keeper.cancel()
    await tracker.stop()
    pushes = ""
    if receiver is not None:
        await receiver.stop()
        pushes = f"pushes {receiver.received}, items ignored {receiver.ignored}"
    store.close()
    print(
        json.dumps(
            {
                "started": fleet.started,
                "ended": fleet.ended,
                "seen": fleet.seen,
                "lateness": lateness.samples,
                "on_cpu": lateness.on_cpu,
                "stop": time.monotonic(),
                "pushes": pushes,
            }
        )
    )


def start_fleet(kind: FleetKind, quick: bool, home: Path) -> subprocess.Popen[str]:
    """A fleet's process: ``tell`` it the simulator's URL, then ``fleet_ready`` waits for
    its tracker and ``tell`` sets it going."""
    command = [sys.executable, str(Path(__file__).resolve()), "--fleet", kind]
    command += ["--home", str(home)] + (["--quick"] if quick else [])
    return subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )


def fleet_ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise SystemExit(f"a fleet did not start (exit {process.wait()})")


def tell(processes: Iterable[subprocess.Popen[str]], line: str) -> None:
    """Send the fleets a line: the simulator's URL, then their common start."""
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(f"{line}\n")
        process.stdin.flush()


def fleet_output(process: subprocess.Popen[str]) -> dict[str, Any]:
    """What the fleet saw, read the moment it prints it (not once its process has exited)."""
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("{"):
            return dict(json.loads(line))
    raise SystemExit(f"a fleet failed (exit {process.wait()})")


# -- measuring --------------------------------------------------------------------------------


def staleness(
    seen: dict[str, list[float]],
    started: dict[str, float],
    changes: dict[str, list[float]],
    window: tuple[float, float],
    stop: float,
) -> list[float]:
    """Seconds from each change in the window to when the fleet's store had it; a change
    never seen counts as seen at ``stop`` (so at least that stale)."""
    lags = []
    for kickoff_id in started:
        detected = seen.get(kickoff_id, [])
        for index, moment in enumerate(changes.get(kickoff_id, [])):
            if window[0] <= moment <= window[1]:
                seen_at = detected[index] if index < len(detected) else stop
                lags.append(max(seen_at - moment, 0.0))
    return lags


def requests_made(
    fleet: dict[str, Any], polls: dict[str, int], speed: float = 1.0
) -> tuple[int, float]:
    """Requests the fleet made (polls and kickoffs) and what polling each of its runs
    once a second (on the plan's clock: ``speed`` times a second) while it was followed
    would have made."""
    started: dict[str, float] = fleet["started"]
    made = sum(polls.get(kickoff_id, 0) for kickoff_id in started) + len(started)
    naive = speed * sum(fleet["ended"].get(kickoff_id, fleet["stop"]) - began
                        for kickoff_id, began in started.items())  # fmt: skip
    return made, naive


async def measure(plan: Plan, quick: bool) -> list[Row]:
    with tempfile.TemporaryDirectory() as directory:
        home = Path(directory)
        # The simulators, the history and the polling fleets' processes start side by
        # side; the fleets copy the history once told the simulator's URL.
        polled = {kind: start_fleet(kind, quick, home) for kind in ("predictive", "round_robin")}
        children = list(polled.values())
        try:
            (polled_sim, polled_base), (hooked_sim, hooked_base), _ = await asyncio.gather(
                asyncio.to_thread(start_simulator_child, __file__, plan.speed),
                asyncio.to_thread(start_simulator_child, __file__, plan.hooked_speed),
                asyncio.to_thread(seed_history, home / "history.sqlite3", plan.scale, plan.speed),
            )
            children += [polled_sim, hooked_sim]
            tell(polled.values(), polled_base)
            for process in polled.values():
                await asyncio.to_thread(fleet_ready, process)
            # Side by side, from a common start: the two planners.
            log(f"{plan.kickoffs} kickoffs per polling tracker, side by side")
            start = time.monotonic() + 0.2
            tell(polled.values(), repr(start))
            # The webhooks' tracker starts during their ramp (not measured) and waits.
            hooked_process = start_fleet("webhooks", quick, home)
            children.append(hooked_process)
            tell([hooked_process], hooked_base)
            await asyncio.to_thread(fleet_ready, hooked_process)
            fleets = {
                kind: await asyncio.to_thread(fleet_output, process)
                for kind, process in polled.items()
            }
            polled_changes, polled_polls = await simulator_log(polled_base)
            # The pushed runs get the cores alone: the polled simulator's runs would go on.
            for child in [polled_sim, *polled.values()]:
                await asyncio.to_thread(stop_child, child)
            # Then the pushed runs, alone on the machine's cores.
            log(f"{plan.hooked_kickoffs} kickoffs with webhooks")
            tell([hooked_process], repr(time.monotonic() + 0.1))
            fleets["webhooks"] = await asyncio.to_thread(fleet_output, hooked_process)
            log("every fleet is done")
            hooked_changes, hooked_polls = await simulator_log(hooked_base)
        finally:
            for child in children:
                stop_child(child)  # a fleet that printed what it saw is exiting, or gone
    window = (start + plan.ramp + plan.warm, start + plan.ramp + plan.warm + plan.measure)
    lags = {
        kind: staleness(fleets[kind]["seen"], fleets[kind]["started"], polled_changes, window,
                        fleets[kind]["stop"])
        for kind in ("predictive", "round_robin")
    }  # fmt: skip
    hooked = fleets["webhooks"]
    # Every change the pushed runs went through while they were followed (a second's margin).
    hooked_lags = staleness(
        hooked["seen"], hooked["started"], hooked_changes, (0.0, hooked["stop"] - 1.0),
        hooked["stop"],
    )  # fmt: skip
    made, naive = requests_made(fleets["predictive"], polled_polls, plan.speed)
    # Requests per kickoff: over the runs followed to their end, else (--quick) all so far.
    ended = {kickoff_id: hooked["started"][kickoff_id] for kickoff_id in hooked["ended"]}
    hooked_made, _ = requests_made(hooked | {"started": ended or hooked["started"]}, hooked_polls)
    return rows(plan, lags, (made, naive), fleets["predictive"], hooked, hooked_lags, hooked_made)


# -- the table ----------------------------------------------------------------------------


def rows(
    plan: Plan,
    lags: dict[str, list[float]],
    requests: tuple[int, float],
    predictive: dict[str, Any],
    hooked: dict[str, Any],
    hooked_lags: list[float],
    hooked_made: int,
) -> list[Row]:
    mine, floor = lags["predictive"], lags["round_robin"]
    p95, floor_p95 = percentile(mine, 0.95), percentile(floor, 0.95)
    made, naive = requests
    lateness_p99 = percentile(predictive["on_cpu"], 0.99) * 1000
    waited_p99 = percentile(predictive["lateness"], 0.99) * 1000
    hooked_p95 = percentile(hooked_lags, 0.95) * 1000
    kickoffs = len(hooked["started"])
    per_kickoff = hooked_made / max(len(hooked["ended"]) or kickoffs, 1)
    unfinished = kickoffs - len(hooked["ended"])
    size = f"{plan.kickoffs} running kickoffs, 4 crews, 10 req/s each"
    size += f", clock {plan.speed:g}x" if plan.speed != 1 else ""
    return [
        Row("staleness p95, no webhooks", round(p95, 2), "s", "<= 0.5x round-robin",
            p95 <= 0.5 * floor_p95, floor=round(floor_p95, 2), ratio=round(p95 / floor_p95, 2),
            note=f"{size}; {len(mine)} changes"),
        Row("staleness median, no webhooks", round(median(mine), 2), "s", "informational", None,
            floor=round(median(floor), 2), ratio=round(median(mine) / median(floor), 2)),
        Row("requests vs naive 1 s poller", round(made / naive, 3), "x", "<= 0.3x",
            made / naive <= 0.3, note=f"{made} requests, naive {naive:.0f}"),
        Row("event-loop lateness p99 (on CPU)", round(lateness_p99, 1), "ms", "<= 10 ms",
            lateness_p99 <= 10.0,
            note=f"{plan.kickoffs} kickoffs; counting waits for a core: {waited_p99:.0f} ms"),
        Row("staleness p95, webhooks", round(hooked_p95, 1), "ms", "<= 100 ms",
            hooked_p95 <= 100.0,
            note=f"{kickoffs} kickoffs, {len(hooked_lags)} changes; {hooked['pushes']}"),
        Row("requests per kickoff, webhooks", round(per_kickoff, 2), "req", "<= 3",
            per_kickoff <= 3.0,
            note=f"kickoff + polls, runs that ended ({unfinished} still running)"),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 kickoffs on a clock 10x faster")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--speed", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--fleet", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.serve:
        serve_simulator(Observed, args.speed)
        return 0
    if args.fleet:
        asyncio.run(follow(args.fleet, plan, args.home))
        return 0
    if args.quick:
        log(f"quick: {plan.kickoffs} kickoffs per tracker (not 1,000), on a clock 10x faster")
    emit("freshness", asyncio.run(measure(plan, args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
