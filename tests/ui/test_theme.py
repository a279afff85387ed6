"""Colours come from the theme: the detail and the Gantt follow it, light themes included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.color import Color as RichColor
from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.widgets import OptionList, Static

from crewtui.api.models import Kickoff, TaskResult
from crewtui.api.states import RunState, TaskState
from crewtui.config import Config, resolve_paths
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.ui.app import CrewtuiApp
from crewtui.ui.pilot import settle

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
FAILED_ID = "72b36a7d-0000-4000-8000-000000000002"


def failed_run() -> Kickoff:
    return Kickoff(
        kickoff_id=FAILED_ID,
        crew="research",
        state=RunState.FAILED,
        created_at=T0,
        updated_at=T0 + timedelta(seconds=20),
        started_at=T0,
        finished_at=T0 + timedelta(seconds=20),
        error="Task execution failed: Search API quota exceeded",
        tasks=[
            TaskResult(
                task_id="search_task",
                state=TaskState.COMPLETED,
                started_at=T0,
                finished_at=T0 + timedelta(seconds=8),
            ),
            TaskResult(
                task_id="synthesis_task",
                state=TaskState.FAILED,
                started_at=T0 + timedelta(seconds=8),
                finished_at=T0 + timedelta(seconds=20),
            ),
        ],
    )


def colour_of(text: Text, fragment: str) -> RichColor | None:
    """The foreground colour of the span that styles ``fragment`` in ``text``."""
    start = text.plain.index(fragment)
    styles = [
        span.style
        for span in text.spans
        if span.start <= start < span.end and isinstance(span.style, Style)
    ]
    colours = [style.color for style in styles if style.color is not None]
    base = text.style.color if isinstance(text.style, Style) else None
    return colours[-1] if colours else base


def theme_colour(app: CrewtuiApp, variable: str) -> RichColor:
    return Color.parse(app.theme_variables[variable]).rich_color


async def test_detail_and_gantt_use_the_themes_colours_and_follow_a_change(
    crewtui_home: Path,
) -> None:
    store = Store.in_memory()
    store.save_kickoff(failed_run())
    app = CrewtuiApp(Tracker([], store), Config(), resolve_paths(crewtui_home))
    async with app.run_test(size=(140, 36)) as pilot:
        screen = app.main
        for theme in ("textual-light", "nord"):
            app.theme = theme
            await settle(pilot, lambda: screen.selected is not None)
            await pilot.pause()
            header = screen.detail.query_one("#detail-header", Static).content
            assert isinstance(header, Text)
            assert colour_of(header, "✗ failed") == theme_colour(app, "error"), theme
            assert colour_of(header, "Task execution failed") == theme_colour(app, "error")
            rows = screen.detail.query_one("#timeline-rows", OptionList)
            done, failed = (rows.get_option_at_index(i).prompt for i in range(2))
            assert isinstance(done, Text) and isinstance(failed, Text)
            assert colour_of(done, "✓ done") == theme_colour(app, "success"), theme
            assert colour_of(failed, "✗ failed") == theme_colour(app, "error"), theme
    store.close()
