"""History open: 10,000 kickoffs must open as fast as an empty history and scroll smoothly.

Builds three stores in a temporary directory: an empty one (the floor for opening), one of
a single page of kickoffs (``--page-kickoffs``, the floor for scrolling: the same rows and
details, no paging) and one of ``--kickoffs`` kickoffs. Kickoffs are spread over the
simulator's four crews, in realistic states, each with its tasks' outputs (the simulator's
texts, a few KB per kickoff), steps and a raw payload. For each store, the real app (no
crews configured, so nothing is polled) is started headless at ``--size`` on a driver that
renders every frame to terminal bytes like a real terminal and throws them away, and the
script measures:

- **first paint**: from starting the app to the first frame painted after the first page of
  the list is in the table (for the empty store: after the empty page is in), as wall time
  and as CPU time of the process (all threads: less sensitive to busy neighbours);
- **detail ready**: to the first frame after the selected kickoff's detail (read from the
  store, its output rendered) is shown; the empty store has no detail, so its first paint;
- **peak memory**: Python allocations (tracemalloc) from starting the app to detail ready,
  in separate runs so that tracing does not slow the timed ones;
- **scroll** (page and full stores): ``--steps`` presses of ``down`` (each moves the cursor
  one row and shows that kickoff's detail), a tenth as many of ``pagedown``, and ``--pages``
  presses of ``ctrl+end``, each of which jumps to the last loaded row and so pages the next
  rows in (waiting for them); per step, wall time (until the app is idle again: what a user
  waits, Pilot's idle detection included) and CPU time.

Each open measure is the median of ``--runs`` runs, each scroll measure the median of every
step of ``--runs`` // 2 runs; the stores are opened in turn so that a busy neighbour slows
them alike. Prints a Markdown table and the machine.

    .venv/bin/python bench/history_open.py                       # 10,000 kickoffs, 5 runs
    .venv/bin/python bench/history_open.py --kickoffs 2000 --runs 3 --steps 100
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common import machine, make_history, percentile, rendering_driver
from textual.message import Message
from textual.pilot import Pilot
from textual.worker import Worker, WorkerState

from crewtui.config import Config, resolve_paths
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.ui.app import CrewtuiApp
from crewtui.ui.pilot import workers_done

OPEN_TIMEOUT = 60.0


# -- the app, rendering to nowhere -----------------------------------------------------------


@dataclass
class Milestones:
    """When the first page and the first detail were in, and the frames after them."""

    started: float = field(default_factory=time.perf_counter)
    started_cpu: float = field(default_factory=time.process_time)
    first_paint_cpu: float | None = None
    page_in: float | None = None
    detail_in: float | None = None
    first_paint: float | None = None
    detail_paint: float | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    expect_detail: bool = True

    def hook(self, message: Message) -> None:
        """Sees every message: a page or detail worker that succeeded is a milestone."""
        if not isinstance(message, Worker.StateChanged) or message.state != WorkerState.SUCCESS:
            return
        group = message.worker.group
        if group == "page" and self.page_in is None:
            self.page_in = time.perf_counter()
        elif group == "detail" and self.detail_in is None:
            self.detail_in = time.perf_counter()

    def painted(self, panes_in: bool) -> None:
        """A frame was rendered: the first after each milestone is the one that shows it
        (the detail's, once its panes are in: they are composed after the list's frame)."""
        now = time.perf_counter()
        if self.page_in is not None and self.first_paint is None:
            self.first_paint = now
            self.first_paint_cpu = time.process_time()
        if self.detail_in is not None and self.detail_paint is None and panes_in:
            self.detail_paint = now
        if self.first_paint is not None and (self.detail_paint or not self.expect_detail):
            self.ready.set()


class BenchApp(CrewtuiApp):
    """The app, reporting each frame it rendered to the milestones."""

    milestones: Milestones | None = None

    def post_display_hook(self) -> None:
        super().post_display_hook()
        if self.milestones is not None:
            self.milestones.painted(self.main.detail.panes_composed)


def new_app(store: Store, home: Path) -> BenchApp:
    """The app over ``store`` with no crews (nothing polls) and nothing saved at home."""
    return BenchApp(Tracker([], store), Config(), resolve_paths(home))


@dataclass
class OpenTimes:
    first_paint: float
    first_paint_cpu: float
    detail_ready: float
    peak_bytes: int = 0


async def open_once(
    store_path: Path, home: Path, size: tuple[int, int], *, trace: bool
) -> OpenTimes:
    """Start the app on the store until its list and detail are painted; close it."""
    store = Store.open(store_path)
    try:
        has_rows = store.count_kickoffs(archived=None) > 0
        if trace:
            tracemalloc.start()
        milestones = Milestones(expect_detail=has_rows)
        app = new_app(store, home)
        app.milestones = milestones
        async with app.run_test(size=size, message_hook=milestones.hook):
            await asyncio.wait_for(milestones.ready.wait(), OPEN_TIMEOUT)
            peak = tracemalloc.get_traced_memory()[1] if trace else 0
        if trace:
            tracemalloc.stop()
    finally:
        store.close()
    assert milestones.first_paint is not None and milestones.first_paint_cpu is not None
    first = milestones.first_paint - milestones.started
    first_cpu = milestones.first_paint_cpu - milestones.started_cpu
    ready = (milestones.detail_paint or milestones.first_paint) - milestones.started
    return OpenTimes(first, first_cpu, ready, peak)


# -- scrolling -------------------------------------------------------------------------------


@dataclass
class StepTimes:
    """Per-step wall and CPU seconds of one kind of scroll."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, wall: float, cpu: float) -> None:
        self.wall.append(wall)
        self.cpu.append(cpu)


