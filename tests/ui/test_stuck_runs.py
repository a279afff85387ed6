"""A running run past its task's usual time is "maybe stuck" in the app: a mark in the list's
state column, a count in the status line, one toast, and the detail's expected range.

A real run on the simulator (slowed down so it stays in its first task), a real history of
earlier runs, and the app's clock moved on instead of waiting an hour.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import OptionList

from crewtui.sim import SimServer
from crewtui.ui.pilot import Clock, settle
from crewtui.ui.screens.main import MainScreen
from tests.core.histories import past_runs
from tests.ui.app_helpers import AppFactory, main_screen, sim_crews

pytestmark = pytest.mark.timeout(60)


def timeline_text(screen: MainScreen) -> str:
    """The detail's Gantt rows and the notes under them, as plain text."""
    rows = screen.detail.query_one("#timeline-rows", OptionList)
    prompts = (rows.get_option_at_index(index).prompt for index in range(rows.option_count))
    return "\n".join(str(getattr(prompt, "plain", prompt)) for prompt in prompts)


async def test_a_run_past_its_tasks_usual_time_is_marked_counted_and_toasted_once(
    sim: SimServer, make_app: AppFactory
) -> None:
    history = make_app.store()
    past_runs(history, "travel", "research_task", [30.0, 40.0, 50.0, 60.0, 70.0])
    clock = Clock()
    notes: list[Message] = []
    app = make_app(sim_crews(sim), clock=clock)
    async with app.run_test(size=(150, 40), notifications=True, message_hook=notes.append) as pilot:
        screen = await main_screen(pilot)
        inputs = sim.sample_inputs("travel") | {"duration_scale": "100"}
        kickoff_id = (await app.tracker.kickoff("travel", inputs)).kickoff_id

        def running_research() -> bool:
            run = app.tracker.get(kickoff_id)
            return run is not None and run.current_task == "research_task"

        await settle(pilot, lambda: running_research() and bool(app.tracker.task_durations))
        screen.kickoffs.select(kickoff_id)
        await settle(pilot, lambda: screen.selected is not None)
        screen.tick()
        assert not screen.stuck
        assert screen.kickoffs.cell(kickoff_id, "state").plain == "● running"
        shown = timeline_text(screen)
        assert "research_task usually takes 50.0s–1m08s (p50–p95 of 5 runs" in shown
        # The axis reaches the usual range, but the running task has run seconds, not 1m08s.
        research_row = next(line for line in shown.splitlines() if "running" in line)
        assert "1m08s" not in research_row and "50.0s" not in research_row
        assert "░" in shown and "Maybe stuck" not in shown

        clock.ahead = timedelta(minutes=10)  # past 3x the median of 50 s
        screen.tick()
        assert set(screen.stuck) == {kickoff_id}
        assert screen.kickoffs.cell(kickoff_id, "state").plain == "● stuck?"
        assert "1 maybe stuck" in screen.status.view_text
        assert "Maybe stuck: research_task has run 10m" in timeline_text(screen)
        screen.tick()
        await pilot.pause()
        toasts = [m.notification for m in notes if isinstance(m, Notify)]
        stuck_toasts = [toast for toast in toasts if toast.title == "Maybe stuck"]
        assert len(stuck_toasts) == 1
        message = str(stuck_toasts[0].message)
        assert message.startswith(f"travel {kickoff_id[:8]}: research_task has run 10m")
        assert message.endswith("past 3× its median of 50.0s.")

        clock.ahead = timedelta()
        screen.tick()
        assert not screen.stuck
        assert screen.kickoffs.cell(kickoff_id, "state").plain == "● running"
