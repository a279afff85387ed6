"""The history store in one process: what goes in comes out, merged, listed and found fast.

The tests that take ``store`` (or ``listed``) are the store's contract: they run on SQLite and
on PostgreSQL (``open_history``). The ones that take ``sqlite_store`` or open a file check
what only SQLite has (its file, its query plans, its journal).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from crewtui.api.errors import StoreError
from crewtui.api.models import Attempt, Kickoff, LlmCall, Payload, SentWebhooks, Step, TaskResult
from crewtui.api.rows import Progress, Usage, WaitingFor
from crewtui.api.states import Dialect, RunState, Submission, TaskState
from crewtui.core import store as store_module
from crewtui.core import store_rows, store_schema
from crewtui.core.pg_store import PgStore
from crewtui.core.store import Order, StepStats, Store
from crewtui.core.store_schema import SCHEMA_VERSION
from tests.conftest import HistoryOpener

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def kickoff(kickoff_id: str, **fields: Any) -> Kickoff:
    """A kickoff created at T0 unless told otherwise."""
    values: dict[str, Any] = {
        "kickoff_id": kickoff_id,
        "crew": "travel",
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(fields)
    values.setdefault("updated_at", values["created_at"])
    return Kickoff(**values)


def step(kickoff_id: str, n: int, sequence: int | None = None, **fields: Any) -> Step:
    """The n-th step, received n seconds after T0."""
    values: dict[str, Any] = {"thought": f"thought {n}", "raw": {"n": n}, **fields}
    return Step(kickoff_id=kickoff_id, received_at=at(n), sequence=sequence, **values)


@pytest.fixture
def store(open_history: HistoryOpener) -> Store:
    """A history on each back end in turn."""
    return open_history()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "data" / "history.sqlite3")
    yield opened
    opened.close()


def full_kickoff() -> Kickoff:
    """A kickoff with every field set to something other than its default."""
    return Kickoff(
        kickoff_id="5f1c2d3e-0000-4000-8000-000000000001",
        crew="travel",
        state=RunState.FAILED,
        current_task="planning_task",
        progress=Progress(completed=1, total=3),
        output="为期 7 天的日本科技文化主题综合旅行行程",
        output_json={"days": [1, 2, 3], "nested": {"ok": True, "n": None}},
        tasks=[
            TaskResult(
                task_id="research_task",
                agent="旅行研究员",
                output="research",
                execution_time=45.2,
                state=TaskState.COMPLETED,
                started_at=at(1),
                finished_at=at(46),
                usage=Usage(
                    total_tokens=1500,
                    prompt_tokens=1200,
                    completion_tokens=300,
                    successful_requests=1,
                ),
            ),
            TaskResult(task_id="planning_task", agent="行程规划师", state=TaskState.FAILED),
        ],
        error="任务执行失败：外部服务的 API 密钥无效",
        execution_time=23.1,
        dialect=Dialect.LIVE,
        raw={"state": "FAILED", "status": "boom", "extra": [1, 2.5, None]},
        inputs={"budget": "1000 USD", "interests": "games, tech, ai"},
        meta={"requestId": "travel-req-123", "n": 3},
        created_at=T0,
        updated_at=at(60),
        started_at=at(1),
        finished_at=at(60),
        tracked_at=at(-10),
        raw_by_source=[
            Payload(source="crew webhook", received_at=at(59), body={"result": "为期"}),
            Payload(source="poll", received_at=at(58), body={"state": "RUNNING", "\ud800": 1}),
        ],
        archived=True,
        submission=Submission.UNCERTAIN,
        message="Task is Running",
        current_agent="行程规划师",
        not_found_since=at(30),
        poll_error="connection reset",
        waiting_for=WaitingFor(
            task_id="research_task",
            agent="旅行研究员",
            message="Waiting",
            since=at(20),
            request_id="req-7",
        ),
        usage=Usage(
            total_tokens=1500, prompt_tokens=1200, reasoning_tokens=0, successful_requests=1
        ),
        model="gpt-4o",
        call_usage={"research_task": Usage(total_tokens=1500, successful_requests=1)},
        llm_calls=[
            LlmCall(
                call_id="e1",
                task_id="research_task",
                model="gpt-4o",
                usage=Usage(total_tokens=1500, successful_requests=1),
                at=at(40),
            )
        ],
        cancel_request="sent",
        cancelled_by="ana@laptop",
        hitl_answered_at=at(25),
        continues="5f1c2d3e-0000-4000-8000-000000000002",
        continued_from="5f1c2d3e-0000-4000-8000-000000000000",
        webhooks=SentWebhooks(
            task="https://example.test/hooks/task", crew="https://example.test/c"
        ),
        kind="flow",
        restarts=1,
        restarted_at=at(2),
        earlier_attempts=[
            Attempt(
                state=RunState.COMPLETED,
                started_at=at(-30),
                finished_at=at(-5),
                output="done before",
                error=None,
                execution_time=25.0,
                tasks=[TaskResult(task_id="collect_profile", output="profile")],
                usage=Usage(total_tokens=900),
            )
        ],
    )


def test_every_field_of_a_kickoff_round_trips(store: Store) -> None:
    original = full_kickoff()
    defaults = Kickoff(kickoff_id="", crew="", created_at=at(-1), updated_at=at(-1))
    unset = [
        name for name in Kickoff.model_fields if getattr(original, name) == getattr(defaults, name)
    ]
    assert unset == [], "full_kickoff() must set every field, so the round trip covers it"

    assert store.save_kickoff(original) == original
    assert store.get_kickoff(original.kickoff_id) == original


def test_a_kickoff_comes_back_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    first = Store.open(path)
    first.save_kickoff(full_kickoff())
    first.close()

    again = Store.open(path)
    assert again.get_kickoff(full_kickoff().kickoff_id) == full_kickoff()
    again.close()


def test_timestamps_in_other_zones_are_stored_as_the_same_instant(store: Store) -> None:
    in_paris = datetime(2026, 11, 23, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    store.save_kickoff(kickoff("k", created_at=in_paris))
    saved = store.get_kickoff("k")
    assert saved is not None
    assert saved.created_at == in_paris == T0
    assert saved.created_at.utcoffset() == timedelta(0)


WEIRD_TEXTS = [
    "lone \ud800 high and \udfff low surrogates",
    "NUL \x00 inside",
    "ESC \x1b]52;c;aGVsbG8=\x07 and C1 \x9b",
    "RTL override \u202e gnp.exe",
    "emoji 👩‍💻 and 旅行研究员",
    "x" * 1_000_000,
    "",
]


@pytest.mark.parametrize("text", WEIRD_TEXTS, ids=lambda t: repr(t[:12]))
def test_any_text_the_server_sends_round_trips(store: Store, text: str) -> None:
    if isinstance(store, PgStore) and len(text.encode("utf-8", "surrogatepass")) > 2000:
        # PostgreSQL's indexes hold keys of up to ~2.7 kB: such an id is refused, saying so.
        with pytest.raises(StoreError, match="more than its indexes can hold"):
            store.save_kickoff(kickoff(text))
        assert store.count_kickoffs(archived=None) == 0
        return
    original = kickoff(
        text or "empty-text-kickoff",
        crew=text,
        output=text,
        error=text,
        message=text,
        current_task=text,
        current_agent=text,
        poll_error=text,
        raw={"result": text, text: [text]},
        output_json={"k": text},
        inputs={"topic": text},
        meta={text: text},
        tasks=[TaskResult(task_id=text, agent=text, output=text)],
    )
    store.save_kickoff(original)
    assert store.get_kickoff(original.kickoff_id) == original
    weird_fields: dict[str, Any] = dict.fromkeys(
        ("thought", "tool", "tool_input", "result", "kind"), text
    )
    weird_step = step(original.kickoff_id, 1, raw={text: text}, **weird_fields)
    assert store.add_steps([weird_step]) == [weird_step]
    assert store.list_steps(original.kickoff_id) == [weird_step]
    [summary] = store.list_kickoffs()
    assert (summary.crew, summary.error, summary.current_task) == (text, text, text)


def test_a_newer_terminal_state_is_not_overwritten_by_an_older_writer(store: Store) -> None:
    store.save_kickoff(kickoff("k", state=RunState.COMPLETED, updated_at=at(10), output="done"))
    after = store.save_kickoff(kickoff("k", state=RunState.RUNNING, updated_at=at(20)))
    assert after.state is RunState.COMPLETED
    assert after.output == "done"
    assert store.get_kickoff("k") == after


def test_tasks_from_two_writers_are_united(store: Store) -> None:
    first = kickoff("k", state=RunState.RUNNING, tasks=[TaskResult(task_id="a", output="A")])
    second = kickoff("k", state=RunState.RUNNING, updated_at=at(5), tasks=[TaskResult(task_id="b")])
    store.save_kickoff(first)
    merged = store.save_kickoff(second)
    assert [(t.task_id, t.output) for t in merged.tasks] == [("a", "A"), ("b", None)]
    [summary] = store.list_kickoffs()
    assert summary.task_count == 2


def test_saving_what_is_stored_changes_nothing(store: Store) -> None:
    saved = store.save_kickoff(full_kickoff())
    assert store.save_kickoff(saved) == saved
    assert store.count_kickoffs(archived=None) == 1


def test_duplicate_task_ids_in_one_kickoff_are_merged(store: Store) -> None:
    tasks = [TaskResult(task_id="a", agent="X"), TaskResult(task_id="a", output="out")]
    saved = store.save_kickoff(kickoff("k", tasks=tasks))
    assert [(t.task_id, t.agent, t.output) for t in saved.tasks] == [("a", "X", "out")]


def test_rename_moves_the_attempt_with_its_tasks_and_steps(store: Store) -> None:
    attempt = kickoff("local-1", submission=Submission.SENDING, tasks=[TaskResult(task_id="a")])
    store.save_kickoff(attempt)
    store.add_steps([step("local-1", 1)])

    store.rename_kickoff("local-1", "server-1")

    assert store.get_kickoff("local-1") is None
    renamed = store.get_kickoff("server-1")
    assert renamed == attempt.model_copy(update={"kickoff_id": "server-1"})
    moved = step("server-1", 1)
    assert store.list_steps("server-1") == [moved]
    assert store.list_steps("local-1") == []
    # Steps are keyed by their kickoff: the same step arriving again is not new.
    assert store.add_steps([moved]) == []


def test_rename_onto_an_existing_kickoff_merges_them(store: Store) -> None:
    store.save_kickoff(kickoff("local-1", tasks=[TaskResult(task_id="a")]))
    store.save_kickoff(kickoff("server-1", updated_at=at(9), tasks=[TaskResult(task_id="b")]))
    store.rename_kickoff("local-1", "server-1")
    merged = store.get_kickoff("server-1")
    assert merged is not None
    assert [t.task_id for t in merged.tasks] == ["a", "b"]
    assert store.resolve_id("") == ["server-1"]


def test_rename_of_a_vanished_attempt_is_a_no_op(store: Store) -> None:
    store.rename_kickoff("local-gone", "server-1")
    assert store.get_kickoff("server-1") is None


def test_delete_forgets_the_kickoff_its_tasks_and_steps(store: Store) -> None:
    store.save_kickoff(kickoff("k", tasks=[TaskResult(task_id="a")]))
    store.add_steps([step("k", 1)])
    store.delete_kickoff("k")
    assert store.get_kickoff("k") is None
    assert store.list_steps("k") == []
    counts = store.health()["counts"]
    assert counts == {"crews": 0, "kickoffs": 0, "archived": 0, "tasks": 0, "steps": 0}


def test_archived_kickoffs_are_hidden_unless_asked(store: Store) -> None:
    store.save_kickoff(kickoff("a", state=RunState.COMPLETED))
    store.save_kickoff(kickoff("b", state=RunState.RUNNING, created_at=at(1)))
    store.set_archived("a", True)

    assert [s.kickoff_id for s in store.list_kickoffs()] == ["b"]
    assert [s.kickoff_id for s in store.list_kickoffs(archived=True)] == ["a"]
    assert [s.kickoff_id for s in store.list_kickoffs(archived=None)] == ["b", "a"]
    assert store.count_kickoffs(archived=None) == 2

    # Another writer's save of an archived kickoff does not bring it back.
    store.save_kickoff(kickoff("a", state=RunState.COMPLETED, updated_at=at(50)))
    assert store.count_kickoffs(archived=True) == 1
    store.set_archived("a", False)
    assert store.count_kickoffs() == 2


def test_active_kickoffs_are_the_non_terminal_unarchived_ones_in_full(store: Store) -> None:
    running = kickoff("r", state=RunState.RUNNING, output="partial", raw={"state": "RUNNING"})
    store.save_kickoff(running)
    store.save_kickoff(kickoff("p", state=RunState.PENDING, created_at=at(1)))
    store.save_kickoff(kickoff("done", state=RunState.COMPLETED))
    store.save_kickoff(kickoff("hidden", state=RunState.RUNNING, archived=True))
    store.set_archived("hidden", True)

    active = store.active_kickoffs()
    assert [k.kickoff_id for k in active] == ["r", "p"]
    assert active[0] == running


def test_kickoffs_read_together_each_get_their_own_tasks_in_order(
    open_history: HistoryOpener,
) -> None:
    """Active runs and other writers' changes are read in two queries for all of them, so
    each run's tasks must still be its own, in their order."""
    runs = [
        kickoff(
            f"run-{n}",
            state=RunState.RUNNING,
            created_at=at(n),
            tasks=[TaskResult(task_id=f"t{m}", output=f"{n}.{m}") for m in range(n, 0, -1)],
        )
        for n in range(4)
    ]
    writer, reader = open_history(), open_history()
    mark = reader.changes_since(0).mark
    for run in reversed(runs):
        writer.save_kickoff(run)
    assert reader.active_kickoffs() == runs
    assert reader.changes_since(mark).kickoffs == runs[::-1]  # in the order they were written


