"""Make ``screenshots/*.svg`` from the simulator: ``python -m crewtui.ui.screenshots [DIR]``.

The app runs headless on a throwaway home against the in-process simulator; a few runs are
started (one finishes, one fails, two keep going) and each screen is saved as the user would
see it. Never edit the SVGs by hand: run this again.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from crewtui.api.models import Kickoff, RunState
from crewtui.config import Config, PollSettings, resolve_paths
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.demo import demo_config
from crewtui.sim import SimOptions, SimServer
from crewtui.ui.app import CrewtuiApp
from crewtui.ui.pilot import settle
from crewtui.ui.screens.kickoff_form import KickoffForm, KickoffRequest

SIZE = (120, 36)
SPEED = 40.0
# A long scale keeps a run going while the others are photographed.
SLOW = {"duration_scale": "40"}
_POLL = PollSettings(min_interval=0.1, max_interval=0.5)


def _state(app: CrewtuiApp, kickoff: Kickoff) -> RunState | None:
    row = app.main.kickoffs.summary(kickoff.kickoff_id)
    return row.state if row else None


async def _shoot(pilot: Pilot[Any], out: Path, name: str) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    pilot.app.save_screenshot(f"{name}.svg", str(out))


async def _story(pilot: Pilot[Any], sim: SimServer, out: Path) -> None:
    app = pilot.app
    assert isinstance(app, CrewtuiApp)
    tracker = app.tracker

    def started(crew: str, extra: dict[str, str]) -> Any:
        return tracker.kickoff(crew, {**sim.sample_inputs(crew), **extra})

    done = await started("travel", {})
    failed = await started("research", {"fail": "1"})
    busy = await started("content", SLOW)
    await started("outreach", SLOW)
    finished: Callable[[], bool] = lambda: (  # noqa: E731
        _state(app, done) is RunState.COMPLETED
        and _state(app, failed) is RunState.FAILED
        and bool((row := app.main.kickoffs.summary(busy.kickoff_id)) and row.progress)
    )
    await settle(pilot, finished, within=120)
    app.main.kickoffs.select(done.kickoff_id)
    await settle(
        pilot,
        lambda: app.main.selected is not None and app.main.selected == tracker.get(done.kickoff_id),
    )
    await _shoot(pilot, out, "main")
    app.main.detail.focus_tab("tasks")
    await _shoot(pilot, out, "tasks")
    app.main.detail.focus_tab("output")
    await _shoot(pilot, out, "output")
    app.main.kickoffs.focus()
    await pilot.press("question_mark")
    await _shoot(pilot, out, "help")
    await pilot.press("escape")
    await _form_with_422(pilot, sim)
    await _shoot(pilot, out, "form-422")


async def _form_with_422(pilot: Pilot[Any], sim: SimServer) -> None:
    """Send the travel form with two inputs left out, so the crew answers 422."""
    app = pilot.app
    await pilot.press("n")
    form = app.screen
    assert isinstance(form, KickoffForm)
    inputs = dict(sim.sample_inputs("travel"))
    for name in sorted(inputs)[:2]:
        del inputs[name]
    await settle(pilot, lambda: len(form._required_fields()) == len(sim.required_inputs("travel")))
    for field in form._required_fields():
        field.input.value = inputs.get(str(field.name), "")
    app.post_message(KickoffForm.Submitted(KickoffRequest("travel", inputs, {}, None), form))
    await settle(pilot, lambda: bool(form.query(".bad")))


async def _run(sim: SimServer, store: Store, home: Path, out: Path) -> None:
    config: Config = demo_config(sim).model_copy(update={"poll": _POLL})
    tracker = Tracker(list(config.crews.values()), store, config.poll)
    app = CrewtuiApp(tracker, config, resolve_paths(home), notify_on_finish=False)
    async with app.run_test(size=SIZE) as pilot:
        await _story(pilot, sim, out)


def make_screenshots(out: Path) -> None:
    """Run the story against a fresh simulator and write the SVGs into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="crewtui-shots-"))
    sim = SimServer(SimOptions(dialect="live", speed=SPEED, seed=3))
    sim.start()
    store = Store.open(resolve_paths(home).store_file)
    try:
        asyncio.run(_run(sim, store, home, out))
    finally:
        store.close()
        sim.stop()
        shutil.rmtree(home, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else Path("screenshots")
    make_screenshots(out)
    print(f"screenshots written to {out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
