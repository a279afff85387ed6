"""The first frame needs the list and nothing else: what it must not wait for stays unimported
and uncomposed, and what comes later (the detail's panes, the Output tab's view) comes safely
(what the detail is asked before its panes come: ``tests/ui/test_detail.py``).

The app is started in a fresh interpreter the way ``crewtui`` starts it (the CLI module, the
config, ``build_app``), headless, over a history with a finished run in it; at the first
frame that shows the list with its row, the interpreter reports which of the heavy modules
are loaded. httpx comes with the first request, the Markdown parser with the Output tab,
pydantic with the wire models, uvicorn and FastAPI only with the simulator, the webhook
receiver with webhooks, Pygments with a crash, the detail's panes (RichLog, TextArea, the
Gantt) after that frame: importing any of them on the way to the first frame (a module-level
import slipped into the app's path) makes this test fail, and so does a detail composed
before it. Following the runs (the tracker's start: its reads of the active runs, its polls)
starts after that frame too.
"""

from __future__ import annotations

import gc
import json
import os
import socket
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from textual.app import App, ComposeResult

from crewtui.api.models import Kickoff
from crewtui.api.rows import Progress, WaitingFor
from crewtui.api.states import RunState
from crewtui.config import ENV_CREW_NAME, resolve_paths
from crewtui.core.store import Store
from crewtui.sim import SimServer
from crewtui.ui.widgets.detail import KickoffDetail
from tests.test_layers import run_python
from tests.ui.app_helpers import AppFactory, sim_crews

# The wire models and what decodes whole kickoffs: the list's rows and the config need none.
WIRE_MODELS = ("crewtui.api.models", "crewtui.core.store_models", "crewtui.core.merge")
# What the first frame must not wait for: the HTTP client (first request), Markdown (the
# Output tab), the simulator's server, the webhook receiver (only with webhooks asked for),
# Pygments (rich's traceback, with a crash), and the detail's panes: the Steps tab's log
# (RichLog, which brings rich's pretty printer), the Raw tab's TextArea, the Gantt and the
# panes' TabPane (Textual's TabbedContent module); and the selected run's whole record (its
# decoder, ``store_models``), read for the detail once its panes are in.
HEAVY = (
    "httpx",
    "markdown_it",
    "uvicorn",
    "fastapi",
    "crewtui.core.webhooks",
    "pygments",
    "crewtui.ui.widgets.steps_log",
    "textual.widgets._rich_log",
    "textual.widgets._text_area",
    "crewtui.ui.widgets.timeline",
    "textual.widgets._tabbed_content",
    *WIRE_MODELS,
    # Following the runs: the tracker and the HTTP client's module (with the dialects).
    "crewtui.core.tracker",
    "crewtui.api.client",
    "crewtui.api.dialects",
    # The config's tables and crews are plain dataclasses (``crewtui.settings``): pydantic,
    # which only the wire models need, cost a third of the first frame.
    "pydantic",
)
QUIT_ATTEMPTS = 8

FIRST_FRAME = """
import json, sys

import crewtui.cli  # the entry point's own imports, as `crewtui` runs
from crewtui.config import load_config, resolve_paths, select_crews
from crewtui.ui.app import CrewtuiApp, build_app

HEAVY = {heavy!r}
report = []


def first_frame(app: CrewtuiApp) -> None:
    if not report and app.main.kickoffs.selected_id is not None:
        loaded = sorted(name for name in HEAVY if name in sys.modules)
        followed = len(app.tracker.tracked())
        detail = len(app.main.detail.children)
        report.append({{"loaded": loaded, "followed": followed, "detail": detail}})
        app.exit()


CrewtuiApp.post_display_hook = first_frame  # type: ignore[method-assign]
paths = resolve_paths(None)
config = load_config(paths)
app = build_app(select_crews(config), config, paths)
try:
    app.run(headless=True, size=(120, 40))
finally:
    app.store.close()
print(json.dumps(report[0] if report else None))
"""


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_first_frame_imports_no_http_client_markdown_server_or_detail_panes(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    store = Store.open(resolve_paths(home).store_file)
    now = datetime.now(UTC)
    finished = Kickoff(
        kickoff_id="11111111-2222-4333-8444-555555555555",
        crew="research",
        state=RunState.COMPLETED,
        created_at=now,
        updated_at=now,
        finished_at=now,
        output="# Findings\n\nSome *markdown*.",
    )
    store.save_kickoff(finished)
    # A running run: following it (the tracker's start, its polls and the HTTP client they
    # import) waits until the list is on the terminal.
    running = finished.model_copy(
        update={
            "kickoff_id": "11111111-2222-4333-8444-777777777777",
            "crew": ENV_CREW_NAME,  # the crew CREWAI_API_URL names: the tracker follows it
            "state": RunState.RUNNING,
            "finished_at": None,
            "output": None,
        }
    )
    store.save_kickoff(running)
    store.close()
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).parents[2]),
        "CREWTUI_HOME": str(home),
        # A crew nobody answers for: nothing is running, so nothing is polled anyway.
        "CREWAI_API_URL": f"http://127.0.0.1:{closed_port()}/research",
        "CREWAI_BEARER_TOKEN": "first-frame-token",
    }
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FIRST_FRAME.format(heavy=HEAVY))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["loaded"] == [], f"imported before the first frame: {report['loaded']}"
    assert report["detail"] == 0, "the detail's panes were composed before the first frame"
    assert report["followed"] == 0, "the tracker read the active runs before the first frame"