@pytest.fixture
def listed(store: Store) -> Store:
    return fill(store)


def fill(store: Store) -> Store:
    """Six kickoffs of two crews in assorted states, created one second apart."""
    states = [
        RunState.COMPLETED,
        RunState.RUNNING,
        RunState.FAILED,
        RunState.PENDING,
        RunState.COMPLETED,
        RunState.PAUSED,
    ]
    for n, state in enumerate(states):
        store.save_kickoff(
            kickoff(
                f"id-{n}",
                crew="travel" if n % 2 == 0 else "outreach",
                state=state,
                created_at=at(n),
                updated_at=at(100 - n),
                current_task=f"task_{n}",
                inputs={"topic": "旅行" if n == 3 else f"topic {n}"},
            )
        )
    return store


def ids(store: Store, **query: Any) -> list[str]:
    return [summary.kickoff_id for summary in store.list_kickoffs(**query)]


def test_list_orders(listed: Store) -> None:
    assert ids(listed) == ["id-5", "id-4", "id-3", "id-2", "id-1", "id-0"]
    assert ids(listed, order="oldest") == ["id-0", "id-1", "id-2", "id-3", "id-4", "id-5"]
    assert ids(listed, order="updated") == ["id-0", "id-1", "id-2", "id-3", "id-4", "id-5"]
    assert ids(listed, order="crew") == ["id-5", "id-3", "id-1", "id-4", "id-2", "id-0"]
    # Active first (running, paused, pending), then failed, then completed; newest first within.
    assert ids(listed, order="state") == ["id-1", "id-5", "id-3", "id-2", "id-4", "id-0"]


