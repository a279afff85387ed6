"""Make ``screenshots/*.svg`` from the demo: ``python -m crewtui.ui.screenshots [DIR] [--browser]``.

The demo runs headless on a throwaway home: the same seeded history of earlier days as
``crewtui demo`` (:func:`crewtui.demo.build_demo`), and the opening runs of its plan (one
completes, one fails, one waits for human input, one runs long). Once each run has reached
its state, every screen is saved as the user would see it; last, a run slowed down in its
first task is seen with the app's clock moved on, maybe stuck. The script waits for states,
never for time, and fixes what it can: the seed, the time zone (UTC), the history's "now"
(to the minute); only the clock times and ids of the live runs differ between two runs of
it. Never edit the SVGs by hand: run this again.

``--browser`` also makes ``web.png``: ``crewtui web`` over the demo's history, in headless
Chromium (skipped, saying why, where Chromium or selenium is missing).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, Select

from crewtui.api.rows import KickoffSummary
from crewtui.api.states import RunState
from crewtui.config import resolve_paths, write_config
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.demo import DEFAULT_SEED, DemoApp, build_demo, demo_config
from crewtui.demo.history import seed_history
from crewtui.demo.schedule import plan
from crewtui.settings import PollSettings
from crewtui.sim import SimOptions, SimServer
from crewtui.sim.crews import CREWS
from crewtui.ui.pilot import Clock, settle, workers_done
from crewtui.ui.screens.answer import AnswerScreen
from crewtui.ui.screens.batch_form import BatchForm
from crewtui.ui.screens.compare import CompareScreen
from crewtui.ui.screens.inbox import InboxScreen
from crewtui.ui.screens.kickoff_form import KickoffForm, KickoffRequest
from crewtui.ui.screens.log import LogScreen
from crewtui.ui.screens.prompts import ConfirmScreen
from crewtui.ui.screens.stats import StatsScreen
from crewtui.web_page import (
    PageNotShown,
    browser_missing,
    headless_chromium,
    read_screen,
    serve_web,
    wait_for_screen,
)

if TYPE_CHECKING:
    from crewtui.api.models import Kickoff

SIZE = (120, 50)
WIDE = (200, 50)
BROWSER = (1280, 800)  # pixels
SPEED = 40.0
BROWSER_SPEED = 10.0  # the content run still goes when the browser's session has started
OPENING = 4  # the plan's opening runs: one per crew
_POLL = PollSettings(min_interval=0.1, max_interval=0.5)
# The stuck picture: a run slowed down so that it stays in its first task, and how far the
# app's clock is moved on (well past that task's usual half minute) instead of waiting.
STUCK_SCALE = "100"
STUCK_AHEAD = timedelta(minutes=12)


async def _shoot(pilot: Pilot[Any], out: Path, name: str) -> None:
    app = pilot.app
    assert isinstance(app, DemoApp)
    await workers_done(app)
    await pilot.pause()
    app.save_screenshot(f"{name}.svg", str(out))


def _rows(app: DemoApp, crew: str | None = None) -> list[KickoffSummary]:
    return [row for row in app.main.rows() if crew is None or row.crew == crew]


async def _select(pilot: Pilot[Any], kickoff_id: str) -> None:
    """Put the cursor on a row and wait until the detail shows it."""
    app = pilot.app
    assert isinstance(app, DemoApp)
    app.main.kickoffs.select(kickoff_id)
    await settle(
        pilot, lambda: app.main.selected is not None and app.main.selected.kickoff_id == kickoff_id
    )


def _opening_reached(app: DemoApp, opened: datetime) -> Callable[[], bool]:
    """Every opening run in the state it is photographed in."""

    def reached() -> bool:
        live = {row.crew: row for row in _rows(app) if row.created_at >= opened}
        if len(live) < OPENING:
            return False
        content = live["content"].progress
        return (
            live["travel"].state is RunState.COMPLETED
            and live["research"].state is RunState.FAILED
            and live["outreach"].state is RunState.PAUSED
            and live["content"].state is RunState.RUNNING
            and content is not None
            and (content.completed or 0) >= 1
        )

    return reached


def _earlier(app: DemoApp, opened: datetime, *crews: str) -> list[KickoffSummary]:
    """The history's completed runs of ``crews``, longest first."""
    done = [
        row
        for row in _rows(app)
        if row.crew in crews and row.created_at < opened and row.state is RunState.COMPLETED
    ]
    return sorted(done, key=lambda row: row.execution_time or 0.0, reverse=True)


