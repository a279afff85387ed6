"""How long a run took and when it began, the same in every view, and never invented.

The row, the detail header, the finish toast, the CLI and the export print one duration
(one function, one rounding). A tracked run (started elsewhere) began at a moment crewtui
does not know until the service says: every view marks it, none shows the tracking time as
its start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from textual.app import App

from crewtui.api.models import Kickoff, TaskResult
from crewtui.api.rows import Progress
from crewtui.api.states import RunState, TaskState
from crewtui.core.store import Store
from crewtui.headless import status_json, summary_line
from crewtui.sim import SimServer
from crewtui.ui.export import kickoff_markdown
from crewtui.ui.pilot import settle
from crewtui.ui.screens.main import finish_words
from tests.ui.app_helpers import AppFactory, main_screen, sim_crews

NOW = datetime.now(UTC).replace(microsecond=0)
T0 = NOW - timedelta(minutes=5)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def sent_run() -> Kickoff:
    """A run crewtui sent at T0, first seen going a second later, ended 9.6 s after T0.

    Counted from its first sighting it took 8.6 s ("9s"), from when it was sent 9.6 s
    ("10s"): views that disagree on the start, or round apart, print different figures.
    """
    return Kickoff(
        kickoff_id="5f1c2a3b-0000-4000-8000-00000000000a",
        crew="travel",
        state=RunState.COMPLETED,
        created_at=T0,
        updated_at=at(9.6),
        started_at=at(1.0),
        finished_at=at(9.6),
        tasks=[TaskResult(task_id="research_task", started_at=at(1), finished_at=at(9.6))],
    )


def tracked_run() -> Kickoff:
    """A run tracked at T0 while going: one task ended and one began before tracking."""
    return Kickoff(
        kickoff_id="5f1c2a3b-0000-4000-8000-00000000000b",
        crew="travel",
        state=RunState.RUNNING,
        created_at=at(0),
        updated_at=at(1),
        tracked_at=at(0),
        progress=Progress(completed=1, total=2),
        current_task="planning_task",
        tasks=[
            TaskResult(task_id="research_task", agent="旅行研究员", output="东京"),
            TaskResult(task_id="planning_task", state=TaskState.RUNNING),
        ],
    )


def screen_text(app: App[object]) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def cli(home: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREWAI_", "CREWTUI_"))}
    result = subprocess.run(
        [sys.executable, "-m", "crewtui", *args],
        capture_output=True,
        text=True,
        env=env | {"CREWTUI_HOME": str(home)},
        timeout=60,
        check=True,
    )
    return result.stdout


def save(store: Store, *kickoffs: Kickoff) -> None:
    for kickoff in kickoffs:
        store.save_kickoff(kickoff)


async def test_the_row_the_header_the_toast_and_the_cli_give_one_duration(
    sim: SimServer, make_app: AppFactory, crewtui_home: Path
) -> None:
    run = sent_run()
    save(make_app.store(), run)
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(140, 36)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: screen.selected is not None)
        table = screen.kickoffs
        row_duration = table.cell(run.kickoff_id, "elapsed").plain
        header = screen_text(app).splitlines()
    assert row_duration == "10s"
    assert any("travel · 5f1c2a3b · ✓ completed" in line and "10s" in line for line in header)
    assert finish_words(run).endswith("completed in 10s")
    assert summary_line(run, NOW).endswith("10s")
    assert "- duration: 10s" in kickoff_markdown(run).splitlines()
    listed = next(line for line in cli(crewtui_home, "list").splitlines() if "5f1c2a3b" in line)
    assert listed.split()[-1] == "10s"


async def test_a_tracked_run_shows_its_unknown_start_as_unknown(
    sim: SimServer, make_app: AppFactory, crewtui_home: Path
) -> None:
    run = tracked_run()
    save(make_app.store(), run)
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(140, 36)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: screen.selected is not None)
        table = screen.kickoffs
        cells = (
            table.cell(run.kickoff_id, "started").plain,
            table.cell(run.kickoff_id, "elapsed").plain,
        )
        text = screen_text(app)
    assert cells == ("—", "—")
    assert "started before tracking" in text
    research = next(line for line in text.splitlines() if "research_task" in line)
    assert "before tracking" in research and "0.0s" not in research
    assert "—" in summary_line(run, NOW)
    status = status_json(run)
    assert status["started_at"] is None and status["tracked_at"] is not None
    [row] = json.loads(cli(crewtui_home, "list", "--json"))
    assert row["started_at"] is None
    listed = next(line for line in cli(crewtui_home, "list").splitlines() if "5f1c2a3b" in line)
    assert listed.split()[1] == "—"
