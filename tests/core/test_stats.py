"""A crew's stats over a window, from a real history (SQLite and PostgreSQL): runs and
success rate, task p50/p95, tokens and estimated cost, and the per-stretch series of the
sparklines."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crewtui.api.errors import ConfigError
from crewtui.api.states import RunState
from crewtui.core.pricing import price_table
from crewtui.core.stats import WINDOWS, crew_stats, parse_window, spark
from crewtui.core.store import Store
from tests.conftest import HistoryOpener
from tests.core.histories import NOW, past_runs, running_run


@pytest.fixture
def store(open_history: HistoryOpener) -> Store:
    """A history on each back end in turn."""
    return open_history()


def test_a_day_of_runs_counted_timed_and_priced(store: Store) -> None:
    # Four completed runs an hour apart, one failed, one running; older and other crews' not.
    past_runs(store, "travel", "research", [10.0, 20.0, 30.0, 40.0], tokens=3000, model="gpt-4o")
    past_runs(store, "travel", "research", [5.0], state=RunState.FAILED, tokens=300)
    past_runs(store, "travel", "research", [99.0], ended_before=NOW - timedelta(days=2))
    past_runs(store, "content", "draft", [7.0])
    running_run(store, "travel", "research", NOW - timedelta(minutes=5))
    archived = past_runs(store, "travel", "book", [60.0], ended_before=NOW - timedelta(hours=10))
    store.set_archived(archived[0].kickoff_id, True)

    stats = crew_stats(store, "travel", WINDOWS["24h"], NOW, price_table())
    assert stats.runs == 7
    assert stats.states == {RunState.COMPLETED: 5, RunState.FAILED: 1, RunState.RUNNING: 1}
    assert (stats.ended, stats.succeeded) == (6, 5)
    assert stats.success_rate == pytest.approx(5 / 6)
    assert [(task.task_id, task.expected.p50, task.expected.samples) for task in stats.tasks] == [
        ("book", 60.0, 1),
        ("research", 25.0, 4),
    ]
    assert stats.tokens == 4 * 3000 + 300 and stats.runs_with_tokens == 5
    # gpt-4o: $2.50 in, $10 out per million; the failed run names no model: not priced.
    assert stats.cost == pytest.approx(4 * (1000 * 2.5 + 2000 * 10.0) / 1e6)
    assert stats.runs_costed == 4
    assert len(stats.runs_per_bucket) == 24 and sum(stats.runs_per_bucket) == 7
    assert stats.runs_per_bucket[-1] == 3  # the newest hour: completed, failed and running
    assert sum(stats.failed_per_bucket) == 1
    assert sum(stats.tokens_per_bucket) == stats.tokens
    shown = stats.as_json()
    assert shown["by_state"] == {"completed": 5, "failed": 1, "running": 1}
    assert shown["tasks"][1] == {"task_id": "research", "p50": 25.0, "p95": 38.5, "samples": 4}
    assert shown["bucket_seconds"] == 3600.0


def test_a_longer_window_reaches_older_runs_and_an_empty_one_says_nothing(store: Store) -> None:
    past_runs(store, "travel", "research", [99.0], ended_before=NOW - timedelta(days=2))
    week = crew_stats(store, "travel", WINDOWS["7d"], NOW, price_table())
    assert week.runs == 1 and len(week.runs_per_bucket) == 28
    quiet = crew_stats(store, "travel", WINDOWS["24h"], NOW, price_table())
    assert quiet.runs == 0 and quiet.success_rate is None and quiet.cost is None
    assert quiet.as_json()["success_rate"] is None


def test_windows_are_hours_or_days() -> None:
    assert parse_window("7d") is WINDOWS["7d"]
    assert parse_window("36h").seconds == 36 * 3600
    for bad in ("7", "1w", "0d", "400d", "-3h"):
        with pytest.raises(ConfigError, match="is not a window: give hours or days"):
            parse_window(bad)


def test_a_text_sparkline_scales_to_its_top() -> None:
    assert spark([0, 1, 2, 4, 8]) == " ▁▂▄█"
    assert spark([0, 1], top=8) == " ▁"
    assert spark([0, 0]) == "  "
