"""The line-based output view: large outputs open at their first lines, scroll, search far
down, keep hostile text inert, switch Markdown off and on, and are not re-read when a poll
brings the same output again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from crewtui.api.models import TaskResult
from crewtui.api.states import RunState, TaskState
from crewtui.core.store_text import HOLD_BYTES
from crewtui.ui.pilot import settle as settle_app
from crewtui.ui.screens.main import MainScreen
from crewtui.ui.widgets.detail import KickoffDetail
from crewtui.ui.widgets.line_view import LineView
from crewtui.ui.widgets.output_view import OutputView
from tests.hardening.corpus import BY_NAME, EVERYTHING, assert_inert
from tests.ui.app_helpers import AppFactory
from tests.ui.test_detail import done, screen_text, settle


class OutputApp(App[None]):
    def compose(self) -> ComposeResult:
        yield KickoffDetail(id="detail")

    @property
    def detail(self) -> KickoffDetail:
        return self.query_one(KickoffDetail)

    @property
    def view(self) -> OutputView:
        return self.query_one(OutputView)

    @property
    def lines(self) -> LineView:
        return self.query_one(LineView)


def big_output(lines: int = 40_000) -> str:
    """About 2.5 MB: numbered lines, one far down holding the needle."""
    body = [f"row {n:06d} {'lorem ipsum dolor sit amet ' * 2}" for n in range(lines)]
    body[lines - 7] = "the needle is down here"
    return "\n".join(body)


async def show_output(pilot: Pilot[None], text: str) -> OutputApp:
    app = pilot.app
    assert isinstance(app, OutputApp)
    app.detail.show(done(output=text))
    app.detail.focus_tab("output")
    await settle(pilot)
    return app


async def test_a_big_output_shows_its_first_lines_and_scrolls_to_its_end() -> None:
    text = big_output()
    async with OutputApp().run_test(size=(100, 30)) as pilot:
        app = await show_output(pilot, text)
        assert app.view.mode == "text"
        assert app.lines.document is not None and app.lines.document.complete
        shown = screen_text(app)
        assert "row 000000" in shown and "row 000001" in shown
        assert "2.5 MB: shown as plain text" in shown

        await pilot.press("end")
        await settle(pilot)
        shown = screen_text(app)
        assert f"row {39_999:06d}" in shown and "row 000000" not in shown
        await pilot.press("home")
        await settle(pilot)
        assert "row 000000" in screen_text(app)


async def test_long_lines_fold_at_the_width_and_again_when_it_changes() -> None:
    text = "start " + "x" * 500 + " finish\nnext line"
    async with OutputApp().run_test(size=(60, 30)) as pilot:
        app = await show_output(pilot, "\n".join([text] * 2_000))  # past the Markdown cap
        shown = screen_text(app)
        assert "start xxx" in shown and "finish" in shown and "next line" in shown
        rows_narrow = app.lines.rows
        await pilot.resize_terminal(120, 30)
        await settle(pilot)
        assert app.lines.rows < rows_narrow
        assert "finish" in screen_text(app)


async def test_search_finds_a_match_far_down_and_shows_it() -> None:
    async with OutputApp().run_test(size=(100, 30)) as pilot:
        app = await show_output(pilot, big_output())
        app.view.search("NEEDLE")
        await settle(pilot)
        assert app.view.match_count == 1 and not app.view.searching
        shown = screen_text(app)
        assert "the needle is down here" in shown and "1/1" in shown
        match = app.lines.current_match
        assert match is not None and app.lines.document is not None
        assert app.lines.document.text(match.segment)[match.start : match.end] == "needle"

        app.view.search("lorem")
        await settle(pilot)
        assert app.view.match_count == 80_000 - 2  # twice a line, but on the needle's
        app.view.next_match()
        await settle(pilot)
        assert "2/" in screen_text(app)


async def test_hostile_text_stays_inert_in_the_line_view() -> None:
    hostile = "\n".join([EVERYTHING.text] * 200 + [BY_NAME["huge_line"].text])
    async with OutputApp().run_test(size=(100, 30)) as pilot:
        app = await show_output(pilot, hostile)
        assert app.view.mode == "text"
        await settle(pilot)
        for key in ("pagedown", "end"):
            shown = screen_text(app)
            assert_inert(shown)
            strips = "".join(
                segment.text
                for strip in app.screen._compositor.render_strips()
                for segment in strip
            )
            assert_inert(strips)
            assert_inert(app.export_screenshot())
            await pilot.press(key)
            await settle(pilot)
        await pilot.press("home")
        await settle(pilot)
        assert "[link=https://x]click[/link]" in screen_text(app)  # markup shown as typed


async def test_markdown_is_switched_off_and_on() -> None:
    markdown = "# A title\n\n**bold** and [link=https://x]x[/link]"
    async with OutputApp().run_test(size=(100, 30)) as pilot:
        app = await show_output(pilot, markdown)
        assert app.view.mode == "markdown"
        assert "# A title" not in screen_text(app)

        app.detail.toggle_markdown()
        await settle(pilot)
        assert app.view.mode == "text"
        shown = screen_text(app)
        assert "# A title" in shown and "**bold**" in shown and "Markdown is off" in shown

        # It stays off for the next output, and comes back on.
        app.detail.show(done(output="## Another", kickoff_id="another"))
        await settle(pilot)
        assert app.view.mode == "text" and "## Another" in screen_text(app)
        app.detail.toggle_markdown()
        await settle(pilot)
        assert app.view.mode == "markdown" and "## Another" not in screen_text(app)


async def test_a_poll_with_the_same_output_keeps_the_view_as_it_is() -> None:
    text = big_output()
    async with OutputApp().run_test(size=(100, 30)) as pilot:
        app = await show_output(pilot, text)
        await pilot.press("end")
        document = app.lines.document
        scrolled = app.lines.scroll_y
        # A new poll: a new object with an equal (not identical) output.
        polled = done(output=text[:10] + text[10:])
        assert polled.output is not text and polled.output == text
        app.detail.show(polled)
        await settle(pilot)
        assert app.lines.document is document and app.lines.scroll_y == scrolled


async def test_a_large_stored_output_is_read_in_pieces_searched_copied_and_exported(
    make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    monkeypatch.setattr("platformdirs.user_downloads_dir", lambda: str(exports))
    text = big_output()
    assert len(text) > HOLD_BYTES
    store = make_app.store()
    kickoff = done(
        output=text,
        raw={"result": text},
        tasks=[TaskResult(task_id="write", output=text, state=TaskState.COMPLETED)],
        state=RunState.COMPLETED,
    )
    store.save_kickoff(kickoff)
    app = make_app([])
    async with app.run_test(size=(110, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await settle_app(pilot, lambda: screen.selected is not None)
        assert screen.selected is not None and screen.selected.output is None  # left out
        screen.detail.focus_tab("output")
        # The Output tab's view is mounted after the first frame: wait for it to be there.
        await settle_app(pilot, lambda: bool(screen.detail.query(LineView)))
        lines = screen.detail.query_one(LineView)
        await settle_app(pilot, lambda: lines.document is not None and lines.document.complete)
        assert "row 000000" in screen_text(app)
        view = screen.detail.query_one(OutputView)
        view.search("needle")
        await settle_app(pilot, lambda: view.match_count == 1 and not view.searching)
        assert "the needle is down here" in screen_text(app)
        await pilot.press("c")
        await settle_app(pilot, lambda: bool(app.clipboard))
        assert app.clipboard == text
        await pilot.press("e")
        await settle_app(pilot, lambda: len(list(exports.glob("*.json"))) == 1)
    exported = json.loads(next(exports.glob("*.json")).read_text(encoding="utf-8"))
    assert exported["output"] == text and exported["tasks"][0]["output"] == text
