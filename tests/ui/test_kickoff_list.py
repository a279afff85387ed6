"""The kickoff list alone: keyed rows, cell-level updates, order, ticking, paging, inert text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets.data_table import CellDoesNotExist

from crewtui.api.models import KickoffSummary, Progress, RunState
from crewtui.ui.widgets.kickoff_list import KickoffList, ListFilter

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def row(index: int, **changes: Any) -> KickoffSummary:
    """The ``index``-th kickoff, created ``index`` minutes after T0."""
    values: dict[str, Any] = {
        "kickoff_id": f"{index:08d}-0000-4000-8000-000000000000",
        "crew": ("travel", "content", "research")[index % 3],
        "state": RunState.COMPLETED,
        "created_at": T0 + timedelta(minutes=index),
        "updated_at": T0 + timedelta(minutes=index, seconds=30),
        "started_at": T0 + timedelta(minutes=index),
        "execution_time": 30.0,
        "task_count": 2,
    }
    return KickoffSummary.model_validate({**values, **changes})


class CountingList(KickoffList):
    """Records which cells were handed to DataTable, to prove updates are cell by cell."""

    def __init__(self) -> None:
        super().__init__(tz=UTC, id="kickoffs")
        self.updates: list[tuple[str, str]] = []

    def update_cell(self, row_key: Any, column_key: Any, value: Any, **kwargs: Any) -> None:
        self.updates.append((str(row_key), str(column_key)))
        super().update_cell(row_key, column_key, value, **kwargs)


class ListApp(App[None]):
    def compose(self) -> ComposeResult:
        yield CountingList()

    @property
    def table(self) -> CountingList:
        return self.query_one(CountingList)


def order(table: KickoffList) -> list[str]:
    return [str(r.key.value) for r in table.ordered_rows]


async def test_changes_touch_only_the_changed_cells() -> None:
    app = ListApp()
    async with app.run_test(size=(120, 20)):
        table = app.table
        running = row(1, state=RunState.RUNNING, progress=Progress(completed=0, total=2))
        table.upsert([running, row(2)], T0 + timedelta(minutes=3))
        table.updates.clear()
        moved = running.model_copy(update={"progress": Progress(completed=1, total=2)})
        table.upsert([moved], T0 + timedelta(minutes=3))
        assert table.updates == [(running.kickoff_id, "progress")]
        table.updates.clear()
        table.upsert([moved], T0 + timedelta(minutes=3))
        assert table.updates == []


async def test_newest_first_and_each_order() -> None:
    app = ListApp()
    async with app.run_test(size=(120, 20)):
        table = app.table
        rows = [row(1), row(2, state=RunState.RUNNING), row(3, state=RunState.FAILED)]
        table.upsert(rows, T0)
        assert order(table) == [rows[2].kickoff_id, rows[1].kickoff_id, rows[0].kickoff_id]
        table.order = "oldest"
        table.upsert([row(4)], T0)
        assert order(table)[0] == rows[0].kickoff_id
        table.order = "state"
        table.upsert([row(5, state=RunState.RUNNING)], T0)
        assert [table.summary(key).state for key in order(table)][:2] == [RunState.RUNNING] * 2


async def test_the_selection_follows_its_kickoff_when_rows_arrive_above() -> None:
    app = ListApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.table
        table.upsert([row(1), row(2)], T0)
        table.select(row(1).kickoff_id)
        await pilot.pause()
        table.upsert([row(3)], T0)
        await pilot.pause()
        assert table.selected_id == row(1).kickoff_id


async def test_tick_updates_elapsed_of_visible_running_rows_only() -> None:
    app = ListApp()
    async with app.run_test(size=(120, 12)):
        table = app.table
        rows = [row(i, state=RunState.RUNNING, execution_time=None) for i in range(40)]
        table.upsert(rows, T0 + timedelta(hours=1))
        table.updates.clear()
        table.tick(T0 + timedelta(hours=1, seconds=5))
        touched = {key for key, _column in table.updates}
        columns = {column for _key, column in table.updates}
        assert columns == {"elapsed"}
        assert 0 < len(touched) <= table.scrollable_content_region.height
        assert rows[-1].kickoff_id in touched
        assert rows[0].kickoff_id not in touched


async def test_near_end_asks_for_the_next_page_once() -> None:
    asked: list[object] = []
    app = ListApp()
    async with app.run_test(size=(120, 12), message_hook=asked.append) as pilot:
        table = app.table
        table.add_page([row(i) for i in range(40)], T0, has_more=True)
        await pilot.pause()
        table.action_scroll_bottom()
        await pilot.pause()
        table.action_scroll_top()
        table.action_scroll_bottom()
        await pilot.pause()
        assert len({id(m) for m in asked if isinstance(m, KickoffList.NearEnd)}) == 1
        table.add_page([row(40)], T0, has_more=False)
        assert table.row_count == 41 and not table.has_more


async def test_api_text_is_inert_in_cells() -> None:
    app = ListApp()
    async with app.run_test(size=(120, 12)):
        table = app.table
        hostile = row(
            1,
            state=RunState.FAILED,
            crew="[bold]x",
            error="\x1b]52;c;aGk=\x07 boom [/red]\nsecond line",
        )
        table.upsert([hostile], T0)
        task = table.get_cell(hostile.kickoff_id, "task")
        assert isinstance(task, Text)
        assert "\x1b" not in task.plain and "\\x1b" in task.plain
        assert "[/red]" in task.plain and "\n" not in task.plain
        assert table.get_cell(hostile.kickoff_id, "crew").plain == "[bold]x"


async def test_unread_marker_and_stale_rows() -> None:
    app = ListApp()
    async with app.run_test(size=(120, 12)):
        table = app.table
        running = row(1, state=RunState.RUNNING, current_task="research_task")
        table.upsert([running, row(2)], T0 + timedelta(minutes=5))
        table.mark_unread(row(2).kickoff_id)
        assert table.get_cell(row(2).kickoff_id, "mark").plain == "•"
        table.mark_read(row(2).kickoff_id)
        assert table.get_cell(row(2).kickoff_id, "mark").plain == " "
        table.set_stale("content", T0 + timedelta(minutes=3))
        assert table.get_cell(running.kickoff_id, "task").plain == "stale 2m · research_task"
        pending = row(4, state=RunState.PENDING, crew="content")
        table.upsert([pending], T0 + timedelta(minutes=5))
        # Nothing to say after the staleness: no dangling separator.
        assert table.get_cell(pending.kickoff_id, "task").plain == "stale 2m"
        assert "stale" not in table.get_cell(row(2).kickoff_id, "task").plain
        table.set_stale("content", None)
        assert table.get_cell(running.kickoff_id, "task").plain == "research_task"
        table.remove_kickoff(running.kickoff_id)
        try:
            table.get_cell(running.kickoff_id, "task")
        except CellDoesNotExist:
            pass
        else:
            raise AssertionError("the removed row is still there")


def test_filter_matches_like_the_store_query() -> None:
    summary = row(1, current_task="planning_task")
    assert ListFilter().matches(summary)
    assert ListFilter(crew="content").matches(summary)
    assert not ListFilter(crew="travel").matches(summary)
    assert ListFilter(text="PLANNING").matches(summary)
    assert not ListFilter(states=frozenset({RunState.FAILED})).matches(summary)
    assert not ListFilter(archived=True).matches(summary)


async def test_the_cursor_stays_on_top_until_someone_moves_it() -> None:
    app = ListApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.table
        table.upsert([row(1)], T0)
        table.upsert([row(2)], T0)
        await pilot.pause()
        assert table.cursor_row == 0 and table.selected_id == row(2).kickoff_id
        table.focus()
        await pilot.press("j")
        table.upsert([row(3)], T0)
        await pilot.pause()
        assert table.selected_id == row(1).kickoff_id


async def test_the_task_column_takes_the_width_left() -> None:
    app = ListApp()
    async with app.run_test(size=(200, 10)) as pilot:
        table = app.table
        table.upsert([row(1, state=RunState.RUNNING, current_task="t" * 150)], T0)
        await pilot.pause()
        lines = [strip.text for strip in app.screen._compositor.render_strips()]
        shown = max(line.count("t") for line in lines)
        assert shown > 100


async def test_at_80_columns_the_list_goes_compact_to_show_the_task() -> None:
    """Bars and seconds give way at 80 columns so the current task stays readable; a wide
    terminal gets them back."""
    app = ListApp()
    running = row(
        1,
        state=RunState.RUNNING,
        current_task="planning_task",
        progress={"completed": 1, "total": 3},
    )
    async with app.run_test(size=(80, 10)) as pilot:
        app.table.upsert([running], T0)
        await pilot.pause()

        def screen_text() -> str:
            return "\n".join(strip.text for strip in app.screen._compositor.render_strips())

        narrow = screen_text()
        assert "planning_task" in narrow
        assert "━" not in narrow and "1/3" in narrow
        assert "Start " in narrow and "Tasks" in narrow
        await pilot.resize_terminal(160, 10)
        await pilot.pause()
        wide = screen_text()
        assert "━" in wide and "Started" in wide and "Progress" in wide
