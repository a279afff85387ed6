"""Hostile text from the API is inert in every view of the app, down to the terminal's bytes.

The hardening corpus (``tests.hardening.corpus``) is put in every API-sourced field of
kickoffs, both in the history on disk (the app's source for everything it shows) and served
over real HTTP by the hostile crew (``tests.hardening.hostile_crew``) that the tracker polls.
The app is driven through every view: the list, each tab of the detail (each task's output
too), the help screen, copy and export.

Two checks after every view:

- the screen as composed (every cell's text) holds no forbidden character;
- what the app wrote to the terminal holds only Textual's own escape sequences (SGR, cursor
  moves, the pointer shape) and, as whole writes, the clipboard's OSC 52 with a base64 body.

``run_test`` normally uses a headless driver that drops the output; ``RecordingDriver``
keeps it, so these tests see the very bytes a terminal would get.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.drivers import headless_driver
from textual.drivers.headless_driver import HeadlessDriver
from textual.pilot import Pilot

from crewtui.api import sanitize
from crewtui.api.models import Kickoff, Step, TaskResult
from crewtui.api.profile import CrewProfile
from crewtui.api.rows import Progress, WaitingFor
from crewtui.api.secret import Secret
from crewtui.api.states import RunState, TaskState
from crewtui.core.store import Store
from crewtui.ui.app import CrewtuiApp
from crewtui.ui.pilot import settle
from crewtui.ui.screens.help import HelpScreen
from crewtui.ui.screens.inbox import InboxScreen
from crewtui.ui.screens.main import MainScreen
from crewtui.ui.screens.prompts import TrackRequest
from crewtui.ui.widgets.detail import TAB_IDS
from crewtui.ui.widgets.line_view import LineView
from crewtui.ui.widgets.output_view import OutputView
from tests.hardening.corpus import BY_NAME, CORPUS, EVERYTHING, assert_inert
from tests.hardening.hostile_crew import HostileCrew
from tests.ui.app_helpers import AppFactory, main_screen

pytestmark = pytest.mark.timeout(120)

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
HOSTILE = EVERYTHING.text
HUGE = BY_NAME["huge_line"].text
MARKUP = ("markup_link", "markup_click", "markup_close")
# What the inert form of HOSTILE shows first (an OSC 52 written out visibly).
VISIBLE = BY_NAME["osc52_set_bel"].shows

# Textual's own output: SGR colours, absolute cursor moves, the pointer shape (OSC 22).
_TEXTUAL_SEQUENCE = re.compile(r"\x1b\[[0-9;]*m|\x1b\[[0-9]+;[0-9]+H|\x1b\]22;[a-z-]+\x07")
# One whole write by App.copy_to_clipboard.
_CLIPBOARD_WRITE = re.compile(r"\x1b\]52;c;([A-Za-z0-9+/]*={0,2})\x07")
# crewtui's own title ("crewtui · 2 waiting", OSC 2) and xterm's title stack around it.
_TITLE_WRITE = re.compile(r"\x1b\]2;crewtui( · \d+ waiting)?\x07|\x1b\[2[23];2t")
# crewtui's own desktop notification (OSC 9): the sequence is ours, its words must be inert.
_NOTIFICATION = re.compile(r"\x1b\]9;([^\x07]*)\x07")


class RecordingDriver(HeadlessDriver):
    """The headless driver, except that the app renders to it and every write is kept."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.written: list[str] = []
        self.checked = 0  # writes already checked by ``check_terminal``

    @property
    def is_headless(self) -> bool:
        # Textual renders frames (and rings the bell) only for a driver that is not headless.
        return False

    def write(self, data: str) -> None:
        self.written.append(data)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps started by ``run_test`` in this test write to a ``RecordingDriver``."""
    monkeypatch.setattr(headless_driver, "HeadlessDriver", RecordingDriver)


@pytest.fixture(scope="module")
def hostile_crew() -> Iterator[HostileCrew]:
    with HostileCrew() as crew:
        yield crew


# -- checks ----------------------------------------------------------------------------------


def driver_of(app: CrewtuiApp) -> RecordingDriver:
    driver = app._driver
    assert isinstance(driver, RecordingDriver), "run the test with the `recorded` fixture"
    return driver


def clipboard_writes(app: CrewtuiApp) -> list[str]:
    """The texts the app sent to the clipboard through OSC 52, decoded."""
    return [
        base64.b64decode(match.group(1)).decode("utf-8")
        for chunk in driver_of(app).written
        if (match := _CLIPBOARD_WRITE.fullmatch(chunk))
    ]


def check_terminal(app: CrewtuiApp) -> None:
    """What was written since the last check: Textual's own sequences and inert text only."""
    driver = driver_of(app)
    assert driver.written, "the app rendered nothing: the recording driver is not in use"
    fresh, driver.checked = driver.written[driver.checked :], len(driver.written)
    for chunk in fresh:
        if notification := _NOTIFICATION.fullmatch(chunk):
            assert_inert(notification.group(1))
        elif not (_CLIPBOARD_WRITE.fullmatch(chunk) or _TITLE_WRITE.fullmatch(chunk)):
            assert_inert(_TEXTUAL_SEQUENCE.sub("", chunk))


