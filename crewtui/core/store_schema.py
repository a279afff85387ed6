"""The history's schema: its versions, the migrations between them, and the checks that
keep crewtui from writing to a file it does not understand or that is damaged.

The schema version is ``PRAGMA user_version``, advanced by the ordered ``MIGRATIONS``;
``PRAGMA application_id`` marks the file as crewtui's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from crewtui.api.errors import StoreError
from crewtui.api.sanitize import inert_line
from crewtui.core.store_rows import read_key

# "crtu": marks the file as a crewtui store, so a foreign database is never migrated.
APPLICATION_ID = 0x63727475


def _migrate_to_1(conn: sqlite3.Connection) -> None:
    """The first schema: crews, kickoffs, their tasks, their steps, and the list indexes."""
    statements = [
        """CREATE TABLE crews (
            name TEXT PRIMARY KEY,
            url TEXT NOT NULL
        )""",
        """CREATE TABLE kickoffs (
            kickoff_id TEXT PRIMARY KEY,
            crew TEXT NOT NULL,
            state TEXT NOT NULL,
            submission TEXT NOT NULL,
            archived INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT,
            not_found_since TEXT,
            current_task TEXT,
            current_agent TEXT,
            message TEXT,
            progress TEXT,
            task_count INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            execution_time REAL,
            dialect TEXT,
            output TEXT,
            output_json TEXT,
            inputs TEXT NOT NULL,
            meta TEXT NOT NULL,
            raw TEXT,
            extra TEXT NOT NULL,
            -- The position of state in STATE_ORDER, for an indexed "state" order.
            state_rank INTEGER NOT NULL
        )""",
        """CREATE TABLE tasks (
            kickoff_id TEXT NOT NULL REFERENCES kickoffs(kickoff_id) ON DELETE CASCADE,
            task_id TEXT NOT NULL,
            ordinal INTEGER NOT NULL,
            agent TEXT,
            output TEXT,
            execution_time REAL,
            state TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT,
            PRIMARY KEY (kickoff_id, task_id)
        )""",
        # No foreign key: a step may be recorded before its kickoff row is saved.
        """CREATE TABLE steps (
            step_key TEXT PRIMARY KEY,
            kickoff_id TEXT NOT NULL,
            sequence INTEGER,
            received_at TEXT NOT NULL,
            kind TEXT NOT NULL,
            thought TEXT,
            tool TEXT,
            tool_input TEXT,
            result TEXT,
            raw TEXT
        )""",
        "CREATE INDEX ix_kickoffs_archived_created ON kickoffs (archived, created_at, kickoff_id)",
        "CREATE INDEX ix_kickoffs_archived_updated ON kickoffs (archived, updated_at, kickoff_id)",
        "CREATE INDEX ix_kickoffs_created ON kickoffs (created_at, kickoff_id)",
        "CREATE INDEX ix_kickoffs_crew"
        " ON kickoffs (archived, crew, created_at DESC, kickoff_id DESC)",
        "CREATE INDEX ix_kickoffs_state_rank"
        " ON kickoffs (archived, state_rank, created_at DESC, kickoff_id DESC)",
        "CREATE INDEX ix_kickoffs_state ON kickoffs (state, archived)",
        "CREATE INDEX ix_steps_order ON steps (kickoff_id, sequence, received_at)",
        f"PRAGMA application_id = {APPLICATION_ID}",
    ]
    for statement in statements:
        conn.execute(statement)


def _migrate_tracked_at_and_step_identity(conn: sqlite3.Connection) -> None:
    """Tracked runs and step identity (idempotent: it may run again after a renumbering).

    - ``kickoffs.tracked_at``: when crewtui began following a run it did not start, so the
      list can tell a known start from an unknown one without reading each record.
    - Steps re-keyed by :attr:`Step.key <crewtui.api.models.Step.key>`, the step's identity:
      the copies an older crewtui stored of one step (a poll's and a webhook's) become one.
    """
    from crewtui.core.store_models import insert_steps, load_steps  # an old history only

    columns = {row[1] for row in conn.execute("PRAGMA table_info(kickoffs)")}
    if "tracked_at" not in columns:
        conn.execute("ALTER TABLE kickoffs ADD COLUMN tracked_at TEXT")
    for (kickoff_id,) in conn.execute("SELECT DISTINCT kickoff_id FROM steps").fetchall():
        steps = load_steps(conn, read_key(kickoff_id))
        conn.execute("DELETE FROM steps WHERE kickoff_id = ?", (kickoff_id,))
        insert_steps(conn, steps)


def _migrate_following_and_step_cap(conn: sqlite3.Connection) -> None:
    """What other processes need to follow a history, and the cap on steps per run.

    ``change_clock`` is one counter, advanced by every write of a kickoff row and copied
    into that row's ``changed_seq`` with the process that wrote it (``written_by``): a
    reader keeps the last ``changed_seq`` it saw and reads only rows above it.
    ``state_by`` is the process whose tracker last saved the run's state (an archive flag
    is not its state), and ``trackers`` lists the processes polling this history (a
    heartbeat), so that one leaves a run to another that is alive and follows it.
    ``step_counts`` keeps, per run, how many steps are stored and how many were dropped.
    """
    statements = [
        "ALTER TABLE kickoffs ADD COLUMN changed_seq INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE kickoffs ADD COLUMN written_by TEXT",
        "ALTER TABLE kickoffs ADD COLUMN state_by TEXT",
        "CREATE INDEX ix_kickoffs_changed ON kickoffs (changed_seq)",
        """CREATE TABLE change_clock (
            only INTEGER PRIMARY KEY CHECK (only = 1),
            seq INTEGER NOT NULL
        )""",
        "INSERT INTO change_clock (only, seq) VALUES (1, 0)",
        """CREATE TABLE trackers (
            writer TEXT PRIMARY KEY,
            pid INTEGER NOT NULL,
            seen_at TEXT NOT NULL
        )""",
        """CREATE TABLE step_counts (
            kickoff_id TEXT PRIMARY KEY,
            kept INTEGER NOT NULL,
            dropped INTEGER NOT NULL
        )""",
        "INSERT INTO step_counts (kickoff_id, kept, dropped)"
        " SELECT kickoff_id, count(*), 0 FROM steps GROUP BY kickoff_id",
    ]
    for statement in statements:
        conn.execute(statement)


def _migrate_task_usage(conn: sqlite3.Connection) -> None:
    """``tasks.usage``: a task's tokens and LLM calls (JSON), like the run's in ``extra``."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(tasks)")}
    if "usage" not in columns:
        conn.execute("ALTER TABLE tasks ADD COLUMN usage TEXT")


