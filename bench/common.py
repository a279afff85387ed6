"""What every benchmark shares: the result rows `run.py` collects, statistics, the machine,
memory, a realistic history, and a headless driver that renders every frame.

A benchmark family is a script ``bench/bench_<family>.py`` that runs with ``[--quick]`` and
prints, as the last line of its standard output, one JSON object made by :func:`emit`:
``{"family": ..., "rows": [Row, ...]}``. Each figure is compared with a floor measured in the
same run (interleaved and repeated), so the ratio holds on a busy machine; ``run.py`` runs
every family in its own process and prints one table.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import textual
from textual.drivers import headless_driver
from textual.drivers.headless_driver import HeadlessDriver

from crewtui.api.models import Kickoff, Step, TaskResult
from crewtui.api.rows import Progress
from crewtui.api.states import RunState, TaskState
from crewtui.core.store import Store
from crewtui.core.store_schema import SCHEMA_VERSION
from crewtui.sim.crews import CREWS

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Send


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


def make_kickoff(
    rng: random.Random, number: int, now: datetime, state: RunState | None = None
) -> tuple[Kickoff, list[Step]]:
    """One realistic kickoff of one of the simulator's crews (in ``state``, else a state
    drawn by ``STATE_WEIGHTS``), and a few agent steps."""
    crew = rng.choice(sorted(CREWS))
    spec = CREWS[crew]
    if state is None:
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


# The states of a history whose running kickoffs are counted: the others have ended.
ENDED_WEIGHTS = {state: weight for state, weight in STATE_WEIGHTS.items() if state.is_terminal}


def make_history(
    path: Path,
    count: int,
    seed: int = 20261123,
    *,
    running: int | None = None,
    output_bytes: int | None = None,
) -> None:
    """A store of ``count`` kickoffs (an empty store for 0).

    With ``running``, exactly that many of them, spread at random over the history, are
    running and every other one has ended; without it, states are drawn by
    ``STATE_WEIGHTS``. With ``output_bytes``, every kickoff's output is that long (its
    tasks' texts repeated)."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    live = set(rng.sample(range(count), min(running, count))) if running is not None else None
    store = Store.open(path)
    try:
        for number in range(count):
            state = None
            if live is not None:
                state = RunState.RUNNING if number in live else ended_state(rng)
            kickoff, steps = make_kickoff(rng, number, now, state)
            if output_bytes is not None:
                kickoff = kickoff.model_copy(update={"output": filler(kickoff, output_bytes)})
            store.save_kickoff(kickoff)
            if steps:
                store.add_steps(steps)
    finally:
        store.close()


def ended_state(rng: random.Random) -> RunState:
    return rng.choices(list(ENDED_WEIGHTS), weights=list(ENDED_WEIGHTS.values()))[0]


def filler(kickoff: Kickoff, size: int) -> str:
    """An output of ``size`` characters made of the kickoff's task outputs, repeated."""
    text = "\n\n".join(task.output or "" for task in kickoff.tasks) or CREWS[kickoff.crew].name
    return (text * (size // len(text) + 1))[:size]


def cached_history(
    count: int, *, running: int | None = None, output_bytes: int | None = None
) -> Path:
    """A store made by ``make_history``, built once and kept in the temporary directory.

    A 10,000-kickoff history takes about 20 s to build: longer than a quick run may take.
    The name holds every argument, the store's schema version and a digest of this file,
    so a changed generator or schema builds a new one. Copy it before opening it (the app
    writes to its history)."""
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    name = f"history-{count}-{running}-{output_bytes}-v{SCHEMA_VERSION}-{digest}.sqlite3"
    cache = Path(tempfile.gettempdir()) / "crewtui-bench-cache"
    path = cache / name
    if not path.exists():
        cache.mkdir(exist_ok=True)
        building = cache / f"{name}.{os.getpid()}.part"
        make_history(building, count, running=running, output_bytes=output_bytes)
        for suffix in ("-wal", "-shm"):  # closed: its journal is already in the file
            Path(f"{building}{suffix}").unlink(missing_ok=True)
        building.replace(path)
    return path


def history_copy(directory: Path, count: int, **options: int | None) -> Path:
    """A private copy of ``cached_history(count, **options)`` in ``directory``."""
    path = directory / f"history-{count}.sqlite3"
    shutil.copyfile(cached_history(count, **options), path)
    return path


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


# -- the simulator in a child process ---------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
# A family may reuse the test suite's helpers (``tests.postgres`` starts a real PostgreSQL
# server): the repository's root is importable whether or not crewtui is installed from it.
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))
SIM_TOKEN = "sim-bearer-token"  # the simulator's default Bearer Token


async def send_json(send: Send, payload: object) -> None:
    """Answer an ASGI request with ``payload`` as JSON (a benchmark's own control route)."""
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve_simulator(wrap: Callable[[ASGIApp], ASGIApp], speed: float) -> None:
    """The child process: serve the simulator inside ``wrap`` (which counts or observes its
    requests), print the port, run until killed."""
    from crewtui.sim import SimOptions, ThreadedServer, create_app

    options = SimOptions(dialect="live", speed=speed, token=SIM_TOKEN, seed=1)
    server = ThreadedServer(wrap(create_app(options)))
    server.start()
    print(server.port, flush=True)
    server.wait()


def start_simulator_child(script: str, speed: float) -> tuple[subprocess.Popen[str], str]:
    """Run ``script --serve --speed SPEED`` (its ``serve_simulator``); its base URL."""
    command = [sys.executable, str(Path(script).resolve()), "--serve", "--speed", str(speed)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert child.stdout is not None
    port = child.stdout.readline().strip()
    if not port.isdigit():
        child.kill()
        raise SystemExit("the simulator did not start")
    return child, f"http://127.0.0.1:{port}"


_began = time.monotonic()


def log(text: str) -> None:
    """A progress line on stderr, stamped with the seconds since the family started."""
    print(f"[{time.monotonic() - _began:6.1f} s] {text}", file=sys.stderr, flush=True)