def screen_text(app: CrewtuiApp) -> str:
    """The text of every cell of the active screen (the list, or a dialog) as composed now."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)


async def check_view(pilot: Pilot[int], where: str) -> str:
    """After a view was opened: still running, nothing forbidden on screen or on the wire."""
    await pilot.pause(0)
    app = pilot.app
    assert isinstance(app, CrewtuiApp)
    assert app.is_running and app.return_code is None, where
    text = screen_text(app)
    try:
        assert_inert(text)
        check_terminal(app)
    except AssertionError as error:
        raise AssertionError(f"{where}: {error}") from error
    return text


# -- hostile kickoffs in the history ----------------------------------------------------------


def _id(number: int) -> str:
    return str(uuid.UUID(int=number, version=4))


def hostile_tasks() -> list[TaskResult]:
    """Tasks whose id, agent and output are the whole corpus, or one piece of markup alone."""
    texts = [HOSTILE, *(BY_NAME[name].text for name in MARKUP)]
    return [
        TaskResult(
            task_id=text,
            agent=text,
            output=text,
            execution_time=1.5,
            started_at=T0 + timedelta(seconds=index),
            finished_at=T0 + timedelta(seconds=index + 1),
        )
        for index, text in enumerate(texts)
    ]


def hostile_raw() -> dict[str, Any]:
    """A payload whose keys and values are all the corpus, nested like a live answer."""
    fields = {entry.text: entry.text for entry in CORPUS if entry.name != "huge_line"}
    return {"state": "FAILED", "status": HOSTILE, HOSTILE: [HOSTILE, {HOSTILE: fields}], **fields}


def hostile_kickoff(number: int, state: RunState, **update: Any) -> Kickoff:
    """Every API-sourced field of a kickoff carries hostile text."""
    kickoff = Kickoff(
        kickoff_id=_id(number),
        crew="travel",
        state=state,
        created_at=T0 - timedelta(minutes=number),
        updated_at=T0,
        started_at=T0 - timedelta(minutes=number),
        finished_at=T0 if state.is_terminal else None,
        current_task=HOSTILE,
        current_agent=HOSTILE,
        progress=Progress(completed=1, total=40),
        output=HOSTILE,
        output_json={HOSTILE: HOSTILE},
        tasks=hostile_tasks(),
        error=HOSTILE,
        message=HOSTILE,
        poll_error=HOSTILE,
        raw=hostile_raw(),
        meta={HOSTILE: HOSTILE, "nested": {HOSTILE: [HOSTILE]}},
        inputs={HOSTILE: HOSTILE, "topic": HOSTILE},
    )
    return kickoff.model_copy(update=update)


def hostile_steps(kickoff_id: str) -> list[Step]:
    return [
        Step(
            kickoff_id=kickoff_id,
            received_at=T0 + timedelta(seconds=index),
            kind=text,
            thought=text,
            tool=text,
            tool_input=text,
            result=text,
            sequence=index,
            raw={text: text},
        )
        for index, text in enumerate([HOSTILE, BY_NAME["markup_close"].text])
    ]


FAILED_ID = _id(1)
HUGE_ID = _id(9)


def seed(store: Store) -> list[Kickoff]:
    """Hostile kickoffs in the states that show different fields: the error (failed), the
    current task and agent (running), the message (unknown); hostile crew names too."""
    kickoffs = [
        hostile_kickoff(1, RunState.FAILED, crew=BY_NAME["markup_click"].text),
        hostile_kickoff(2, RunState.RUNNING),
        hostile_kickoff(3, RunState.UNKNOWN, crew=HOSTILE),
    ]
    for kickoff in kickoffs:
        store.save_kickoff(kickoff)
    store.add_steps(hostile_steps(FAILED_ID))
    return kickoffs


def seed_huge(store: Store) -> Kickoff:
    """A completed run whose output, one task's output and raw payload are the 1 MB line."""
    task = TaskResult(task_id="big", output=HUGE, state=TaskState.COMPLETED)
    kickoff = hostile_kickoff(9, RunState.COMPLETED, output=HUGE, tasks=[task], raw=[HUGE])
    return store.save_kickoff(kickoff)


