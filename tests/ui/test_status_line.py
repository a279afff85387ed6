"""The status line's account of each crew's polling pace, at the width of a terminal."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from textual.app import App, ComposeResult

from crewtui.core.tracker_events import CrewHealth
from crewtui.ui.widgets.status_line import StatusLine
from tests.ui.app_helpers import layouts_asked

TRAVEL = CrewHealth(crew="travel", state="ok", interval=3.2, rate=7.0, budget=10.0)


class StatusApp(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")


async def crews_text(healths: list[CrewHealth], view: list[str], width: int = 80) -> str:
    app = StatusApp()
    async with app.run_test(size=(width, 5)) as pilot:
        status = app.query_one(StatusLine)
        status.set_healths(healths)
        status.set_view(view, optional=["sort newest"])
        await pilot.pause()
        shown = status.crews_text
        assert len(shown) + 2 + len(status.view_text) <= width - 2
        line = app.screen._compositor.render_strips()[0].text
        assert (
            line == f" {shown}{' ' * (width - 2 - len(shown) - len(status.view_text))}"
            f"{status.view_text} "
        )
        return shown


async def test_a_polling_crew_shows_its_budget_use_and_interval_in_80_columns() -> None:
    shown = await crews_text([TRAVEL], ["12 kickoffs"])
    assert shown == "● travel 7/10 rps · ~3.2s"


async def test_four_crews_in_80_columns_drop_the_pace_before_a_crew() -> None:
    healths = [
        TRAVEL,
        CrewHealth(crew="content", state="ok", interval=1.0, rate=2.0, budget=10.0),
        CrewHealth(crew="outreach", state="ok", interval=25.0, rate=10.0, budget=10.0),
        CrewHealth(crew="research", state="unreachable", message="The crew could not be reached."),
    ]
    shown = await crews_text(healths, ["1,000 kickoffs"])
    for crew in ("travel", "content", "outreach", "research"):
        assert crew in shown
    assert "rps" not in shown


async def test_a_crew_that_has_not_polled_yet_shows_no_pace() -> None:
    shown = await crews_text([CrewHealth(crew="travel", state="ok", budget=10.0)], [])
    assert shown == "● travel"


async def test_a_crew_another_process_polls_names_it_and_says_this_one_views() -> None:
    viewed = CrewHealth(crew="travel", state="unknown", budget=10.0, poller="4242@ops-box")
    app = StatusApp()
    async with app.run_test(size=(80, 5)) as pilot:
        status = app.query_one(StatusLine)
        status.set_healths([viewed, CrewHealth(crew="content", state="ok", budget=10.0)])
        await pilot.pause()
        assert status.crews_text == "○ travel polled by 4242@ops-box  ● content"
        assert str(status.tooltip) == "travel is polled by 4242@ops-box; this process views it"


async def test_a_viewed_crew_gone_stale_says_since_when_and_what_its_poller_was_told() -> None:
    told = "Could not reach the travel crew \x1b[31m(connection refused)."
    stale = CrewHealth(
        crew="travel",
        state="unknown",
        poller="4242@ops-box",
        stale_since=datetime(2026, 12, 2, 10, 42, 7, tzinfo=UTC),
        poller_trouble=told,
    )
    app = StatusApp()
    async with app.run_test(size=(120, 5)) as pilot:
        status = app.query_one(StatusLine)
        status.tz = UTC
        status.set_healths([stale])
        await pilot.pause()
        shown = status.crews_text
        assert shown.startswith("○ travel polled by 4242@ops-box, stale since 10:42:07: Could")
        assert "\x1b" not in shown
        assert "its poller says: Could not reach the travel crew" in str(status.tooltip)
    # At 80 columns the reason goes first; the staleness stays.
    assert await crews_text([stale], []) == "○ travel polled by 4242@ops-box, stale since " + (
        stale.stale_since.astimezone().strftime("%H:%M:%S")  # type: ignore[union-attr]
    )


async def test_new_words_repaint_the_line_without_a_layout_of_the_screen() -> None:
    """Each push that pauses or answers a run changes the waiting count: the line is drawn
    again in place, and the screen is not laid out again."""
    app = StatusApp()
    async with app.run_test(size=(80, 5)) as pilot:
        status = app.query_one(StatusLine)
        status.set_healths([TRAVEL])
        status.set_view(["12 kickoffs"])
        await pilot.pause()
        with layouts_asked() as layouts:
            status.set_view(["1 waiting (i)", "12 kickoffs"])
            status.set_health(replace(TRAVEL, rate=9.0))
        await pilot.pause()
        assert layouts == []
        line = app.screen._compositor.render_strips()[0].text
        assert line.startswith(" ● travel 9/10 rps")
        assert line.endswith("1 waiting (i) · 12 kickoffs ")


async def test_a_crew_with_nothing_to_poll_says_idle_and_is_counted_when_room_is_short() -> None:
    """A bare "○ travel" meant nothing to a newcomer: it says "idle", like "ok" counted
    when the crews do not fit one by one."""
    idle = CrewHealth(crew="travel", state="unknown", budget=10.0)
    assert await crews_text([idle, CrewHealth(crew="content", state="ok")], []) == (
        "○ travel idle  ● content"
    )
    many = [CrewHealth(crew=f"crew-number-{n}", state="unknown") for n in range(4)]
    many.append(CrewHealth(crew="research", state="unreachable", message="down"))
    shown = await crews_text([*many, TRAVEL], ["1,000 kickoffs"])
    assert shown == "▲ research unreachable  ● 1 ok  ○ 4 idle"
