"""The kickoff list alone: rows drawn when shown, line-level updates, order, ticking, paging,
inert text."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.message import Message

from crewtui.api.rows import KickoffSummary, Progress
from crewtui.api.states import RunState
from crewtui.ui.widgets.kickoff_list import PAGE_ROWS, KickoffList, ListFilter

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
    return KickoffSummary(**{**values, **changes})


class CountingList(KickoffList):
    """Records which rows were rendered, to prove a change repaints its own line only."""

    def __init__(self) -> None:
        super().__init__(tz=UTC, id="kickoffs")
        self.updates: list[str] = []

    def _cells_for(self, row: KickoffSummary, now: datetime) -> dict[str, Text]:
        self.updates.append(row.kickoff_id)
        return super()._cells_for(row, now)


class ListApp(App[None]):
    def compose(self) -> ComposeResult:
        yield CountingList()

    @property
    def table(self) -> CountingList:
        return self.query_one(CountingList)


def order(table: KickoffList) -> list[str]:
    return [summary.kickoff_id for _index, summary in table.rows.held_rows()]


async def test_a_change_repaints_its_own_line_once_per_frame() -> None:
    app = ListApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.table
        running = row(1, state=RunState.RUNNING, progress=Progress(completed=0, total=2))
        table.upsert([running, row(2)], T0 + timedelta(minutes=3))
        await pilot.pause()
        table.updates.clear()
        # A burst of changes to one row between two frames: one repaint, of that row.
        for done in (1, 2, 1):
            moved = replace(running, progress=Progress(completed=done, total=2))
            table.apply(moved, member=True, first_seen=False)
        await pilot.pause()
        assert table.updates == [running.kickoff_id]
        assert "1/2" in table.cell(running.kickoff_id, "progress").plain
        table.updates.clear()
        table.apply(moved, member=True, first_seen=False)
        await pilot.pause()
        assert table.updates == []


class StyleCountingList(CountingList):
    """Counts how often the list's style is resolved (each walks its ancestors)."""

    resolved = 0

    @property
    def rich_style(self) -> Style:
        self.resolved += 1
        return super().rich_style


class StyleCountingApp(App[None]):
    def compose(self) -> ComposeResult:
        yield StyleCountingList()


async def test_a_paint_resolves_the_lists_style_once_not_per_line() -> None:
    """Per line, resolving it was 11 % of a cursor move's work (cProfile of bench_keys)."""
    app = StyleCountingApp()
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(StyleCountingList)
        table.begin(1000, [row(1000 - index) for index in range(PAGE_ROWS)], T0)
        await pilot.pause()
        table.resolved = 0
        table.refresh()
        await pilot.pause()
        assert table.scrollable_content_region.height > 20
        assert 0 < table.resolved <= 3


async def test_newest_first_and_each_order() -> None:
    app = ListApp()
    async with app.run_test(size=(120, 20)):
        table = app.table
        rows = [row(1), row(2, state=RunState.RUNNING), row(3, state=RunState.FAILED)]
        table.upsert(rows, T0)
        assert order(table) == [rows[2].kickoff_id, rows[1].kickoff_id, rows[0].kickoff_id]
        # Another order is a new query: the list starts again and rows come in that order.
        table.reset("oldest")
        table.upsert([*rows, row(4)], T0)
        assert order(table)[0] == rows[0].kickoff_id
        table.reset("state")
        table.upsert([*rows, row(4), row(5, state=RunState.RUNNING)], T0)
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


async def test_tick_repaints_visible_running_rows_only() -> None:
    app = ListApp()
    async with app.run_test(size=(120, 12)) as pilot:
        table = app.table
        rows = [row(i, state=RunState.RUNNING, execution_time=None) for i in range(40)]
        rows += [row(i) for i in range(40, 43)]  # finished: nothing of theirs moves
        table.upsert(rows, T0 + timedelta(hours=1))
        await pilot.pause()
        table.updates.clear()
        table.tick(T0 + timedelta(hours=1, seconds=5))
        await pilot.pause()
        touched = set(table.updates)
        assert 0 < len(touched) <= table.scrollable_content_region.height
        assert rows[39].kickoff_id in touched
        assert rows[0].kickoff_id not in touched
        assert not touched & {summary.kickoff_id for summary in rows[40:]}