def _migrate_hitl_requests(conn: sqlite3.Connection) -> None:
    """``hitl_requests``: the human-in-the-loop requests flows sent, one row per request id.

    The row is what makes a replayed request harmless (its id is known, across restarts and
    processes), keeps the callback URL an answer goes to (in this private file only), and
    says when crewtui answered it and with what.
    """
    statements = [
        """CREATE TABLE hitl_requests (
            request_id TEXT PRIMARY KEY,
            kickoff_id TEXT NOT NULL,
            deployment TEXT,
            method TEXT,
            message TEXT,
            callback_url TEXT NOT NULL,
            created_at TEXT NOT NULL,
            received_at TEXT NOT NULL,
            answered_at TEXT,
            answer TEXT
        )""",
        "CREATE INDEX ix_hitl_requests_kickoff ON hitl_requests (kickoff_id, received_at)",
    ]
    for statement in statements:
        conn.execute(statement)


def _migrate_leases(conn: sqlite3.Connection) -> None:
    """``leases``: which process polls each crew for everyone sharing the history.

    One row per crew: the holder (its store's writer id, with its pid and host to show),
    until when it holds the lease (renewed by its heartbeat, taken over once it passed),
    and when it last finished a round of polls (what the others' staleness is counted
    from). It replaces the per-run rule of ``kickoffs.state_by`` (the run was left to the
    live process that saved its state last; the column is no longer written, and dropping
    it would rewrite every row): one poller per crew, not per run.
    """
    statements = [
        """CREATE TABLE leases (
            crew TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            refreshed_at TEXT
        )""",
    ]
    for statement in statements:
        conn.execute(statement)


# The batch a kickoff row belongs to (its ``meta.batch``), read only from valid JSON; the
# same expression in the index and in the queries, so that SQLite uses the index.
BATCH_OF_RUN = "(CASE WHEN json_valid(meta) THEN json_extract(meta, '$.batch') END)"


