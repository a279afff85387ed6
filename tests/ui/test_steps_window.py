"""Pushed steps cost bounded memory: the app holds a window of the newest, the history keeps a
capped number per run, and the Steps tab says how many more exist and how many were dropped.
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from textual.pilot import Pilot
from textual.widgets import Static

from crewtui.api.models import Step
from crewtui.config import Config
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.sim import SimServer
from crewtui.ui.app import CrewtuiApp
from crewtui.ui.pilot import settle
from crewtui.ui.screens.main import MainScreen
from crewtui.ui.widgets.detail import STEP_PAGE, STEP_WINDOW
from crewtui.ui.widgets.steps_log import StepsLog
from tests.ui.app_helpers import FAST_POLL, AppFactory, main_screen, sim_crews

PUSHED = 3_000
BATCH = 100
CAP = 1_000
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
FIRST = 10_000


class PushedRun(NamedTuple):
    pilot: Pilot[Any]
    screen: MainScreen
    store: Store
    kickoff_id: str
    before: int  # Step objects alive before the pushes


def pushed(kickoff_id: str, first: int) -> list[Step]:
    return [
        Step(
            kickoff_id=kickoff_id,
            received_at=T0 + timedelta(seconds=n),
            kind="agent_step",
            thought=f"thought {n} " + "x" * 200,
            sequence=n,
            raw={"n": n},
        )
        for n in range(first, first + BATCH)
    ]


def steps_held() -> int:
    """Every Step object alive in this process: what the app holds, wherever it holds it."""
    gc.collect()
    return sum(1 for thing in gc.get_objects() if isinstance(thing, Step))


@contextlib.asynccontextmanager
async def pushed_run(sim: SimServer, make_app: AppFactory) -> AsyncIterator[PushedRun]:
    """The app following a held run of the simulator, PUSHED steps pushed to it; the
    history keeps CAP of them."""
    store = Store.open(make_app.paths.store_file, steps_per_run=CAP)
    crews = sim_crews(sim)
    tracker = Tracker(crews, store, FAST_POLL)
    app = CrewtuiApp(
        tracker, Config(crews={c.name: c for c in crews}, poll=FAST_POLL), make_app.paths
    )
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await main_screen(pilot)
            run = await tracker.kickoff("research", sim.sample_inputs("research") | {"hold": "1"})
            await settle(pilot, lambda: screen.selected is not None)
            assert screen.selected is not None and screen.selected.kickoff_id == run.kickoff_id
            before = steps_held()

            for first in range(0, PUSHED, BATCH):
                await tracker.ingest(pushed(run.kickoff_id, FIRST + first))

            def steps_counted() -> int:
                digits = "".join(c for c in screen.detail.tab_label("steps") if c.isdigit())
                return int(digits or 0)

            await settle(pilot, lambda: steps_counted() >= PUSHED)
            yield PushedRun(pilot, screen, store, run.kickoff_id, before)
    finally:
        store.close()


async def test_pushed_steps_are_held_in_a_window_and_capped_in_the_history(
    sim: SimServer, make_app: AppFactory
) -> None:
    async with pushed_run(sim, make_app) as pushed_:
        screen, store = pushed_.screen, pushed_.store
        assert steps_held() - pushed_.before <= STEP_WINDOW + STEP_WINDOW // 2
        stats = store.step_stats(pushed_.kickoff_id)
        assert stats.dropped >= PUSHED - CAP and stats.stored == CAP
        screen.detail.show_tab("steps")  # the note is written while the tab is in front
        await pushed_.pilot.pause()
        note = str(screen.detail.query_one("#steps-empty", Static).render())
        assert "older steps are in the history" in note
        assert f"were dropped (the history keeps the newest {CAP:,} per run)" in note


async def test_scrolling_the_steps_back_reads_older_ones_from_the_history(
    sim: SimServer, make_app: AppFactory
) -> None:
    async with pushed_run(sim, make_app) as pushed_:
        pilot, detail = pushed_.pilot, pushed_.screen.detail
        log = detail.query_one("#steps-log", StepsLog)
        detail.focus_tab("steps")
        await settle(pilot, lambda: log.size.height > 0)

        def shown() -> set[int]:
            """The numbers of the steps in the log's lines, read once per check (a scan of
            every line for each of the 3,000 numbers took 40 s)."""
            text = "\n".join(strip.text for strip in log.lines)
            return {int(n) for n in re.findall(r"thought (\d+) ", text)}

        newest = FIRST + PUSHED - 1
        in_view = shown()
        oldest_held = min(n for n in in_view if FIRST <= n <= newest)
        assert newest in in_view and oldest_held - 1 not in in_view
        # Not in memory either: the app holds the newest window only.
        assert steps_held() - pushed_.before < newest - oldest_held + 1 + STEP_WINDOW // 2

        await pilot.press("home")
        await settle(pilot, lambda: oldest_held - 1 in shown())
        in_view = shown()
        assert oldest_held - STEP_PAGE in in_view and newest in in_view
        # The step that was at the top is still in view: older ones came in above it.
        assert log.scroll_y > 0
        top = "".join(strip.text for strip in log.lines[round(log.scroll_y) :][:3])
        assert f"thought {oldest_held} " in top