def wanted(messages: list[Message]) -> list[tuple[int, int]]:
    """The rows asked for (a message is seen again at each node it bubbles through)."""
    unique = {id(message): message for message in messages}
    return [
        (message.offset, message.limit)
        for message in unique.values()
        if isinstance(message, KickoffList.RowsWanted)
    ]


async def test_a_million_rows_cost_a_screenful_and_the_end_is_read_alone() -> None:
    """Only the rows on screen are drawn; jumping to the end asks for the last page only,
    once, however often the user jumps there before it comes."""
    asked: list[Message] = []
    app = ListApp()
    total = 1_000_000
    async with app.run_test(size=(120, 12), message_hook=asked.append) as pilot:
        table = app.table
        newest = [row(total - index) for index in range(PAGE_ROWS)]
        table.begin(total, newest, T0)
        await pilot.pause()
        assert len(set(table.updates)) <= table.scrollable_content_region.height
        assert wanted(asked) == []
        table.action_scroll_bottom()
        await pilot.pause()
        table.action_scroll_top()
        await pilot.pause()
        table.action_scroll_bottom()
        await pilot.pause()
        await pilot.pause()
        last_page = (total - total % PAGE_ROWS - PAGE_ROWS, PAGE_ROWS)
        assert wanted(asked) == [last_page]
        assert table.selected_id is None and table.cursor_pending
        oldest = [row(PAGE_ROWS - index) for index in range(PAGE_ROWS)]
        version = table.rows.version
        assert table.add_page(last_page[0], oldest, T0, asked=PAGE_ROWS, version=version)
        assert table.selected_id == row(1).kickoff_id
        assert table.row_count == total
        assert table.rows.held <= 2 * PAGE_ROWS


async def test_paging_down_asks_for_the_next_page_half_a_page_before_reaching_it() -> None:
    """The read (a worker's round trip) starts while half a page is still ahead, so the key
    that reaches rows never read finds them held rather than waiting a frame for them."""
    asked: list[Message] = []
    app = ListApp()
    async with app.run_test(size=(120, 12), message_hook=asked.append) as pilot:
        table = app.table
        table.begin(10_000, [row(10_000 - index) for index in range(PAGE_ROWS)], T0)
        await pilot.pause()
        shown = table.scrollable_content_region.height - 1
        while not wanted(asked):
            table.action_page_down()
            await pilot.pause()
        bottom = int(table.scroll_y) + shown
        assert wanted(asked) == [(PAGE_ROWS, PAGE_ROWS)]
        assert PAGE_ROWS - bottom >= PAGE_ROWS // 2 - shown


async def test_a_page_read_before_rows_moved_is_dropped_and_asked_again() -> None:
    asked: list[Message] = []
    app = ListApp()
    async with app.run_test(size=(120, 12), message_hook=asked.append) as pilot:
        table = app.table
        table.begin(1000, [row(1000 - index) for index in range(PAGE_ROWS)], T0)
        table.action_scroll_bottom()
        await pilot.pause()
        await pilot.pause()
        [(offset, limit)] = wanted(asked)
        version = table.rows.version
        table.upsert([row(2000)], T0)  # a new kickoff on top: every position moves by one
        assert table.row_count == 1001
        page = [row(limit - index) for index in range(limit)]
        assert not table.add_page(offset, page, T0, asked=limit, version=version)
        await pilot.pause()
        await pilot.pause()
        # Asked again at the positions as they are now (the last row is one further down).
        assert wanted(asked) == [(offset, limit), (offset, limit), (1000, 1)]


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
        task = table.cell(hostile.kickoff_id, "task")
        assert isinstance(task, Text)
        assert "\x1b" not in task.plain and "\\x1b" in task.plain
        assert "[/red]" in task.plain and "\n" not in task.plain
        assert table.cell(hostile.kickoff_id, "crew").plain == "[bold]x"


