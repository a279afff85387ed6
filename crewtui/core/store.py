"""The local history: every kickoff crewtui saw, kept in SQLite because the API keeps none.

Why it looks the way it does:

- **Two processes, one file.** Two SSH sessions may run crewtui on the same store. The file
  is in WAL mode with a busy timeout, and every read-modify-write runs inside
  ``BEGIN IMMEDIATE`` (the write lock is taken before reading), so a second writer waits
  instead of losing an update. A save that finds a row merges with
  :func:`crewtui.core.merge.merge_stored` inside that transaction.
- **Any text the server sends, and rows that went bad,** are the business of
  :mod:`crewtui.core.store_rows` (how each value is bound and read back); the schema, its
  migrations and the checks of a file are in :mod:`crewtui.core.store_schema`.
- **Never destroy a file we do not understand.** A file that is not an SQLite database, an
  SQLite database crewtui did not create, or a store written by a newer crewtui is reported
  with :class:`~crewtui.api.errors.StoreError` and never written to. A store SQLite's quick
  check finds damaged, or one in a place crewtui cannot write, is read-only: shown as it is,
  every write refused with one sentence (``read_only``).
- **Big histories open fast.** Lists read indexed summary columns (never outputs or raw
  payloads) and are paginated; the quick check (0.1-0.2 s for 10,000 kickoffs, on its own
  connection) runs with the first write, which needs it: not before the app's first frame.
- **Other processes.** Every write of a kickoff row takes the next number of
  ``change_clock`` and records who wrote it; :meth:`Store.changes_since` reads only rows
  above a mark, and ``PRAGMA data_version`` says cheaply when to ask. Trackers record a
  heartbeat in ``trackers`` (which processes are alive). One process polls each crew for
  all of them: the holder of the crew's row in ``leases`` (:meth:`Store.claim_lease`),
  which the others take over once it stops renewing it.
- **Bounded steps.** A run keeps its newest ``steps_per_run`` steps; the older ones are
  deleted and counted in ``step_counts``.
- **Durability.** ``synchronous=NORMAL`` in WAL mode: a commit survives the process being
  killed (SIGKILL) at any point; a power cut may lose the last commits but never corrupts.
  WAL needs a local filesystem; where SQLite cannot use it, the store keeps the rollback
  journal (still safe for two processes, readers wait more) and ``health`` shows the mode.
- **Search** (``text=``) is a case-insensitive LIKE on id prefix, crew, current task and
  inputs (the term is JSON-escaped to match the stored JSON, so non-ASCII inputs match).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import sqlite3
import threading
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from crewtui.api.errors import StoreError
from crewtui.api.rows import KickoffSummary
from crewtui.api.states import RunState, TaskState
from crewtui.core import store_schema
from crewtui.core.batch import Batch, rows_from_json, rows_json
from crewtui.core.store_rows import (
    CANCEL_REQUEST,
    KICKOFF_COLUMNS,
    RUN_KIND,
    SUMMARY_COLUMNS,
    TASK_COLUMNS,
    TASK_STARTED,
    UPSERT_KICKOFF,
    UPSERT_TASK,
    USAGE,
    WAITING_FOR,
    Lease,
    SqlValue,
    bind_text,
    bind_ts,
    decode_row,
    lease_of,
    read_key,
    summaries,
    without_credentials,
)
from crewtui.core.store_schema import (
    BATCH_OF_RUN,
    BATCH_SCHEMA,
    FOLLOWING_SCHEMA,
    HITL_SCHEMA,
    LEASE_SCHEMA,
    LEASE_TROUBLE_SCHEMA,
    check_ours,
    damage_note,
    migrate,
    quick_check,
)
from crewtui.core.store_text import (
    HOLD_BYTES,
    OutputKey,
    StoredText,
    output_rowid,
    value_size,
)

# The models (pydantic) are imported where a whole kickoff, task or step is first read or
# written (``crewtui.core.store_models``, ``crewtui.core.merge``): the list's rows are
# plain rows, and the app's first frame reads only those.
if TYPE_CHECKING:
    from crewtui.api.hitl import HitlRequest
    from crewtui.api.models import Kickoff, Step
    from crewtui.core.text_lines import HeldText

log = logging.getLogger(__name__)

BUSY_TIMEOUT_SECONDS = 10.0
# Steps kept per run: the newest; older ones are dropped and counted (``step_stats``).
DEFAULT_STEPS_PER_RUN = 5000

Order = Literal["newest", "oldest", "updated", "state", "crew"]

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
    batch: str | None = None,
    *,
    like: str = "LIKE",
    batch_of_run: str = BATCH_OF_RUN,
) -> tuple[str, list[SqlValue]]:
    """The WHERE clause shared by list and count; ``batch`` keeps that batch's runs only.
    ``like`` is the dialect's case-insensitive LIKE (SQLite's LIKE is, for ASCII;
    PostgreSQL's ILIKE) and ``batch_of_run`` its expression of a row's batch."""
    clauses: list[str] = []
    params: list[SqlValue] = []
    if batch is not None:
        clauses.append(f"{batch_of_run} = ?")
        params.append(bind_text(batch))
    if crew is not None:
        clauses.append("crew = ?")
        params.append(bind_text(crew))
    if states is not None:
        clauses.append(f"state IN ({', '.join('?' * len(states))})" if states else "FALSE")
        params.extend(RunState(state).value for state in states)
    if archived is not None:
        clauses.append("archived = ?")
        params.append(int(archived))
    if text:
        # Inputs are ASCII JSON: look for the term escaped the same way.
        escaped_for_json = json.dumps(text, ensure_ascii=True)[1:-1]
        clauses.append(
            f"(kickoff_id {like} ? ESCAPE '{_LIKE_ESCAPE}'"
            f" OR crew {like} ? ESCAPE '{_LIKE_ESCAPE}'"
            f" OR current_task {like} ? ESCAPE '{_LIKE_ESCAPE}'"
            f" OR inputs {like} ? ESCAPE '{_LIKE_ESCAPE}')"
        )
        anywhere = f"%{_like_literal(text)}%"
        params.extend(
            [
                bind_text(f"{_like_literal(text)}%"),
                bind_text(anywhere),
                bind_text(anywhere),
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


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class StepStats:
    """A run's steps: how many the history holds, and how many older ones the cap dropped."""

    stored: int
    dropped: int