def test_list_filters_and_count_agree(listed: Store) -> None:
    queries: list[dict[str, Any]] = [
        {"crew": "outreach"},
        {"states": [RunState.COMPLETED]},
        {"states": []},
        {"states": {RunState.RUNNING, RunState.PAUSED}, "crew": "outreach"},
        {"text": "id-3"},
        {"text": "TASK_2"},
        {"text": "旅行"},
        {"text": "topic 4"},
        {"text": "%"},
        {"text": "outr"},
    ]
    expected = [
        ["id-5", "id-3", "id-1"],
        ["id-4", "id-0"],
        [],
        ["id-5", "id-1"],
        ["id-3"],
        ["id-2"],
        ["id-3"],
        ["id-4"],
        [],
        ["id-5", "id-3", "id-1"],
    ]
    for query, want in zip(queries, expected, strict=True):
        assert ids(listed, **query) == want, query
        assert listed.count_kickoffs(**query) == len(want), query


def test_list_pages(listed: Store) -> None:
    pages = [ids(listed, limit=4, offset=offset) for offset in (0, 4, 8)]
    assert pages == [["id-5", "id-4", "id-3", "id-2"], ["id-1", "id-0"], []]
    assert ids(listed, offset=5) == ["id-0"]


def test_summaries_carry_the_list_columns(listed: Store) -> None:
    listed.save_kickoff(
        kickoff(
            "id-9",
            created_at=at(9),
            progress=Progress(completed=2, total=None),
            error="boom",
            execution_time=1.5,
            tasks=[TaskResult(task_id="a"), TaskResult(task_id="b")],
        )
    )
    top = listed.list_kickoffs(limit=1)[0]
    assert (top.kickoff_id, top.progress, top.error, top.execution_time, top.task_count) == (
        "id-9",
        Progress(completed=2, total=None),
        "boom",
        1.5,
        2,
    )


