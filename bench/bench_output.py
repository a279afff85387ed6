"""Output benchmark: how soon a large output shows, and whether it ever stalls the app.

Three measures, each against a floor measured in the same run:

- **1 MB shown**: the app over a history with two completed runs of 1 MB output; with the
  Tasks tab in front and the run's detail loaded, ``2`` opens the Output tab; the time is
  until a frame written to the (discarding) terminal holds the output's first line. Floor:
  a bare Textual app updating a ``Static`` to a screenful of text, until that frame. The two
  are interleaved, a fresh app each time, the runs alternating (each open indexes anew).
- **20 MB never stalls**: a periodic 10 ms timer on the event loop measures its lateness
  while the app opens a 20 MB output, scrolls it (end, page up ×10, home, page down ×10),
  searches it (a word near its end, then a word on every line) and while the cursor moves
  onto its run with the Output tab in front. Floor: the same timer in a bare app beside a
  thread computing in Python (what any work in a thread costs the loop on this machine),
  and idle. Each row says how long the loop's thread ran during its worst tick.
- **200 MB in pieces**: in a child process, the app opens, scrolls and searches a 200 MB
  output; its peak RSS growth against the output's size (target: well under it, ≤ 0.25×).
  The floor is the RSS after the first frame.

``--quick`` (under 35 s) opens the 1 MB output 3 times, scrolls 3 pages, and uses 10 MB
for the stalls and for memory (the rows' names and notes say so).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from common import RenderingDriver, Row, emit, median, percentile, rendering_driver, rss_mib
from textual.app import App, ComposeResult
from textual.widgets import Static

from crewtui.api.models import Kickoff, TaskResult
from crewtui.api.states import RunState, TaskState
from crewtui.config import Config, resolve_paths
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.ui.app import CrewtuiApp
from crewtui.ui.screens.main import MainScreen
from crewtui.ui.widgets.output_view import OutputView

SIZE = (120, 40)
TICK = 0.010
WAIT = 60.0
LOREM = "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor"


STARTED = time.perf_counter()


def log(text: str) -> None:
    print(f"{time.perf_counter() - STARTED:5.1f} s  {text}", file=sys.stderr, flush=True)


# -- outputs and histories -----------------------------------------------------------------


def make_output(marker: str, size: int, needle: str = "") -> str:
    """About ``size`` bytes of LLM-like text: numbered Markdown-ish lines of varied length,
    one in 40 with non-ASCII text; ``marker`` on the first line, ``needle`` near the end."""
    lines = [f"{marker} begins"]
    total = len(lines[0])
    number = 0
    while total < size:
        number += 1
        if number % 40 == 0:
            line = f"## {number}. Résumé — 東京の技術 ✓ {LOREM[: number % 60]}"
        else:
            line = f"{number:07d} {LOREM[: 20 + number % 60]} {LOREM[: number % 17]}"
        lines.append(line)
        total += len(line) + 1
    if needle:
        lines.insert(len(lines) - 5, f"the {needle} is here")
    return "\n".join(lines)


def run_with(kickoff_id: str, output: str, created: datetime) -> Kickoff:
    """A completed run whose output (and raw payload, as the service sends it) is ``output``."""
    return Kickoff(
        kickoff_id=kickoff_id,
        crew="travel",
        state=RunState.COMPLETED,
        created_at=created,
        updated_at=created,
        finished_at=created + timedelta(seconds=30),
        output=output,
        raw={"state": "SUCCESS", "result": output},
        tasks=[TaskResult(task_id="write", output="done", state=TaskState.COMPLETED)],
    )


def make_store(path: Path, outputs: list[tuple[str, str]]) -> None:
    """A history of small runs, then the given runs, newest first in the list."""
    now = datetime.now(UTC)
    store = Store.open(path)
    try:
        store.save_kickoff(run_with("small-newest", "# A short answer\n\nDone.", now))
        for number, (kickoff_id, output) in enumerate(outputs, start=1):
            store.save_kickoff(run_with(kickoff_id, output, now - timedelta(minutes=number)))
    finally:
        store.close()


# -- frames and the loop -------------------------------------------------------------------


class FrameWatcher(RenderingDriver):
    """Renders every frame and notes when one holds the awaited text."""

    awaited: str | None = None
    seen_at: float | None = None

    def write(self, data: str) -> None:
        awaited = FrameWatcher.awaited
        if awaited is not None and FrameWatcher.seen_at is None and awaited in data:
            FrameWatcher.seen_at = time.perf_counter()


async def until(predicate: Callable[[], bool], what: str, within: float = WAIT) -> None:
    """Poll ``predicate`` every millisecond (the app runs meanwhile)."""
    deadline = time.perf_counter() + within
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"waited {within:.0f} s for {what}")
        await asyncio.sleep(0.001)


async def frame_with(text: str, action: Callable[[], Awaitable[None] | None]) -> float:
    """Seconds from ``action`` to the first frame that holds ``text``."""
    FrameWatcher.awaited, FrameWatcher.seen_at = text, None
    started = time.perf_counter()
    result = action()
    if result is not None:
        await result
    await until(lambda: FrameWatcher.seen_at is not None, f"a frame with {text!r}")
    assert FrameWatcher.seen_at is not None
    return FrameWatcher.seen_at - started


@dataclass
class Lateness:
    """A periodic timer on the event loop: how late each tick woke, per phase."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    # Per phase, the worst tick: how late, and how long the loop's thread ran on a CPU
    # meanwhile (little of it: the thread waited for a core or for the GIL).
    worst: dict[str, tuple[float, float]] = field(default_factory=dict)
    phase: str | None = None
    task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before, ran_before = time.perf_counter(), time.thread_time()
            await asyncio.sleep(TICK)
            late = time.perf_counter() - before - TICK
            ran = time.thread_time() - ran_before
            if self.phase is not None:
                self.samples.setdefault(self.phase, []).append(late)
                if late > self.worst.get(self.phase, (-1.0, 0.0))[0]:
                    self.worst[self.phase] = (late, ran)

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    @contextmanager
    def measuring(self, phase: str) -> Iterator[None]:
        self.phase = phase
        try:
            yield
        finally:
            self.phase = None


