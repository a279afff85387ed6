"""The kickoff detail: Gantt, output (Markdown or line view, search), inputs, steps, raw.

Pure-render tests: a small app mounts ``KickoffDetail`` and is fed real ``Kickoff`` models.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from rich.cells import cell_len
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Markdown, OptionList, TextArea

from crewtui.api.models import Kickoff, Payload, Step, TaskResult
from crewtui.api.rows import Progress, WaitingFor
from crewtui.api.states import RunState, TaskState
from crewtui.core.tracker_events import CrewHealth
from crewtui.ui.widgets.detail import KickoffDetail
from crewtui.ui.widgets.line_view import LineView
from crewtui.ui.widgets.output_view import MARKDOWN_CAP, OutputView
from tests.ui.app_helpers import layouts_asked

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
HOSTILE = (
    "clear\x1b[2J osc52\x1b]52;c;aGk=\x07 [link=https://x]x[/link] "
    "[@click=app.quit]q[/] stray[/bold] rtl\u202eltr lone\ud800 c1\x9b end"
)
# ESC, C1 controls (CSI 0x9b, OSC 0x9d ...), BEL: none may reach the terminal.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def travel(**update: object) -> Kickoff:
    """The reference's travel run, in Chinese, with the second task still running."""
    kickoff = Kickoff(
        kickoff_id="5f1c2a3b-0000-4000-8000-000000000001",
        crew="travel",
        state=RunState.RUNNING,
        created_at=at(-2),
        updated_at=at(60),
        started_at=T0,
        progress=Progress(completed=1, total=2),
        current_task="planning_task",
        current_agent="行程规划师",
        inputs={"budget": "1000 USD", "interests": "games, tech, ai"},
        meta={"requestId": "travel-req-123"},
        raw={"state": "RUNNING", "status": "Task is Running"},
        tasks=[
            TaskResult(
                task_id="research_task",
                agent="旅行研究员",
                output="研究结果：东京的科技博物馆 🗾",
                started_at=T0,
                finished_at=at(45.2),
            ),
            TaskResult(
                task_id="planning_task",
                agent="行程规划师",
                state=TaskState.RUNNING,
                started_at=at(46),
            ),
        ],
    )
    return kickoff.model_copy(update=update)


def done(**update: object) -> Kickoff:
    """The same run, completed, with the reference's final output."""
    tasks = [
        travel().tasks[0],
        TaskResult(
            task_id="planning_task",
            agent="行程规划师",
            output="第一天：秋叶原",
            started_at=at(46),
            finished_at=at(108.5),
        ),
    ]
    fields: dict[str, object] = {
        "state": RunState.COMPLETED,
        "current_task": None,
        "current_agent": None,
        "progress": Progress(completed=2, total=2),
        "tasks": tasks,
        "output": "# 为期 7 天的日本科技文化主题综合旅行行程\n\n**第一天**：秋叶原",
        "finished_at": at(108.5),
        "execution_time": 108.5,
    }
    fields.update(update)
    return travel(**fields)


class DetailApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.picked: list[KickoffDetail.TaskSelected] = []

    def compose(self) -> ComposeResult:
        yield KickoffDetail(id="detail")

    def on_kickoff_detail_task_selected(self, message: KickoffDetail.TaskSelected) -> None:
        self.picked.append(message)

    @property
    def detail(self) -> KickoffDetail:
        return self.query_one(KickoffDetail)


def screen_lines(app: App[object]) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


def screen_text(app: App[object]) -> str:
    return "\n".join(screen_lines(app))