@dataclass(frozen=True)
class Changes:
    """What :meth:`Store.changes_since` found (kickoffs as other processes last wrote
    them), and the mark to ask from next time."""

    mark: int
    kickoffs: list[Kickoff]


@dataclass(frozen=True)
class RunTally:
    """The runs of a crew in one stretch of time (``bucket``), one state and one model:
    how many, their tokens, and the prompt and completion tokens of those that told both
    (what an estimated cost can be made of)."""

    bucket: int
    state: RunState
    model: str | None
    runs: int
    tokens: int
    runs_with_tokens: int
    prompt_tokens: int
    completion_tokens: int
    runs_with_split: int


# The tally's one SQL aggregate: ``extra`` is read once per row, and a row whose JSON went
# bad counts as a run with no tokens. ``archived IN (0, 1)`` lets the crew index serve.
_TALLY = """
SELECT bucket, state, model, count(*), COALESCE(sum(total), 0), count(total),
       COALESCE(sum(CASE WHEN split THEN prompt END), 0),
       COALESCE(sum(CASE WHEN split THEN completion END), 0),
       COALESCE(sum(split), 0)
FROM (
    SELECT CAST((julianday(created_at) - julianday(:since)) * 86400.0 / :bucket AS INTEGER)
               AS bucket,
           state,
           json_extract(x, '$.model') AS model,
           json_extract(x, '$.usage.total_tokens') AS total,
           json_extract(x, '$.usage.prompt_tokens') AS prompt,
           json_extract(x, '$.usage.completion_tokens') AS completion,
           (json_extract(x, '$.usage.prompt_tokens') IS NOT NULL
            AND json_extract(x, '$.usage.completion_tokens') IS NOT NULL) AS split
    FROM (
        SELECT created_at, state, CASE WHEN json_valid(extra) THEN extra END AS x
        FROM kickoffs
        WHERE archived IN (0, 1) AND crew = :crew AND created_at >= :since_text
              AND created_at < :until_text
    )
)
GROUP BY bucket, state, model
"""


# --------------------------------------------------------------------------- store


@dataclass(frozen=True)
class HitlRecord:
    """A flow's human-in-the-loop request as the history keeps it: which run waits, where
    the answer goes (never shown), and whether crewtui answered it."""

    request_id: str
    kickoff_id: str
    callback_url: str = field(repr=False)
    method: str | None
    received_at: datetime
    answered_at: datetime | None
    answer: str | None