async def select(pilot: Pilot[int], kickoff_id: str) -> MainScreen:
    screen = await main_screen(pilot)
    await settle(pilot, lambda: kickoff_id in screen.kickoffs)
    screen.kickoffs.select(kickoff_id)
    await settle(pilot, lambda: (k := screen.selected) is not None and k.kickoff_id == kickoff_id)
    return screen


async def visit_detail(pilot: Pilot[int], kickoff: Kickoff, *, tasks: bool = True) -> None:
    """Every tab of the selected kickoff and, with ``tasks``, the output of each task."""
    screen = await select(pilot, kickoff.kickoff_id)
    for tab in TAB_IDS:
        screen.detail.focus_tab(tab)
        await check_view(pilot, f"{kickoff.state} tab {tab}")
    if not tasks:
        return
    screen.detail.focus_tab("output")
    for task in kickoff.tasks:
        screen.detail.select_task(task.task_id)
        await check_view(pilot, f"{kickoff.state} output of task {task.task_id[:20]!r}")
    screen.detail.select_task(None)
    await check_view(pilot, f"{kickoff.state} final output")


# -- tests ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("recorded")
async def test_hostile_history_is_inert_in_every_view(
    make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kickoffs = seed(make_app.store())
    exports = tmp_path / "exports"
    exports.mkdir()
    monkeypatch.setattr("platformdirs.user_downloads_dir", lambda: str(exports))
    app = make_app([])
    async with app.run_test(size=(130, 45)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: len(screen.rows()) == len(kickoffs))
        text = await check_view(pilot, "the list")
        assert "\\x1b" in text  # hostile rows are shown, written out visibly
        for kickoff in kickoffs:
            # Each has the same tasks: visiting their outputs once is enough.
            await visit_detail(pilot, kickoff, tasks=kickoff.kickoff_id == FAILED_ID)

        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await check_view(pilot, "help")
        await pilot.press("escape")

        screen = await select(pilot, FAILED_ID)
        screen.detail.focus_tab("tasks")
        text = await check_view(pilot, "the tasks")
        for name in MARKUP:  # markup is shown as typed, never interpreted
            assert BY_NAME[name].shows in text, name
        screen.detail.focus_tab("output")
        text = await check_view(pilot, "the final output")
        assert VISIBLE in text
        await pilot.press("c")
        await check_view(pilot, "copy")
        await pilot.press("e")
        await settle(pilot, lambda: len(list(exports.iterdir())) == 2)
        await check_view(pilot, "export")
        copied = clipboard_writes(app)

    # The text as received, but UTF-8: its one lone surrogate becomes U+FFFD.
    assert copied == [HOSTILE.replace("\ud800", "\ufffd")]
    check_exports(exports, kickoffs[0])


def check_exports(directory: Path, kickoff: Kickoff) -> None:
    """JSON keeps every string exactly (lone surrogates as escapes); Markdown is inert."""
    data = json.loads(next(directory.glob("*.json")).read_text(encoding="utf-8"))
    assert data["output"] == kickoff.output
    assert data["error"] == kickoff.error
    assert [task["task_id"] for task in data["tasks"]] == [t.task_id for t in kickoff.tasks]
    assert data["raw"] == kickoff.raw
    assert data["meta"] == kickoff.meta
    assert [step["thought"] for step in data["steps"]] == [HOSTILE, BY_NAME["markup_close"].text]
    markdown = next(directory.glob("*.md")).read_bytes()
    assert_inert(markdown)
    assert VISIBLE in markdown.decode("utf-8")


@pytest.mark.usefixtures("recorded")
async def test_a_hostile_wait_is_inert_in_the_inbox_and_the_title(make_app: AppFactory) -> None:
    """What a paused run asks (task, agent, message, crew: the service's words) in the inbox;
    the count reaches the terminal's title, which holds crewtui's words only."""
    waiting = WaitingFor(task_id=HOSTILE, agent=HOSTILE, message=HOSTILE, since=T0)
    paused = hostile_kickoff(4, RunState.PAUSED, crew=HOSTILE, waiting_for=waiting)
    make_app.store().save_kickoff(paused)
    app = make_app([])
    async with app.run_test(size=(130, 45)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: len(screen.inbox) == 1)
        await pilot.press("i")
        await settle(pilot, lambda: isinstance(app.screen, InboxScreen))
        text = await check_view(pilot, "the inbox")
        assert VISIBLE in text
        assert "\x1b]2;crewtui · 1 waiting\x07" in driver_of(app).written


@pytest.mark.usefixtures("recorded")
async def test_a_1_mb_single_line_output_renders_in_the_line_view(make_app: AppFactory) -> None:
    kickoff = seed_huge(make_app.store())
    app = make_app([])
    async with app.run_test(size=(130, 45)) as pilot:
        screen = await select(pilot, kickoff.kickoff_id)
        screen.detail.focus_tab("output")
        await settle(pilot, lambda: bool(screen.detail.query(LineView)))  # mounted late
        lines = screen.detail.query_one(LineView)
        await settle(pilot, lambda: lines.document is not None and lines.document.complete)
        text = await check_view(pilot, "1 MB output")
        assert screen.detail.query_one(OutputView).mode == "text"
        assert "huge:AAAA" in text
        await pilot.press("end")
        await check_view(pilot, "1 MB output, scrolled to the end")
        screen.detail.focus_tab("raw")
        await check_view(pilot, "1 MB raw payload")
        screen.detail.focus_tab("output")
        screen.detail.select_task("big")
        await settle(pilot, lambda: lines.document is not None and lines.document.complete)
        text = await check_view(pilot, "1 MB task output")
        assert "huge:AAAA" in text


def hostile_profiles(crew: HostileCrew) -> list[CrewProfile]:
    """Crews answering with the whole corpus in every field: done, failed, running, 500."""
    cases = [
        ("live", "done"),
        ("live", "failed"),
        ("live", "running"),
        ("documented", "done"),
        ("live", "http500"),
    ]
    return [
        CrewProfile(
            name=f"{dialect}-{mode}",
            url=crew.url(dialect, mode, EVERYTHING.name),
            token=Secret("tok-untrusted-app"),
        )
        for dialect, mode in cases
    ]


@pytest.mark.usefixtures("recorded")
async def test_hostile_answers_over_http_are_inert_in_every_view(
    make_app: AppFactory, hostile_crew: HostileCrew
) -> None:
    profiles = hostile_profiles(hostile_crew)
    app = make_app(profiles, notify_on_finish=True)
    async with app.run_test(size=(130, 45), notifications=True) as pilot:
        screen = await main_screen(pilot)
        for profile in profiles:
            screen.track(TrackRequest(profile.name, str(uuid.uuid4())))
        await settle(
            pilot,
            lambda: (
                len(screen.rows()) == len(profiles)
                and all(k.raw is not None or k.poll_error for k in app.tracker.tracked())
            ),
        )
        for summary in screen.rows():
            kickoff = app.tracker.get(summary.kickoff_id)
            assert kickoff is not None
            await visit_detail(pilot, kickoff, tasks=kickoff.crew == "live-done")
        done = next(k for k in app.tracker.tracked() if k.crew == "live-done")
        assert done.output == HOSTILE
        assert done.raw[HOSTILE] == HOSTILE  # the unknown field, hostile key and value


@pytest.mark.usefixtures("recorded")
async def test_the_checks_catch_an_app_without_protection(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With sanitizing switched off, the same checks fail: they are not vacuous."""
    osc52 = BY_NAME["osc52_set_bel"].text
    plain = Kickoff(
        kickoff_id=FAILED_ID, crew="travel", state=RunState.COMPLETED, created_at=T0, updated_at=T0
    )
    make_app.store().save_kickoff(plain.model_copy(update={"output": osc52}))
    nothing = re.compile("(?!)")
    monkeypatch.setattr(sanitize, "_UNSAFE", nothing)
    monkeypatch.setattr(sanitize, "_UNSAFE_LINE", nothing)
    app = make_app([])
    async with app.run_test(size=(130, 45)) as pilot:
        screen = await select(pilot, FAILED_ID)
        screen.detail.focus_tab("output")
        await pilot.pause()
        with pytest.raises(AssertionError, match="reaches the terminal"):
            check_terminal(app)
        # The clipboard-writing sequence reached the terminal (Textual drops only its BEL).
        assert osc52.removesuffix("\x07") in "".join(driver_of(app).written)
