"""The rows of the list by position: held runs out of a count, kept in the store's order."""

from __future__ import annotations

from dataclasses import replace

from crewtui.api.rows import KickoffSummary
from crewtui.api.states import RunState
from crewtui.ui.widgets.kickoff_list import order_key
from crewtui.ui.widgets.kickoff_rows import KickoffRows
from tests.ui.test_kickoff_list import row


def newest_first(total: int) -> KickoffRows:
    """A list of ``total`` rows (row ``total - 1`` on top) with nothing held yet."""
    rows = KickoffRows(lambda summary: order_key("newest", summary))
    rows.reset(total)
    return rows


def page(total: int, offset: int, count: int) -> list[KickoffSummary]:
    """What the store answers for rows ``offset`` .. ``offset + count`` of ``newest_first``."""
    return [row(total - 1 - index) for index in range(offset, min(offset + count, total))]


def test_pages_are_held_where_they_were_read_and_touching_ones_merge() -> None:
    rows = newest_first(1000)
    rows.place(0, page(1000, 0, 200), 200)
    rows.place(800, page(1000, 800, 200), 200)
    assert rows.missing(0, 1000) == [(200, 800)]
    assert rows.get(999) == row(0) and rows.get(500) is None
    assert rows.index_of(row(0).kickoff_id) == 999
    rows.place(200, page(1000, 200, 600), 600)
    assert rows.missing(0, 1000) == []
    assert [index for index, _ in rows.held_rows()] == list(range(1000))


def test_a_new_row_on_top_moves_every_position_down_and_a_gap_only_counts() -> None:
    rows = newest_first(1000)
    rows.place(0, page(1000, 0, 200), 200)
    rows.place(800, page(1000, 800, 200), 200)
    version = rows.version
    assert rows.insert(row(5000)) == 0
    assert rows.version != version and rows.total == 1001
    assert rows.index_of(row(0).kickoff_id) == 1000
    # Between the held runs: only counted, and the runs below move down by one.
    between = replace(row(500), kickoff_id="00000500-9999-4000-8000-000000000000")
    assert rows.insert(between) is None
    assert rows.total == 1002 and rows.missing(0, 1002) == [(201, 802)]
    assert rows.index_of(row(0).kickoff_id) == 1001


def test_a_changed_row_stays_unless_its_key_moves_and_removal_closes_up() -> None:
    rows = KickoffRows(lambda summary: order_key("state", summary))
    rows.reset(3)
    done = [row(3), row(2), row(1)]
    rows.place(0, done, 3)
    assert rows.update(row(2, current_task="x")) == (1, 1)
    assert rows.update(row(1, state=RunState.RUNNING)) == (2, 0)
    assert rows.get(0) == row(1, state=RunState.RUNNING)
    assert rows.remove(row(3).kickoff_id) == 1
    assert rows.total == 2 and rows.get(1) == row(2, current_task="x")


def test_far_rows_are_let_go_and_a_short_page_corrects_the_count() -> None:
    rows = newest_first(1000)
    for offset in range(0, 1000, 200):
        rows.place(offset, page(1000, offset, 200), 200)
    rows.keep_near((900,), 200)
    assert rows.held == 200 and rows.missing(0, 1000) == [(0, 800)]
    # The cursor in one place and the view (scrolled by the wheel) in another: both stay.
    rows.place(0, page(1000, 0, 200), 200)
    rows.keep_near((950, 100), 100)
    assert rows.missing(0, 1000) == [(0, 50), (150, 900)]
    # The store had fewer rows than counted (deleted meanwhile): the end moves up.
    rows.place(800, page(1000, 800, 150), 200)
    assert rows.total == 950