class Store:
    """The history store. Sync and thread-safe: one connection, used under a lock.

    The tracker calls it from the event loop thread and through ``asyncio.to_thread``;
    every method is one transaction. Every failure is a :class:`StoreError`.
    """

    # What the SQL of lists says in this dialect (PostgreSQL's store says it its own way):
    # the case-insensitive LIKE, the values read from ``extra``, and "no limit".
    _LIKE = "LIKE"
    _SUMMARY_EXTRAS = f"{WAITING_FOR}, {USAGE}, {CANCEL_REQUEST}, {RUN_KIND}"
    _BATCH_OF_RUN = BATCH_OF_RUN
    _NO_LIMIT: int | None = -1
    # Seconds each task of the newest completed runs took (see task_durations; ``chosen``
    # is the crew and time conditions); and the runs of a crew counted (see run_tallies).
    _DURATIONS_SQL = (
        "SELECT k.crew, t.task_id, COALESCE(t.execution_time,"
        " (julianday(t.finished_at) - julianday(t.started_at)) * 86400.0)"
        " FROM (SELECT kickoff_id, crew FROM kickoffs WHERE +state = ?{chosen}"
        " ORDER BY created_at DESC LIMIT ?) AS k"
        " JOIN tasks AS t ON t.kickoff_id = k.kickoff_id WHERE t.state = ?"
    )
    _TALLY_SQL = _TALLY

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path | None,
        *,
        steps_per_run: int = DEFAULT_STEPS_PER_RUN,
        read_only: str | None = None,
    ) -> None:
        """Use :meth:`open` or :meth:`in_memory`; this takes a prepared connection."""
        self._conn = conn
        self._lock = threading.Lock()
        self.path = path
        self.steps_per_run = max(1, steps_per_run)
        # Why this store is not written to (damaged, or in a read-only place), or None;
        # ``open_note`` is that reason when known at open (the quick check may find more).
        self.read_only = read_only
        self.open_note = read_only
        # Who writes: marks this process's rows, so that it can tell others' changes apart.
        self.writer = uuid.uuid4().hex
        # Where this process runs, for the leases it holds (``pid@host`` names a poller).
        self.host = socket.gethostname()
        self.schema_version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        # Whether the damage check is still to run (with the first write: ``damage``), and
        # the lock that runs it once.
        self._check_due = False
        self._check_lock = threading.Lock()

    # ----------------------------------------------------------------- opening

    @classmethod
    def open(cls, path: Path, *, steps_per_run: int = DEFAULT_STEPS_PER_RUN) -> Store:
        """Open (creating if needed) the store at ``path`` and bring its schema up to date.

        A store that a quick check finds damaged, or one in a place crewtui cannot write,
        is opened read-only: everything it holds is shown, and every write is refused with
        a StoreError that says why (``read_only``). Raises StoreError for a location that
        cannot be created or read, a file that is not a crewtui store, one damaged beyond
        reading, or one written by a newer crewtui; such files are not touched.
        """
        path = Path(path)
        conn: sqlite3.Connection | None = None
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Create it private: SQLite gives the -wal and -shm files the same mode.
            os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))
            conn = _connect(str(path))
            check_ours(conn, str(path))
            # A migration writes: an older store is checked before it, whatever it costs.
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            upgrading = 0 < version < store_schema.SCHEMA_VERSION
            damage = damage_note(conn, path) if upgrading else None
            if damage is not None:
                return cls(conn, path, steps_per_run=steps_per_run, read_only=damage)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() == "wal":
                conn.execute("PRAGMA synchronous = NORMAL")
            migrate(conn)
        except (sqlite3.Error, OSError, StoreError) as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, StoreError):
                raise
            error = _describe(str(path), exc)
            if _is_read_only(exc) and path.is_file():
                return cls._open_read_only(path, steps_per_run, error)
            raise error from exc
        store = cls(conn, path, steps_per_run=steps_per_run)
        store._check_due = not upgrading
        return store

    @classmethod
    def _open_read_only(cls, path: Path, steps_per_run: int, why: StoreError) -> Store:
        """The history in a place crewtui cannot write: shown as it is, never changed.

        ``mode=ro`` needs the WAL's shared-memory file or the right to create it; a store
        closed cleanly in an unwritable directory has neither, and is read as ``immutable``
        (safe: nothing can be writing to it there).
        """
        note = (
            f"The history store at {path} is in a read-only place; it is shown as it is "
            "and changes in this session will not be saved."
        )
        for options in ("mode=ro", "immutable=1"):
            conn: sqlite3.Connection | None = None
            try:
                conn = _connect(f"{path.resolve().as_uri()}?{options}", uri=True)
                check_ours(conn, str(path))
                conn.execute("SELECT count(*) FROM kickoffs").fetchone()
            except sqlite3.Error:
                if conn is not None:
                    conn.close()
                continue
            return cls(conn, path, steps_per_run=steps_per_run, read_only=note)
        raise why

    @classmethod
    def in_memory(cls, *, steps_per_run: int = DEFAULT_STEPS_PER_RUN) -> Store:
        """The same store with nothing on disk: the fallback when :meth:`open` fails."""
        conn = _connect(":memory:")
        migrate(conn)
        return cls(conn, None, steps_per_run=steps_per_run)

    def close(self) -> None:
        """Close the connection; in WAL mode the last one out folds the log into the file."""
        with self._lock:
            self._conn.close()

    # ----------------------------------------------------------------- transactions

    @property
    def location(self) -> str:
        """Where the history is, for people: its file, or "(in memory)"."""
        return str(self.path) if self.path is not None else "(in memory)"

    @property
    def persistent(self) -> bool:
        """Whether the history outlives this process, so that other processes may share it."""
        return self.path is not None

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        """One transaction under the lock; sqlite errors become one-sentence StoreErrors."""
        with self._lock:
            try:
                self._conn.execute(begin)
                yield self._conn
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise _describe(self.location, exc) from exc
            finally:
                # Anything left open failed; a closed connection has nothing to undo.
                with suppress(sqlite3.Error):
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")

    def _check_damage(self) -> None:
        """SQLite's quick check, on a connection of its own. It reads the whole file (about
        0.1 s for 10,000 kickoffs with their outputs), so opening does not wait for it, nor
        do reads: it runs with the first write (after the app's first frame, or a
        ``status``'s GET), which needs it."""
        try:
            if self.path is not None:
                conn = _connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
                try:
                    note = damage_note(conn, self.path)
                finally:
                    conn.close()
                if note is not None and self.read_only is None:
                    self.read_only = note
        except sqlite3.Error:
            pass  # the main connection reports what it meets; a check is no reason to stop

    def damage(self) -> str | None:
        """Why nothing is written to this store (damaged, read-only place), once the quick
        check is done (the first call runs it); None for a sound, writable store."""
        with self._check_lock:
            if self._check_due:
                self._check_damage()
                self._check_due = False
        return self.read_only

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction that holds the write lock from its first read (no lost update).

        A read-only store (damaged, or in an unwritable place) refuses, saying why; no write
        happens before the quick check has said the file is sound.
        """
        refusal = self.damage()
        if refusal is not None:
            raise StoreError(refusal)
        return self._transaction("BEGIN IMMEDIATE")

    def _stamp(self, conn: sqlite3.Connection) -> dict[str, SqlValue]:
        """The next change number, and who writes it when, for a kickoff row being written."""
        seq = conn.execute("UPDATE change_clock SET seq = seq + 1 RETURNING seq").fetchone()[0]
        return {"changed_seq": seq, "written_by": self.writer}

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
                (bind_text(name), bind_text(without_credentials(url))),
            )

    def crews(self) -> list[tuple[str, str]]:
        with self._read() as conn:
            rows = conn.execute("SELECT name, url FROM crews ORDER BY name").fetchall()
        return [(read_key(name), read_key(url)) for name, url in rows]

    # ----------------------------------------------------------------- kickoffs

    def save_kickoff(self, kickoff: Kickoff) -> Kickoff:
        """Write ``kickoff``, merged with what another writer may have stored; return the result."""
        from crewtui.core.merge import merge_stored, merge_tasks

        with self._write() as conn:
            stored = _load_kickoff(conn, kickoff.kickoff_id)
            kickoff = kickoff.model_copy(update={"tasks": merge_tasks([], kickoff.tasks)})
            merged = kickoff if stored is None else merge_stored(stored, kickoff)
            if merged != stored:
                _write_kickoff(conn, merged, stored, self._stamp(conn))
            return merged

    def rename_kickoff(self, old_id: str, new_id: str) -> None:
        """An attempt's local id becomes the server's kickoff id; tasks and steps follow.

        A no-op when ``old_id`` is gone (another process renamed it); merged when ``new_id``
        already exists.
        """
        if old_id == new_id:
            return
        from crewtui.core.merge import merge_stored
        from crewtui.core.store_models import load_steps

        with self._write() as conn:
            old = _load_kickoff(conn, old_id)
            if old is None:
                return
            renamed = old.model_copy(update={"kickoff_id": new_id})
            existing = _load_kickoff(conn, new_id)
            steps = load_steps(conn, old_id)
            _delete_kickoff(conn, old_id)
            merged = renamed if existing is None else merge_stored(existing, renamed)
            _write_kickoff(conn, merged, existing, self._stamp(conn))
            moved = [s.model_copy(update={"kickoff_id": new_id}) for s in steps]
            _insert_steps(conn, moved, self.steps_per_run)

    def delete_kickoff(self, kickoff_id: str) -> None:
        """Forget a kickoff, its tasks and its steps."""
        with self._write() as conn:
            _delete_kickoff(conn, kickoff_id)

    def get_kickoff(self, kickoff_id: str) -> Kickoff | None:
        """The full record: tasks, outputs, raw payload."""
        with self._read() as conn:
            return _load_kickoff(conn, kickoff_id)

    def get_kickoff_lean(
        self, kickoff_id: str, *, hold: int = HOLD_BYTES
    ) -> tuple[Kickoff, Mapping[str | None, HeldText]] | None:
        """The record with what is larger than ``hold`` bytes left in the history.

        Such outputs are ``None`` in the kickoff and given instead, by task id (``None``
        for the final output), as :class:`StoredText` sources that read them in pieces; a
        raw payload that large is ``None``. A 200 MB output costs what a small one does.
        """
        bound = bind_text(kickoff_id)
        if self.path is None:  # a session-only store holds everything in memory anyway
            kickoff = self.get_kickoff(kickoff_id)
            return None if kickoff is None else (kickoff, {})
        with self._read() as conn:
            big: dict[str | None, int] = {}
            leave_out: set[str] = set()
            rowid = output_rowid(conn, OutputKey(kickoff_id), bound)
            if rowid is None:
                return None
            for column in ("output", "raw"):
                size = value_size(conn, "kickoffs", column, rowid)
                if size > hold:
                    leave_out.add(column)
                    if column == "output":
                        big[None] = size
            for row in conn.execute(
                "SELECT rowid, task_id FROM tasks WHERE kickoff_id = ?", (bound,)
            ):
                size = value_size(conn, "tasks", "output", int(row[0]))
                if size > hold:
                    big[read_key(row[1])] = size
            kickoff = _load_kickoff(conn, kickoff_id, leave_out, frozenset(big))
        if kickoff is None:
            return None
        path = self.path
        assert path is not None
        sources = {
            task_id: StoredText(OutputKey(kickoff_id, task_id), size, path, bound)
            for task_id, size in big.items()
        }
        return kickoff, sources

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
        batch: str | None = None,
    ) -> list[KickoffSummary]:
        """One page of summaries (no outputs, no raw); ``archived=None`` means both."""
        where, params = _where(
            crew, states, archived, text, batch, like=self._LIKE, batch_of_run=self._BATCH_OF_RUN
        )
        sql = (
            f"SELECT {', '.join(SUMMARY_COLUMNS)}, {self._SUMMARY_EXTRAS}, {TASK_STARTED} "  # noqa: S608
            f"FROM kickoffs{where} "
            f"ORDER BY {_ORDER_BY[order]} LIMIT ? OFFSET ?"
        )
        with self._read() as conn:
            rows = conn.execute(sql, [*params, self._NO_LIMIT if limit is None else limit, offset])
            return summaries(rows)

    def count_kickoffs(
        self,
        *,
        crew: str | None = None,
        states: Collection[RunState] | None = None,
        archived: bool | None = False,
        text: str | None = None,
        batch: str | None = None,
    ) -> int:
        """How many kickoffs :meth:`list_kickoffs` would list without a limit."""
        where, params = _where(
            crew, states, archived, text, batch, like=self._LIKE, batch_of_run=self._BATCH_OF_RUN
        )
        with self._read() as conn:
            row = conn.execute(f"SELECT count(*) FROM kickoffs{where}", params).fetchone()  # noqa: S608
        return int(row[0])

    def active_kickoffs(self) -> list[Kickoff]:
        """Full records of the runs still to follow (not terminal, not archived), oldest first."""
        active = [state.value for state in RunState if not state.is_terminal]
        marks = ", ".join("?" * len(active))
        with self._read() as conn:
            return _load_kickoffs(
                conn, f"archived = 0 AND state IN ({marks})", active, "created_at, kickoff_id"
            )

    def task_durations(
        self, runs: int = 2000, *, crew: str | None = None, since: datetime | None = None
    ) -> dict[tuple[str, str], list[float]]:
        """How long each task of each crew took (seconds), over the newest ``runs`` runs
        that completed (of ``crew``, created ``since``, when given): what polls are planned
        with (``core.schedule``), runs judged stuck by (``core.stall``), and stats made of.

        The service's ``execution_time`` where it gave one, else the time between when the
        task was seen to start and to finish. The newest runs are found by the created-at
        index (``+state`` keeps SQLite off the state index, which would sort every completed
        run) and their tasks by primary key, so a long history costs what ``runs`` costs.
        """
        chosen, params = "", list[SqlValue]()
        if crew is not None:
            chosen += " AND crew = ?"
            params.append(bind_text(crew))
        if since is not None:
            chosen += " AND created_at >= ?"
            params.append(bind_ts(since))
        with self._read() as conn:
            rows = conn.execute(
                self._DURATIONS_SQL.format(chosen=chosen),
                (RunState.COMPLETED.value, *params, runs, TaskState.COMPLETED.value),
            ).fetchall()
        durations: dict[tuple[str, str], list[float]] = {}
        for crew, task_id, seconds in rows:
            if seconds is not None and seconds > 0:
                durations.setdefault((read_key(crew), read_key(task_id)), []).append(seconds)
        return durations

    def run_tallies(
        self, crew: str, since: datetime, until: datetime, bucket_seconds: float
    ) -> list[RunTally]:
        """The crew's runs created in [``since``, ``until``), counted by stretch of
        ``bucket_seconds`` from ``since``, state and model, in one SQL aggregate: a month
        of a busy crew costs one pass over its rows of the crew index, never a load of them."""
        with self._read() as conn:
            rows = conn.execute(
                self._TALLY_SQL,
                {
                    "crew": bind_text(crew),
                    "since": bind_ts(since),
                    "since_text": bind_ts(since),
                    "until_text": bind_ts(until),
                    "bucket": bucket_seconds,
                },
            ).fetchall()
        tallies = []
        for bucket, state, model, *counts in rows:
            try:
                run_state = RunState(read_key(state))
            except ValueError:
                run_state = RunState.UNKNOWN
            tallies.append(
                RunTally(
                    int(bucket),
                    run_state,
                    model if isinstance(model, str) else None,
                    *(int(count) for count in counts),
                )
            )
        return tallies

    def set_archived(self, kickoff_id: str, archived: bool) -> None:
        """Hide a kickoff from the default list, or bring it back."""
        with self._write() as conn:
            conn.execute(
                "UPDATE kickoffs SET archived = :archived, changed_seq = :changed_seq,"
                " written_by = :written_by"
                " WHERE kickoff_id = :kickoff_id",
                {
                    "archived": int(archived),
                    "kickoff_id": bind_text(kickoff_id),
                    **self._stamp(conn),
                },
            )

    def resolve_id(self, prefix: str) -> list[str]:
        """Every kickoff id starting with ``prefix`` (short ids on the command line)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT kickoff_id FROM kickoffs WHERE kickoff_id >= ? AND kickoff_id < ? "
                "ORDER BY kickoff_id",
                (bind_text(prefix), bind_text(prefix + "\U0010ffff")),
            ).fetchall()
        return [kickoff_id for row in rows if (kickoff_id := read_key(row[0]))]

    # ----------------------------------------------------------------- steps

    def add_steps(self, steps: Sequence[Step]) -> list[Step]:
        """Record steps, ignoring ones already stored (webhooks repeat); return the new ones.

        A run keeps its newest ``steps_per_run`` steps: older ones are deleted and counted
        (:meth:`step_stats`), so a run that streams events for days cannot fill the disk.
        """
        with self._write() as conn:
            return _insert_steps(conn, steps, self.steps_per_run)

    def list_steps(self, kickoff_id: str, *, newest: int | None = None) -> list[Step]:
        """A kickoff's steps by sequence (missing sequences first), then arrival; with
        ``newest``, only the last that many (the window a view holds in memory)."""
        from crewtui.core.store_models import load_steps

        with self._read() as conn:
            return load_steps(conn, kickoff_id, newest)

    def step_stats(self, kickoff_id: str) -> StepStats:
        """How many steps of a run are stored, and how many older ones the cap dropped."""
        with self._read() as conn:
            return self._step_stats(conn, kickoff_id)

    def step_window(self, kickoff_id: str, newest: int) -> tuple[list[Step], StepStats]:
        """The newest ``newest`` steps of a run and its :meth:`step_stats`, in one snapshot
        (what a view holds, and what it says about the rest)."""
        from crewtui.core.store_models import load_steps

        with self._read() as conn:
            return load_steps(conn, kickoff_id, newest), self._step_stats(conn, kickoff_id)

    def _step_stats(self, conn: sqlite3.Connection, kickoff_id: str) -> StepStats:
        key = (bind_text(kickoff_id),)
        if self.schema_version < FOLLOWING_SCHEMA:
            row = conn.execute("SELECT count(*) FROM steps WHERE kickoff_id = ?", key).fetchone()
            return StepStats(stored=int(row[0]), dropped=0)
        row = conn.execute(
            "SELECT kept, dropped FROM step_counts WHERE kickoff_id = ?", key
        ).fetchone()
        return StepStats(0, 0) if row is None else StepStats(int(row[0]), int(row[1]))

    # ----------------------------------------------------------------- flow requests

    def add_hitl_request(
        self, request: HitlRequest, kickoff_id: str, received_at: datetime
    ) -> bool:
        """Record a flow's request; False when its id is already recorded (a replay), in
        which case nothing changes. One transaction, so two processes cannot both take it."""
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO hitl_requests (request_id, kickoff_id, deployment, method, message,"
                " callback_url, created_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (request_id) DO NOTHING",
                (
                    bind_text(request.request_id),
                    bind_text(kickoff_id),
                    bind_text(request.deployment_name),
                    bind_text(request.method_name),
                    bind_text(request.message),
                    bind_text(request.callback_url),
                    bind_ts(request.created_at),
                    bind_ts(received_at),
                ),
            )
            return cursor.rowcount == 1

    def hitl_request(self, request_id: str) -> HitlRecord | None:
        """The recorded request with this id, or None (a history older than the table has
        none)."""
        if self.schema_version < HITL_SCHEMA:
            return None
        with self._read() as conn:
            row = conn.execute(
                "SELECT request_id, kickoff_id, callback_url, method, received_at, answered_at,"
                " answer FROM hitl_requests WHERE request_id = ?",
                (bind_text(request_id),),
            ).fetchone()
        if row is None:
            return None
        return HitlRecord(
            request_id=read_key(row["request_id"]),
            kickoff_id=read_key(row["kickoff_id"]),
            callback_url=read_key(row["callback_url"]),
            method=read_key(row["method"]) or None,
            received_at=datetime.fromisoformat(row["received_at"]),
            answered_at=(
                datetime.fromisoformat(row["answered_at"]) if row["answered_at"] else None
            ),
            answer=read_key(row["answer"]) if row["answer"] is not None else None,
        )

    def answer_hitl_request(self, request_id: str, answer: str, at: datetime) -> bool:
        """Record that crewtui answered the request; False if it already was answered."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE hitl_requests SET answered_at = ?, answer = ?"
                " WHERE request_id = ? AND answered_at IS NULL",
                (bind_ts(at), bind_text(answer), bind_text(request_id)),
            )
            return cursor.rowcount == 1

    # ----------------------------------------------------------------- batches

    def save_batch(self, batch: Batch) -> None:
        """Record a batch (before any of its rows is sent); a batch is never changed after."""
        self._need_batches()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO batches (batch_id, crew, source, fingerprint, rows, row_count,"
                " concurrency, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (batch_id) DO NOTHING",
                (
                    bind_text(batch.batch_id),
                    bind_text(batch.crew),
                    bind_text(batch.source),
                    batch.fingerprint,
                    rows_json(batch.rows),
                    len(batch.rows),
                    batch.concurrency,
                    bind_ts(batch.created_at),
                ),
            )

    def get_batch(self, batch_id: str) -> Batch | None:
        """The batch with this id, or None (a history older than batches has none)."""
        return next(iter(self._batches("WHERE batch_id = ?", (bind_text(batch_id),))), None)

    def resolve_batch_id(self, prefix: str) -> list[str]:
        """Every batch id starting with ``prefix``: the app shows a batch's first 8
        characters, which ``batch --resume`` takes as kickoff ids' prefixes are taken."""
        if self.schema_version < BATCH_SCHEMA:
            return []
        with self._read() as conn:
            rows = conn.execute(
                "SELECT batch_id FROM batches WHERE batch_id >= ? AND batch_id < ? "
                "ORDER BY batch_id",
                (bind_text(prefix), bind_text(prefix + "\U0010ffff")),
            ).fetchall()
        return [batch_id for row in rows if (batch_id := read_key(row[0]))]

    def find_batch(self, fingerprint: str) -> Batch | None:
        """The newest batch of these rows on this crew (``batch.fingerprint``), or None."""
        found = self._batches(
            "WHERE fingerprint = ? ORDER BY created_at DESC LIMIT 1", (fingerprint,)
        )
        return next(iter(found), None)

    def list_batches(self, limit: int = 20) -> list[Batch]:
        """The newest batches, newest first."""
        return self._batches("ORDER BY created_at DESC LIMIT ?", (limit,))

    def batch_runs(self, batch_id: str) -> list[KickoffSummary]:
        """The runs of a batch: the kickoffs whose meta names it, attempts included."""
        sql = (
            f"SELECT {', '.join(SUMMARY_COLUMNS)}, {self._SUMMARY_EXTRAS} "  # noqa: S608
            f"FROM kickoffs WHERE {self._BATCH_OF_RUN} = ? ORDER BY created_at"
        )
        with self._read() as conn:
            return summaries(conn.execute(sql, (bind_text(batch_id),)))

    def claim_batch(self, batch_id: str, alive_within: float) -> int | None:
        """Take the batch for this process unless a live crewtui is sending its rows: None
        when taken, else that process's pid (two senders could start a row twice).

        A runner is alive while its pid exists and its heartbeat (``beat``) is younger than
        ``alive_within`` s: a killed one frees its batches at once (the history is a local
        file, so both are on this host), and a pid reused by another program within a few
        seconds. This process's own claim counts too: one batch, one runner.
        """
        self._need_batches()
        since = bind_ts(_now() - timedelta(seconds=alive_within))
        with self._write() as conn:
            held = conn.execute(
                "SELECT b.runner_pid FROM batches b JOIN trackers t ON t.writer = b.runner"
                " WHERE b.batch_id = ? AND t.seen_at >= ?",
                (bind_text(batch_id), since),
            ).fetchone()
            if held is not None and self._runner_alive(int(held[0])):
                return int(held[0])
            conn.execute(
                "UPDATE batches SET runner = ?, runner_pid = ? WHERE batch_id = ?",
                (self.writer, os.getpid(), bind_text(batch_id)),
            )
        return None

    def _runner_alive(self, pid: int) -> bool:
        """Whether a batch's runner with a fresh heartbeat still runs: its pid exists here
        (an SQLite history is a local file, so the runner is on this host)."""
        return _pid_alive(pid)

    def release_batch(self, batch_id: str) -> None:
        """This process stopped sending the batch's rows (finished, stopped or gave up)."""
        with self._write() as conn:
            conn.execute(
                "UPDATE batches SET runner = NULL, runner_pid = NULL"
                " WHERE batch_id = ? AND runner = ?",
                (bind_text(batch_id), self.writer),
            )

    def _batches(self, clause: str, params: Sequence[SqlValue]) -> list[Batch]:
        if self.schema_version < BATCH_SCHEMA:
            return []
        with self._read() as conn:
            rows = conn.execute(
                "SELECT batch_id, crew, source, fingerprint, rows, concurrency, created_at"  # noqa: S608
                f" FROM batches {clause}",
                params,
            ).fetchall()
        return [
            Batch(
                batch_id=read_key(row["batch_id"]),
                crew=read_key(row["crew"]),
                source=read_key(row["source"]),
                fingerprint=row["fingerprint"],
                rows=rows_from_json(row["rows"]),
                concurrency=int(row["concurrency"]),
                created_at=datetime.fromisoformat(row["created_at"]),
            )
            for row in rows
        ]

    def _need_batches(self) -> None:
        if self.schema_version < BATCH_SCHEMA:
            raise StoreError(
                f"The history store at {self.location} is too old for batches (schema "
                f"{self.schema_version}) and could not be upgraded; it was left untouched."
            )

    # ----------------------------------------------------------------- other processes

    def data_version(self) -> int | None:
        """SQLite's counter of commits by other connections, read without waiting.

        It moves only when another connection (another process) committed, so comparing it
        costs nothing when nothing happened. None when the store is busy right now (the next
        check will tell) or has no file.
        """
        if self.path is None or not self._lock.acquire(blocking=False):
            return None
        try:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return None
        finally:
            self._lock.release()

    def watch(self, wake: Callable[[], None] | None) -> None:
        """SQLite does not say when another process commits: :meth:`data_version` is
        looked at instead, so ``wake`` is never called."""

    def change_mark(self) -> int:
        """The current change number: :meth:`changes_since` it returns only later changes."""
        if self.schema_version < FOLLOWING_SCHEMA:
            return 0
        with self._read() as conn:
            return int(conn.execute("SELECT seq FROM change_clock").fetchone()[0])

    def changes_since(self, mark: int) -> Changes:
        """Kickoffs other processes wrote after ``mark`` (an index range, not a scan)."""
        if self.schema_version < FOLLOWING_SCHEMA:
            return Changes(mark, [])
        with self._read() as conn:
            now_mark = int(conn.execute("SELECT seq FROM change_clock").fetchone()[0])
            changed = _load_kickoffs(
                conn,
                "changed_seq > ? AND changed_seq <= ? AND (written_by IS NULL OR written_by != ?)",
                (mark, now_mark, self.writer),
                "changed_seq",
            )
        return Changes(now_mark, changed)

    @property
    def _keeps_heartbeats(self) -> bool:
        """On disk, writable and at a schema that has them (others may share it)."""
        writable = self.damage() is None
        return self.persistent and writable and self.schema_version >= FOLLOWING_SCHEMA

    def beat(self) -> None:
        """Say that this process is alive (the others read it with ``live_writers``)."""
        if not self._keeps_heartbeats:
            return
        now = _now()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO trackers (writer, pid, seen_at) VALUES (?, ?, ?)"
                " ON CONFLICT (writer) DO UPDATE SET seen_at = excluded.seen_at",
                (self.writer, os.getpid(), bind_ts(now)),
            )
            # A process that was killed never retired: forget it after a day.
            conn.execute(
                "DELETE FROM trackers WHERE seen_at < ?", (bind_ts(now - timedelta(days=1)),)
            )

    def retire(self) -> None:
        """This process stops: it is no longer counted alive."""
        if not self._keeps_heartbeats:
            return
        with self._write() as conn:
            conn.execute("DELETE FROM trackers WHERE writer = ?", (self.writer,))

    def live_writers(self, within: float) -> frozenset[str]:
        """The other processes that said they were alive less than ``within`` seconds ago."""
        if self.schema_version < FOLLOWING_SCHEMA:
            return frozenset()
        since = bind_ts(_now() - timedelta(seconds=within))
        with self._read() as conn:
            rows = conn.execute(
                "SELECT writer FROM trackers WHERE seen_at >= ? AND writer != ?",
                (since, self.writer),
            ).fetchall()
        return frozenset(str(row[0]) for row in rows)

    # ----------------------------------------------------------------- leases

    @property
    def _keeps_leases(self) -> bool:
        """On disk, writable and at a schema that has them (others may share it)."""
        writable = self.damage() is None
        return self.persistent and writable and self.schema_version >= LEASE_SCHEMA

    def _lease_write(self) -> AbstractContextManager[sqlite3.Connection]:
        """A transaction that writes only the ``leases`` table. SQLite has one write lock
        for everything; PostgreSQL queues lease writes apart from the kickoff saves, so a
        busy poller's heartbeat never waits behind them and lapses (``PgStore``)."""
        return self._write()

    def _lease_read(self) -> AbstractContextManager[sqlite3.Connection]:
        """A read of the leases alone: SQLite's reads never wait; PostgreSQL's have a
        connection of their own, so a heartbeat never waits for one (``PgStore``)."""
        return self._read()

    def claim_lease(self, crew: str, ttl: float) -> bool:
        """Take the crew's poller lease when it is free, expired or already ours, and renew
        it until ``ttl`` seconds from now: True when this process holds it after.

        One ``BEGIN IMMEDIATE`` transaction: of two processes claiming at once, the second
        reads what the first wrote. A history with no other process (in memory) or one
        this process cannot write records nothing: True unless another process holds a
        live lease there, so that it polls what nobody else polls.
        """
        if not self._keeps_leases:
            lease = self.leases().get(crew)
            return lease is None or lease.holder == self.writer or not lease.is_live(_now())
        now = _now()
        key = bind_text(crew)
        with self._lease_write() as conn:
            row = conn.execute(
                "SELECT holder, expires_at FROM leases WHERE crew = ?", (key,)
            ).fetchone()
            theirs = row is not None and row["holder"] != self.writer
            if theirs and row["expires_at"] > bind_ts(now):
                return False
            conn.execute(
                "INSERT INTO leases (crew, holder, pid, host, expires_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (crew) DO UPDATE SET holder = excluded.holder,"
                " pid = excluded.pid, host = excluded.host, expires_at = excluded.expires_at",
                (key, self.writer, os.getpid(), self.host, bind_ts(now + timedelta(seconds=ttl))),
            )
        return True

    def mark_refreshed(self, crew: str, trouble: str | None = None) -> None:
        """The holder finished a round of polls of ``crew``: the others are fresh as of now,
        or, with ``trouble`` (what the round was told: it taught the holder nothing), no
        fresher than before, and they can say why.

        Only the holder's mark counts; a process that lost the lease changes nothing.
        """
        if not self._keeps_leases:
            return
        key, holder = bind_text(crew), self.writer
        with self._lease_write() as conn:
            if trouble is None:
                conn.execute(
                    "UPDATE leases SET refreshed_at = ?, trouble = NULL"
                    " WHERE crew = ? AND holder = ?",
                    (bind_ts(_now()), key, holder),
                )
            else:
                conn.execute(
                    "UPDATE leases SET trouble = ? WHERE crew = ? AND holder = ?",
                    (bind_text(trouble), key, holder),
                )

    def release_leases(self) -> None:
        """On a clean exit: every lease this process holds expires now, so the others take
        its polls over at their next renewal instead of waiting for the lease to run out.
        The rows stay: who polled last, and how fresh it left each crew, are still shown."""
        if not self._keeps_leases:
            return
        now = bind_ts(_now())
        with self._lease_write() as conn:
            conn.execute(
                "UPDATE leases SET expires_at = ? WHERE holder = ? AND expires_at > ?",
                (now, self.writer, now),
            )

    def leases(self) -> dict[str, Lease]:
        """Every crew's lease, live or expired (``Lease.is_live``), by crew."""
        if self.schema_version < LEASE_SCHEMA:
            return {}
        with self._lease_read() as conn:
            # A history opened read-only at an older schema has no trouble column.
            trouble = "trouble" if self.schema_version >= LEASE_TROUBLE_SCHEMA else "NULL"
            rows = conn.execute(
                f"SELECT crew, holder, pid, host, expires_at, refreshed_at, {trouble} AS trouble"  # noqa: S608
                " FROM leases"
            ).fetchall()
        leases = (lease_of(row) for row in rows)
        return {lease.crew: lease for lease in leases}

    # ----------------------------------------------------------------- diagnostics

    def health(self) -> dict[str, object]:
        """What ``crewtui doctor`` shows: where, which schema, which journal, how much, sound?

        ``quick_check`` is "ok" or what SQLite found wrong; ``counts`` is None on a damaged
        store, whose tables cannot be trusted. The check runs outside a transaction: on a
        damaged file even ending one can fail, and this report must still be made.
        """
        with self._lock:
            try:
                version = self._conn.execute("PRAGMA user_version").fetchone()[0]
                journal = self._conn.execute("PRAGMA journal_mode").fetchone()[0]
            except sqlite3.Error as exc:
                raise _describe(self.location, exc) from exc
            finding = quick_check(self._conn)
        counts = None
        if finding == "ok":
            with self._read() as conn:
                counts = _counts(conn)
        return {
            "path": str(self.path) if self.path is not None else None,
            "schema_version": version,
            "known_schema_version": store_schema.SCHEMA_VERSION,
            "journal_mode": journal,
            "sqlite_version": sqlite3.sqlite_version,
            "counts": counts,
            "quick_check": finding,
            # Why nothing is written to this store (damaged, read-only place), or None.
            "read_only": self.damage(),
        }