async def test_unread_marker_and_stale_rows() -> None:
    app = ListApp()
    async with app.run_test(size=(120, 12)):
        table = app.table
        running = row(1, state=RunState.RUNNING, current_task="research_task")
        table.upsert([running, row(2)], T0 + timedelta(minutes=5))
        table.mark_unread(row(2).kickoff_id)
        assert table.cell(row(2).kickoff_id, "mark").plain == "•"
        table.mark_read(row(2).kickoff_id)
        assert table.cell(row(2).kickoff_id, "mark").plain == " "
        table.set_stale("content", T0 + timedelta(minutes=3))
        assert table.cell(running.kickoff_id, "task").plain == "stale 2m · research_task"
        pending = row(4, state=RunState.PENDING, crew="content")
        table.upsert([pending], T0 + timedelta(minutes=5))
        # Nothing to say after the staleness: no dangling separator.
        assert table.cell(pending.kickoff_id, "task").plain == "stale 2m"
        assert "stale" not in table.cell(row(2).kickoff_id, "task").plain
        table.set_stale("content", None)
        assert table.cell(running.kickoff_id, "task").plain == "research_task"
        table.remove_kickoff(running.kickoff_id)
        with pytest.raises(KeyError):
            table.cell(running.kickoff_id, "task")


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
        progress=Progress(completed=1, total=3),
    )
    # A flow has no total: its methods done, in the compact column's width too.
    flow = row(2, kind="flow", task_count=4, progress=Progress(completed=4, total=None))
    async with app.run_test(size=(80, 10)) as pilot:
        app.table.upsert([running, flow], T0)
        await pilot.pause()
        await pilot.pause()

        def screen_text() -> str:
            return "\n".join(strip.text for strip in app.screen._compositor.render_strips())

        narrow = screen_text()
        assert "planning_task" in narrow
        assert "━" not in narrow and "1/3" in narrow
        assert " 4✓ " in narrow and "…" not in narrow
        assert "Start " in narrow and "Tasks" in narrow
        await pilot.resize_terminal(160, 10)
        await pilot.pause()
        wide = screen_text()
        assert "━" in wide and "Started" in wide and "Progress" in wide


async def test_crews_named_by_url_keep_the_end_that_tells_them_apart() -> None:
    """Crews made from ``--url`` are named host, port and path: cut from the right, every
    row read ``127.0.0.1…``; the list keeps the end, as the CLI does."""
    app = ListApp()
    research = row(1, crew="127.0.0.1:8765/research")
    travel = row(2, crew="127.0.0.1:8765/travel")
    async with app.run_test(size=(80, 10)) as pilot:
        app.table.upsert([research, travel], T0)
        await pilot.pause()
        lines = [strip.text for strip in app.screen._compositor.render_strips()]
    assert any(" …/research " in line and research.kickoff_id[:8] in line for line in lines)
    assert any(" …65/travel " in line and travel.kickoff_id[:8] in line for line in lines)
    assert not any("127.0.0" in line for line in lines)


async def test_a_url_crew_with_wide_characters_keeps_its_end_in_the_column() -> None:
    """Each CJK character takes two cells: a name cut to the column's width in characters
    was twice as wide, and the column cut it again from the right, losing its end."""
    app = ListApp()
    travel = row(1, crew="127.0.0.1:8765/旅行研究员")
    async with app.run_test(size=(80, 10)) as pilot:
        app.table.upsert([travel], T0)
        await pilot.pause()
        lines = [strip.text for strip in app.screen._compositor.render_strips()]
    assert any(f" …行研究员   {travel.kickoff_id[:8]} " in line for line in lines), lines


async def test_the_cursors_row_is_asked_for_when_the_view_is_elsewhere() -> None:
    """After a recount the cursor's row may no longer be held while the wheel has scrolled
    the view away: its page is read all the same, or the detail would never follow."""
    asked: list[Message] = []
    app = ListApp()
    async with app.run_test(size=(120, 12), message_hook=asked.append) as pilot:
        table = app.table
        newest = [row(1000 - index) for index in range(2 * PAGE_ROWS)]
        table.begin(1000, newest[:PAGE_ROWS], T0)
        version = table.rows.version
        table.add_page(PAGE_ROWS, newest[PAGE_ROWS:], T0, asked=PAGE_ROWS, version=version)
        table.select(newest[300].kickoff_id)
        await pilot.pause()
        table.scroll_to(y=0, animate=False, immediate=True)
        await pilot.pause()
        table.recounted(1000, 0, newest[:100], T0, table.rows.version)
        await pilot.pause()
        await pilot.pause()
        assert table.cursor_row == 300 and table.cursor_pending
        assert (PAGE_ROWS, PAGE_ROWS) in wanted(asked)
