"""The list's filter as a user meets it: escape keeps the cursor on its run, an empty
result says that the filter hides every run (and how to clear it), and the filter dialog's
live changes keep the batch shown with ``B``."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Static

from crewtui.api.models import Kickoff
from crewtui.core.store import Store
from crewtui.ui.pilot import settle
from crewtui.ui.screens.main import MainScreen
from crewtui.ui.screens.prompts import FilterScreen
from crewtui.ui.widgets.kickoff_list import ListFilter
from tests.ui.app_helpers import AppFactory, main_screen
from tests.ui.test_main_screen import _finished

pytestmark = pytest.mark.timeout(60)


def _save(store: Store, runs: list[Kickoff]) -> None:
    for kickoff in runs:
        store.save_kickoff(kickoff)


def _empty_text(screen: MainScreen) -> str:
    placeholder = screen.query_one("#empty", Static)
    return str(placeholder.render()) if placeholder.display else ""


async def test_escape_keeps_the_cursor_on_the_run_it_was_on(make_app: AppFactory) -> None:
    runs = [_finished(n, "travel" if n % 2 else "content") for n in range(1, 7)]
    _save(make_app.store(), runs)
    app = make_app([])
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: screen.kickoffs.row_count == 6)
        screen.apply_filter(ListFilter(crew="travel"))
        await settle(pilot, lambda: screen.kickoffs.row_count == 3)
        await pilot.press("down")  # runs 5, 3, 1: the cursor on run 3
        chosen = runs[2].kickoff_id
        await settle(pilot, lambda: screen.kickoffs.selected_id == chosen)
        await pilot.press("escape")
        await settle(pilot, lambda: screen.filter.is_empty and screen.kickoffs.row_count == 6)
        await settle(pilot, lambda: screen.selected is not None)
        assert screen.kickoffs.selected_id == chosen
        assert screen.kickoffs.cursor_row == 3  # newest first: 6, 5, 4, 3
        assert screen.selected is not None and screen.selected.kickoff_id == chosen


async def test_escape_finds_the_run_far_down_a_long_list(make_app: AppFactory) -> None:
    """Below the first page and beyond the rows held around the top: its page is read and
    held around the cursor, and the list scrolls to it."""
    runs = [_finished(n, "travel") for n in range(1, 451)]
    _save(make_app.store(), runs)
    chosen = runs[9]  # the 441st row, newest first
    app = make_app([])
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: screen.kickoffs.row_count == 450)
        screen.apply_filter(ListFilter(text=chosen.kickoff_id[:8]))
        await settle(pilot, lambda: screen.kickoffs.selected_id == chosen.kickoff_id)
        await pilot.press("escape")
        await settle(pilot, lambda: screen.filter.is_empty and screen.kickoffs.row_count == 450)
        await settle(pilot, lambda: screen.kickoffs.selected_id == chosen.kickoff_id)
        assert screen.kickoffs.cursor_row == 440
        top = int(screen.kickoffs.scroll_y)
        assert top <= 440 < top + screen.kickoffs.size.height


async def test_a_filter_that_hides_every_run_says_so_and_how_to_clear_it(
    make_app: AppFactory,
) -> None:
    _save(make_app.store(), [_finished(1, "travel")])
    app = make_app([])
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: screen.kickoffs.row_count == 1)
        assert _empty_text(screen) == ""
        await pilot.press("slash")
        await settle(pilot, lambda: isinstance(app.screen, FilterScreen))
        await pilot.press(*"zzz", "enter")
        await settle(pilot, lambda: app.screen is screen and screen.kickoffs.row_count == 0)
        said = _empty_text(screen)
        assert "No kickoffs yet" not in said
        assert "No kickoff matches the filter (text='zzz')" in said
        assert "Press esc to clear it" in said
        await pilot.press("escape")
        await settle(pilot, lambda: screen.kickoffs.row_count == 1)
        assert _empty_text(screen) == ""


async def test_the_filter_dialog_keeps_the_batch_shown_while_it_applies_as_you_type(
    make_app: AppFactory,
) -> None:
    batch = "b" * 12
    inside = [_finished(n, "travel", meta={"batch": batch, "row": n}) for n in (1, 2)]
    _save(make_app.store(), [*inside, _finished(3, "travel")])
    app = make_app([])
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: screen.kickoffs.row_count == 3)
        screen.apply_filter(ListFilter(batch=batch))
        await settle(pilot, lambda: screen.kickoffs.row_count == 2)
        await pilot.press("slash")
        await settle(pilot, lambda: isinstance(app.screen, FilterScreen))
        dialog = app.screen
        assert f"batch {batch[:8]}" in str(dialog.query_one("#filter-batch", Static).render())
        await pilot.press(*"place")
        await settle(pilot, lambda: dialog.query_one("#text", Input).value == "place")
        await settle(pilot, lambda: screen.filter.text == "place")
        assert screen.filter.batch == batch
        assert sorted(row.kickoff_id for row in screen.rows()) == [k.kickoff_id for k in inside]
        await pilot.press("enter")
        await settle(pilot, lambda: app.screen is screen)
        assert screen.filter == ListFilter(text="place", batch=batch)