# -- the app -------------------------------------------------------------------------------


def new_app(store: Store, home: Path) -> CrewtuiApp:
    """The app over ``store`` with no crews (nothing polls) and nothing saved at home."""
    return CrewtuiApp(Tracker([], store), Config(), resolve_paths(home))


def main_screen(app: App[Any]) -> MainScreen:
    screen = app.screen
    assert isinstance(screen, MainScreen)
    return screen


def output_view(app: App[Any]) -> OutputView:
    return app.query_one(OutputView)


def output_complete(app: App[Any]) -> bool:
    """The Output tab's view has all of the output (indexed, or loaded by an older view)."""
    lines = app.query_one("#output-text")
    document = getattr(lines, "document", None)
    complete = getattr(document, "complete", None)
    if complete is not None:
        return bool(complete)
    return bool(getattr(lines, "text", ""))  # the TextArea of older versions


async def search(app: App[Any], query: str) -> None:
    view = output_view(app)
    view.search(query)
    await until(lambda: not getattr(view, "searching", False), f"searching {query!r}")


def _moved_from(screen: MainScreen, before: Kickoff | None) -> bool:
    shown = screen.selected
    return shown is not None and (before is None or shown.kickoff_id != before.kickoff_id)


async def select_row(app: App[Any], pilot: Any, kickoff_id: str, key: str) -> None:
    """Press ``key`` (up/down) until ``kickoff_id`` is the selected run with its detail in."""
    screen = main_screen(app)
    for _ in range(5):
        selected = screen.selected
        if selected is not None and selected.kickoff_id == kickoff_id:
            return
        await pilot.press(key)
        await until(partial(_moved_from, screen, selected), "the detail of the next row")
    raise RuntimeError(f"{kickoff_id} never came under the cursor")


# -- 1 MB shown ----------------------------------------------------------------------------


class ScreenfulApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Static(id="text")


async def floor_screenful(number: int) -> float:
    marker = f"SCREENFUL-{number}"
    text = "\n".join([f"{marker} begins", *(LOREM for _ in range(SIZE[1]))])
    app = ScreenfulApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        static = app.query_one("#text", Static)
        return await frame_with(marker, lambda: static.update(text))


