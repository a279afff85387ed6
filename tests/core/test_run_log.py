"""The run log's entries: what a change says, what the history gives back, --since, filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crewtui.api.models import Kickoff, Step, TaskResult
from crewtui.api.rows import Usage, WaitingFor
from crewtui.api.states import RunState, TaskState
from crewtui.core.run_log import (
    LogEntry,
    LogFilter,
    LogRing,
    RunLog,
    history_entries,
    parse_filter,
    parse_since,
    plain_line,
    stored_history,
)
from crewtui.core.store import Store
from crewtui.core.tracker_events import KickoffChanged, StepsAdded
from tests.hardening.corpus import EVERYTHING, assert_inert

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
KICKOFF_ID = "5f1c2d3e-0000-4000-8000-000000000000"


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def run(state: RunState, *tasks: TaskResult, **fields: object) -> Kickoff:
    return Kickoff(
        kickoff_id=KICKOFF_ID,
        crew="travel",
        state=state,
        created_at=START,
        updated_at=at(60),
        started_at=START,
        tasks=list(tasks),
        **fields,
    )


def task(task_id: str, state: TaskState, start: float, end: float | None = None) -> TaskResult:
    return TaskResult(
        task_id=task_id,
        agent="Planner",
        state=state,
        started_at=at(start),
        finished_at=at(end) if end is not None else None,
    )


def said(entries: list) -> list[tuple[str, str | None, str]]:  # type: ignore[type-arg]
    return [(entry.kind, entry.task, entry.text) for entry in entries]


def test_a_followed_run_tells_its_tasks_state_and_tokens_once_each() -> None:
    log = RunLog()
    first = run(RunState.PENDING)
    assert said(log.entries(KickoffChanged(first, None), at(0))) == [("run", None, "pending")]
    going = run(RunState.RUNNING, task("plan", TaskState.RUNNING, 1))
    assert said(log.entries(KickoffChanged(going, RunState.PENDING), at(1))) == [
        ("task", "plan", "started"),
        ("run", None, "pending → running"),
    ]
    assert log.entries(KickoffChanged(going, RunState.RUNNING), at(2)) == []
    done = run(
        RunState.COMPLETED,
        task("plan", TaskState.COMPLETED, 1, 13.5),
        finished_at=at(14),
        usage=Usage(total_tokens=1234),
    )
    entries = log.entries(KickoffChanged(done, RunState.RUNNING), at(14))
    assert said(entries) == [
        ("task", "plan", "completed in 12.5s"),
        ("done", None, "running → completed in 14s"),
        ("usage", None, "1.23k tokens"),
    ]
    assert entries[0].agent == "Planner" and entries[0].duration == 12.5
    assert entries[1].duration == 14


def test_a_run_that_starts_waiting_says_on_what_and_a_failure_says_why() -> None:
    log = RunLog()
    log.remember(run(RunState.RUNNING))
    wait = WaitingFor(task_id="review", agent="Editor", message="Approve?", since=at(5))
    paused = log.entries(KickoffChanged(run(RunState.PAUSED, waiting_for=wait), None), at(5))
    assert said(paused) == [
        ("waiting", "review", "running → paused: waits for input on review: Approve?")
    ]
    failed = log.entries(
        KickoffChanged(run(RunState.FAILED, error="tool crashed", finished_at=at(9)), None), at(9)
    )
    assert said(failed) == [("failed", None, "paused → failed in 9s: tool crashed")]


def test_pushed_steps_are_labelled_with_the_task_and_agent_the_run_is_on() -> None:
    log = RunLog()
    log.remember(run(RunState.RUNNING, current_task="research", current_agent="Analyst"))
    step = Step(
        kickoff_id=KICKOFF_ID,
        received_at=at(3),
        tool="search",
        tool_input="flights",
        result="3 found",
    )
    event = Step(kickoff_id=KICKOFF_ID, received_at=at(4), kind="crew_test_started")
    told = Step(kickoff_id=KICKOFF_ID, received_at=at(4), kind="task_completed", result="Done")
    entries = log.entries(StepsAdded(KICKOFF_ID, (step, event, told)), at(4))
    assert said(entries) == [
        ("tool", "research", "search(flights) → 3 found"),
        ("event", "research", "crew_test_started"),
    ]  # a task's end is the task line's to tell
    assert entries[0].agent == "Analyst" and entries[0].crew == "travel"


def test_the_history_gives_back_what_following_would_have_said() -> None:
    stored = run(
        RunState.COMPLETED,
        task("plan", TaskState.COMPLETED, 1, 3),
        task("book", TaskState.FAILED, 3, 8),
        finished_at=at(9),
        usage=Usage(total_tokens=500),
    )
    steps = [Step(kickoff_id=KICKOFF_ID, received_at=at(2), thought="Let me plan.")]
    assert said(history_entries(stored, steps)) == [
        ("run", None, "started"),
        ("task", "plan", "started"),
        ("step", None, "Let me plan."),
        ("task", "plan", "completed in 2.0s"),
        ("task", "book", "started"),
        ("failed", "book", "failed in 5.0s"),
        ("done", None, "completed in 9s"),
        ("usage", None, "500 tokens"),
    ]


def test_hostile_text_is_kept_for_json_and_inert_on_a_line() -> None:
    hostile = EVERYTHING.text
    stored = run(
        RunState.FAILED,
        TaskResult(task_id=hostile, agent=hostile, state=TaskState.FAILED, finished_at=at(3)),
        error=hostile,
        finished_at=at(4),
    )
    entries = history_entries(
        stored, [Step(kickoff_id=KICKOFF_ID, received_at=at(1), thought=hostile)]
    )
    assert any(hostile in entry.text for entry in entries)  # faithful, for --json
    for entry in entries:
        line = plain_line(entry, START)
        assert_inert(line)
        assert "\n" not in line


@pytest.mark.parametrize(
    ("given", "ago"),
    [("10m", 600), ("2h", 7200), ("1h30m", 5400), ("1d", 86400), ("45s", 45), ("1.5h", 5400)],
)
def test_since_takes_a_duration_ago(given: str, ago: float) -> None:
    assert parse_since(given, START) == START - timedelta(seconds=ago)


def test_since_takes_an_iso_time_with_or_without_its_zone() -> None:
    assert parse_since("2026-12-01T08:00:00+00:00", START) == at(-3600)
    naive = parse_since("2026-12-01 08:00", START)
    assert naive.tzinfo is not None  # local time, comparable with the entries


@pytest.mark.parametrize("given", ["yesterday", "10", "m10", "10 m", "", "2h and 3m"])
def test_since_refuses_anything_else_with_one_sentence(given: str) -> None:
    with pytest.raises(ValueError, match="neither a duration"):
        parse_since(given, START)


def test_the_filter_picks_by_run_crew_time_kind_and_text() -> None:
    entries = history_entries(
        run(RunState.COMPLETED, task("plan", TaskState.COMPLETED, 1, 3), finished_at=at(4))
    )
    assert len([e for e in entries if LogFilter(crew="travel").matches(e)]) == len(entries)
    assert not [e for e in entries if LogFilter(crew="other").matches(e)]
    assert not [e for e in entries if LogFilter(kickoff_ids=frozenset({"x"})).matches(e)]
    assert said([e for e in entries if LogFilter(since=at(2)).matches(e)]) == [
        ("task", "plan", "completed in 2.0s"),
        ("done", None, "completed in 4s"),
    ]
    assert said([e for e in entries if LogFilter(kinds=frozenset({"done"})).matches(e)]) == [
        ("done", None, "completed in 4s")
    ]
    assert said([e for e in entries if LogFilter(text="PLANNER").matches(e)]) == [
        ("task", "plan", "started"),
        ("task", "plan", "completed in 2.0s"),
    ]


def test_the_history_streams_overlapping_runs_oldest_first_reading_each_run_when_reached(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "history.sqlite3")
    try:
        for number, (begin, end) in enumerate([(0, 50), (10, 20), (30, 90), (100, 110)]):
            store.save_kickoff(
                Kickoff(
                    kickoff_id=f"{number:08x}-0000-4000-8000-000000000000",
                    crew="travel",
                    state=RunState.COMPLETED,
                    created_at=at(begin),
                    updated_at=at(end),
                    started_at=at(begin),
                    finished_at=at(end),
                )
            )
        ids = [row.kickoff_id for row in store.list_kickoffs(order="oldest")]
        read: list[str] = []
        stream = stored_history(
            store, ids, remember=lambda kickoff, _steps: read.append(kickoff.short_id)
        )
        first = next(stream)
        assert first.short_id == "00000000" and read == ["00000000"]  # the rest not yet read
        rest = [first, *stream]
        assert [entry.at for entry in rest] == sorted(entry.at for entry in rest)
        assert len(read) == 4 and len(rest) == 8
    finally:
        store.close()


def entry_at(seconds: float, text: str = "x") -> LogEntry:
    return LogEntry(at=at(seconds), kind="run", crew="travel", kickoff_id=KICKOFF_ID, text=text)


def test_the_ring_keeps_the_newest_and_puts_only_older_history_before_the_live_lines() -> None:
    ring = LogRing(3, started=at(100))
    ring.extend([entry_at(101, "a"), entry_at(102, "b")])
    ring.add_history([entry_at(50, "old"), entry_at(99, "older"), entry_at(101, "told live")])
    assert [entry.text for entry in ring] == ["older", "a", "b"]  # bounded, live kept
    ring.extend([entry_at(103, "c"), entry_at(104, "d")])
    assert [entry.text for entry in ring] == ["b", "c", "d"]
    assert ring.added == 4
    assert [entry.text for entry in ring.newest(2)] == ["c", "d"]
    assert ring.newest(0) == []


def test_the_view_s_filter_reads_crew_kinds_and_words() -> None:
    choice = parse_filter("crew:travel kind:tool,failed JR  pass")
    assert choice == LogFilter(crew="travel", kinds=frozenset({"tool", "failed"}), text="JR pass")
    assert parse_filter("") == LogFilter()
    with pytest.raises(ValueError, match="'nope' is not a kind"):
        parse_filter("kind:nope")


def test_a_step_is_told_once_whether_pushed_here_or_read_back_from_the_history() -> None:
    log = RunLog()
    shown = Step(kickoff_id=KICKOFF_ID, received_at=at(1), thought="Already printed.")
    log.remember(run(RunState.RUNNING, current_task="plan"), [shown])
    pushed = Step(kickoff_id=KICKOFF_ID, received_at=at(2), tool="search", result="3")
    assert said(log.entries(StepsAdded(KICKOFF_ID, (pushed,)), at(2))) == [
        ("tool", "plan", "search() → 3")
    ]
    stored_elsewhere = Step(kickoff_id=KICKOFF_ID, received_at=at(3), thought="Next.")
    assert said(log.stored_steps(KICKOFF_ID, [shown, pushed, stored_elsewhere])) == [
        ("step", "plan", "Next.")
    ]
    assert log.stored_steps(KICKOFF_ID, [shown, pushed, stored_elsewhere]) == []