def test_resolve_id_finds_ids_by_prefix(listed: Store) -> None:
    listed.save_kickoff(kickoff("id-10"))
    assert listed.resolve_id("id-1") == ["id-1", "id-10"]
    assert listed.resolve_id("id-4") == ["id-4"]
    assert listed.resolve_id("ID-4") == []
    assert listed.resolve_id("nope") == []


def test_steps_are_idempotent_and_ordered(store: Store) -> None:
    later = step("k", 1, sequence=2)
    earlier = step("k", 2, sequence=1)
    assert store.add_steps([later, earlier, later]) == [later, earlier]
    assert store.add_steps([earlier]) == []
    assert store.list_steps("k") == [earlier, later]
    assert store.list_steps("other") == []


def test_steps_without_sequence_are_ordered_by_arrival(store: Store) -> None:
    steps = [step("k", n) for n in (3, 1, 2)]
    store.add_steps(steps)
    assert [s.received_at for s in store.list_steps("k")] == [at(1), at(2), at(3)]


def test_a_huge_sequence_is_kept_as_an_ordering_hint(store: Store) -> None:
    huge = step("k", 1, sequence=2**80)
    small = step("k", 2, sequence=5)
    store.add_steps([huge, small])
    assert [s.raw for s in store.list_steps("k")] == [small.raw, huge.raw]


