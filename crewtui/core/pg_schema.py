"""The history's schema on PostgreSQL: the same tables and version numbers as SQLite's.

Version ``n`` here holds what SQLite's schema version ``n`` holds (``store_schema``), so both
back ends say the same thing in ``crewtui doctor`` and a migration is added to both at once.
The applied versions are rows of ``crewtui_migrations``; each migration runs in its own
transaction under an advisory lock, so two crewtuis starting on a new database at once
apply it once. Text is ``COLLATE "C"`` (code point order, as SQLite compares), whatever the
database's locale, so that lists sort the same on both back ends. Timestamps are the same
fixed-width ISO text as SQLite's (see ``store_rows``), so one reader decodes both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from crewtui.api.errors import StoreError
from crewtui.core import store_schema

# Taken for every migration, and by every write of the store (see PgStore): "crtu".
WRITE_LOCK = store_schema.APPLICATION_ID
# Taken by the writes of the ``leases`` table only: claims queue among themselves, not
# behind the kickoff saves (a heartbeat that waited there would let its lease lapse).
LEASE_LOCK = WRITE_LOCK + 1

_TEXT = 'TEXT COLLATE "C"'
# The batch a kickoff row belongs to (its ``meta.batch``): the same expression in the index
# and in the queries, so that PostgreSQL uses the index (store_schema.BATCH_OF_RUN).
BATCH_OF_RUN = "(CAST(meta AS json) ->> 'batch')"

_V1 = [
    f"""CREATE TABLE crews (
        name {_TEXT} PRIMARY KEY,
        url {_TEXT} NOT NULL
    )""",
    f"""CREATE TABLE kickoffs (
        kickoff_id {_TEXT} PRIMARY KEY,
        crew {_TEXT} NOT NULL,
        state {_TEXT} NOT NULL,
        submission {_TEXT} NOT NULL,
        archived INTEGER NOT NULL DEFAULT 0,
        created_at {_TEXT} NOT NULL,
        updated_at {_TEXT} NOT NULL,
        started_at {_TEXT},
        finished_at {_TEXT},
        not_found_since {_TEXT},
        current_task {_TEXT},
        current_agent {_TEXT},
        message {_TEXT},
        progress {_TEXT},
        task_count INTEGER NOT NULL DEFAULT 0,
        error {_TEXT},
        execution_time DOUBLE PRECISION,
        dialect {_TEXT},
        output {_TEXT},
        output_json {_TEXT},
        inputs {_TEXT} NOT NULL,
        meta {_TEXT} NOT NULL,
        raw {_TEXT},
        extra {_TEXT} NOT NULL,
        state_rank INTEGER NOT NULL
    )""",
    f"""CREATE TABLE tasks (
        kickoff_id {_TEXT} NOT NULL REFERENCES kickoffs(kickoff_id) ON DELETE CASCADE,
        task_id {_TEXT} NOT NULL,
        ordinal INTEGER NOT NULL,
        agent {_TEXT},
        output {_TEXT},
        execution_time DOUBLE PRECISION,
        state {_TEXT} NOT NULL,
        started_at {_TEXT},
        finished_at {_TEXT},
        PRIMARY KEY (kickoff_id, task_id)
    )""",
    # ``rowid``: arrival order, the last tie-breaker of a run's steps (SQLite's rowid).
    f"""CREATE TABLE steps (
        step_key {_TEXT} PRIMARY KEY,
        kickoff_id {_TEXT} NOT NULL,
        sequence BIGINT,
        received_at {_TEXT} NOT NULL,
        kind {_TEXT} NOT NULL,
        thought {_TEXT},
        tool {_TEXT},
        tool_input {_TEXT},
        result {_TEXT},
        raw {_TEXT},
        rowid BIGINT GENERATED ALWAYS AS IDENTITY
    )""",
    "CREATE INDEX ix_kickoffs_archived_created ON kickoffs (archived, created_at, kickoff_id)",
    "CREATE INDEX ix_kickoffs_archived_updated ON kickoffs (archived, updated_at, kickoff_id)",
    "CREATE INDEX ix_kickoffs_created ON kickoffs (created_at, kickoff_id)",
    "CREATE INDEX ix_kickoffs_crew ON kickoffs (archived, crew, created_at DESC, kickoff_id DESC)",
    "CREATE INDEX ix_kickoffs_state_rank"
    " ON kickoffs (archived, state_rank, created_at DESC, kickoff_id DESC)",
    "CREATE INDEX ix_kickoffs_state ON kickoffs (state, archived)",
    "CREATE INDEX ix_steps_order ON steps (kickoff_id, sequence NULLS FIRST, received_at, rowid)",
]
_V2 = [f"ALTER TABLE kickoffs ADD COLUMN tracked_at {_TEXT}"]
_V3 = [
    "ALTER TABLE kickoffs ADD COLUMN changed_seq BIGINT NOT NULL DEFAULT 0",
    f"ALTER TABLE kickoffs ADD COLUMN written_by {_TEXT}",
    f"ALTER TABLE kickoffs ADD COLUMN state_by {_TEXT}",
    "CREATE INDEX ix_kickoffs_changed ON kickoffs (changed_seq)",
    """CREATE TABLE change_clock (
        "only" INTEGER PRIMARY KEY CHECK ("only" = 1),
        seq BIGINT NOT NULL
    )""",
    'INSERT INTO change_clock ("only", seq) VALUES (1, 0)',
    f"""CREATE TABLE trackers (
        writer {_TEXT} PRIMARY KEY,
        pid INTEGER NOT NULL,
        seen_at {_TEXT} NOT NULL
    )""",
    f"""CREATE TABLE step_counts (
        kickoff_id {_TEXT} PRIMARY KEY,
        kept INTEGER NOT NULL,
        dropped INTEGER NOT NULL
    )""",
]
_V4 = [f"ALTER TABLE tasks ADD COLUMN usage {_TEXT}"]
_V5 = [
    f"""CREATE TABLE hitl_requests (
        request_id {_TEXT} PRIMARY KEY,
        kickoff_id {_TEXT} NOT NULL,
        deployment {_TEXT},
        method {_TEXT},
        message {_TEXT},
        callback_url {_TEXT} NOT NULL,
        created_at {_TEXT} NOT NULL,
        received_at {_TEXT} NOT NULL,
        answered_at {_TEXT},
        answer {_TEXT}
    )""",
    "CREATE INDEX ix_hitl_requests_kickoff ON hitl_requests (kickoff_id, received_at)",
]

_LEASES = [
    f"""CREATE TABLE leases (
        crew {_TEXT} PRIMARY KEY,
        holder {_TEXT} NOT NULL,
        pid INTEGER NOT NULL,
        host {_TEXT} NOT NULL,
        expires_at {_TEXT} NOT NULL,
        refreshed_at {_TEXT}
    )""",
]
_BATCHES = [
    f"""CREATE TABLE batches (
        batch_id {_TEXT} PRIMARY KEY,
        crew {_TEXT} NOT NULL,
        source {_TEXT} NOT NULL,
        fingerprint {_TEXT} NOT NULL,
        rows {_TEXT} NOT NULL,
        row_count INTEGER NOT NULL,
        concurrency INTEGER NOT NULL,
        created_at {_TEXT} NOT NULL,
        runner {_TEXT},
        runner_pid INTEGER
    )""",
    "CREATE INDEX ix_batches_fingerprint ON batches (fingerprint, created_at)",
    f"CREATE INDEX ix_kickoffs_batch ON kickoffs ({BATCH_OF_RUN})",
]

_LEASE_TROUBLE = [f"ALTER TABLE leases ADD COLUMN trouble {_TEXT}"]

# Each SQLite migration's statements here, by its name: MIGRATIONS follows SQLite's order,
# so version n means the same on both back ends even when SQLite's are renumbered, and a
# migration added to SQLite alone stops crewtui at import (KeyError), not at a user's.
_BY_SQLITE_MIGRATION: dict[str, Sequence[str]] = {
    "_migrate_to_1": _V1,
    "_migrate_tracked_at_and_step_identity": _V2,
    "_migrate_following_and_step_cap": _V3,
    "_migrate_task_usage": _V4,
    "_migrate_hitl_requests": _V5,
    "_migrate_leases": _LEASES,
    "_migrate_batches": _BATCHES,
    "_migrate_lease_trouble": _LEASE_TROUBLE,
}
# MIGRATIONS[n] takes a history from version n to n + 1.
MIGRATIONS: tuple[Sequence[str], ...] = tuple(
    _BY_SQLITE_MIGRATION[migration.__name__] for migration in store_schema.MIGRATIONS
)
SCHEMA_VERSION = len(MIGRATIONS)

_CREATE_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS crewtui_migrations ("
    " version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
)


def current_version(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
    """The newest version applied; 0 for a database crewtui has not set up."""
    found = conn.execute("SELECT to_regclass('crewtui_migrations') IS NOT NULL").fetchone()
    if not found or not found[0]:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM crewtui_migrations").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: psycopg.Connection[tuple[Any, ...]], where: str) -> int:
    """Apply the missing migrations (each in one transaction); the version reached.

    Refuses, before writing anything, a database that holds a ``kickoffs`` table crewtui
    did not make, and a history written by a newer crewtui.
    """
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            version = current_version(conn)
            if version == 0:
                taken = conn.execute("SELECT to_regclass('kickoffs') IS NOT NULL").fetchone()
                if taken and taken[0]:
                    raise StoreError(
                        f"The PostgreSQL database at {where} has a kickoffs table crewtui did "
                        "not create; it was left untouched (give crewtui a database of its own)."
                    )
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"The history at {where} was written by a newer crewtui (schema {version}, "
                    f"this one knows up to {SCHEMA_VERSION}); it was left untouched."
                )
            if version == SCHEMA_VERSION:
                return version
            conn.execute(_CREATE_MIGRATIONS)
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute("INSERT INTO crewtui_migrations (version) VALUES (%s)", (version + 1,))
