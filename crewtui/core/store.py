"""The local history: every kickoff crewtui saw, kept in SQLite because the API keeps none.

Why it looks the way it does:

- **Two processes, one file.** Two SSH sessions may run crewtui on the same store. The file
  is in WAL mode with a busy timeout, and every read-modify-write runs inside
  ``BEGIN IMMEDIATE`` (the write lock is taken before reading), so a second writer waits
  instead of losing an update. A save that finds a row merges with
  :func:`crewtui.core.merge.merge_stored` inside that transaction.
- **Any text the server sends.** Python's sqlite3 refuses to bind a ``str`` holding a lone
  surrogate (``"\\ud800"`` is valid JSON). Free text (outputs, errors, agent names, ids) is
  bound as TEXT when it is valid UTF-8, which is nearly always, and otherwise as a BLOB of its
  ``surrogatepass`` UTF-8 bytes; reading decodes BLOBs back. Such a value round-trips exactly
  but is not found by text search. JSON values (inputs, meta, raw payloads, ``output_json``)
  are stored as JSON text with ``ensure_ascii=True``, which escapes surrogates.
- **Never destroy a file we do not understand.** A file that is not an SQLite database, an
  SQLite database crewtui did not create, or a store written by a newer crewtui is reported
  with :class:`~crewtui.api.errors.StoreError` and never written to.
- **Big histories open fast.** Lists read indexed summary columns (never outputs or raw
  payloads) and are paginated; opening runs no full-file check (``health`` does).
- **Durability.** ``synchronous=NORMAL`` in WAL mode: a commit survives the process being
  killed (SIGKILL) at any point; a power cut may lose the last commits but never corrupts.
  WAL needs a local filesystem; where SQLite cannot use it, the store keeps the rollback
  journal (still safe for two processes, readers wait more) and ``health`` shows the mode.
- **Search** (``text=``) is a case-insensitive LIKE on id prefix, crew, current task and
  inputs (the term is JSON-escaped to match the stored JSON, so non-ASCII inputs match).

Timestamps are ISO-8601 UTC text of fixed width, so text order is time order; a naive
datetime is taken to be UTC. The schema version is ``PRAGMA user_version``, advanced by the
ordered ``MIGRATIONS``; ``PRAGMA application_id`` marks the file as crewtui's.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from crewtui.api.errors import StoreError
from crewtui.api.models import Kickoff, KickoffSummary, RunState, Step, TaskResult
from crewtui.core.format import STATE_ORDER
from crewtui.core.merge import merge_step, merge_stored, merge_tasks

# "crtu": marks the file as a crewtui store, so a foreign database is never migrated.
APPLICATION_ID = 0x63727475
BUSY_TIMEOUT_SECONDS = 10.0
_INT64 = (-(2**63), 2**63 - 1)

Order = Literal["newest", "oldest", "updated", "state", "crew"]
SqlValue = str | bytes | int | float | None

# --------------------------------------------------------------------------- schema


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
    columns = {row[1] for row in conn.execute("PRAGMA table_info(kickoffs)")}
    if "tracked_at" not in columns:
        conn.execute("ALTER TABLE kickoffs ADD COLUMN tracked_at TEXT")
    for (kickoff_id,) in conn.execute("SELECT DISTINCT kickoff_id FROM steps").fetchall():
        steps = _load_steps(conn, _read_text(kickoff_id) or "")
        conn.execute("DELETE FROM steps WHERE kickoff_id = ?", (kickoff_id,))
        _insert_steps(conn, steps)


# MIGRATIONS[n] takes a store from schema version n to n + 1. Append only; never edit one
# that has shipped.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _migrate_to_1,
    _migrate_tracked_at_and_step_identity,
)
SCHEMA_VERSION = len(MIGRATIONS)

# --------------------------------------------------------------------------- codecs


def _text(value: str | None) -> str | bytes | None:
    """Bind free text so that any str survives, lone surrogates included (see module doc)."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")
    return value