# --------------------------------------------------------------------------- helpers


def _now() -> datetime:
    return datetime.now(UTC)


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (signal 0 checks, sends nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, run by another user
        return True
    return True


def _is_read_only(exc: BaseException) -> bool:
    name: str = getattr(exc, "sqlite_errorname", "") or ""
    code = exc.errno if isinstance(exc, OSError) else None
    return (
        name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN"))
        or isinstance(exc, PermissionError)
        or code == errno.EROFS
    )


def _connect(database: str, *, uri: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (we issue BEGIN ourselves), shared across threads."""
    conn = sqlite3.connect(
        database,
        timeout=BUSY_TIMEOUT_SECONDS,
        isolation_level=None,
        check_same_thread=False,
        uri=uri,
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _load_kickoff(
    conn: sqlite3.Connection,
    kickoff_id: str,
    leave_out: Collection[str] = (),
    task_outputs_left_out: Collection[str | None] = (),
) -> Kickoff | None:
    """A kickoff and its tasks; ``leave_out`` columns of the kickoff row, and the outputs of
    the tasks named, are read as NULL (see :meth:`Store.get_kickoff_lean`)."""
    columns = [f"NULL AS {c}" if c in leave_out else c for c in KICKOFF_COLUMNS]
    row = conn.execute(
        f"SELECT {', '.join(columns)} FROM kickoffs WHERE kickoff_id = ?",  # noqa: S608
        (bind_text(kickoff_id),),
    ).fetchone()
    if row is None:
        return None
    left_out = [bind_text(task_id) for task_id in task_outputs_left_out if task_id is not None]
    marks = ", ".join("?" * len(left_out)) or "NULL"
    task_columns = [
        f"CASE WHEN task_id IN ({marks}) THEN NULL ELSE output END AS output"
        if c == "output"
        else c
        for c in TASK_COLUMNS
    ]
    tasks = conn.execute(
        f"SELECT {', '.join(task_columns)} FROM tasks WHERE kickoff_id = ? ORDER BY ordinal",  # noqa: S608
        (*left_out, bind_text(kickoff_id)),
    ).fetchall()
    return _kickoff_of(row, tasks, kickoff_id)


def _load_kickoffs(
    conn: sqlite3.Connection, where: str, params: Sequence[SqlValue], order: str
) -> list[Kickoff]:
    """The kickoffs whose rows match ``where``, in ``order``, each with its tasks: two
    queries whatever their number. One query per run (``_load_kickoff``) made a viewer of
    10,000 running runs on PostgreSQL wait a round trip per run and per run's tasks."""
    rows = conn.execute(
        f"SELECT {', '.join(KICKOFF_COLUMNS)} FROM kickoffs WHERE {where} ORDER BY {order}",  # noqa: S608
        params,
    ).fetchall()
    if not rows:
        return []
    tasks = conn.execute(
        f"SELECT {', '.join(TASK_COLUMNS)} FROM tasks WHERE kickoff_id IN"  # noqa: S608
        f" (SELECT kickoff_id FROM kickoffs WHERE {where}) ORDER BY kickoff_id, ordinal",
        params,
    ).fetchall()
    tasks_of: dict[object, list[sqlite3.Row]] = {}
    for task in tasks:
        tasks_of.setdefault(task["kickoff_id"], []).append(task)
    loaded = (
        _kickoff_of(row, tasks_of.get(row["kickoff_id"], []), read_key(row["kickoff_id"]))
        for row in rows
    )
    return [kickoff for kickoff in loaded if kickoff is not None]


def _kickoff_of(row: sqlite3.Row, tasks: Sequence[sqlite3.Row], kickoff_id: str) -> Kickoff | None:
    """A kickoff from its row and its tasks' rows (None when it cannot be read)."""
    from crewtui.api.models import Kickoff, TaskResult
    from crewtui.core.store_models import EXTRA_FIELDS, as_model

    values, unreadable = decode_row(row)
    extra = values.pop("extra", None)
    if isinstance(extra, dict):
        values.update({name: value for name, value in extra.items() if name in EXTRA_FIELDS})
    values["tasks"] = [
        task
        for task in (
            as_model(TaskResult, *decode_row(part), "task of", kickoff_id) for part in tasks
        )
        if task is not None
    ]
    return as_model(Kickoff, values, unreadable, "kickoff", kickoff_id)


def _write_kickoff(
    conn: sqlite3.Connection,
    kickoff: Kickoff,
    before: Kickoff | None,
    stamp: Mapping[str, SqlValue],
) -> None:
    """Upsert the row, and only the task rows that differ from ``before`` (what is stored).

    A poll storm on a run with many tasks rewrites one task, not all. A merge never drops a
    task; only a restarted flow run starts its tasks over (the earlier ones are kept in its
    ``earlier_attempts``), and then the rows of the tasks it no longer has go.
    """
    from crewtui.core.store_models import kickoff_values, task_values

    conn.execute(UPSERT_KICKOFF, {**kickoff_values(kickoff), **stamp})
    old = before.tasks if before is not None else []
    changed = [
        task_values(kickoff.kickoff_id, n, task)
        for n, task in enumerate(kickoff.tasks)
        if n >= len(old) or old[n] != task
    ]
    kept = {task.task_id for task in kickoff.tasks}
    gone = [
        (bind_text(kickoff.kickoff_id), bind_text(t.task_id)) for t in old if t.task_id not in kept
    ]
    if gone:
        conn.executemany("DELETE FROM tasks WHERE kickoff_id = ? AND task_id = ?", gone)
    conn.executemany(UPSERT_TASK, changed)


def _delete_kickoff(conn: sqlite3.Connection, kickoff_id: str) -> None:
    key = (bind_text(kickoff_id),)
    conn.execute("DELETE FROM steps WHERE kickoff_id = ?", key)
    conn.execute("DELETE FROM step_counts WHERE kickoff_id = ?", key)
    conn.execute("DELETE FROM kickoffs WHERE kickoff_id = ?", key)  # tasks cascade


def _insert_steps(conn: sqlite3.Connection, steps: Sequence[Step], cap: int) -> list[Step]:
    """Store the steps (each once, see :func:`insert_steps`), then trim each run they
    added to to its newest ``cap``; returns the steps that were new."""
    from crewtui.core.store_models import insert_steps

    new = insert_steps(conn, steps)
    added: dict[str, int] = {}
    for step in new:
        added[step.kickoff_id] = added.get(step.kickoff_id, 0) + 1
    for kickoff_id, count in added.items():
        _count_and_trim(conn, kickoff_id, count, cap)
    return new


def _count_and_trim(conn: sqlite3.Connection, kickoff_id: str, added: int, cap: int) -> None:
    """Keep a run's newest ``cap`` steps (in list order) and count the ones deleted."""
    key = bind_text(kickoff_id)
    kept, dropped = conn.execute(
        "INSERT INTO step_counts (kickoff_id, kept, dropped) VALUES (?, ?, 0)"
        " ON CONFLICT (kickoff_id) DO UPDATE SET kept = step_counts.kept + excluded.kept"
        " RETURNING kept, dropped",
        (key, added),
    ).fetchone()
    excess = int(kept) - cap
    if excess <= 0:
        return
    conn.execute(
        "DELETE FROM steps WHERE rowid IN (SELECT rowid FROM steps WHERE kickoff_id = ?"
        " ORDER BY sequence NULLS FIRST, received_at, rowid LIMIT ?)",
        (key, excess),
    )
    conn.execute(
        "UPDATE step_counts SET kept = ?, dropped = ? WHERE kickoff_id = ?",
        (cap, int(dropped) + excess, key),
    )


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    queries = {
        "crews": "SELECT count(*) FROM crews",
        "kickoffs": "SELECT count(*) FROM kickoffs",
        "archived": "SELECT count(*) FROM kickoffs WHERE archived = 1",
        "tasks": "SELECT count(*) FROM tasks",
        "steps": "SELECT count(*) FROM steps",
    }
    return {name: int(conn.execute(sql).fetchone()[0]) for name, sql in queries.items()}