async def open_1mb(store_path: Path, home: Path, kickoff_id: str) -> float:
    store = Store.open(store_path)
    try:
        app = new_app(store, home)
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: main_screen(app).selected is not None, "the first detail")
            await select_row(app, pilot, kickoff_id, "down")
            return await frame_with(f"{kickoff_id} begins", lambda: pilot.press("2"))
    finally:
        store.close()


async def shown_1mb(home: Path, repeats: int) -> list[Row]:
    store_path = home / "one-mb.db"
    runs = ["ONE-MB-A", "ONE-MB-B"]
    make_store(store_path, [(run, make_output(run, 1 << 20)) for run in runs])
    shown: list[float] = []
    floor: list[float] = []
    for number in range(repeats):
        floor.append(await floor_screenful(number))
        shown.append(await open_1mb(store_path, home, runs[number % 2]))
        log(f"  1 MB: shown {shown[-1] * 1000:.0f} ms, floor {floor[-1] * 1000:.0f} ms")
    value, base = median(shown) * 1000, median(floor) * 1000
    return [
        Row(
            "1 MB output shown after its tab opens (median)",
            round(value, 1),
            "ms",
            "≤ 150 ms",
            value <= 150,
            round(base, 1),
            round(value / base, 2),
            f"p95 {percentile(shown, 0.95) * 1000:.0f} ms over {repeats} opens; floor: a bare "
            "app showing a screenful in a Static",
        )
    ]


# -- 20 MB never stalls --------------------------------------------------------------------


async def floor_lateness(lateness: Lateness, seconds: float) -> None:
    """A bare app's loop, idle and then beside a thread that computes in Python: what any
    work in a thread costs the loop on this machine (the GIL's turns, the cores' load)."""
    app = ScreenfulApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        with lateness.measuring("floor, idle"):
            await asyncio.sleep(seconds)
        stop = threading.Event()

        def compute() -> None:
            while not stop.is_set():
                sum(range(10_000))

        worker = threading.Thread(target=compute)
        worker.start()
        try:
            with lateness.measuring("floor"):
                await asyncio.sleep(seconds)
        finally:
            stop.set()
            worker.join()


async def stalls_20mb(home: Path, size: int, *, quick: bool = False) -> list[Row]:
    store_path = home / "twenty-mb.db"
    run = "TWENTY-MB"
    make_store(store_path, [(run, make_output(run, size, needle="needle-near-the-end"))])
    lateness = Lateness()
    lateness.start()
    await floor_lateness(lateness, 1.0 if quick else 2.0)
    store = Store.open(store_path)
    try:
        app = new_app(store, home)
        async with app.run_test(size=SIZE) as pilot:
            screen = main_screen(app)
            await until(lambda: screen.selected is not None, "the first detail")
            await select_row(app, pilot, run, "down")
            with lateness.measuring("opening it"):
                await pilot.press("2")
                await until(lambda: output_complete(app), "the output indexed")
                await pilot.pause()
            log("  20 MB: opened")
            with lateness.measuring("scrolling it"):
                screen.detail.focus_tab("output")
                pages = 3 if quick else 10
                for key in ["end", *["pageup"] * pages, "home", *["pagedown"] * pages]:
                    await pilot.press(key)
                    await pilot.pause()
            log("  20 MB: scrolled")
            with lateness.measuring("searching it"):
                await search(app, "needle-near-the-end")
                await search(app, "lorem")
                await pilot.pause()
            log("  20 MB: searched")
            await search(app, "")
            screen.query_one("#kickoffs").focus()
            await select_row(app, pilot, "small-newest", "up")
            with lateness.measuring("moving onto its run"):
                await select_row(app, pilot, run, "down")
                await until(lambda: output_complete(app), "the output indexed")
                await pilot.pause()
            log("  20 MB: moved onto its run")
    finally:
        store.close()
        lateness.stop()
    floor = lateness.samples.get("floor", [0.0])
    base = max(floor) * 1000
    idle = max(lateness.samples.get("floor, idle", [0.0])) * 1000
    rows = []
    for phase in ("opening it", "scrolling it", "searching it", "moving onto its run"):
        samples = lateness.samples.get(phase, [0.0])
        worst = max(samples) * 1000
        ran = lateness.worst.get(phase, (0.0, 0.0))[1] * 1000
        rows.append(
            Row(
                f"{size >> 20} MB output: longest loop stall, {phase}",
                round(worst, 1),
                "ms",
                "≤ 100 ms",
                worst <= 100,
                round(base, 1),
                round(worst / base, 2) if base else None,
                f"p99 {percentile(samples, 0.99) * 1000:.0f} ms over {len(samples)} ticks; "
                f"the loop's thread ran {ran:.0f} ms of the worst; floor: a bare app beside "
                f"a thread computing in Python, longest lateness (idle: {idle:.0f} ms)",
            )
        )
    return rows


