"""What every benchmark shares: the result rows `run.py` collects, statistics, the machine,
memory, a realistic history, and a headless driver that renders every frame.

A benchmark family is a script ``bench/bench_<family>.py`` that runs with ``[--quick]`` and
prints, as the last line of its standard output, one JSON object made by :func:`emit`:
``{"family": ..., "rows": [Row, ...]}``. Each figure is compared with a floor measured in the
same run (interleaved and repeated), so the ratio holds on a busy machine; ``run.py`` runs
every family in its own process and prints one table.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import textual
from textual.drivers import headless_driver
from textual.drivers.headless_driver import HeadlessDriver

from crewtui.api.models import Kickoff, Progress, RunState, Step, TaskResult, TaskState
from crewtui.core.store import Store
from crewtui.sim.crews import CREWS


@dataclass
class Row:
    """One line of the table: a measure, its floor and the target it is held to.

    ``ratio`` is ``value / floor`` when there is a floor; ``passed`` is None when the
    target is informational (nothing to pass)."""

    measure: str
    value: float
    unit: str
    target: str
    passed: bool | None
    floor: float | None = None
    ratio: float | None = None
    note: str = ""


def emit(family: str, rows: Sequence[Row]) -> None:
    """Print the family's rows as the last line of standard output, for ``run.py``."""
    print(json.dumps({"family": family, "machine": machine(), "rows": [asdict(r) for r in rows]}))


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


def rss_mib(pid: int | str = "self", field_name: str = "VmRSS") -> float:
    """A process's resident memory from /proc (Linux), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def machine() -> str:
    """CPU model, cores, Python and Textual versions, date."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"Textual {textual.__version__}, {datetime.now(UTC).date().isoformat()}"
    )


# -- a history that has been used for a while -----------------------------------------------

# States of a history that has been used for a while: mostly finished runs.
STATE_WEIGHTS: dict[RunState, int] = {
    RunState.COMPLETED: 80,
    RunState.FAILED: 10,
    RunState.CANCELLED: 3,
    RunState.LOST: 2,
    RunState.RUNNING: 3,
    RunState.PENDING: 2,
}


def make_kickoff(rng: random.Random, number: int, now: datetime) -> tuple[Kickoff, list[Step]]:
    """One realistic kickoff of one of the simulator's crews, and a few agent steps."""
    crew = rng.choice(sorted(CREWS))
    spec = CREWS[crew]
    state = rng.choices(list(STATE_WEIGHTS), weights=list(STATE_WEIGHTS.values()))[0]
    created = now - timedelta(minutes=number * 7 + rng.randint(0, 5))
    done = len(spec.tasks) if state is RunState.COMPLETED else rng.randint(0, len(spec.tasks) - 1)
    tasks: list[TaskResult] = []
    moment = created + timedelta(seconds=2)
    for task in spec.tasks[:done]:
        took = task.duration * rng.uniform(0.7, 1.3)
        tasks.append(
            TaskResult(
                task_id=task.task_id,
                agent=task.agent,
                output=task.render(spec.sample_inputs),
                execution_time=took,
                state=TaskState.COMPLETED,
                started_at=moment,
                finished_at=moment + timedelta(seconds=took),
            )
        )
        moment += timedelta(seconds=took)
    finished = state.is_terminal
    output = (
        "\n\n".join(task.output or "" for task in tasks) if state is RunState.COMPLETED else None
    )
    kickoff = Kickoff(
        kickoff_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        crew=crew,
        state=state,
        created_at=created,
        updated_at=moment,
        started_at=created + timedelta(seconds=1),
        finished_at=moment if finished else None,
        progress=Progress(completed=done, total=len(spec.tasks)),
        current_task=None if finished else spec.tasks[done].task_id,
        current_agent=None if finished else spec.tasks[done].agent,
        output=output,
        tasks=tasks,
        error=spec.error if state is RunState.FAILED else None,
        execution_time=(moment - created).total_seconds() if finished else None,
        inputs=dict(spec.sample_inputs),
        meta={"requestId": f"bench-{number}"},
        raw={"state": state.value.upper(), "result": output, "events_count": len(tasks) * 4},
    )
    steps = [
        Step(
            kickoff_id=kickoff.kickoff_id,
            received_at=created + timedelta(seconds=index + 1),
            thought=f"Working on {spec.tasks[min(index, len(spec.tasks) - 1)].task_id}",
            tool="search",
            tool_input=spec.sample_inputs[spec.inputs[0]],
            result="found 12 results",
            sequence=index,
            raw={"index": index},
        )
        for index in range(rng.randint(0, 4))
    ]
    return kickoff, steps


def make_history(path: Path, count: int, seed: int = 20261123) -> None:
    """A store of ``count`` kickoffs (an empty store for 0)."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    store = Store.open(path)
    try:
        for number in range(count):
            kickoff, steps = make_kickoff(rng, number, now)
            store.save_kickoff(kickoff)
            if steps:
                store.add_steps(steps)
    finally:
        store.close()


# -- the app, rendering to nowhere ---------------------------------------------------------


# Called with each piece of terminal output the rendering driver produces.
frame_listeners: list[Callable[[str], None]] = []


class RenderingDriver(HeadlessDriver):
    """Headless input and size, but every frame is rendered to terminal bytes (discarded):
    Textual skips that work for a driver that says it is headless."""

    @property
    def is_headless(self) -> bool:
        return False

    def write(self, data: str) -> None:
        """A real terminal would get ``data``; the benchmark only needs it produced (and
        a benchmark that looks for what a frame shows reads it: ``frame_listeners``)."""
        for listener in frame_listeners:
            listener(data)


@contextmanager
def rendering_driver(driver: type[RenderingDriver] = RenderingDriver) -> Iterator[None]:
    """Make ``App.run_test`` use ``driver`` (a ``RenderingDriver``, or one that also looks
    at what it writes) instead of the do-nothing one."""
    original = headless_driver.HeadlessDriver
    headless_driver.HeadlessDriver = driver  # type: ignore[misc]
    try:
        yield
    finally:
        headless_driver.HeadlessDriver = original  # type: ignore[misc]