def _read_text(value: object) -> str | None:
    """Undo :func:`_text`."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogatepass")
    return None if value is None else str(value)


def _json(value: Any) -> str:
    """JSON text that is pure ASCII, so surrogates and control characters are escaped."""
    return json.dumps(value, ensure_ascii=True, default=str)


def _read_json(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def _ts(value: datetime | None) -> str | None:
    """Fixed-width ISO-8601 UTC, so that text order is time order; naive means UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _read_ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _clamp_int64(value: int | None) -> int | None:
    """SQLite integers are 64-bit; a step's sequence is only an ordering hint."""
    return None if value is None else min(max(value, _INT64[0]), _INT64[1])


def _without_credentials(url: str) -> str:
    """A crew's base URL has no user info, query or fragment; a token could hide there."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


# --------------------------------------------------------------------------- rows

_SUMMARY_COLUMNS = (
    "kickoff_id",
    "crew",
    "state",
    "submission",
    "archived",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
    "tracked_at",
    "current_task",
    "progress",
    "task_count",
    "error",
    "execution_time",
    "inputs",
    "meta",
)
_KICKOFF_COLUMNS = (
    *_SUMMARY_COLUMNS,
    "not_found_since",
    "current_agent",
    "message",
    "dialect",
    "output",
    "output_json",
    "raw",
    "extra",
)
_TASK_COLUMNS = (
    "kickoff_id",
    "task_id",
    "ordinal",
    "agent",
    "output",
    "execution_time",
    "state",
    "started_at",
    "finished_at",
)
_STEP_COLUMNS = (
    "step_key",
    "kickoff_id",
    "sequence",
    "received_at",
    "kind",
    "thought",
    "tool",
    "tool_input",
    "result",
    "raw",
)
_TEXT_COLUMNS = frozenset(
    {
        "kickoff_id",
        "crew",
        "current_task",
        "current_agent",
        "message",
        "error",
        "output",
        "task_id",
        "agent",
        "kind",
        "thought",
        "tool",
        "tool_input",
        "result",
    }
)
_JSON_COLUMNS = frozenset(
    {"progress", "output_json", "inputs", "meta", "raw", "extra", "waiting_for"}
)
# A paused row says which task waits: read from ``extra`` (no column of its own yet).
_WAITING_FOR = "json_extract(extra, '$.waiting_for') AS waiting_for"
_TS_COLUMNS = frozenset(
    {
        "created_at",
        "updated_at",
        "started_at",
        "finished_at",
        "tracked_at",
        "not_found_since",
        "received_at",
    }
)


def _insert_sql(table: str, columns: Sequence[str], on_conflict: str) -> str:
    names = ", ".join(columns)
    values = ", ".join(f":{name}" for name in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({values}) {on_conflict}"  # noqa: S608


# Columns the store derives on write and never reads back into a Kickoff.
_DERIVED_COLUMNS = ("task_count", "state_rank", "extra")
_KICKOFF_WRITE_COLUMNS = (*_KICKOFF_COLUMNS, "state_rank")
_UPSERT_KICKOFF = _insert_sql(
    "kickoffs",
    _KICKOFF_WRITE_COLUMNS,
    "ON CONFLICT (kickoff_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _KICKOFF_WRITE_COLUMNS if c != "kickoff_id"),
)
_UPSERT_TASK = _insert_sql(
    "tasks",
    _TASK_COLUMNS,
    "ON CONFLICT (kickoff_id, task_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _TASK_COLUMNS[2:]),
)
_INSERT_STEP = _insert_sql("steps", _STEP_COLUMNS, "ON CONFLICT (step_key) DO NOTHING")
_STEP_FIELDS = tuple(c for c in _STEP_COLUMNS if c != "step_key")
_SELECT_STEP = f"SELECT {', '.join(_STEP_FIELDS)} FROM steps WHERE step_key = :step_key"  # noqa: S608
_UPDATE_STEP = (
    f"UPDATE steps SET {', '.join(f'{c} = :{c}' for c in _STEP_FIELDS)} "  # noqa: S608
    "WHERE step_key = :step_key"
)


def _encode(values: Mapping[str, Any]) -> dict[str, SqlValue]:
    """Model values to SQL values, by column kind (text, JSON, timestamp, plain)."""
    row: dict[str, SqlValue] = {}
    for name, value in values.items():
        if name in _TEXT_COLUMNS:
            row[name] = _text(value)
        elif name in _JSON_COLUMNS:
            row[name] = None if value is None else _json(value)
        elif name in _TS_COLUMNS:
            row[name] = _ts(value)
        else:
            row[name] = value
    return row


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    """Undo :func:`_encode` for the columns the row has."""
    values: dict[str, Any] = {}
    for name in row.keys():  # noqa: SIM118 (sqlite3.Row is not a mapping)
        value = row[name]
        if name in _TEXT_COLUMNS:
            values[name] = _read_text(value)
        elif name in _JSON_COLUMNS:
            values[name] = _read_json(value)
        elif name in _TS_COLUMNS:
            values[name] = _read_ts(value)
        else:
            values[name] = value
    return values


# Kickoff fields without a column of their own ride in ``extra`` (JSON), so a field added to
# the model is kept without a migration; a migration can give it a column later.
_EXTRA_FIELDS = frozenset(Kickoff.model_fields) - {*_KICKOFF_COLUMNS, "tasks"}


def _kickoff_values(kickoff: Kickoff) -> dict[str, SqlValue]:
    own_columns = (name for name in _KICKOFF_COLUMNS if name not in _DERIVED_COLUMNS)
    fields = {name: getattr(kickoff, name) for name in own_columns}
    fields["extra"] = {
        **kickoff.model_dump(mode="json", include=set(_EXTRA_FIELDS) - {"raw_by_source"}),
        # Payloads as received, like ``raw``: JSON mode would refuse a lone surrogate key.
        "raw_by_source": [
            {"source": p.source, "received_at": _ts(p.received_at), "body": p.body}
            for p in kickoff.raw_by_source
        ],
    }
    fields["progress"] = kickoff.progress.model_dump() if kickoff.progress else None
    fields["task_count"] = len(kickoff.tasks)
    fields["state_rank"] = STATE_ORDER.index(kickoff.state)
    fields["archived"] = int(kickoff.archived)
    return _encode(fields)


def _task_values(kickoff_id: str, ordinal: int, task: TaskResult) -> dict[str, SqlValue]:
    return _encode({"kickoff_id": kickoff_id, "ordinal": ordinal, **task.model_dump()})


def _step_values(step: Step) -> dict[str, SqlValue]:
    values = _encode(step.model_dump())
    values["sequence"] = _clamp_int64(step.sequence)
    values["step_key"] = step.key
    return values


# --------------------------------------------------------------------------- queries

_ORDER_BY: dict[str, str] = {
    "newest": "created_at DESC, kickoff_id DESC",
    "oldest": "created_at ASC, kickoff_id ASC",
    "updated": "updated_at DESC, kickoff_id DESC",
    "state": "state_rank ASC, created_at DESC, kickoff_id DESC",
    "crew": "crew ASC, created_at DESC, kickoff_id DESC",
}
_LIKE_ESCAPE = "!"


def _like_literal(text: str) -> str:
    """``text`` as a LIKE pattern that matches itself only (``%`` and ``_`` are escaped)."""
    for char in (_LIKE_ESCAPE, "%", "_"):
        text = text.replace(char, _LIKE_ESCAPE + char)
    return text


def _where(
    crew: str | None,
    states: Collection[RunState] | None,
    archived: bool | None,
    text: str | None,
) -> tuple[str, list[SqlValue]]:
    """The WHERE clause shared by list and count."""
    clauses: list[str] = []
    params: list[SqlValue] = []
    if crew is not None:
        clauses.append("crew = ?")
        params.append(_text(crew))
    if states is not None:
        clauses.append(f"state IN ({', '.join('?' * len(states))})" if states else "0")
        params.extend(RunState(state).value for state in states)
    if archived is not None:
        clauses.append("archived = ?")
        params.append(int(archived))
    if text:
        # Inputs are ASCII JSON: look for the term escaped the same way.
        escaped_for_json = json.dumps(text, ensure_ascii=True)[1:-1]
        clauses.append(
            f"(kickoff_id LIKE ? ESCAPE '{_LIKE_ESCAPE}'"
            f" OR crew LIKE ? ESCAPE '{_LIKE_ESCAPE}'"
            f" OR current_task LIKE ? ESCAPE '{_LIKE_ESCAPE}'"
            f" OR inputs LIKE ? ESCAPE '{_LIKE_ESCAPE}')"
        )
        anywhere = f"%{_like_literal(text)}%"
        params.extend(
            [
                _text(f"{_like_literal(text)}%"),
                _text(anywhere),
                _text(anywhere),
                f"%{_like_literal(escaped_for_json)}%",
            ]
        )
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


# --------------------------------------------------------------------------- errors


def _describe(where: str, exc: BaseException) -> StoreError:
    """One clear sentence for what went wrong with the store at ``where``."""
    return StoreError(f"The history store at {where} {_reason(exc)}.")


def _reason(exc: BaseException) -> str:
    """The end of that sentence, from the sqlite error name or the OS error."""
    name: str = getattr(exc, "sqlite_errorname", "") or ""
    code = exc.errno if isinstance(exc, OSError) else None
    if name.startswith("SQLITE_FULL") or code in (errno.ENOSPC, errno.EDQUOT):
        return "cannot be written: the disk is full"
    if (
        name.startswith("SQLITE_READONLY")
        or isinstance(exc, PermissionError)
        or code == errno.EROFS
    ):
        return "is in a read-only place; crewtui cannot save history there"
    if isinstance(exc, FileExistsError | NotADirectoryError):
        return "cannot be created: part of its directory path is a file"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not a file"
    if isinstance(exc, OSError):
        return f"cannot be created or opened ({exc.strerror or exc})"
    if name.startswith("SQLITE_CANTOPEN"):
        return "cannot be opened; check that its directory exists and is writable"
    if name.startswith("SQLITE_NOTADB"):
        return "is not an SQLite database, so not a crewtui history; it was left untouched"
    if name.startswith("SQLITE_CORRUPT"):
        return "is damaged; crewtui does not repair it (move it aside to start a new history)"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return f"stayed locked by another crewtui for more than {BUSY_TIMEOUT_SECONDS:g} s"
    if name.startswith("SQLITE_IOERR"):
        return "cannot be written: the disk is full or failing"
    return f"failed ({exc})"


# --------------------------------------------------------------------------- store


class Store:
    """The history store. Sync and thread-safe: one connection, used under a lock.

    The tracker calls it from the event loop thread and through ``asyncio.to_thread``;
    every method is one transaction. Every failure is a :class:`StoreError`.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path | None) -> None:
        """Use :meth:`open` or :meth:`in_memory`; this takes a prepared connection."""
        self._conn = conn
        self._lock = threading.Lock()
        self.path = path

    # ----------------------------------------------------------------- opening

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (creating if needed) the store at ``path`` and bring its schema up to date.

        Raises StoreError for an unwritable or full location, a file that is not a crewtui
        store, a damaged store, or one written by a newer crewtui; such files are not touched.
        """
        path = Path(path)
        conn: sqlite3.Connection | None = None
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Create it private: SQLite gives the -wal and -shm files the same mode.
            os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))
            conn = _connect(str(path))
            _check_ours(conn, str(path))
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() == "wal":
                conn.execute("PRAGMA synchronous = NORMAL")
            _migrate(conn)
        except (sqlite3.Error, OSError, StoreError) as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, StoreError):
                raise
            raise _describe(str(path), exc) from exc
        return cls(conn, path)

    @classmethod
    def in_memory(cls) -> Store:
        """The same store with nothing on disk: the fallback when :meth:`open` fails."""
        conn = _connect(":memory:")
        _migrate(conn)
        return cls(conn, None)

    def close(self) -> None:
        """Close the connection; in WAL mode the last one out folds the log into the file."""
        with self._lock:
            self._conn.close()

    # ----------------------------------------------------------------- transactions

    @property
    def _where_name(self) -> str:
        return str(self.path) if self.path is not None else "(in memory)"

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        """One transaction under the lock; sqlite errors become one-sentence StoreErrors."""
        with self._lock:
            try:
                self._conn.execute(begin)
                yield self._conn
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise _describe(self._where_name, exc) from exc
            finally:
                # Anything left open failed; a closed connection has nothing to undo.
                with suppress(sqlite3.Error):
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction that holds the write lock from its first read (no lost update)."""
        return self._transaction("BEGIN IMMEDIATE")

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        """A read transaction: one consistent snapshot across several statements."""
        return self._transaction("BEGIN")

    # ----------------------------------------------------------------- crews

    def upsert_crew(self, name: str, url: str) -> None:
        """Remember a crew's name and base URL (never its token) for the history views."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO crews (name, url) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET url = excluded.url",
                (_text(name), _text(_without_credentials(url))),
            )

    def crews(self) -> list[tuple[str, str]]:
        with self._read() as conn:
            rows = conn.execute("SELECT name, url FROM crews ORDER BY name").fetchall()
        return [(_read_text(name) or "", _read_text(url) or "") for name, url in rows]

    # ----------------------------------------------------------------- kickoffs

    def save_kickoff(self, kickoff: Kickoff) -> Kickoff:
        """Write ``kickoff``, merged with what another writer may have stored; return the result."""
        with self._write() as conn:
            stored = _load_kickoff(conn, kickoff.kickoff_id)
            kickoff = kickoff.model_copy(update={"tasks": merge_tasks([], kickoff.tasks)})
            merged = kickoff if stored is None else merge_stored(stored, kickoff)
            if merged != stored:
                _write_kickoff(conn, merged, stored)
            return merged

    def rename_kickoff(self, old_id: str, new_id: str) -> None:
        """An attempt's local id becomes the server's kickoff id; tasks and steps follow.

        A no-op when ``old_id`` is gone (another process renamed it); merged when ``new_id``
        already exists.
        """
        if old_id == new_id:
            return
        with self._write() as conn:
            old = _load_kickoff(conn, old_id)
            if old is None:
                return
            renamed = old.model_copy(update={"kickoff_id": new_id})
            existing = _load_kickoff(conn, new_id)
            steps = _load_steps(conn, old_id)
            _delete_kickoff(conn, old_id)
            merged = renamed if existing is None else merge_stored(existing, renamed)
            _write_kickoff(conn, merged, existing)
            _insert_steps(conn, [s.model_copy(update={"kickoff_id": new_id}) for s in steps])

    def delete_kickoff(self, kickoff_id: str) -> None:
        """Forget a kickoff, its tasks and its steps."""
        with self._write() as conn:
            _delete_kickoff(conn, kickoff_id)

    def get_kickoff(self, kickoff_id: str) -> Kickoff | None:
        """The full record: tasks, outputs, raw payload."""
        with self._read() as conn:
            return _load_kickoff(conn, kickoff_id)

    def list_kickoffs(
        self,
        *,
        crew: str | None = None,
        states: Collection[RunState] | None = None,
        archived: bool | None = False,
        text: str | None = None,
        order: Order = "newest",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[KickoffSummary]:
        """One page of summaries (no outputs, no raw); ``archived=None`` means both."""
        where, params = _where(crew, states, archived, text)
        sql = (
            f"SELECT {', '.join(_SUMMARY_COLUMNS)}, {_WAITING_FOR} FROM kickoffs{where} "  # noqa: S608
            f"ORDER BY {_ORDER_BY[order]} LIMIT ? OFFSET ?"
        )
        with self._read() as conn:
            rows = conn.execute(sql, [*params, -1 if limit is None else limit, offset])
            return [KickoffSummary.model_validate(_decode(row)) for row in rows]

    def count_kickoffs(
        self,
        *,
        crew: str | None = None,
        states: Collection[RunState] | None = None,
        archived: bool | None = False,
        text: str | None = None,
    ) -> int:
        """How many kickoffs :meth:`list_kickoffs` would list without a limit."""
        where, params = _where(crew, states, archived, text)
        with self._read() as conn:
            row = conn.execute(f"SELECT count(*) FROM kickoffs{where}", params).fetchone()  # noqa: S608
        return int(row[0])

    def active_kickoffs(self) -> list[Kickoff]:
        """Full records of the runs still to follow (not terminal, not archived), oldest first."""
        active = [state.value for state in RunState if not state.is_terminal]
        marks = ", ".join("?" * len(active))
        with self._read() as conn:
            ids = conn.execute(
                f"SELECT kickoff_id FROM kickoffs WHERE archived = 0 AND state IN ({marks}) "  # noqa: S608
                "ORDER BY created_at, kickoff_id",
                active,
            ).fetchall()
            loaded = (_load_kickoff(conn, _read_text(row[0]) or "") for row in ids)
            return [kickoff for kickoff in loaded if kickoff is not None]

    def set_archived(self, kickoff_id: str, archived: bool) -> None:
        """Hide a kickoff from the default list, or bring it back."""
        with self._write() as conn:
            conn.execute(
                "UPDATE kickoffs SET archived = ? WHERE kickoff_id = ?",
                (int(archived), _text(kickoff_id)),
            )

    def resolve_id(self, prefix: str) -> list[str]:
        """Every kickoff id starting with ``prefix`` (short ids on the command line)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT kickoff_id FROM kickoffs WHERE kickoff_id >= ? AND kickoff_id < ? "
                "ORDER BY kickoff_id",
                (_text(prefix), _text(prefix + "\U0010ffff")),
            ).fetchall()
        return [_read_text(row[0]) or "" for row in rows]

    # ----------------------------------------------------------------- steps

    def add_steps(self, steps: Sequence[Step]) -> list[Step]:
        """Record steps, ignoring ones already stored (webhooks repeat); return the new ones."""
        with self._write() as conn:
            return _insert_steps(conn, steps)

    def list_steps(self, kickoff_id: str) -> list[Step]:
        """A kickoff's steps by sequence (missing sequences first), then arrival."""
        with self._read() as conn:
            return _load_steps(conn, kickoff_id)

    # ----------------------------------------------------------------- diagnostics

    def health(self) -> dict[str, object]:
        """What ``crewtui doctor`` shows: where, which schema, which journal, how much, sound?

        ``quick_check`` is "ok" or what SQLite found wrong; ``counts`` is None on a damaged
        store, whose tables cannot be trusted.
        """
        with self._read() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
            quick_check = _quick_check(conn)
            counts = _counts(conn) if quick_check == "ok" else None
        return {
            "path": str(self.path) if self.path is not None else None,
            "schema_version": version,
            "known_schema_version": SCHEMA_VERSION,
            "journal_mode": journal,
            "sqlite_version": sqlite3.sqlite_version,
            "counts": counts,
            "quick_check": quick_check,
        }


