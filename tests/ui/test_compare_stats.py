"""Comparing two marked runs (``space`` twice) and a crew's stats view (``S``) in the app,
over a real history and the simulator's crews, through Pilot."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import DataTable, RichLog, Sparkline, Static

from crewtui.api.states import RunState
from crewtui.sim import SimServer
from crewtui.ui.pilot import settle
from crewtui.ui.screens.compare import CompareScreen
from crewtui.ui.screens.main import MainScreen
from crewtui.ui.screens.stats import StatsScreen
from tests.core.histories import past_runs
from tests.hardening.corpus import EVERYTHING, assert_inert
from tests.ui.app_helpers import AppFactory, main_screen, sim_crews

pytestmark = pytest.mark.timeout(60)


def history(make_app: AppFactory) -> tuple[str, str, str]:
    """Two travel runs with different inputs and outputs, and a content run."""
    store = make_app.store()
    now = datetime.now(UTC)
    first, second = past_runs(
        store, "travel", "research_task", [30.0, 42.0], ended_before=now, tokens=900
    )
    store.save_kickoff(first.model_copy(update={"output": "day 1\nday 2: beach\n"}))
    store.save_kickoff(
        second.model_copy(update={"output": "day 1\nday 2: hike\n", "inputs": {"budget": "9"}})
    )
    past_runs(store, "travel", "research_task", [5.0], ended_before=now, state=RunState.FAILED)
    [content] = past_runs(store, "content", "outline_task", [12.0], ended_before=now)
    return first.kickoff_id, second.kickoff_id, content.kickoff_id


def mark_cell(screen: MainScreen, kickoff_id: str) -> str:
    return screen.kickoffs.cell(kickoff_id, "mark").plain


async def test_space_marks_two_runs_of_a_crew_and_opens_their_comparison(
    sim: SimServer, make_app: AppFactory
) -> None:
    first, second, content = history(make_app)
    notes: list[Message] = []
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 40), notifications=True, message_hook=notes.append) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: all(k in screen.kickoffs for k in (first, second, content)))
        screen.kickoffs.select(first)
        await pilot.press("space")
        assert mark_cell(screen, first) == "◆"

        screen.kickoffs.select(content)
        await pilot.press("space")
        assert app.screen is screen and screen.kickoffs.marked == (first,)
        toasts = [str(m.notification.message) for m in notes if isinstance(m, Notify)]
        assert toasts[-1] == (
            f"{content[:8]} is a run of content, {first[:8]} of travel: "
            "only runs of one crew can be compared."
        )

        screen.kickoffs.select(second)
        await pilot.press("space")
        await settle(pilot, lambda: isinstance(app.screen, CompareScreen))
        compared = app.screen
        assert isinstance(compared, CompareScreen)
        await settle(pilot, lambda: compared.comparison is not None)
        table = compared.query_one("#compare-tasks", DataTable)
        assert [cell.plain for cell in table.get_row_at(0)] == [
            "research_task",
            "Researcher",
            "30.0s",
            "42.0s",
            "+12.0s",
            "",
            "",
        ]
        diff = [line.text for line in compared.query_one("#compare-diff", RichLog).lines]
        assert diff[-3:] == [" day 1", "-day 2: beach", "+day 2: hike"]
        head = str(compared.query_one("#compare-inputs", Static).render())
        assert "budget: (not given) → 9" in head
        assert screen.kickoffs.marked == () and mark_cell(screen, first) == " "

        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is screen)
        screen.kickoffs.select(first)
        await pilot.press("space", "space")  # marked, then unmarked: no comparison
        assert screen.kickoffs.marked == () and app.screen is screen


async def test_the_marked_toast_goes_when_the_comparison_opens_so_it_covers_nothing(
    sim: SimServer, make_app: AppFactory
) -> None:
    first, second, _ = history(make_app)
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: all(k in screen.kickoffs for k in (first, second)))
        screen.kickoffs.select(first)
        await pilot.press("space")
        await settle(pilot, lambda: any("Marked" in n.message for n in app._notifications))
        screen.kickoffs.select(second)
        await pilot.press("space")
        await settle(pilot, lambda: isinstance(app.screen, CompareScreen))
        assert not [n.message for n in app._notifications if "Marked" in n.message]


async def test_s_shows_the_crews_stats_and_w_and_c_switch_window_and_crew(
    sim: SimServer, make_app: AppFactory
) -> None:
    first, _, _ = history(make_app)
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: first in screen.kickoffs)
        screen.kickoffs.select(first)
        await pilot.press("S")
        await settle(pilot, lambda: isinstance(app.screen, StatsScreen))
        stats_screen = app.screen
        assert isinstance(stats_screen, StatsScreen)
        await settle(pilot, lambda: stats_screen.stats is not None)
        summary = str(stats_screen.query_one("#stats-summary", Static).render())
        assert summary.startswith("travel · last 7d\n3 runs · 2 of 3 ended runs completed (67%)")
        assert "1.8k tokens over 2 runs" in summary
        runs = stats_screen.query_one("#stats-runs", Sparkline).data
        assert runs is not None and len(runs) == 28 and sum(runs) == 3
        failed = stats_screen.query_one("#stats-failed", Sparkline).data
        assert failed is not None and sum(failed) == 1
        bars = str(stats_screen.query_one("#stats-tasks", Static).render()).splitlines()
        assert bars[1].startswith("research_task    36.0s    41.4s     2  ")
        assert bars[1].endswith("█" * 27 + "▒" * 3)

        await pilot.press("w")
        await settle(
            pilot,
            lambda: stats_screen.stats is not None and stats_screen.stats.window.name == "30d",
        )
        runs = stats_screen.query_one("#stats-runs", Sparkline).data
        assert runs is not None and len(runs) == 30

        crews = stats_screen.crews
        await pilot.press("c")
        next_crew = crews[(crews.index("travel") + 1) % len(crews)]
        await settle(
            pilot, lambda: stats_screen.stats is not None and stats_screen.stats.crew == next_crew
        )
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is screen)


async def test_hostile_names_inputs_and_outputs_stay_inert_in_the_comparison_and_stats(
    sim: SimServer, make_app: AppFactory
) -> None:
    hostile = EVERYTHING.text
    store = make_app.store()
    left, right = past_runs(store, "travel", "t", [30.0, 40.0], ended_before=datetime.now(UTC))
    for run, output in ((left, f"{hostile}\nsame"), (right, f"other {hostile}\nsame")):
        task = run.tasks[0].model_copy(update={"task_id": hostile, "agent": hostile})
        store.save_kickoff(
            run.model_copy(update={"output": output, "tasks": [task], "inputs": {hostile: hostile}})
        )
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: left.kickoff_id in screen.kickoffs)
        for kickoff_id in (left.kickoff_id, right.kickoff_id):
            screen.kickoffs.select(kickoff_id)
            await pilot.press("space")
        compared = app.screen
        assert isinstance(compared, CompareScreen)
        await settle(pilot, lambda: compared.comparison is not None)
        table = compared.query_one("#compare-tasks", DataTable)
        shown = [cell.plain for row in range(table.row_count) for cell in table.get_row_at(row)]
        shown += [line.text for line in compared.query_one("#compare-diff", RichLog).lines]
        shown.append(str(compared.query_one("#compare-inputs", Static).render()))
        await pilot.press("escape", "S")
        stats_screen = app.screen
        assert isinstance(stats_screen, StatsScreen)
        await settle(pilot, lambda: stats_screen.stats is not None)
        shown.append(str(stats_screen.query_one("#stats-tasks", Static).render()))
        text = "\n".join(shown)
        assert_inert(text)
        assert EVERYTHING.shows in text