def test_crews_keep_their_url_without_credentials(store: Store) -> None:
    store.upsert_crew("travel", "https://travel.crewai.com")
    store.upsert_crew("outreach", "https://user:s3cret@outreach.crewai.com:8443/?token=s3cret#x")
    store.upsert_crew("travel", "https://travel-2.crewai.com")
    assert store.crews() == [
        ("outreach", "https://outreach.crewai.com:8443/"),
        ("travel", "https://travel-2.crewai.com"),
    ]
    assert b"s3cret" not in _all_bytes(store)


def _all_bytes(store: Store) -> bytes:
    """Everything the history holds: its files, or every row of every table."""
    if isinstance(store, PgStore):
        with store._pool.connection() as conn:
            tables = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            ).fetchall()
            rows = [
                str(row[0])
                for (table,) in tables
                for row in conn.execute(f"SELECT CAST(t AS text) FROM {table} AS t").fetchall()  # noqa: S608
            ]
        return "\n".join(rows).encode()
    assert store.path is not None
    store.close()
    return b"".join(p.read_bytes() for p in store.path.parent.iterdir())


def test_health_reports_what_doctor_shows(sqlite_store: Store) -> None:
    listed = fill(sqlite_store)
    health = listed.health()
    assert health["path"] == str(listed.path)
    assert health["schema_version"] == health["known_schema_version"] == SCHEMA_VERSION
    assert health["journal_mode"] == "wal"
    assert health["quick_check"] == "ok"
    assert health["counts"] == {"crews": 0, "kickoffs": 6, "archived": 0, "tasks": 0, "steps": 0}


def test_the_in_memory_store_has_the_same_behaviour() -> None:
    memory = Store.in_memory()
    assert memory.path is None
    saved = memory.save_kickoff(full_kickoff())
    assert memory.get_kickoff(saved.kickoff_id) == full_kickoff()
    assert memory.count_kickoffs(archived=None) == 1
    assert memory.health()["journal_mode"] == "memory"
    memory.close()


