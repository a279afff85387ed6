"""One bad row never stops a history from opening: rows written by hand with raw sqlite3
(a timestamp Python refuses, broken JSON, a wrong type, undecodable text) are read with
defaults and a logged note, or left out; the CLI and the app open the history all the same.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crewtui.api.models import Kickoff, Step, TaskResult
from crewtui.api.states import RunState
from crewtui.config import resolve_paths
from crewtui.core.store import Store
from crewtui.ui.pilot import settle
from tests.ui.app_helpers import AppFactory, main_screen

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
GOOD = "0a000000-0000-4000-8000-000000000000"
# Each breaks one kickoff row in one way; the list must still show every other row.
BREAKAGES = {
    "year-999": "UPDATE kickoffs SET created_at = '999-01-01T00:00:00.000000Z'",
    "not-a-time": "UPDATE kickoffs SET updated_at = 'yesterday', started_at = 'soon'",
    "bad-json": "UPDATE kickoffs SET inputs = '{not json', progress = '[1,'",
    "wrong-types": "UPDATE kickoffs SET state = 'exploded', task_count = 'many', archived = 'x'",
    "extra-not-a-dict": "UPDATE kickoffs SET extra = '[1, 2]'",
    "extra-not-json": "UPDATE kickoffs SET extra = '{\"waiting_for\": '",
    "bad-task": "UPDATE tasks SET started_at = 'soon', state = 'odd'",
}
UNREADABLE_ID = b"\xff\xfe-not-utf8"


def fill(path: Path) -> None:
    """A healthy history, then each breakage applied to its own row by raw SQL."""
    store = Store.open(path)
    for name in ("good", *BREAKAGES):
        kickoff_id = GOOD if name == "good" else name
        store.save_kickoff(
            Kickoff(
                kickoff_id=kickoff_id,
                crew="research",
                state=RunState.RUNNING,
                created_at=T0,
                updated_at=T0,
                inputs={"topic": name},
                tasks=[TaskResult(task_id="t1", started_at=T0)],
            )
        )
    store.add_steps(
        [Step(kickoff_id=GOOD, received_at=T0, thought=f"step {n}", raw={"n": n}) for n in range(3)]
    )
    store.close()
    conn = sqlite3.connect(path)
    with conn:
        for name, sql in BREAKAGES.items():
            conn.execute(f"{sql} WHERE kickoff_id = ?", (name,))
        conn.execute("UPDATE steps SET received_at = 'then' WHERE raw LIKE '%1}'")
        conn.execute("UPDATE steps SET raw = '{broken' WHERE raw LIKE '%2}'")
        # A row beyond repair: its id is not text at all.
        conn.execute(
            "INSERT INTO kickoffs SELECT ?, crew, state, submission, archived, created_at,"
            " updated_at, started_at, finished_at, not_found_since, current_task,"
            " current_agent, message, progress, task_count, error, execution_time, dialect,"
            " output, output_json, inputs, meta, raw, extra, state_rank, tracked_at,"
            " changed_seq, written_by, state_by FROM kickoffs WHERE kickoff_id = ?",
            (UNREADABLE_ID, GOOD),
        )
    conn.close()


@pytest.fixture
def history(tmp_path: Path) -> Path:
    path = resolve_paths(tmp_path / "home").store_file
    fill(path)
    return path


def test_bad_rows_are_listed_with_defaults_and_noted(
    history: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store.open(history)
    with caplog.at_level(logging.WARNING, logger="crewtui.core.store_rows"):
        listed = {row.kickoff_id for row in store.list_kickoffs(archived=None)}
        active = {kickoff.kickoff_id for kickoff in store.active_kickoffs()}
    assert listed == {GOOD, *BREAKAGES}  # the row without a readable id is left out
    assert {GOOD, "bad-json", "bad-task"} <= active
    assert store.count_kickoffs(archived=None) == len(BREAKAGES) + 2

    assert store.get_kickoff("year-999").created_at.year == 1970  # type: ignore[union-attr]
    assert store.get_kickoff("bad-json").inputs == {}  # type: ignore[union-attr]
    assert store.get_kickoff("wrong-types").state is RunState.UNKNOWN  # type: ignore[union-attr]
    assert store.get_kickoff("bad-task").tasks[0].started_at is None  # type: ignore[union-attr]
    steps = store.list_steps(GOOD)
    by_thought = {str(step.thought): step for step in steps}
    assert sorted(by_thought) == ["step 0", "step 1", "step 2"]
    assert by_thought["step 1"].received_at.year == 1970
    assert by_thought["step 2"].raw is None
    notes = " ".join(record.getMessage() for record in caplog.records)
    assert "year-999 has unreadable created_at" in notes
    assert "skipped it" in notes

    store.close()


def test_the_cli_lists_a_history_with_bad_rows(history: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREWAI_", "CREWTUI_"))}
    env["CREWTUI_HOME"] = str(history.parent.parent)
    for args in (["list", "--all"], ["list", "--json"]):
        result = subprocess.run(
            [sys.executable, "-m", "crewtui", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert GOOD[:8] in result.stdout and "year-999"[:8] in result.stdout


async def test_the_app_opens_a_history_with_bad_rows(history: Path) -> None:
    factory = AppFactory(history.parent.parent)
    app = factory([])
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await main_screen(pilot)
            # Every row but the unreadable one and the one whose archived flag is garbage.
            await settle(pilot, lambda: len(screen.rows()) == len(BREAKAGES))
    finally:
        factory.close()