# The batch picture's file: one research run per topic, with who asked in its meta.
BATCH_FILE = "topics.csv"
BATCH_ROWS = (
    "topic,meta.owner\n"
    "retrieval-augmented generation,ana\n"
    "agent memory,bo\n"
    "tool calling,ana\n"
    "evaluation of LLM agents,cy\n"
    "guardrails,bo\n"
    "multi-agent planning,di\n"
    "prompt caching,ana\n"
    "structured outputs,cy\n"
)


async def _batch_form(pilot: Pilot[Any], home: Path) -> None:
    """The batch form with a preview of its file (a path relative to the home, so that
    the picture is the same from run to run)."""
    app = pilot.app
    assert isinstance(app, DemoApp)
    (home / BATCH_FILE).write_text(BATCH_ROWS, encoding="utf-8")
    app.main.kickoffs.focus()
    await pilot.press("b")
    await settle(pilot, lambda: isinstance(app.screen, BatchForm))
    form = app.screen
    assert isinstance(form, BatchForm)
    form.query_one("#crew", Select).value = "research"
    with contextlib.chdir(home):
        form.query_one("#batch-path", Input).value = BATCH_FILE
        await settle(pilot, lambda: form.previewed == BATCH_FILE)


async def _story(pilot: Pilot[Any], out: Path, opened: datetime, home: Path, clock: Clock) -> None:
    app = pilot.app
    assert isinstance(app, DemoApp)
    await settle(pilot, _opening_reached(app, opened), within=120)
    running = next(row for row in _rows(app, "content") if row.state is RunState.RUNNING)
    await _select(pilot, running.kickoff_id)
    await _shoot(pilot, out, "main")
    await pilot.resize_terminal(*WIDE)
    await _shoot(pilot, out, "wide")
    await pilot.resize_terminal(*SIZE)
    await _log(pilot, out)

    # The Gantt of the longest run of the English-speaking crews; then a research report.
    await _select(pilot, _earlier(app, opened, "research", "content", "outreach")[0].kickoff_id)
    app.main.detail.focus_tab("tasks")
    await _shoot(pilot, out, "tasks")
    await _select(pilot, _earlier(app, opened, "research")[0].kickoff_id)
    app.main.detail.focus_tab("output")
    await _shoot(pilot, out, "output")
    app.main.detail.focus_tab("steps")
    await _shoot(pilot, out, "steps")
    # The travel crew answers in Chinese: wide characters in a markdown table.
    await _select(pilot, _earlier(app, opened, "travel")[-1].kickoff_id)
    app.main.detail.focus_tab("output")
    await _shoot(pilot, out, "output-zh")

    app.main.kickoffs.focus()
    await pilot.press("question_mark")
    await _shoot(pilot, out, "help")
    await pilot.press("escape")
    await _form_with_422(pilot)
    await _shoot(pilot, out, "form-422")
    await pilot.press("escape")
    await _dialogs(pilot, out, _live(app, opened, "outreach"))
    await _compare_and_stats(pilot, out, opened)
    await _batch_form(pilot, home)
    await _shoot(pilot, out, "batch")
    await pilot.press("escape")
    await _stuck(pilot, out, clock)


async def _log(pilot: Pilot[Any], out: Path) -> None:
    """The Log view (``l``) once it holds the history's lines and the opening runs'."""
    app = pilot.app
    assert isinstance(app, DemoApp)
    await pilot.press("l")
    await settle(pilot, lambda: isinstance(app.screen, LogScreen) and app.screen.history_read)
    await _shoot(pilot, out, "log")
    await pilot.press("escape")
    await settle(pilot, lambda: app.screen is app.main)