def this_checkout() -> dict[str, str]:
    """The environment of a child interpreter that imports this checkout's crewtui."""
    return {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}


# The modules the list's rows are read and drawn with: plain rows, no pydantic model (the
# app's first frame shows a page of them; the models' schemas cost more than the page).
LIST_PATH = """
import json, sys

import crewtui.cli
from crewtui.core.store import Store
from crewtui.ui.widgets.kickoff_list import KickoffList, order_key
from crewtui.ui.widgets.kickoff_rows import KickoffRows

store = Store.open({path!r})
rows = KickoffRows(lambda row: order_key("newest", row))
page = store.list_kickoffs(limit=200)
rows.reset(store.count_kickoffs())
rows.place(0, page, 200)
store.close()
heavy = ("pydantic", *{wire!r})
print(json.dumps({{"rows": [row.kickoff_id for row in page], "loaded": [
    name for name in heavy if name in sys.modules
]}}))
"""


def test_the_lists_rows_are_read_without_pydantic(tmp_path: Path) -> None:
    """A page of the list, read from the history into the list's rows, imports no pydantic
    model: the rows are plain dataclasses checked as they are read (``KickoffSummary``), and
    whole kickoffs are decoded by ``crewtui.core.store_models``, which the page never needs."""
    path = tmp_path / "history.sqlite3"
    store = Store.open(path)
    now = datetime.now(UTC)
    for index in range(3):
        store.save_kickoff(
            Kickoff(
                kickoff_id=f"11111111-2222-4333-8444-00000000000{index}",
                crew="research",
                state=RunState.PAUSED,
                created_at=now,
                updated_at=now,
                progress=Progress(completed=index, total=3),
                waiting_for=WaitingFor(task_id="review", since=now),
            )
        )
    store.close()
    result = run_python(LIST_PATH.format(path=str(path), wire=WIRE_MODELS), env=this_checkout())
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(report["rows"]) == 3
    assert report["loaded"] == [], f"the list's page imported: {report['loaded']}"


def test_the_config_is_read_without_the_wire_models(tmp_path: Path) -> None:
    """The command line and the config (read before the first frame) need the states' names
    and their own settings, not the wire models: their schemas stay off the way to it."""
    result = run_python(
        f"""
        import json, sys
        import crewtui.cli
        from crewtui.config import load_config, resolve_paths, select_crews

        config = load_config(resolve_paths({str(tmp_path)!r}))
        select_crews(config)
        print(json.dumps([name for name in {WIRE_MODELS!r} if name in sys.modules]))
        """,
        env={
            **this_checkout(),
            "CREWAI_API_URL": "https://crew.example/research",
            "CREWAI_BEARER_TOKEN": "config-token",
        },
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


class DetailApp(App[None]):
    def compose(self) -> ComposeResult:
        yield KickoffDetail(id="detail")


async def test_quitting_while_the_output_view_mounts_is_clean() -> None:
    """The Output tab's view is mounted with the first kickoff shown, after the first
    frame: a quit in that moment must not crash on a view torn down before its children."""
    now = datetime.now(UTC)
    shown = Kickoff(
        kickoff_id="11111111-2222-4333-8444-666666666666",
        crew="research",
        state=RunState.COMPLETED,
        created_at=now,
        updated_at=now,
        output="done",
    )
    for _ in range(QUIT_ATTEMPTS):  # the moment is short: try it a few times
        app = DetailApp()
        # A crash while closing is raised here, as the app's exception.
        async with app.run_test(size=(100, 30)):
            app.query_one(KickoffDetail).show(shown)


async def test_what_start_up_made_is_frozen_out_of_the_garbage_collectors_sight(
    sim: SimServer, make_app: AppFactory
) -> None:
    """Full collections walked every start-up object on the event loop (stalls of several
    hundred milliseconds while a large output scrolled); after the first frame they are
    frozen, once, and the collector, paused for the start-up, runs again."""
    gc.unfreeze()  # what an earlier test's app froze in this process
    gc.disable()  # as ``crewtui.cli.main`` pauses it for the start-up
    try:
        app = make_app(sim_crews(sim))
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            await pilot.pause()
            assert gc.get_freeze_count() > 10_000
            assert gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


class PanesLaterApp(App[None]):
    """A detail whose panes come when asked for, as the main screen makes it."""

    def compose(self) -> ComposeResult:
        yield KickoffDetail(panes_later=True, id="detail")


async def test_quitting_while_the_detail_composes_its_panes_is_clean() -> None:
    """The panes are composed after the first frame, in a worker the app cancels when it
    quits: a quit in that moment must not crash on panes torn down half mounted."""
    for _ in range(QUIT_ATTEMPTS):  # the moment is short: try it a few times
        app = PanesLaterApp()
        # A crash while closing is raised here, as the app's exception.
        async with app.run_test(size=(100, 30)):
            detail = app.query_one(KickoffDetail)
            detail.show(None)
            app.run_worker(detail.compose_panes(), group="panes")
