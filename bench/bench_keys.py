"""Keys: a key press → the frame that shows its effect, with 10,000 kickoffs in the history
and the newest 200 of them changing all the time.

The app runs headless on a driver that renders every frame to terminal bytes (thrown away),
at 120x40, over a history of ``--kickoffs`` realistic kickoffs (bench/common.py) whose newest
200 are running. Changes reach it as they do from webhooks: observations handed to the real
tracker (``Tracker.ingest``), which merges, stores and announces them, at ``--rate`` changes a
second spread over the 200 (their crews are configured; polling is slowed to never, so
nothing leaves the machine). For each key the time runs from posting the key to the first
frame painted once its effect holds:

- **cursor move**: ``down``/``up``: the frame with the cursor on the next row;
- **detail tab switch**: ``2``/``1``: the frame with the other tab shown;
- **detail of a newly rested row**: ``down`` then nothing: the frame with that row's detail,
  the settle delay (the cursor must rest before a detail is read) included;
- **paging into rows never read**: ``pagedown`` from the top of a freshly opened list, through
  rows no page has read yet: the frame with every row on screen filled.

The floor is a bare Textual app in the same process and run, on the same driver and size:
Header, a DataTable of one page (200 rows) of the same kickoffs, a TabbedContent of two
Statics and Footer, answering the same keys the way Textual answers them (its cursor, its
tabs, a Static updated after the same settle delay for the rested row, its own pagedown over
rows already in memory). Rounds alternate the floor and the app; each figure is the p99 of
every sample, with the median in the note.

    python bench/bench_keys.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import Row, emit, make_history, median, percentile, rendering_driver
from textual import events
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import DataTable, Footer, Header, Static, TabbedContent, TabPane

from crewtui.api.models import Kickoff, Observation
from crewtui.api.profile import CrewProfile
from crewtui.api.rows import Progress
from crewtui.api.secret import Secret
from crewtui.api.states import RunState
from crewtui.config import Config, resolve_paths
from crewtui.core.store import Store
from crewtui.core.store_schema import SCHEMA_VERSION
from crewtui.core.tracker import Tracker
from crewtui.settings import PollSettings
from crewtui.sim.crews import CREWS
from crewtui.ui.app import CrewtuiApp
from crewtui.ui.pilot import workers_done
from crewtui.ui.screens.main import DETAIL_SETTLE, MainScreen

SIZE = (120, 40)
UPDATING = 200
# The floor's table holds one page of the list, as the store pages it.
FLOOR_ROWS = 200
FRAME_TIMEOUT = 30.0
# Polling slowed to never: the changes come by ingest, as webhooks bring them.
NO_POLLING = PollSettings(min_interval=86_400, max_interval=86_400)


_STARTED = time.perf_counter()


def log(text: str) -> None:
    print(f"[{time.perf_counter() - _STARTED:5.1f} s] {text}", file=sys.stderr, flush=True)


# -- frames ---------------------------------------------------------------------------------


@dataclass
class Frames:
    """Resolves a wait at the first frame painted once its condition holds."""

    waits: list[tuple[Callable[[], bool], asyncio.Future[float]]] = field(default_factory=list)

    def painted(self) -> None:
        now = time.perf_counter()
        for wait in list(self.waits):
            condition, future = wait
            if not future.done() and condition():
                future.set_result(now)
                self.waits.remove(wait)

    async def key(self, pilot: Pilot[Any], key: str, effect: Callable[[], bool]) -> float:
        """Seconds from ``key`` arriving as a terminal sends it to the first frame showing
        ``effect`` (not Pilot's press, which also waits for the app to go idle)."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waits.append((effect, future))
        started = time.perf_counter()
        send_key(pilot.app, key)
        return await asyncio.wait_for(future, FRAME_TIMEOUT) - started


def send_key(app: App[Any], key: str) -> None:
    """The key event a terminal's input would bring, through the driver."""
    driver = app._driver
    assert driver is not None
    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(app)
    driver.send_message(event)


class MeasuredApp(CrewtuiApp):
    frames = Frames()

    def post_display_hook(self) -> None:
        super().post_display_hook()
        self.frames.painted()


class FloorApp(App[None]):
    """The bare Textual app the same keys are measured on."""

    frames = Frames()

    def __init__(self, rows: Sequence[Sequence[str]]) -> None:
        super().__init__()
        self.rows = rows
        self.shown: int | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(cursor_type="row", id="table")
        with TabbedContent(id="tabs"):
            with TabPane("Tasks", id="tasks"):
                yield Static("tasks")
            with TabPane("Output", id="output"):
                yield Static("output")
        yield Static(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("State", "Crew", "ID", "Started", "Elapsed", "Progress", "Task")
        table.add_rows(self.rows)
        table.focus()

    def key_1(self) -> None:
        self.query_one(TabbedContent).active = "tasks"

    def key_2(self) -> None:
        self.query_one(TabbedContent).active = "output"

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        row = event.cursor_row
        self.set_timer(DETAIL_SETTLE, lambda: self._show(row))

    def _show(self, row: int) -> None:
        """The detail of the row the cursor rested on (not of one it passed)."""
        if self.query_one(DataTable).cursor_row == row:
            self.query_one("#detail", Static).update(f"detail of row {row}")
            self.shown = row

    def post_display_hook(self) -> None:
        self.frames.painted()


# -- the history ----------------------------------------------------------------------------


def history(count: int) -> Path:
    """A store of ``count`` kickoffs whose newest ``UPDATING`` are running, built once per
    machine (building takes about a minute) and copied for each run."""
    cache = Path(tempfile.gettempdir()) / "crewtui-bench"
    cache.mkdir(exist_ok=True)
    built = cache / f"keys-{count}-v{SCHEMA_VERSION}.sqlite3"
    if not built.exists():
        log(f"building a history of {count:,} kickoffs (once) in {built}")
        partial = built.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        make_history(partial, count)
        store = Store.open(partial)
        try:
            for summary in store.list_kickoffs(limit=UPDATING):
                kickoff = store.get_kickoff(summary.kickoff_id)
                assert kickoff is not None
                store.save_kickoff(running(kickoff))
        finally:
            store.close()
        partial.rename(built)
    return built


def running(kickoff: Kickoff) -> Kickoff:
    spec = CREWS[kickoff.crew]
    return kickoff.model_copy(
        update={
            "state": RunState.RUNNING,
            "finished_at": None,
            "execution_time": None,
            "error": None,
            "current_task": spec.tasks[0].task_id,
            "progress": Progress(completed=0, total=len(spec.tasks)),
        }
    )


def floor_rows(store: Store) -> list[list[str]]:
    """One page of the same kickoffs, as plain cells."""
    rows = store.list_kickoffs(limit=FLOOR_ROWS)
    return [
        [
            row.state.value,
            row.crew,
            row.kickoff_id[:8],
            row.created_at.strftime("%H:%M:%S"),
            f"{row.execution_time or 0:.0f}s",
            str(row.progress.completed if row.progress else ""),
            row.current_task or "",
        ]
        for row in rows
    ]


async def keep_changing(tracker: Tracker, ids: Sequence[str], rate: float) -> None:
    """Observations for the updating kickoffs, round-robin, ``rate`` a second."""
    rng = random.Random(7)
    step = 0
    loop = asyncio.get_running_loop()
    due = loop.time()
    while True:
        kickoff_id = ids[step % len(ids)]
        kickoff = tracker.get(kickoff_id)
        if kickoff is not None:
            tasks = CREWS[kickoff.crew].tasks
            done = (step // len(ids)) % len(tasks)
            await tracker.ingest(
                [
                    Observation(
                        kickoff_id=kickoff_id,
                        observed_at=datetime.now(UTC),
                        source="webhook",
                        state=RunState.RUNNING,
                        current_task=tasks[done].task_id,
                        progress=Progress(completed=done, total=len(tasks)),
                        message=f"step {step} {rng.random():.3f}",
                    )
                ]
            )
        step += 1
        due += 1 / rate
        await asyncio.sleep(max(due - loop.time(), 0))


# -- one round ------------------------------------------------------------------------------


@dataclass
class Samples:
    cursor: list[float] = field(default_factory=list)
    tab: list[float] = field(default_factory=list)
    rested: list[float] = field(default_factory=list)
    paging: list[float] = field(default_factory=list)


@dataclass
class Plan:
    moves: int
    tabs: int
    rests: int
    pages: int
    rate: float


async def pause_like_a_person(rng: random.Random) -> None:
    """Between keys: a person's rhythm (sometimes quick, sometimes long enough to settle)."""
    await asyncio.sleep(rng.uniform(0.02, 0.15))


async def measure_app(source: Path, work: Path, plan: Plan, into: Samples) -> None:
    """The real app on a copy of the history, keys measured while the 200 keep changing."""
    path = work / "history.sqlite3"
    shutil.copyfile(source, path)
    store = Store.open(path)
    crews = [
        CrewProfile(name=name, url=f"http://127.0.0.1:9/{name}", token=Secret("t"))
        for name in CREWS
    ]
    tracker = Tracker(crews, store, NO_POLLING)
    home = work / "home"
    home.mkdir(exist_ok=True)
    app = MeasuredApp(tracker, Config(), resolve_paths(home))
    rng = random.Random(3)
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen = app.main
            listing = screen.kickoffs
            await until(pilot, lambda: screen.selected is not None)
            # What the app does once after its first frame (the Output tab's view mounted,
            # its Markdown styles parsed) is start-up, measured by bench_start, not a key.
            await workers_done(app)
            await pilot.pause()
            # The newest runs, the ones made running when the history was built.
            ids = [row.kickoff_id for row in store.list_kickoffs(limit=UPDATING)]
            changes = asyncio.create_task(keep_changing(tracker, ids, plan.rate))
            try:
                await measure_paging(pilot, listing, plan.pages, into.paging)
                send_key(app, "g")
                await pilot.pause()
                await measure_cursor(pilot, listing, plan.moves, into.cursor, rng)
                await measure_rested(pilot, screen, plan.rests, into.rested, rng)
                await measure_tabs(pilot, screen, plan.tabs, into.tab, rng)
            finally:
                changes.cancel()
    finally:
        store.close()


async def until(pilot: Pilot[Any], condition: Callable[[], bool]) -> None:
    deadline = time.perf_counter() + 60
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the app did not get ready")
        await pilot.pause(0.01)


async def measure_paging(pilot: Pilot[Any], listing: Any, pages: int, into: list[float]) -> None:
    """``pagedown`` from the top: the effect is the cursor a page lower, on a row drawn."""
    frames = MeasuredApp.frames
    for _ in range(pages):
        before = listing.cursor_row

        def drawn(before: int = before) -> bool:
            return listing.cursor_row > before and not listing.cursor_pending

        into.append(await frames.key(pilot, "pagedown", drawn))


async def measure_cursor(
    pilot: Pilot[Any], listing: Any, moves: int, into: list[float], rng: random.Random
) -> None:
    frames = MeasuredApp.frames
    for index in range(moves):
        key, step = ("down", 1) if (index // 20) % 2 == 0 else ("up", -1)
        target = listing.cursor_row + step
        into.append(await frames.key(pilot, key, lambda t=target: listing.cursor_row == t))
        await pause_like_a_person(rng)


async def measure_rested(
    pilot: Pilot[Any], screen: MainScreen, rests: int, into: list[float], rng: random.Random
) -> None:
    frames = MeasuredApp.frames
    listing = screen.kickoffs
    for _ in range(rests):
        target = listing.cursor_row + 1

        def shown(target: int = target) -> bool:
            selected = screen.selected
            return (
                listing.cursor_row == target
                and selected is not None
                and selected.kickoff_id == listing.selected_id
            )

        into.append(await frames.key(pilot, "down", shown))
        await pause_like_a_person(rng)


async def measure_tabs(
    pilot: Pilot[Any], screen: MainScreen, tabs: int, into: list[float], rng: random.Random
) -> None:
    frames = MeasuredApp.frames
    detail = screen.detail
    for index in range(tabs):
        key, tab = ("2", "output") if index % 2 == 0 else ("1", "tasks")
        into.append(await frames.key(pilot, key, lambda t=tab: detail.active_tab == t))
        await pause_like_a_person(rng)


async def measure_floor(rows: list[list[str]], plan: Plan, into: Samples) -> None:
    """The same keys on the bare app."""
    app = FloorApp(rows)
    frames = FloorApp.frames
    rng = random.Random(3)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(DataTable)
        tabbed = app.query_one(TabbedContent)
        await pilot.pause()
        for _ in range(plan.pages):
            if table.cursor_row + 2 * table.size.height >= table.row_count:
                send_key(app, "ctrl+home")  # round again (the floor has one page)
                await pilot.pause()
            before = table.cursor_row
            into.paging.append(
                await frames.key(pilot, "pagedown", lambda b=before: table.cursor_row > b)
            )
        send_key(app, "ctrl+home")
        await pilot.pause()
        for index in range(plan.moves):
            key, step = ("down", 1) if (index // 20) % 2 == 0 else ("up", -1)
            target = table.cursor_row + step
            into.cursor.append(await frames.key(pilot, key, lambda t=target: table.cursor_row == t))
            await pause_like_a_person(rng)
        for _ in range(plan.rests):
            target = table.cursor_row + 1
            into.rested.append(await frames.key(pilot, "down", lambda t=target: app.shown == t))
            await pause_like_a_person(rng)
        for index in range(plan.tabs):
            key, tab = ("2", "output") if index % 2 == 0 else ("1", "tasks")
            into.tab.append(await frames.key(pilot, key, lambda t=tab: tabbed.active == t))
            await pause_like_a_person(rng)


# -- report ---------------------------------------------------------------------------------


def rows_of(app: Samples, floor: Samples, plan: Plan, count: int) -> list[Row]:
    measures = [
        ("cursor move", app.cursor, floor.cursor, 0.025),
        ("detail tab switch", app.tab, floor.tab, 0.050),
        ("detail of a newly rested row", app.rested, floor.rested, 0.120),
        ("paging into rows never read", app.paging, floor.paging, 0.050),
    ]
    rows: list[Row] = []
    for name, ours, bare, target in measures:
        p99, floor_p99 = percentile(ours, 0.99), percentile(bare, 0.99)
        rows.append(
            Row(
                measure=f"keys: {name}, key → frame p99",
                value=round(p99 * 1000, 1),
                unit="ms",
                target=f"≤ {target * 1000:.0f} ms",
                passed=p99 <= target,
                floor=round(floor_p99 * 1000, 1),
                ratio=round(p99 / floor_p99, 2) if floor_p99 > 0 else None,
                note=(
                    f"median {median(ours) * 1000:.1f} ms (floor {median(bare) * 1000:.1f}), "
                    f"{len(ours)} keys; {count:,} kickoffs, {UPDATING} changing "
                    f"{plan.rate:g}/s"
                ),
            )
        )
    return rows


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer keys and rounds")
    parser.add_argument("--kickoffs", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=50.0, help="changes a second, in all")
    parser.add_argument("--rounds", type=int, default=None, help="floor/app rounds")
    return parser.parse_args(argv)


async def run(options: argparse.Namespace) -> list[Row]:
    source = history(options.kickoffs)
    quick = options.quick
    plan = Plan(
        moves=30 if quick else 200,
        tabs=12 if quick else 60,
        rests=12 if quick else 60,
        pages=8 if quick else 40,
        rate=options.rate,
    )
    rounds = options.rounds or (1 if quick else 3)
    store = Store.open(source)
    try:
        rows = floor_rows(store)
    finally:
        store.close()
    app, floor = Samples(), Samples()
    with tempfile.TemporaryDirectory(prefix="crewtui-bench-keys-") as tmp:
        for number in range(rounds):
            log(f"round {number + 1}/{rounds}: floor")
            await measure_floor(rows, plan, floor)
            log(f"round {number + 1}/{rounds}: app")
            await measure_app(source, Path(tmp), plan, app)
    return rows_of(app, floor, plan, options.kickoffs)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(sys.argv[1:] if argv is None else argv)
    with rendering_driver():
        rows = asyncio.run(run(options))
    for row in rows:
        log(f"{row.measure}: {row.value} ms (floor {row.floor} ms, {row.ratio}x) {row.note}")
    emit("keys", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