def _live(app: DemoApp, opened: datetime, crew: str) -> KickoffSummary:
    """The opening run of ``crew``."""
    return next(row for row in _rows(app, crew) if row.created_at >= opened)


async def _dialogs(pilot: Pilot[Any], out: Path, paused: KickoffSummary) -> None:
    """The inbox, the answer form and the confirmation of a cancel, on the run that waits
    for input; each is dismissed, so the run waits on untouched."""
    app = pilot.app
    assert isinstance(app, DemoApp)
    await _select(pilot, paused.kickoff_id)
    main = app.main
    dialogs: tuple[tuple[str, str, type[Screen[Any]]], ...] = (
        ("i", "inbox", InboxScreen),
        ("a", "answer", AnswerScreen),
        ("x", "cancel", ConfirmScreen),
    )
    for key, name, dialog in dialogs:
        main.kickoffs.focus()
        await pilot.press(key)
        await settle(pilot, lambda: isinstance(app.screen, dialog))  # noqa: B023
        await _shoot(pilot, out, name)
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is main)


async def _compare_and_stats(pilot: Pilot[Any], out: Path, opened: datetime) -> None:
    """Two earlier travel runs asked different things, marked with space (the comparison
    opens at the second), then the travel crew's stats (``S``); both closed again."""
    app = pilot.app
    assert isinstance(app, DemoApp)
    main = app.main
    earlier = _earlier(app, opened, "travel")
    quickest = earlier[-1]
    other = next((row for row in earlier if row.inputs != quickest.inputs), earlier[0])
    for row in (quickest, other):
        await _select(pilot, row.kickoff_id)
        main.kickoffs.focus()
        await pilot.press("space")
    compared = app.screen
    assert isinstance(compared, CompareScreen)
    await settle(pilot, lambda: compared.comparison is not None)
    await _shoot(pilot, out, "compare")
    await pilot.press("escape")
    await settle(pilot, lambda: app.screen is main)
    await pilot.press("S")
    stats = app.screen
    assert isinstance(stats, StatsScreen)
    await settle(pilot, lambda: stats.stats is not None)
    await _shoot(pilot, out, "stats")
    await pilot.press("escape")
    await settle(pilot, lambda: app.screen is main)


async def _stuck(pilot: Pilot[Any], out: Path, clock: Clock) -> None:
    """A content run that hangs in its first task: a real run, slowed down, seen with the
    app's clock moved on; last, so that the other pictures do not show it."""
    app = pilot.app
    assert isinstance(app, DemoApp)
    main = app.main
    inputs = {**CREWS["content"].sample_inputs, "duration_scale": STUCK_SCALE}
    kickoff_id = (await app.tracker.kickoff("content", inputs)).kickoff_id

    def in_first_task() -> bool:
        run = app.tracker.get(kickoff_id)
        return run is not None and run.current_task == "outline_task"

    await settle(pilot, in_first_task)
    await _select(pilot, kickoff_id)
    main.detail.focus_tab("tasks")
    clock.ahead = STUCK_AHEAD
    main.tick()
    await settle(pilot, lambda: kickoff_id in main.stuck)
    await _shoot(pilot, out, "stuck")


async def _form_with_422(pilot: Pilot[Any]) -> None:
    """Send the travel form with two inputs left out, so the crew answers 422.

    Only public parts of the form are used (its inputs, named after the crew's, and its
    ``Submitted`` message), so changes inside the form do not break the script.
    """
    app = pilot.app
    assert isinstance(app, DemoApp)
    await pilot.press("n")
    form = app.screen
    assert isinstance(form, KickoffForm)
    crew = CREWS["travel"]

    def boxes() -> dict[str, Input]:
        return {str(box.name): box for box in form.query(Input) if box.name in crew.inputs}

    await settle(pilot, lambda: set(boxes()) == set(crew.inputs))
    inputs = dict(crew.sample_inputs)
    for name in sorted(inputs)[:2]:
        del inputs[name]
    for name, box in boxes().items():
        box.value = inputs.get(name, "")
    app.post_message(KickoffForm.Submitted(KickoffRequest("travel", inputs, {}, None), form))
    await settle(pilot, lambda: bool(form.query(".bad")))