async def timed_presses(
    pilot: Pilot[int], key: str, count: int, times: StepTimes, *, settle: bool = False
) -> None:
    """Press ``key`` ``count`` times, timing each press (and, with ``settle``, its workers)."""
    app = pilot.app
    assert isinstance(app, CrewtuiApp)
    for _ in range(count):
        wall, cpu = time.perf_counter(), time.process_time()
        await pilot.press(key)
        if settle:
            await workers_done(app)
            await pilot.pause()
        times.add(time.perf_counter() - wall, time.process_time() - cpu)


@dataclass
class ScrollTimes:
    down: StepTimes = field(default_factory=StepTimes)
    pagedown: StepTimes = field(default_factory=StepTimes)
    paging: StepTimes = field(default_factory=StepTimes)
    rows_loaded: int = 0


async def scroll_once(
    store_path: Path, home: Path, size: tuple[int, int], steps: int, pages: int, into: ScrollTimes
) -> None:
    """Open the app, then scroll down row by row, page by page, and to the end page by page."""
    store = Store.open(store_path)
    try:
        has_rows = store.count_kickoffs(archived=None) > 0
        app = new_app(store, home)
        milestones = Milestones(expect_detail=has_rows)
        app.milestones = milestones
        async with app.run_test(size=size, message_hook=milestones.hook) as pilot:
            await asyncio.wait_for(milestones.ready.wait(), OPEN_TIMEOUT)
            await timed_presses(pilot, "down", steps, into.down)
            await timed_presses(pilot, "pagedown", max(steps // 10, 1), into.pagedown)
            await timed_presses(pilot, "ctrl+end", pages, into.paging, settle=True)
            into.rows_loaded = app.main.kickoffs.row_count
    finally:
        store.close()


# -- report ----------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def ratio(value: float, floor: float) -> str:
    return f"{value / floor:.2f}×" if floor > 0 else "—"


def row(measure: str, cells: Sequence[str], ratios: Sequence[str]) -> str:
    return "| " + " | ".join([measure, *cells, *ratios]) + " |"


def open_rows(opens: dict[str, list[OpenTimes]], memory: dict[str, OpenTimes]) -> list[str]:
    """Open measures of the three stores, and full/empty, full/page ratios."""
    rows = []
    picks: list[tuple[str, Callable[[OpenTimes], float], Callable[[float], str]]] = [
        ("open: first paint, list in (wall)", lambda r: r.first_paint, ms),
        ("open: first paint, list in (CPU)", lambda r: r.first_paint_cpu, ms),
        ("open: detail of the first kickoff painted (wall)", lambda r: r.detail_ready, ms),
    ]
    for measure, pick, show in picks:
        medians = {
            name: statistics.median(pick(run) for run in runs) for name, runs in opens.items()
        }
        rows.append(row(measure, [show(v) for v in medians.values()], ratios(medians)))
    peaks = {name: float(run.peak_bytes) for name, run in memory.items()}
    rows.append(row("open: peak Python memory", [mib(v) for v in peaks.values()], ratios(peaks)))
    return rows


def mib(value: float) -> str:
    return f"{value / 2**20:.1f} MiB"


def ratios(values: dict[str, float]) -> list[str]:
    """full / empty and full / page (``—`` where there is no floor)."""
    full = values["full"]
    return [ratio(full, values[floor]) if floor in values else "—" for floor in ("empty", "page")]


def step_rows(
    name: str, scrolls: dict[str, ScrollTimes], pick: Callable[[ScrollTimes], StepTimes]
) -> list[str]:
    """Scroll measures of the page and full stores (the empty store cannot scroll)."""
    page, full = pick(scrolls["page"]), pick(scrolls["full"])
    wall = {"page": statistics.median(page.wall), "full": statistics.median(full.wall)}
    cpu = {"page": statistics.median(page.cpu), "full": statistics.median(full.cpu)}
    tail = f"{ms(percentile(full.wall, 0.95))} / {ms(max(full.wall))}"
    return [
        row(
            f"{name}: wall per step (full: p95 / max {tail})",
            ["", ms(wall["page"]), ms(wall["full"])],
            ratios(wall),
        ),
        row(f"{name}: CPU per step", ["", ms(cpu["page"]), ms(cpu["full"])], ratios(cpu)),
    ]


def report(
    options: argparse.Namespace,
    opens: dict[str, list[OpenTimes]],
    memory: dict[str, OpenTimes],
    scrolls: dict[str, ScrollTimes],
) -> str:
    full = f"{options.kickoffs:,} kickoffs"
    loaded = [f"{scrolls[name].rows_loaded:,}" for name in ("page", "full")]
    lines = [
        f"History open and scroll ({options.size[0]}x{options.size[1]}; open: median of "
        f"{options.runs} runs; scroll: median of every step)",
        "",
        f"| measure | empty | {options.page_kickoffs} kickoffs | {full} "
        "| full / empty | full / page |",
        "| --- | --- | --- | --- | --- | --- |",
        *open_rows(opens, memory),
        *step_rows(f"scroll `down` ×{options.steps}", scrolls, lambda s: s.down),
        *step_rows("scroll `pagedown`", scrolls, lambda s: s.pagedown),
        *step_rows("scroll `ctrl+end`, next page in", scrolls, lambda s: s.paging),
        row("rows in the list after scrolling", ["", *loaded], ["", ""]),
        "",
        f"Machine: {machine()}",
    ]
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kickoffs", type=int, default=10_000, help="kickoffs in the full store")
    parser.add_argument(
        "--page-kickoffs", type=int, default=200, help="kickoffs in the one-page store"
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per open measure (median)")
    parser.add_argument("--steps", type=int, default=300, help="presses of down per scroll run")
    parser.add_argument("--pages", type=int, default=10, help="presses of ctrl+end per scroll run")
    parser.add_argument("--size", type=size_arg, default=(120, 40), help="WIDTHxHEIGHT")
    return parser.parse_args(argv)


def size_arg(value: str) -> tuple[int, int]:
    width, _, height = value.partition("x")
    return int(width), int(height)


async def measure(options: argparse.Namespace, stores: dict[str, Path], home: Path) -> str:
    opens: dict[str, list[OpenTimes]] = {name: [] for name in stores}
    for _ in range(options.runs):
        for name, path in stores.items():
            opens[name].append(await open_once(path, home, options.size, trace=False))
    memory = {
        name: await open_once(path, home, options.size, trace=True) for name, path in stores.items()
    }
    scrolls = {name: ScrollTimes() for name in ("page", "full")}
    for _ in range(max(options.runs // 2, 1)):
        for name, times in scrolls.items():
            await scroll_once(stores[name], home, options.size, options.steps, options.pages, times)
    return report(options, opens, memory, scrolls)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(sys.argv[1:] if argv is None else argv)
    counts = {"empty": 0, "page": options.page_kickoffs, "full": options.kickoffs}
    with tempfile.TemporaryDirectory(prefix="crewtui-bench-") as tmp:
        root = Path(tmp)
        stores = {name: root / f"{name}.sqlite3" for name in counts}
        started = time.perf_counter()
        for name, count in counts.items():
            make_history(stores[name], count)
        print(
            f"built the stores ({stores['full'].stat().st_size / 2**20:.0f} MiB for "
            f"{options.kickoffs:,} kickoffs) in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
        home = root / "home"
        home.mkdir()
        with rendering_driver():
            table = asyncio.run(measure(options, stores, home))
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
