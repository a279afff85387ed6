"""Snapshots of the main screens, from fixed kickoffs and a frozen clock (no live simulator).

The tracker has no crews, so nothing is polled; crew health is posted as fixed models.
Update with ``pytest tests/ui/test_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from crewtui.api.models import Kickoff, TaskResult
from crewtui.api.rows import Progress, WaitingFor
from crewtui.api.states import RunState, TaskState
from crewtui.config import Config, resolve_paths
from crewtui.core.batch import Batch, BatchRow
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.core.tracker_events import CrewHealth
from crewtui.ui.app import CrewtuiApp
from crewtui.ui.pilot import workers_done
from crewtui.ui.screens.main import HealthUpdated

NOW = datetime(2026, 11, 23, 10, 5, tzinfo=UTC)
SnapCompare = Callable[..., bool]


def at(seconds: float) -> datetime:
    return NOW - timedelta(seconds=300 - seconds)


def fixed_kickoffs() -> list[Kickoff]:
    """A calm afternoon: two runs going, one done, one failed, one older."""
    return [
        Kickoff(
            kickoff_id="5f1c2d3e-1234-4abc-9def-0123456789ab",
            crew="travel",
            state=RunState.COMPLETED,
            created_at=at(0),
            updated_at=at(110),
            started_at=at(1),
            finished_at=at(110),
            execution_time=108.5,
            output="为期 7 天的日本科技文化主题综合旅行行程",
            tasks=[
                TaskResult(task_id="research_task", agent="旅行研究员", execution_time=45.2),
                TaskResult(task_id="planning_task", agent="行程规划师", execution_time=62.8),
            ],
        ),
        Kickoff(
            kickoff_id="9a96cd5c-0000-4000-8000-000000000001",
            crew="content",
            state=RunState.RUNNING,
            created_at=at(200),
            updated_at=at(290),
            started_at=at(201),
            current_task="draft_task",
            progress=Progress(completed=1, total=3),
            tasks=[
                TaskResult(task_id="outline_task", agent="Content Strategist", execution_time=31.0),
                TaskResult(task_id="draft_task", agent="Senior Writer", state=TaskState.RUNNING),
            ],
        ),
        Kickoff(
            kickoff_id="72b36a7d-0000-4000-8000-000000000002",
            crew="research",
            state=RunState.FAILED,
            created_at=at(150),
            updated_at=at(163),
            started_at=at(151),
            finished_at=at(163),
            execution_time=12.4,
            error="Task execution failed: Search API quota exceeded",
        ),
        Kickoff(
            kickoff_id="b4385051-0000-4000-8000-000000000003",
            crew="outreach",
            state=RunState.RUNNING,
            created_at=at(250),
            updated_at=at(295),
            started_at=at(251),
            current_task="profile_research_task",
            progress=Progress(completed=0, total=3),
        ),
        Kickoff(
            kickoff_id="e14c070d-0000-4000-8000-000000000004",
            crew="travel",
            state=RunState.COMPLETED,
            created_at=NOW - timedelta(days=1),
            updated_at=NOW - timedelta(days=1) + timedelta(seconds=100),
            execution_time=97.0,
            tasks=[TaskResult(task_id="research_task"), TaskResult(task_id="planning_task")],
        ),
    ]


HEALTHS = [
    CrewHealth(
        crew="travel", state="ok", since=at(0), interval=3.2, last_ok=at(299), rate=7, budget=10
    ),
    CrewHealth(
        crew="content", state="ok", since=at(0), interval=1.0, last_ok=at(299), rate=2, budget=10
    ),
    CrewHealth(
        crew="outreach",
        state="unreachable",
        since=at(280),
        message="The crew could not be reached.",
        last_ok=at(275),
    ),
    CrewHealth(crew="research", state="token_rejected", since=at(100), message="Token rejected."),
]


@pytest.fixture
def snapshot_app(crewtui_home: Path) -> Iterator[CrewtuiApp]:
    store = Store.in_memory()
    for kickoff in fixed_kickoffs():
        store.save_kickoff(kickoff)
    app = CrewtuiApp(
        Tracker([], store), Config(), resolve_paths(crewtui_home), clock=lambda: NOW, tz=UTC
    )
    yield app
    store.close()


@pytest.fixture
def batch_snapshot_app(crewtui_home: Path) -> Iterator[CrewtuiApp]:
    """A batch of eight rows: two runs done, one failed, one going, four to go."""
    store = Store.in_memory()
    rows = tuple(BatchRow(n, {"topic": f"topic {n}"}) for n in range(1, 9))
    store.save_batch(Batch("3f2a1b0c9d8e", "research", "topics.csv", "fp", rows, 4, at(100)))
    for number, state in enumerate(
        (RunState.COMPLETED, RunState.COMPLETED, RunState.FAILED, RunState.RUNNING), start=1
    ):
        store.save_kickoff(
            Kickoff(
                kickoff_id=f"b{number}000000-0000-4000-8000-000000000000",
                crew="research",
                state=state,
                created_at=at(100 + number),
                updated_at=at(200),
                started_at=at(100 + number),
                finished_at=at(200) if state.is_terminal else None,
                inputs=dict(rows[number - 1].inputs),
                meta={"batch": "3f2a1b0c9d8e", "row": number},
            )
        )
    app = CrewtuiApp(
        Tracker([], store), Config(), resolve_paths(crewtui_home), clock=lambda: NOW, tz=UTC
    )
    yield app
    store.close()


def prepare(
    *keys: str, theme: str | None = None, select: str | None = None
) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Wait for the first page and the detail, post the crews' health, then press keys."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, CrewtuiApp)
        if theme is not None:
            app.theme = theme
        for health in HEALTHS:
            app.main.post_message(HealthUpdated(health))
        await workers_done(app)
        await pilot.pause()
        await workers_done(app)
        await pilot.pause()
        if select is not None:
            app.main.kickoffs.select(select)
            await workers_done(app)
            await pilot.pause()
        for key in keys:
            await pilot.press(key)
            await workers_done(app)
            await pilot.pause()

    return run_before


def test_main_screen(snap_compare: SnapCompare, snapshot_app: CrewtuiApp) -> None:
    assert snap_compare(snapshot_app, terminal_size=(120, 36), run_before=prepare())


def test_main_screen_wide(snap_compare: SnapCompare, snapshot_app: CrewtuiApp) -> None:
    assert snap_compare(snapshot_app, terminal_size=(180, 36), run_before=prepare())


def test_main_screen_at_80x24(snap_compare: SnapCompare, snapshot_app: CrewtuiApp) -> None:
    assert snap_compare(snapshot_app, terminal_size=(80, 24), run_before=prepare("j"))


def test_help_screen(snap_compare: SnapCompare, snapshot_app: CrewtuiApp) -> None:
    assert snap_compare(snapshot_app, terminal_size=(100, 36), run_before=prepare("question_mark"))


def test_batch_row_above_the_list(
    snap_compare: SnapCompare, batch_snapshot_app: CrewtuiApp
) -> None:
    assert snap_compare(batch_snapshot_app, terminal_size=(120, 30), run_before=prepare())


def test_log_view(snap_compare: SnapCompare, snapshot_app: CrewtuiApp) -> None:
    """``l``: the history's lines, the kind of each in its colour, the Log view's keys."""
    assert snap_compare(snapshot_app, terminal_size=(120, 36), run_before=prepare("l"))


def test_filter_dialog(snap_compare: SnapCompare, snapshot_app: CrewtuiApp) -> None:
    assert snap_compare(snapshot_app, terminal_size=(100, 30), run_before=prepare("slash"))


def test_main_screen_light_theme(snap_compare: SnapCompare, snapshot_app: CrewtuiApp) -> None:
    """A light theme: the failed run's detail and the list's states read in its colours."""
    failed = "72b36a7d-0000-4000-8000-000000000002"
    assert snap_compare(
        snapshot_app,
        terminal_size=(120, 36),
        run_before=prepare(theme="textual-light", select=failed),
    )


def test_output_tab_as_plain_text_with_a_match(
    snap_compare: SnapCompare, snapshot_app: CrewtuiApp
) -> None:
    """The line view: Markdown switched off (`m`), a search (`/`) with its match lit."""
    assert snap_compare(
        snapshot_app,
        terminal_size=(100, 30),
        run_before=prepare(
            "2", "m", "enter", "slash", "7", select="5f1c2d3e-1234-4abc-9def-0123456789ab"
        ),
    )


def test_comparison_of_two_marked_runs(snap_compare: SnapCompare, snapshot_app: CrewtuiApp) -> None:
    """`space` on the two travel runs: the second mark opens their comparison."""
    opened = prepare()

    async def run_before(pilot: Pilot[Any]) -> None:
        await opened(pilot)
        app = pilot.app
        assert isinstance(app, CrewtuiApp)
        for kickoff_id in (
            "e14c070d-0000-4000-8000-000000000004",
            "5f1c2d3e-1234-4abc-9def-0123456789ab",
        ):
            app.main.kickoffs.select(kickoff_id)
            await pilot.press("space")
            await workers_done(app)
            await pilot.pause()

    assert snap_compare(snapshot_app, terminal_size=(100, 30), run_before=run_before)


def test_stats_view(snap_compare: SnapCompare, snapshot_app: CrewtuiApp) -> None:
    """`S` on a travel run: the crew's week in numbers, sparklines and task bars."""
    assert snap_compare(
        snapshot_app,
        terminal_size=(100, 30),
        run_before=prepare("S", select="5f1c2d3e-1234-4abc-9def-0123456789ab"),
    )