async def settle(pilot: Pilot[None]) -> None:
    """Wait for the frame, and for the output's threads (indexing, search) and their news."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()
    await pilot.pause()


def output_view(app: DetailApp) -> OutputView:
    return app.query_one("#detail-output", OutputView)


def current_match(app: DetailApp) -> str:
    """The text of the match the line view points at."""
    lines = app.query_one("#output-text", LineView)
    match = lines.current_match
    assert match is not None and lines.document is not None
    return lines.document.text(match.segment)[match.start : match.end]


def row_of(lines: list[str], task_id: str) -> str:
    return next(line for line in lines if line.lstrip().startswith(task_id))


async def test_tasks_tab_shows_agent_state_duration_and_proportional_bars() -> None:
    app = DetailApp()
    async with app.run_test(size=(100, 34)) as pilot:
        app.detail.show(travel(), now=at(108.5))
        await settle(pilot)
        lines = screen_lines(app)
        research, planning = row_of(lines, "research_task"), row_of(lines, "planning_task")
        assert "旅行研究员" in research and "✓ done" in research and "45.2s" in research
        assert "行程规划师" in planning and "● running" in planning and "1m02s" in planning
        # 45.2 s against 62.5 s (still running, up to now): the longer bar has more cells.
        assert 0 < research.count("█") < planning.count("█")
        assert "0s" in screen_text(app) and "1m30s" in screen_text(app)


async def test_cjk_names_keep_the_columns_straight() -> None:
    app = DetailApp()
    mixed = done(
        tasks=[
            TaskResult(task_id="research_task", agent="旅行研究员", execution_time=45.2),
            TaskResult(task_id="planning_task", agent="Itinerary Planner", execution_time=62.8),
            TaskResult(task_id="任务_三", agent="行程规划师🧳", execution_time=10.0),
        ]
    )
    async with app.run_test(size=(100, 34)) as pilot:
        app.detail.show(mixed, now=at(200))
        await settle(pilot)
        lines = screen_lines(app)
        rows = [row_of(lines, name) for name in ("research_task", "planning_task", "任务_三")]
        bar_starts = {cell_len(row[: re.search("[█·▏▎▍▌▋▊▉]", row).start()]) for row in rows}  # type: ignore[union-attr]
        state_starts = {cell_len(row[: re.search("✓", row).start()]) for row in rows}  # type: ignore[union-attr]
        assert len(bar_starts) == 1 and len(state_starts) == 1
        header = next(line for line in lines if "0s" in line and "task" in line)
        assert cell_len(header[: header.index("0s")]) == bar_starts.pop()


async def test_output_shows_final_then_the_picked_tasks_output() -> None:
    app = DetailApp()
    async with app.run_test(size=(100, 34)) as pilot:
        app.detail.show(done(), now=at(200))
        app.detail.focus_tab("output")
        await settle(pilot)
        assert output_view(app).mode == "markdown"
        assert app.detail.shown_output() == done().output
        assert "为期 7 天的日本科技文化主题综合旅行行程" in screen_text(app)

        app.detail.focus_tab("tasks")
        await settle(pilot)
        rows = app.query_one("#timeline-rows", OptionList)
        rows.highlighted = 0
        await pilot.press("enter")
        await settle(pilot)
        assert app.detail.active_tab == "output"
        assert app.detail.shown_output() == "研究结果：东京的科技博物馆 🗾"
        assert [(m.kickoff_id, m.task_id) for m in app.picked] == [
            (done().kickoff_id, "research_task")
        ]
        assert "东京的科技博物馆" in screen_text(app)

        # The same kickoff shown again keeps the pick; another kickoff resets it.
        app.detail.show(done(), now=at(201))
        assert app.detail.shown_output() == "研究结果：东京的科技博物馆 🗾"
        app.detail.show(done(kickoff_id="another"), now=at(201))
        assert app.detail.shown_output() == done().output


async def test_a_new_title_over_the_same_output_keeps_its_markdown_and_its_lines() -> None:
    """A run that ends with its last task's output as its final output: the title goes from
    "Latest task output" to "Final output", and the text shown is neither parsed nor
    indexed again (the Markdown's blocks and the line view's document are the same)."""
    app = DetailApp()
    latest = travel().tasks[0].output
    async with app.run_test(size=(100, 34)) as pilot:
        app.detail.show(travel(), now=at(60))
        app.detail.focus_tab("output")
        await settle(pilot)
        assert "Latest task output: research_task" in screen_text(app)
        markdown = app.query_one("#output-markdown", Markdown)
        blocks = list(markdown.query("MarkdownBlock"))
        document = app.query_one("#output-text", LineView).document
        assert blocks and document is not None

        app.detail.show(done(output=latest), now=at(200))
        await settle(pilot)
        assert "Final output" in screen_text(app)
        assert "Latest task output" not in screen_text(app)
        assert list(markdown.query("MarkdownBlock")) == blocks  # widgets: equal if the same
        assert app.query_one("#output-text", LineView).document is document


async def test_ticking_keeps_the_highlighted_row_and_grows_the_running_bar() -> None:
    app = DetailApp()
    async with app.run_test(size=(100, 34)) as pilot:
        app.detail.show(travel(), now=at(60))
        app.detail.focus_tab("tasks")
        await settle(pilot)
        rows = app.query_one("#timeline-rows", OptionList)
        rows.highlighted = 1
        before = row_of(screen_lines(app), "planning_task")
        app.detail.show(travel(), now=at(90))
        await settle(pilot)
        after = row_of(screen_lines(app), "planning_task")
        assert rows.highlighted == 1 and app.focused is rows
        assert "14.0s" in before and "44.0s" in after


async def test_a_change_of_the_run_redraws_only_the_rows_that_changed() -> None:
    """One task's state changes: that row is redrawn, the other row and the hidden Inputs
    pane are left alone, and nothing asks for a layout of the screen."""
    app = DetailApp()
    async with app.run_test(size=(100, 34)) as pilot:
        app.detail.show(done(), now=at(200))
        await settle(pilot)
        rows = app.query_one("#timeline-rows", OptionList)
        research = rows.get_option_at_index(0).prompt
        failed = TaskResult(
            task_id="planning_task",
            agent="行程规划师",
            state=TaskState.FAILED,
            started_at=at(46),
            finished_at=at(108.5),
        )
        with layouts_asked() as layouts:
            app.detail.show(done(tasks=[done().tasks[0], failed]), now=at(200))
        await settle(pilot)
        assert layouts == []
        assert rows.get_option_at_index(0).prompt is research
        assert "✗ failed" in str(rows.get_option_at_index(1).prompt)
        assert "✗ failed" in screen_text(app)

        # The Inputs pane is drawn when it comes forward, with the run's latest facts.
        app.detail.show_tab("inputs")
        await settle(pilot)
        assert "travel-req-123" in screen_text(app)


async def test_a_task_that_starts_adds_its_row_and_keeps_the_others() -> None:
    app = DetailApp()
    async with app.run_test(size=(100, 34)) as pilot:
        app.detail.show(travel(), now=at(60))
        await settle(pilot)
        rows = app.query_one("#timeline-rows", OptionList)
        rows.highlighted = 1
        drawn = [rows.get_option_at_index(i).prompt for i in range(2)]
        review = TaskResult(
            task_id="qa", agent="审核员", state=TaskState.RUNNING, started_at=at(50)
        )
        app.detail.show(travel(tasks=[*travel().tasks, review]), now=at(60))
        await settle(pilot)
        assert rows.option_count == 3 and rows.highlighted == 1
        assert [rows.get_option_at_index(i).prompt for i in range(2)] == drawn
        assert all(rows.get_option_at_index(i).prompt is drawn[i] for i in range(2))
        assert "审核员" in screen_text(app)


async def test_large_output_uses_the_line_view_and_search_finds_text() -> None:
    app = DetailApp()
    big = "\n".join(f"line {n}: 行程 {'x' * 90}" for n in range(1000)) + "\nneedle here\n"
    assert len(big.encode()) > 100_000 > MARKDOWN_CAP
    async with app.run_test(size=(100, 34)) as pilot:
        app.detail.show(done(output=big), now=at(200))
        app.detail.focus_tab("output")
        await settle(pilot)
        view = output_view(app)
        assert view.mode == "text"
        assert app.query_one("#output-text", LineView).display
        assert not app.query_one("#output-markdown", Markdown).display
        assert "plain text" in screen_text(app)

        view.search("NEEDLE")
        await settle(pilot)
        assert view.match_count == 1
        assert current_match(app) == "needle"
        assert "needle here" in screen_text(app)  # scrolled to the match
        view.search("absent words")
        await settle(pilot)
        assert view.match_count == 0
        assert "no match" in screen_text(app)


async def test_search_in_a_markdown_output_selects_the_match_in_the_line_view() -> None:
    app = DetailApp()
    async with app.run_test(size=(100, 34)) as pilot:
        app.detail.show(done(), now=at(200))
        app.detail.focus_tab("output")
        await settle(pilot)
        await pilot.press("slash", *"秋叶原")
        await settle(pilot)
        view = output_view(app)
        assert view.match_count == 1
        assert app.query_one("#output-text", LineView).display
        assert current_match(app) == "秋叶原"
        await pilot.press("slash")  # in the search box, `/` is text
        await settle(pilot)
        assert app.query_one("#output-search").value == "秋叶原/"
        await pilot.press("escape")
        await settle(pilot)
        assert view.match_count == 0 and app.query_one("#output-markdown", Markdown).display


async def test_inputs_raw_and_steps_render() -> None:
    app = DetailApp()
    steps = [
        Step(
            kickoff_id=travel().kickoff_id, received_at=at(5), thought="查找博物馆", tool="search"
        ),
        Step(kickoff_id="someone-else", received_at=at(6), thought="not ours"),
    ]
    async with app.run_test(size=(100, 34)) as pilot:
        detail = app.detail
        detail.show(travel(), now=at(60))
        detail.focus_tab("steps")
        await settle(pilot)
        assert "No agent steps received" in screen_text(app)
        detail.add_steps(steps)
        detail.add_steps(steps)  # webhooks repeat: shown once
        await settle(pilot)
        text = screen_text(app)
        assert text.count("查找博物馆") == 1 and "not ours" not in text
        assert "Steps (1)" in text

        detail.focus_tab("inputs")
        await settle(pilot)
        text = screen_text(app)
        assert "1000 USD" in text and "travel-req-123" in text and travel().kickoff_id in text

        detail.focus_tab("raw")
        await settle(pilot)
        assert '"status": "Task is Running"' in screen_text(app)
        detail.show(travel(raw={"state": "SUCCESS", "result": "好"}), now=at(61))
        await settle(pilot)
        assert '"result": "好"' in screen_text(app)


async def test_the_steps_note_is_written_when_the_steps_tab_comes_forward() -> None:
    """Runs shown behind another tab leave the Steps note alone (each update of it asked for
    a layout of the whole screen while the cursor moved); it is right once shown."""
    app = DetailApp()
    step = Step(kickoff_id=travel().kickoff_id, received_at=at(5), thought="查找博物馆")
    async with app.run_test(size=(100, 34)) as pilot:
        detail = app.detail
        note = detail.query_one("#steps-empty")
        await settle(pilot)
        before = note.render()
        for index in range(3):
            detail.show(done(kickoff_id=f"run-{index}"), now=at(200))
            detail.show(travel(), [step], now=at(60))
            detail.set_step_history(stored=600, dropped=0, cap=1000)
        await settle(pilot)
        assert note.render() is before and "Steps (600)" in screen_text(app)
        detail.show_tab("steps")
        await settle(pilot)
        assert "Showing the newest 1 of 600 steps" in screen_text(app)
        detail.show(done(kickoff_id="another"), now=at(200))
        await settle(pilot)
        assert "No agent steps received" in screen_text(app)


async def test_a_run_with_another_number_of_tasks_needs_no_layout_of_the_screen() -> None:
    """A new number of rows is a new virtual height: the rows' own size stays (their pane's),
    so no layout of the whole screen (Textual's virtual_size asked for one with each newly
    rested row); rows past the pane still scroll."""

    def tasks(count: int) -> list[TaskResult]:
        return [
            TaskResult(task_id=f"task_{index}", started_at=at(index), finished_at=at(index + 1))
            for index in range(count)
        ]

    app = DetailApp()
    async with app.run_test(size=(100, 24)) as pilot:
        rows = app.query_one("#timeline-rows", OptionList)
        app.detail.show(travel(), now=at(60))
        await settle(pilot)
        with layouts_asked() as layouts:
            app.detail.show(done(kickoff_id="another", tasks=tasks(3)), now=at(60))
            await settle(pilot)
        assert "TimelineRows#timeline-rows" not in layouts and "task_2" in screen_text(app)
        app.detail.show(done(kickoff_id="a third", tasks=tasks(40)), now=at(60))
        await settle(pilot)
        assert rows.max_scroll_y > 0 and "task_39" not in screen_text(app)
        rows.scroll_end(animate=False, immediate=True)
        await settle(pilot)
        assert "task_39" in screen_text(app)


async def test_missed_tasks_are_said_not_invented() -> None:
    app = DetailApp()
    async with app.run_test(size=(100, 34)) as pilot:
        app.detail.show(done(progress=Progress(completed=3, total=3)), now=at(200))
        await settle(pilot)
        text = screen_text(app)
        assert "2 of 3 tasks seen; the others finished between polls" in text
        assert "--webhooks" in text


async def test_hostile_text_is_shown_literally_and_never_reaches_the_terminal() -> None:
    app = DetailApp()
    hostile = done(
        crew="travel",
        output=HOSTILE,
        error=HOSTILE,
        inputs={"topic": HOSTILE, HOSTILE: "key"},
        meta={"m": HOSTILE},
        raw={"result": HOSTILE},
        tasks=[
            TaskResult(task_id=HOSTILE, agent=HOSTILE, output=HOSTILE, execution_time=3.0),
        ],
    )
    async with app.run_test(size=(100, 34)) as pilot:
        app.detail.show(
            hostile,
            [Step(kickoff_id=hostile.kickoff_id, received_at=at(1), thought=HOSTILE, tool=HOSTILE)],
            now=at(9),
        )
        for tab in ("tasks", "output", "inputs", "steps", "raw"):
            app.detail.focus_tab(tab)
            await settle(pilot)
            text = screen_text(app)
            assert not UNSAFE.search(text), tab
            assert "\ud800" not in text
            segments = "".join(
                segment.text
                for strip in app.screen._compositor.render_strips()
                for segment in strip
            )
            assert not UNSAFE.search(segments), tab
            assert not UNSAFE.search(app.export_screenshot()), tab
        app.detail.focus_tab("output")
        await settle(pilot)
        text = screen_text(app)
        for literal in (
            "[link=https://x]x[/link]",
            "[@click=app.quit]q[/]",
            "stray[/bold]",
            "\\x1b[2J",
            "<U+202E>",
        ):
            assert literal in text
        assert app.is_running  # [@click=app.quit] did nothing; the stray [/bold] raised nothing


async def test_usable_at_80x24() -> None:
    app = DetailApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.detail.show(travel(), now=at(108.5))
        await settle(pilot)
        lines = screen_lines(app)
        research = row_of(lines, "research_task")
        assert "旅行研究员" in research and research.count("█") > 0
        assert all(cell_len(line) == 80 for line in lines)


def test_the_header_says_why_a_kickoff_is_stale() -> None:
    """A poll that keeps failing for one kickoff (a bad body) is said in the header."""
    from datetime import UTC, datetime

    from crewtui.api.models import Kickoff
    from crewtui.api.states import RunState
    from crewtui.ui.widgets.detail import header_text

    at = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    kickoff = Kickoff(
        kickoff_id="k1",
        crew="travel",
        state=RunState.RUNNING,
        created_at=at,
        updated_at=at,
        poll_error="The travel crew sent an answer that is not JSON.\x1b[2J",
    )
    text = header_text(kickoff, at).plain
    assert "Stale: The travel crew sent an answer that is not JSON." in text
    assert "\x1b" not in text


def test_the_header_links_an_answered_run_and_its_continuation() -> None:
    """An answered pause made a new run: each header names the other by its short id."""
    from datetime import UTC, datetime

    from crewtui.api.models import Kickoff
    from crewtui.api.states import RunState
    from crewtui.ui.widgets.detail import header_text

    at = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    old, new = "11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "22222222-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
    answered = Kickoff(
        kickoff_id=old,
        crew="outreach",
        state=RunState.PAUSED,
        created_at=at,
        updated_at=at,
        continues=new,
    )
    continuation = Kickoff(
        kickoff_id=new,
        crew="outreach",
        state=RunState.RUNNING,
        created_at=at,
        updated_at=at,
        continued_from=old,
    )
    assert "continued as 22222222" in header_text(answered, at).plain
    assert "continues 11111111" in header_text(continuation, at).plain


async def test_raw_shows_every_sources_last_payload_newest_first() -> None:
    """A webhook brought the end: its payload comes first, the stale poll's after, each
    under its source and time."""
    payloads = [
        Payload(source="crew webhook", received_at=at(109), body={"result": "为期 7 天"}),
        Payload(source="poll", received_at=at(100), body={"state": "RUNNING"}),
        Payload(source="kickoff", received_at=at(-2), body={"kickoff_id": "5f1c2a3b"}),
    ]
    app = DetailApp()
    async with app.run_test(size=(100, 40)) as pilot:
        app.detail.show(done(raw={"state": "RUNNING"}, raw_by_source=payloads), now=at(110))
        app.detail.focus_tab("raw")
        await settle(pilot)
        text = app.query_one("#raw-text", TextArea).text
    headings = [line for line in text.splitlines() if line.startswith("──")]
    assert headings == [
        "── crew webhook · 2026-11-23 10:01:49 UTC ──",
        "── poll · 2026-11-23 10:01:40 UTC ──",
        "── kickoff · 2026-11-23 09:59:58 UTC ──",
    ]
    assert text.index('"result": "为期 7 天"') < text.index('"state": "RUNNING"')


async def test_a_pushed_step_relabels_the_steps_tab_in_place() -> None:
    """Each pushed step counts in the Steps tab's label, redrawn in place: no count lays the
    screen out again, not even one that widens it (9 to 10 steps)."""
    app = DetailApp()
    async with app.run_test(size=(100, 34)) as pilot:
        app.detail.show(travel(), now=at(60))
        await settle(pilot)
        for number in range(1, 11):
            step = Step(
                kickoff_id=travel().kickoff_id, received_at=at(number), thought=f"step {number}"
            )
            with layouts_asked() as layouts:
                app.detail.add_steps([step])
            await settle(pilot)
            assert app.detail.tab_label("steps") == f"Steps ({number})"
            assert f"Steps ({number})" in screen_lines(app)[2]
            # Not even when it widens (9 to 10 steps): the bar's line is redrawn in place; and
            # the log behind the Tasks pane is written when it comes forward (a RichLog laid
            # out behind asks for a layout of the screen at each write).
            assert layouts == [], number
        app.detail.show_tab("steps")
        await settle(pilot)
        assert "step 10" in screen_text(app)


async def test_the_header_keeps_two_lines_whatever_it_says() -> None:
    """A pause, an error longer than the line, its end: the header says each on its second
    line, cut to the width, and stays two lines high, so it is redrawn in place without a
    layout of the screen (the tabs never move)."""
    app = DetailApp()
    async with app.run_test(size=(100, 34)) as pilot:
        app.detail.show(done(), now=at(200))
        await settle(pilot)
        header = app.query_one("#detail-header")
        assert header.size.height == 2
        assert "finished 2026-11-23 10:01:48 UTC" in screen_lines(app)[1]
        failed = done(
            state=RunState.FAILED, error="Task execution failed: " + "an external API said no. " * 6
        )
        paused = travel(
            state=RunState.PAUSED,
            waiting_for=WaitingFor(task_id="planning_task", message="approve? " * 20, since=at(90)),
        )
        for number, kickoff in enumerate([failed, paused, done()]):
            with layouts_asked() as layouts:
                app.detail.show(kickoff, now=at(201 + number))
            await settle(pilot)
            assert "Static#detail-header" not in layouts
            lines = screen_lines(app)
            assert header.size.height == 2 and "Tasks" in lines[2], lines[:3]
            assert lines[1].rstrip().endswith(("…", "UTC")), lines[1]
            if kickoff is failed:
                assert "Task execution failed: an external API said no." in lines[1]
            if kickoff is paused:
                assert "Paused (a to answer): waits for input on planning_task" in lines[1]


async def test_a_run_of_a_crew_another_process_polls_says_why_it_is_stale() -> None:
    """A viewer's rows say "stale"; the run's header says who polls its crew, since when
    nothing came, and what that poller was told: the reason is not only in a tooltip."""
    stale = CrewHealth(
        crew="travel",
        poller="4242@ops-box",
        stale_since=datetime(2026, 12, 2, 10, 42, 7, tzinfo=UTC),
        poller_trouble="Could not reach the travel crew \x1b]52;c;aGk=\x07(refused).",
    )
    app = DetailApp()
    async with app.run_test(size=(160, 34)) as pilot:
        app.detail.show(travel(), now=at(200))
        await settle(pilot)
        app.detail.set_crew_health(stale)
        await settle(pilot)
        line = screen_lines(app)[1]
        assert "Stale: polled by 4242@ops-box, nothing new since 2026-12-02 10:42:07 UTC" in line
        assert "it was told: Could not reach the travel crew" in line
        assert "\x1b" not in line and "\x07" not in line
        app.detail.set_crew_health(replace(stale, crew="content"))  # another crew's
        app.detail.show(done(), now=at(201))  # an ended run is not stale
        await settle(pilot)
        assert "Stale" not in screen_lines(app)[1]
        app.detail.show(travel(), now=at(202))
        await settle(pilot)
        assert "Stale: polled by" in screen_lines(app)[1]
        app.detail.set_crew_health(replace(stale, stale_since=None, poller_trouble=None))
        await settle(pilot)
        assert "Stale" not in screen_lines(app)[1]  # its poller brings news again


class PanesLaterApp(App[None]):
    """A detail whose panes come when asked for, as the main screen makes it (composed after
    the list's first frame: ``tests/ui/test_first_frame.py``)."""

    def compose(self) -> ComposeResult:
        yield KickoffDetail(panes_later=True, id="detail")


async def test_what_the_detail_is_asked_before_its_panes_come_is_done_once_they_are_in() -> None:
    """The main screen composes the detail's panes after the list's first frame, but shows a
    run, its steps and a tab (a key pressed early) whenever they come: the detail then draws
    each of them, in order."""
    step = Step(kickoff_id=travel().kickoff_id, received_at=at(5), thought="查找博物馆")
    app = PanesLaterApp()
    async with app.run_test(size=(100, 34)) as pilot:
        detail = app.query_one(KickoffDetail)
        detail.show(travel(), [step], now=at(60))
        detail.set_step_history(stored=3, dropped=0, cap=1000)
        detail.show_tab("steps")
        await settle(pilot)
        assert not detail.panes_composed and not detail.children
        assert "travel" not in screen_text(app)
        assert "KickoffDetail" not in screen_text(app)  # an empty area, not the widget's name
        await detail.compose_panes()
        await settle(pilot)
        assert detail.panes_composed and detail.active_tab == "steps"
        text = screen_text(app)
        assert "5f1c2a3b" in text and "Steps (3)" in text and "查找博物馆" in text