def test_threads_sharing_one_store_lose_nothing(store: Store) -> None:
    def work(worker: int) -> None:
        for n in range(50):
            store.save_kickoff(kickoff(f"w{worker}-{n}"))
            store.save_kickoff(kickoff("shared", tasks=[TaskResult(task_id=f"{worker}-{n}")]))
            store.add_steps([step("shared", worker * 1000 + n)])

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    shared = store.get_kickoff("shared")
    assert shared is not None
    assert len(shared.tasks) == 200
    assert store.count_kickoffs() == 201
    assert len(store.list_steps("shared")) == 200


def test_a_closed_store_raises_store_errors(tmp_path: Path) -> None:
    closed = Store.open(tmp_path / "h.sqlite3")
    closed.close()
    with pytest.raises(StoreError, match=r"^The history store at .* failed"):
        closed.get_kickoff("k")


def test_the_default_list_reads_an_index_not_a_sorted_scan(sqlite_store: Store) -> None:
    """10,000 kickoffs must list as fast as none: the page is read in index order."""
    store = sqlite_store
    assert store.path is not None
    created = [at(n).strftime("%Y-%m-%dT%H:%M:%S.%fZ") for n in range(10_000)]
    with sqlite3.connect(store.path) as conn:  # 10,000 plain rows, fast to insert
        conn.executemany(
            "INSERT INTO kickoffs (kickoff_id, crew, state, submission, archived, created_at,"
            " updated_at, inputs, meta, extra, state_rank) VALUES (?, 'travel', 'completed',"
            " 'accepted', ?, ?, ?3, '{}', '{}', '{}', 8)",
            [(f"id-{n:05}", n % 7 == 0, created[n]) for n in range(10_000)],
        )
    conn.close()
    newest_unarchived = max(n for n in range(10_000) if n % 7)
    page = store.list_kickoffs(limit=50)
    assert [s.kickoff_id for s in page[:1]] == [f"id-{newest_unarchived:05}"]
    assert len(page) == 50
    orders: list[Order] = ["newest", "oldest", "updated", "state", "crew"]
    for order in orders:
        traced: list[str] = []
        store._conn.set_trace_callback(traced.append)  # the real statement the store runs
        store.list_kickoffs(order=order, limit=50)
        store._conn.set_trace_callback(None)
        [select] = [sql for sql in traced if sql.startswith("SELECT")]
        plan = " / ".join(row[3] for row in store._conn.execute(f"EXPLAIN QUERY PLAN {select}"))
        assert "USING INDEX" in plan, (order, plan)
        assert "TEMP B-TREE" not in plan, (order, plan)


def test_a_run_keeps_its_newest_steps_and_counts_the_dropped(open_history: HistoryOpener) -> None:
    capped = open_history(steps_per_run=50)
    for batch in range(4):
        capped.add_steps([step("k1", n, sequence=n) for n in range(batch * 50, batch * 50 + 50)])
    capped.add_steps([step("k2", n, sequence=n) for n in range(10)])
    kept = capped.list_steps("k1")
    assert [s.sequence for s in kept] == list(range(150, 200))
    assert capped.step_stats("k1") == StepStats(stored=50, dropped=150)
    assert capped.step_stats("k2") == StepStats(stored=10, dropped=0)
    # A repeat is not a new step: nothing more is dropped.
    capped.add_steps([step("k1", 199, sequence=199)])
    assert capped.step_stats("k1") == StepStats(stored=50, dropped=150)
    # The view's window: the newest, in list order.
    assert [s.sequence for s in capped.list_steps("k1", newest=3)] == [197, 198, 199]
    capped.delete_kickoff("k1")
    assert capped.step_stats("k1") == StepStats(stored=0, dropped=0)


def test_heartbeats_say_who_is_alive_and_forget_the_long_dead(
    open_history: HistoryOpener,
) -> None:
    first, second = open_history(), open_history()
    with first._write() as conn:
        conn.execute(
            "INSERT INTO trackers (writer, pid, seen_at) VALUES ('killed', 1, ?)",
            ("2020-01-01T00:00:00.000000Z",),
        )
    first.beat()
    assert second.live_writers(within=10.0) == {first.writer}
    first.retire()
    assert second.live_writers(within=10.0) == frozenset()
    with second._read() as conn:
        assert tuple(conn.execute("SELECT count(*) FROM trackers").fetchone()) == (0,)