def _migrate_batches(conn: sqlite3.Connection) -> None:
    """``batches``: each batch of kickoffs (``crewtui batch``), recorded before its first row
    is sent, with its rows (JSON), so that a batch cut short by a crash resumes without its
    file. Its runs are the kickoffs whose meta names the batch (``meta.batch``, ``meta.row``).
    """
    statements = [
        """CREATE TABLE batches (
            batch_id TEXT PRIMARY KEY,
            crew TEXT NOT NULL,
            source TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            rows TEXT NOT NULL,
            row_count INTEGER NOT NULL,
            concurrency INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            -- The process sending its rows now (Store.claim_batch), so that two never do.
            runner TEXT,
            runner_pid INTEGER
        )""",
        "CREATE INDEX ix_batches_fingerprint ON batches (fingerprint, created_at)",
        f"CREATE INDEX ix_kickoffs_batch ON kickoffs ({BATCH_OF_RUN})",
    ]
    for statement in statements:
        conn.execute(statement)


def _migrate_lease_trouble(conn: sqlite3.Connection) -> None:
    """``leases.trouble``: what the poller was told in its last round of polls when that
    round taught it nothing (the crew unreachable, web pages for answers), so that the
    processes that view the crew can say why its runs are stale, and give up on it."""
    conn.execute("ALTER TABLE leases ADD COLUMN trouble TEXT")


# MIGRATIONS[n] takes a store from schema version n to n + 1. Append only; never edit one
# that has shipped.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _migrate_to_1,
    _migrate_tracked_at_and_step_identity,
    _migrate_following_and_step_cap,
    _migrate_task_usage,
    _migrate_hitl_requests,
    _migrate_leases,
    _migrate_batches,
    _migrate_lease_trouble,
)
SCHEMA_VERSION = len(MIGRATIONS)
# The version that brought change numbers, heartbeats and step counts: a store opened
# read-only at an older one has none of them, and its readers say so (nothing changed).
FOLLOWING_SCHEMA = 3
# The version that brought ``hitl_requests``.
HITL_SCHEMA = 5
# The version that brought ``leases`` (one poller per crew).
LEASE_SCHEMA = MIGRATIONS.index(_migrate_leases) + 1
# The version that brought ``batches`` (by position, so that it follows a renumbering).
BATCH_SCHEMA = MIGRATIONS.index(_migrate_batches) + 1
# The version that brought ``leases.trouble`` (why a poller's round taught it nothing).
LEASE_TROUBLE_SCHEMA = MIGRATIONS.index(_migrate_lease_trouble) + 1


def check_ours(conn: sqlite3.Connection, where: str) -> None:
    """Refuse, before writing anything, a database crewtui did not make or cannot read.

    The three values are read in one snapshot: another process may be creating the schema
    right now, and a mix of before and after would look like someone else's database.
    """
    conn.execute("BEGIN")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    finally:
        conn.execute("COMMIT")
    fresh = app_id == 0 and version == 0 and tables == 0
    if app_id != APPLICATION_ID and not fresh:
        raise StoreError(
            f"The history store at {where} is an SQLite database that crewtui did not create; "
            "it was left untouched."
        )
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"The history store at {where} was written by a newer crewtui (schema {version}, "
            f"this one knows up to {SCHEMA_VERSION}); it was left untouched."
        )


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the missing migrations, each in its own write transaction (another process may
    be migrating the same file at the same time: the version is re-read under the lock)."""
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version >= SCHEMA_VERSION:
                conn.execute("COMMIT")
                return
            MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def quick_check(conn: sqlite3.Connection, limit: int = 10) -> str:
    """SQLite's structural check, its first findings joined; damage may also raise."""
    try:
        return "; ".join(row[0] for row in conn.execute(f"PRAGMA quick_check({int(limit)})"))
    except sqlite3.DatabaseError as exc:
        return str(exc)


def damage_note(conn: sqlite3.Connection, path: Path) -> str | None:
    """SQLite's quick check (its first finding only): None if sound, else the note that
    makes the store read-only."""
    finding = quick_check(conn, limit=1).replace("*** in database main ***", "").strip()
    if finding == "ok":
        return None
    return (
        f"The history store at {path} is damaged ({inert_line(finding, 120)}); crewtui "
        "shows what it can read and saves nothing there (move it aside to start a new one)."
    )