# --------------------------------------------------------------------------- helpers


def _connect(database: str) -> sqlite3.Connection:
    """A connection in autocommit mode (we issue BEGIN ourselves), shared across threads."""
    conn = sqlite3.connect(
        database, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _check_ours(conn: sqlite3.Connection, where: str) -> None:
    """Refuse, before writing anything, a database crewtui did not make or cannot read."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
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


def _migrate(conn: sqlite3.Connection) -> None:
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


def _load_kickoff(conn: sqlite3.Connection, kickoff_id: str) -> Kickoff | None:
    row = conn.execute(
        f"SELECT {', '.join(_KICKOFF_COLUMNS)} FROM kickoffs WHERE kickoff_id = ?",  # noqa: S608
        (_text(kickoff_id),),
    ).fetchone()
    if row is None:
        return None
    tasks = conn.execute(
        f"SELECT {', '.join(_TASK_COLUMNS)} FROM tasks WHERE kickoff_id = ? ORDER BY ordinal",  # noqa: S608
        (_text(kickoff_id),),
    ).fetchall()
    values = _decode(row)
    values.update(values.pop("extra"))
    values["tasks"] = [TaskResult.model_validate(_decode(task)) for task in tasks]
    return Kickoff.model_validate(values)


def _write_kickoff(conn: sqlite3.Connection, kickoff: Kickoff, before: Kickoff | None) -> None:
    """Upsert the row, and only the task rows that differ from ``before`` (what is stored).

    A poll storm on a run with many tasks rewrites one task, not all; a merge never drops a
    task, so no row has to be deleted.
    """
    conn.execute(_UPSERT_KICKOFF, _kickoff_values(kickoff))
    old = before.tasks if before is not None else []
    changed = [
        _task_values(kickoff.kickoff_id, n, task)
        for n, task in enumerate(kickoff.tasks)
        if n >= len(old) or old[n] != task
    ]
    conn.executemany(_UPSERT_TASK, changed)


def _delete_kickoff(conn: sqlite3.Connection, kickoff_id: str) -> None:
    key = (_text(kickoff_id),)
    conn.execute("DELETE FROM steps WHERE kickoff_id = ?", key)
    conn.execute("DELETE FROM kickoffs WHERE kickoff_id = ?", key)  # tasks cascade


def _insert_steps(conn: sqlite3.Connection, steps: Sequence[Step]) -> list[Step]:
    """Store each step once (by its identity); a copy from another channel is merged into
    the stored one. Returns the steps that were new."""
    new: list[Step] = []
    for step in steps:
        values = _step_values(step)
        if conn.execute(_INSERT_STEP, values).rowcount == 1:
            new.append(step)
            continue
        row = conn.execute(_SELECT_STEP, {"step_key": values["step_key"]}).fetchone()
        if row is None:
            continue
        stored = Step.model_validate(_decode(row))
        merged = merge_step(stored, step)
        if merged != stored:
            conn.execute(_UPDATE_STEP, _step_values(merged))
    return new


def _load_steps(conn: sqlite3.Connection, kickoff_id: str) -> list[Step]:
    columns = ", ".join(c for c in _STEP_COLUMNS if c != "step_key")
    rows = conn.execute(
        f"SELECT {columns} FROM steps WHERE kickoff_id = ? "  # noqa: S608
        "ORDER BY sequence, received_at, rowid",
        (_text(kickoff_id),),
    )
    return [Step.model_validate(_decode(row)) for row in rows]


def _quick_check(conn: sqlite3.Connection) -> str:
    """SQLite's structural check, its first findings joined; damage may also raise."""
    try:
        return "; ".join(row[0] for row in conn.execute("PRAGMA quick_check(10)"))
    except sqlite3.DatabaseError as exc:
        return str(exc)


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    queries = {
        "crews": "SELECT count(*) FROM crews",
        "kickoffs": "SELECT count(*) FROM kickoffs",
        "archived": "SELECT count(*) FROM kickoffs WHERE archived = 1",
        "tasks": "SELECT count(*) FROM tasks",
        "steps": "SELECT count(*) FROM steps",
    }
    return {name: int(conn.execute(sql).fetchone()[0]) for name, sql in queries.items()}
