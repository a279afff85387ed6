"""Timestamps from the wire: only what the history can store and read back gets through."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crewtui.api.models import Kickoff, Observation, Step
from crewtui.api.pushes import parse_push
from crewtui.api.timestamps import event_time, wire_time
from crewtui.core.store import Store

KICKOFF = "5f1c2a9e-0d4b-4c1e-9a53-7b0f6f1d2c3a"
ARRIVED = datetime(2026, 11, 23, 10, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "0999-06-01T00:00:00Z",  # the year that once made a history unreadable
        "0001-01-01T00:00:00",
        "1000-01-01T00:30:00+01:00",  # year 999 once in UTC
        "9999-12-31T23:00:00-05:00",  # past year 9999 once in UTC
        "10000-01-01T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "yesterday",
        12,
        [],
        None,
        "",
    ],
)
def test_unusable_times_are_refused(value: Any) -> None:
    assert wire_time(value) is None
    assert event_time(value, ARRIVED) == ARRIVED


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1000-01-01T00:00:00Z", datetime(1000, 1, 1, tzinfo=UTC)),
        ("0999-12-31T23:30:00-01:00", datetime(1000, 1, 1, 0, 30, tzinfo=UTC)),
        (" 2026-11-23T10:00:01 ", datetime(2026, 11, 23, 10, 0, 1, tzinfo=UTC)),
    ],
)
def test_usable_times_are_utc(value: str, expected: datetime) -> None:
    assert wire_time(value) == expected


def test_a_pushed_event_from_year_999_is_stored_and_read_back(tmp_path: Path) -> None:
    item = {"execution_id": KICKOFF, "timestamp": "0999-01-01T00:00:00Z", "type": "task_started"}
    pushed = parse_push("events", {"events": [item]}, ARRIVED)
    steps = [fact for fact in pushed if isinstance(fact, Step)]
    observations = [fact for fact in pushed if isinstance(fact, Observation)]
    assert [step.received_at for step in steps] == [ARRIVED]
    assert all(fact.observed_at == ARRIVED for fact in observations)

    store = Store.open(tmp_path / "history.sqlite3")
    try:
        store.save_kickoff(
            Kickoff(kickoff_id=KICKOFF, crew="c", created_at=ARRIVED, updated_at=ARRIVED)
        )
        store.add_steps(steps)
        assert store.list_steps(KICKOFF) == steps
        assert [row.kickoff_id for row in store.list_kickoffs()] == [KICKOFF]
    finally:
        store.close()


def test_the_store_writes_any_year_so_that_it_reads_it_back(tmp_path: Path) -> None:
    """The second line of defence: a time that got past the wire check still round-trips."""
    store = Store.open(tmp_path / "history.sqlite3")
    try:
        for year in (1, 999, 9999):
            when = datetime(year, 6, 1, tzinfo=UTC)
            saved = Kickoff(kickoff_id=f"k{year}", crew="c", created_at=when, updated_at=when)
            store.save_kickoff(saved)
            assert store.get_kickoff(f"k{year}") == saved
    finally:
        store.close()