# -- 200 MB in pieces (child process) ------------------------------------------------------


async def child_rss(store_path: Path, home: Path, run: str) -> dict[str, float]:
    """In the child: open, scroll and search the big run; RSS at first frame and peak."""
    store = Store.open(store_path)
    try:
        app = new_app(store, home)
        async with app.run_test(size=SIZE) as pilot:
            screen = main_screen(app)
            await until(lambda: screen.selected is not None, "the first detail")
            start = rss_mib()
            started = time.perf_counter()
            await select_row(app, pilot, run, "down")
            await pilot.press("2")
            await until(lambda: output_complete(app), "the output indexed", within=600)
            opened = time.perf_counter() - started
            screen.detail.focus_tab("output")
            for key in ["end", "pageup", "pageup", "home", "pagedown"]:
                await pilot.press(key)
            started = time.perf_counter()
            await search(app, "needle-near-the-end")
            searched = time.perf_counter() - started
            found = output_view(app).match_count
            return {
                "start": start,
                "peak": rss_mib(field_name="VmHWM"),
                "opened": opened,
                "searched": searched,
                "found": found,
            }
    finally:
        store.close()


def in_pieces(home: Path, size: int) -> list[Row]:
    store_path = home / "big.db"
    run = "BIG-OUTPUT"
    log(f"  {size >> 20} MB: writing the history")
    make_store(store_path, [(run, make_output(run, size, needle="needle-near-the-end"))])
    log(f"  {size >> 20} MB: opening it in a child process")
    child = subprocess.run(
        [sys.executable, __file__, "--child-rss", str(store_path), run],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if child.returncode != 0:
        raise RuntimeError(f"the child failed: {child.stderr[-2000:]}")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    growth = result["peak"] - result["start"]
    mib = size / (1 << 20)
    return [
        Row(
            f"{mib:.0f} MB output opened, scrolled, searched: peak RSS growth",
            round(growth, 1),
            "MiB",
            "≤ 0.25× its size",
            growth <= 0.25 * mib and result["found"] == 1,
            round(result["start"], 1),
            round(growth / mib, 3),
            f"ratio is to the output's size; floor is RSS at first frame; opened (indexed) "
            f"in {result['opened']:.1f} s, searched in {result['searched']:.1f} s, "
            f"{result['found']} match",
        )
    ]


# -- main ----------------------------------------------------------------------------------


async def measure(home: Path, quick: bool) -> list[Row]:
    with rendering_driver(FrameWatcher):
        log("1 MB output shown:")
        rows = await shown_1mb(home, 3 if quick else 9)
        log("a large output, loop lateness:")
        rows += await stalls_20mb(home, (10 if quick else 20) << 20, quick=quick)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="smaller outputs and fewer runs (under 35 s)"
    )
    parser.add_argument("--child-rss", nargs=2, metavar=("STORE", "RUN"), help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-output-") as directory:
        home = Path(directory)
        if options.child_rss:
            store_path, run = options.child_rss
            with rendering_driver(FrameWatcher):
                print(json.dumps(asyncio.run(child_rss(Path(store_path), home, run))))
            return 0
        rows = asyncio.run(measure(home, options.quick))
        big = (10 if options.quick else 200) << 20
        log(f"{big >> 20} MB output, memory:")
        rows += in_pieces(home, big)
        if options.quick:
            # At 10 MB the process's fixed costs (read buffers, the spill's pages) weigh as
            # much as the index: the ratio says something only at the full run's 200 MB.
            rows[-1].passed = None
            for row in rows:
                row.note += "; --quick: 3 opens, 10 MB for 20 MB and 200 MB, 3 pages scrolled"
    emit("output", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