def test_a_step_window_is_the_newest_steps_and_the_counts_in_one_read(
    open_history: HistoryOpener,
) -> None:
    capped = open_history(steps_per_run=5)
    capped.add_steps([step("k1", n, sequence=n) for n in range(8)])
    steps, stats = capped.step_window("k1", 2)
    assert [s.sequence for s in steps] == [6, 7]
    assert stats == StepStats(stored=5, dropped=3)


def test_a_history_from_before_usage_gains_task_usage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store written before tasks had usage opens, keeps its tasks, and stores usage."""
    path = tmp_path / "history.sqlite3"
    kickoff = full_kickoff()
    with monkeypatch.context() as old:
        before_usage = store_schema.MIGRATIONS.index(store_schema._migrate_task_usage)
        old.setattr(store_schema, "MIGRATIONS", store_schema.MIGRATIONS[:before_usage])
        old.setattr(store_schema, "SCHEMA_VERSION", before_usage)
        old.setattr(
            store_module,
            "UPSERT_TASK",
            store_rows._insert_sql(
                "tasks",
                store_rows.TASK_COLUMNS[:-1],
                "ON CONFLICT (kickoff_id, task_id) DO NOTHING",
            ),
        )
        written_before = Store.open(path)
        written_before.save_kickoff(kickoff.model_copy(update={"tasks": kickoff.tasks[1:]}))
        written_before.close()
    store = Store.open(path)
    try:
        stored = store.get_kickoff(kickoff.kickoff_id)
        assert stored is not None and [t.usage for t in stored.tasks] == [None]
        saved = store.save_kickoff(kickoff)
        assert {t.task_id: t.usage for t in saved.tasks} == {
            t.task_id: t.usage for t in kickoff.tasks
        }
        assert store.get_kickoff(kickoff.kickoff_id) == saved
    finally:
        store.close()


def test_a_summary_says_whether_crewtui_is_cancelling_the_run_and_for_whom(store: Store) -> None:
    kickoff = Kickoff(
        kickoff_id="k",
        crew="c",
        created_at=T0,
        updated_at=T0,
        cancel_request="sent",
        cancelled_by="ana@laptop",
    )
    store.save_kickoff(kickoff)
    [summary] = store.list_kickoffs()
    assert (summary.cancel_request, summary.cancelled_by) == ("sent", "ana@laptop")


def test_task_durations_come_from_the_newest_completed_runs(store: Store) -> None:
    """The service's execution time where given, else seen-finished minus seen-started;
    tasks of runs that failed or still run are not how long a task takes."""
    timed = TaskResult(task_id="plan", state=TaskState.COMPLETED, execution_time=42.5)
    seen = TaskResult(
        task_id="book", state=TaskState.COMPLETED, started_at=at(10), finished_at=at(40)
    )
    store.save_kickoff(kickoff("done", state=RunState.COMPLETED, tasks=[timed, seen]))
    cut = TaskResult(task_id="plan", state=TaskState.FAILED, execution_time=3.0)
    store.save_kickoff(kickoff("failed", state=RunState.FAILED, tasks=[cut]))
    running = TaskResult(task_id="plan", state=TaskState.COMPLETED, execution_time=7.0)
    store.save_kickoff(kickoff("running", state=RunState.RUNNING, tasks=[running]))
    older = TaskResult(task_id="plan", state=TaskState.COMPLETED, execution_time=99.0)
    store.save_kickoff(
        kickoff("older", state=RunState.COMPLETED, created_at=at(-60), tasks=[older])
    )
    durations = store.task_durations()
    assert sorted(durations[("travel", "plan")]) == pytest.approx([42.5, 99.0])
    assert durations[("travel", "book")] == pytest.approx([30.0], abs=1e-3)
    assert store.task_durations(runs=1) == {
        ("travel", "plan"): pytest.approx([42.5]),
        ("travel", "book"): pytest.approx([30.0], abs=1e-3),
    }