async def _run(sim: SimServer, store: Store, home: Path, out: Path) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    clock = Clock()
    app = build_demo(
        sim,
        resolve_paths(home),
        store,
        seed=DEFAULT_SEED,
        now=now,
        launches=islice(plan(DEFAULT_SEED), OPENING),
        poll=_POLL,
        notify_on_finish=False,
        tz=UTC,
        clock=clock,
    )
    async with app.run_test(size=SIZE) as pilot:
        await _story(pilot, out, now, home, clock)


def make_screenshots(out: Path) -> None:
    """Run the story against a fresh simulator and write the SVGs into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="crewtui-shots-"))
    sim = SimServer(SimOptions(dialect="live", speed=SPEED, seed=DEFAULT_SEED))
    sim.start()
    store = Store.open(resolve_paths(home).store_file)
    try:
        asyncio.run(_run(sim, store, home, out))
    finally:
        store.close()
        sim.stop()
        shutil.rmtree(home, ignore_errors=True)


async def _kick_off_opening(sim: SimServer, store: Store) -> Kickoff:
    """Start the plan's opening runs (the long content run last, so that the app selects it)
    and hand them over: the app of the browser's session polls them from the history."""
    crews = demo_config(sim).crews
    tracker = Tracker(list(crews.values()), store)
    await tracker.start()
    try:
        opening = sorted(islice(plan(DEFAULT_SEED), OPENING), key=lambda run: run.crew == "content")
        return [await tracker.kickoff(run.crew, run.inputs) for run in opening][-1]
    finally:
        await tracker.stop()


def make_browser_screenshot(out: Path) -> None:
    """``web.png``: ``crewtui web`` over the demo's history, its opening runs and the
    simulator, in headless Chromium once the list, the inbox's count and the detail of the
    run going show. A headless browser draws only the page: no address, so no token."""
    home = Path(tempfile.mkdtemp(prefix="crewtui-web-shot-"))
    sim = SimServer(SimOptions(dialect="live", speed=BROWSER_SPEED, seed=DEFAULT_SEED))
    sim.start()
    try:
        paths = resolve_paths(home)
        write_config(paths, demo_config(sim))
        store = Store.open(paths.store_file)
        try:
            seed_history(store, seed=DEFAULT_SEED)
            going = asyncio.run(_kick_off_opening(sim, store))
        finally:
            store.close()
        # Only the home's crews: none of the environment's.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CREWAI_", "CREWTUI_"))}
        with (
            serve_web(["--port", "0", "--home", str(home)], env) as served,
            headless_chromium(*BROWSER) as driver,
        ):
            driver.get(served.url)
            wait_for_screen(driver, f"content · {going.short_id}", "1 waiting (i)", "✗ failed")
            # The picture is pixels, which no test can read back: what it shows is checked
            # here, as text, before it is saved (the file itself is checked by the tests).
            shown = read_screen(driver)
            page_secret = urlsplit(served.url).path.strip("/")
            if any(s in shown for s in (sim.options.token, sim.options.user_token, page_secret)):
                raise PageNotShown("the page shows a token: web.png is not saved")
            driver.save_screenshot(str(out / "web.png"))
    finally:
        sim.stop()
        shutil.rmtree(home, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    browser = "--browser" in args
    places = [arg for arg in args if arg != "--browser"]
    out = Path(places[0]) if places else Path("screenshots")
    make_screenshots(out)
    print(f"screenshots written to {out}/")
    if browser:
        missing = browser_missing()
        if missing is None:
            make_browser_screenshot(out)
            print(f"{out}/web.png written")
        else:
            print(f"web.png not made: the browser's picture {missing}.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