def waiting_kickoffs() -> list[Kickoff]:
    """A crew's task waiting for approval, and (younger) a flow's human-in-the-loop request."""
    return [
        Kickoff(
            kickoff_id="c0ffee00-0000-4000-8000-000000000005",
            crew="outreach",
            state=RunState.PAUSED,
            created_at=at(120),
            updated_at=at(180),
            started_at=at(121),
            progress=Progress(completed=1, total=3),
            waiting_for=WaitingFor(
                task_id="profile_research_task",
                agent="Prospect Researcher",
                message="Review the output of profile_research_task and approve or reject it.",
                since=at(180),
            ),
        ),
        Kickoff(
            kickoff_id="f10f1000-0000-4000-8000-000000000006",
            crew="launch-flow",
            kind="flow",
            state=RunState.PAUSED,
            created_at=at(230),
            updated_at=at(260),
            waiting_for=WaitingFor(
                task_id="review_copy",
                message="Is this launch copy ready to publish?",
                since=at(260),
                request_id="req-7",
            ),
        ),
    ]


def test_inbox(snap_compare: SnapCompare, snapshot_app: CrewtuiApp) -> None:
    for kickoff in waiting_kickoffs():
        snapshot_app.tracker.store.save_kickoff(kickoff)
    assert snap_compare(snapshot_app, terminal_size=(120, 36), run_before=prepare("i"))
