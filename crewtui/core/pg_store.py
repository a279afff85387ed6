"""The shared history on PostgreSQL: the same store as SQLite's, for teammates on different
machines (``[history] url = "postgresql://…"`` or ``$CREWTUI_HISTORY_URL``).

Why it looks the way it does:

- **The same store.** :class:`PgStore` is :class:`crewtui.core.store.Store` with another
  connection under it: every read-modify-write (the merge of a save, a rename, the step cap)
  is the SQLite store's own code, run through :class:`~crewtui.core.pg_sql.PgConnection`;
  only what SQLite does its own way (blob reads, julianday, JSON in lists, its checks) is
  said here again. The schema versions are SQLite's (``pg_schema``).
- **Writers queue like SQLite's.** Every write transaction takes one advisory lock first,
  as ``BEGIN IMMEDIATE`` takes SQLite's write lock: a save reads, merges and writes with no
  other writer in between, and change numbers are given in commit order (a reader that saw
  number n has seen every change below it). Reads are ``REPEATABLE READ`` snapshots, and
  never wait.
- **LISTEN/NOTIFY instead of watching.** A write that changes a kickoff row notifies
  ``crewtui_history`` (delivered at commit, with the writer's id); a thread of each store
  listens and counts the others' notifications, which is what :meth:`PgStore.data_version`
  returns: the tracker's follower then reads :meth:`changes_since`, as it does on SQLite.
- **A sync pool** (``psycopg_pool.ConnectionPool``), not psycopg's async one: the store is
  called from worker threads (``asyncio.to_thread``) and from plain sync code (headless
  commands, the demo), and every call is one short transaction. An async pool would need an
  event loop of its own to serve those threads, one more hop per call for nothing; the sync
  pool lets concurrent callers each take a connection, which SQLite's single lock cannot.
- **The password is never shown.** The URL is kept privately; every sentence names the
  history by :func:`redact_url` (no password, no ``password=`` parameter), and errors from
  the server are replaced by a sentence of ours.
- **Large outputs** are read in pieces as on SQLite (:class:`PgStoredText`): a binary
  ``COPY`` streams the value, front to back, into a private temporary file, once.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import IO, TYPE_CHECKING, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from crewtui.api.errors import ExitCode, StoreError
from crewtui.core import pg_schema
from crewtui.core.pg_sql import ESCAPE_BYTES, PgConnection, Row, escape_text, row_factory
from crewtui.core.store import DEFAULT_STEPS_PER_RUN, Store, _counts, _load_kickoff
from crewtui.core.store_rows import SqlValue, read_key
from crewtui.core.store_text import HOLD_BYTES, OutputKey, SpilledText
from crewtui.core.text_lines import HeldText

if TYPE_CHECKING:  # the shared code's annotations name it; nothing here uses SQLite
    import sqlite3

    from crewtui.api.models import Kickoff

log = logging.getLogger(__name__)

CHANNEL = "crewtui_history"
CONNECT_TIMEOUT = 10
POOL_SIZE = 4
# How long a call waits for a pooled connection, and the listener's look at "closed".
WAIT_FOR_CONNECTION = 30.0
LISTEN_TICK = 1.0
# The listener's own channel: close() notifies it so that closing never waits for a tick.
CLOSING_CHANNEL = "crewtui_closing_{writer}"


class HistoryUnreachable(StoreError):
    """The PostgreSQL server of the history cannot be reached (exit code as for a crew)."""

    exit_code = ExitCode.UNREACHABLE


def redact_url(url: str) -> str:
    """The history's URL for people: no password, in the user info or the query."""
    parts = urlsplit(url)
    user_info, at, host = parts.netloc.rpartition("@")
    netloc = f"{user_info.partition(':')[0]}@{host}" if at else host
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k.lower() != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _password(url: str) -> str | None:
    parts = urlsplit(url)
    from_query = [v for k, v in parse_qsl(parts.query) if k.lower() == "password"]
    return parts.password or (from_query[0] if from_query else None)


# What libpq and psycopg say when no server answers, and how we say it.
_UNREACHABLE = (
    ("Connection refused", "connection refused"),
    ("timeout expired", "no answer in time"),
    ("could not translate host name", "its host name is not known"),
    ("failed to resolve host", "its host name is not known"),
    ("No route to host", "no route to it"),
    ("Network is unreachable", "no route to it"),
    ("No such file or directory", "no server on that socket"),
)


def _open_error(where: str, exc: psycopg.Error, password: str | None) -> StoreError:
    """One sentence for a history that cannot be opened. libpq's words never repeat the
    password; they are left out where ours say it all, and blanked anyway where kept."""
    text = str(exc)
    refused = ("password authentication failed", "no password supplied", 'role "')
    if any(reason in text for reason in refused):
        return StoreError(
            f"The PostgreSQL history at {where} refused the login: check the user and "
            "password in [history] url or $CREWTUI_HISTORY_URL."
        )
    if 'database "' in text and "does not exist" in text:
        return StoreError(
            f"The PostgreSQL history at {where} does not exist on that server: create the "
            "database (createdb) or fix its name in the URL."
        )
    for needle, words in _UNREACHABLE:
        if needle in text:
            return HistoryUnreachable(
                f"The PostgreSQL history at {where} cannot be reached ({words}): check "
                "that the server runs and that the host and port are right."
            )
    reason = _first_line(exc)
    if password:
        reason = reason.replace(password, "***")
    return StoreError(f"The PostgreSQL history at {where} cannot be opened ({reason}).")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


class PgStore(Store):
    """The history store on PostgreSQL; see :class:`~crewtui.core.store.Store`."""

    _LIKE = "ILIKE"
    _SUMMARY_EXTRAS = ", ".join(
        [
            "CAST(CAST(extra AS json) -> 'waiting_for' AS text) AS waiting_for",
            "CAST(extra AS json) ->> 'continues' AS continues",
            "CAST(extra AS json) ->> 'continued_from' AS continued_from",
            "CAST(CAST(extra AS json) -> 'usage' AS text) AS usage",
            "CAST(extra AS json) ->> 'cancel_request' AS cancel_request",
            "CAST(extra AS json) ->> 'cancelled_by' AS cancelled_by",
            "COALESCE(CAST(extra AS json) ->> 'kind', 'crew') AS kind",
            "COALESCE(CAST(CAST(extra AS json) ->> 'restarts' AS integer), 0) AS restarts",
        ]
    )
    _NO_LIMIT = None
    _BATCH_OF_RUN = pg_schema.BATCH_OF_RUN
    _DURATIONS_SQL = (
        "SELECT k.crew, t.task_id, COALESCE(t.execution_time, CAST(EXTRACT(EPOCH FROM"
        " CAST(t.finished_at AS timestamptz) - CAST(t.started_at AS timestamptz))"
        " AS double precision))"
        " FROM (SELECT kickoff_id, crew FROM kickoffs WHERE state = ?{chosen}"
        " ORDER BY created_at DESC LIMIT ?) AS k"
        " JOIN tasks AS t ON t.kickoff_id = k.kickoff_id WHERE t.state = ?"
    )
    _TALLY_SQL = """
SELECT bucket, state, model, count(*), COALESCE(sum(total), 0), count(total),
       COALESCE(sum(CASE WHEN split THEN prompt END), 0),
       COALESCE(sum(CASE WHEN split THEN completion END), 0),
       COALESCE(sum(CASE WHEN split THEN 1 ELSE 0 END), 0)
FROM (
    SELECT CAST(floor(EXTRACT(EPOCH FROM CAST(created_at AS timestamptz)
                      - CAST(:since AS timestamptz)) / :bucket) AS INTEGER) AS bucket,
           state,
           x ->> 'model' AS model,
           CAST(x -> 'usage' ->> 'total_tokens' AS bigint) AS total,
           CAST(x -> 'usage' ->> 'prompt_tokens' AS bigint) AS prompt,
           CAST(x -> 'usage' ->> 'completion_tokens' AS bigint) AS completion,
           (x -> 'usage' ->> 'prompt_tokens' IS NOT NULL
            AND x -> 'usage' ->> 'completion_tokens' IS NOT NULL) AS split
    FROM (
        SELECT created_at, state, CAST(extra AS json) AS x
        FROM kickoffs
        WHERE archived IN (0, 1) AND crew = :crew AND created_at >= :since_text
              AND created_at < :until_text
    ) AS chosen
) AS counted
GROUP BY bucket, state, model
"""

    def __init__(
        self,
        pool: ConnectionPool[psycopg.Connection[Row]],
        lease_pool: ConnectionPool[psycopg.Connection[Row]],
        url: str,
        schema_version: int,
        *,
        steps_per_run: int = DEFAULT_STEPS_PER_RUN,
    ) -> None:
        """Use :meth:`open`; this takes pools on a database already migrated."""
        # Not Store.__init__: that one reads its schema version from an SQLite connection.
        self._pool = pool
        self._lease_pool = lease_pool
        self.__url = url
        self._redacted = redact_url(url)
        self.path = None
        self.steps_per_run = max(1, steps_per_run)
        self.read_only: str | None = None
        self.open_note: str | None = None
        self.writer = uuid.uuid4().hex
        self.host = socket.gethostname()
        self.schema_version = schema_version
        self._check_due = False  # the server checks its own pages
        self._check_lock = threading.Lock()
        self._version = 0
        self._wake: Callable[[], None] | None = None
        self._closed = threading.Event()
        self._listening = threading.Event()
        self._listener = threading.Thread(
            target=self._listen, name="crewtui-history-listen", daemon=True
        )
        self._listener.start()
        # Listening before the first read: a change committed after open() is never missed.
        self._listening.wait(CONNECT_TIMEOUT)

    def __repr__(self) -> str:
        return f"PgStore({self._redacted!r})"

    @classmethod
    def open(  # type: ignore[override]
        cls, url: str, *, steps_per_run: int = DEFAULT_STEPS_PER_RUN
    ) -> PgStore:
        """Connect, bring the schema up to date, and start listening for other processes.

        Raises StoreError (one sentence, no password) for a URL libpq refuses, a login the
        server refuses, a database that is missing, not crewtui's or newer; and
        :class:`HistoryUnreachable` for a server that cannot be reached.
        """
        where = redact_url(url)
        password = _password(url)
        try:
            psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.Error as exc:
            reason = _first_line(exc)
            if password:
                reason = reason.replace(password, "***")
            raise StoreError(
                f"The history URL {where} is not a PostgreSQL connection URL ({reason}): "
                "write it as postgresql://user:password@host:port/database."
            ) from None
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
                version = pg_schema.migrate(conn, where)
        except psycopg.Error as exc:
            raise _open_error(where, exc, password) from None
        pool = _pool(url, POOL_SIZE, "crewtui-history")
        # The leases' reads and writes have a connection of their own: with every pooled
        # one held by a save waiting for the writers' lock (five viewers starting beside a
        # busy poller), a heartbeat that waited for a connection let its lease lapse.
        lease_pool = _pool(url, 1, "crewtui-history-leases")
        try:
            for opening in (pool, lease_pool):
                opening.open(wait=True, timeout=CONNECT_TIMEOUT)
        except PoolTimeout:
            pool.close()
            lease_pool.close()
            raise HistoryUnreachable(
                f"The PostgreSQL history at {where} stopped answering while crewtui opened "
                "it: check the server and try again."
            ) from None
        return cls(pool, lease_pool, url, version, steps_per_run=steps_per_run)

    def close(self) -> None:
        """Stop listening and close every connection; later calls raise StoreError."""
        self._closed.set()
        self._wake_listener()
        self._pool.close()
        self._lease_pool.close()
        self._listener.join(timeout=LISTEN_TICK * 3)

    def _wake_listener(self) -> None:
        """Notify the listener's own channel, so that it sees "closed" now: without this,
        every close (each quit of the app, each command) waited up to LISTEN_TICK."""
        try:
            with self._pool.connection(timeout=LISTEN_TICK) as conn:
                conn.execute(f"NOTIFY {CLOSING_CHANNEL.format(writer=self.writer)}")
        except (psycopg.Error, PoolClosed, PoolTimeout):
            pass  # the server is gone or the pool closed: the listener's tick ends it

    # ----------------------------------------------------------------- where

    @property
    def location(self) -> str:
        return self._redacted

    @property
    def persistent(self) -> bool:
        return True

    # ----------------------------------------------------------------- transactions

    @contextmanager
    def _pg_transaction(
        self, write: bool, lock: int = pg_schema.WRITE_LOCK, *, leases: bool = False
    ) -> Iterator[PgConnection]:
        """One transaction on a pooled connection (the leases' own with ``leases``); a write
        first takes the writers' lock (``lock``: the kickoffs' writers', or the leases' for
        ``_lease_write``).

        A pooled connection the server dropped (it restarted) fails at BEGIN, before any
        work: the pool discards it and the next one is tried, so an outage that is over
        costs nothing. A failure later in a transaction is not retried (a lost COMMIT may
        have committed): it is reported, and the caller's next call starts anew.
        """
        pool = self._lease_pool if leases else self._pool
        try:
            for attempt in range(POOL_SIZE + 1):
                with pool.connection() as raw:
                    try:
                        raw.execute(_begin_write(lock) if write else _BEGIN_READ)
                    except psycopg.OperationalError as exc:
                        if attempt == POOL_SIZE or not _connection_lost(exc):
                            raise
                        continue
                    try:
                        yield PgConnection(raw)
                    except BaseException:
                        if not raw.closed:
                            raw.execute("ROLLBACK")
                        raise
                    raw.execute("COMMIT")
                    return
        except (PoolClosed, PoolTimeout) as exc:
            raise StoreError(
                f"The history store at {self._redacted} failed ({_first_line(exc)})."
            ) from None
        except psycopg.Error as exc:
            raise _describe(self._redacted, exc) from None

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        refusal = self.damage()
        if refusal is not None:
            raise StoreError(refusal)
        # The store's shared code speaks to it as to an sqlite3.Connection (see pg_sql).
        return cast("AbstractContextManager[sqlite3.Connection]", self._pg_transaction(True))

    def _lease_write(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write of the leases alone, under a lock of their own: with 20 crews, a round of
        renewals is 40 writes, and behind the saves of a busy poller (100 ms each in the
        queue on a loaded machine) the round outlasted the lease (``bench_team.py``)."""
        refusal = self.damage()
        if refusal is not None:
            raise StoreError(refusal)
        transaction = self._pg_transaction(True, pg_schema.LEASE_LOCK, leases=True)
        return cast("AbstractContextManager[sqlite3.Connection]", transaction)

    def _lease_read(self) -> AbstractContextManager[sqlite3.Connection]:
        transaction = self._pg_transaction(False, leases=True)
        return cast("AbstractContextManager[sqlite3.Connection]", transaction)

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        return cast("AbstractContextManager[sqlite3.Connection]", self._pg_transaction(False))

    def _stamp(self, conn: sqlite3.Connection) -> dict[str, SqlValue]:
        """The next change number, and a notification of it to the others (at commit)."""
        stamp = super()._stamp(conn)
        conn.execute("SELECT pg_notify(?, ?)", (CHANNEL, self.writer))
        return stamp

    # ----------------------------------------------------------------- other processes

    def data_version(self) -> int | None:
        """How many changes of other processes were notified: it moves when they commit."""
        return self._version

    def watch(self, wake: Callable[[], None] | None) -> None:
        """Call ``wake`` (from the listening thread) each time another process's change is
        notified, so that a follower reads it at once; None stops it."""
        self._wake = wake

    def _heard(self) -> None:
        self._version += 1
        wake = self._wake
        if wake is not None:
            try:
                wake()
            except RuntimeError:  # its event loop closed: nobody follows any more
                self._wake = None

    def _listen(self) -> None:
        """LISTEN on a connection of its own, counting the others' notifications; after a
        lost connection, count one (something may have been missed) and listen again.
        An outage is logged when it starts and when it ends, not at every retry."""
        backoff = 0.5
        lost = False
        while not self._closed.is_set():
            try:
                with psycopg.connect(
                    self.__url, autocommit=True, connect_timeout=CONNECT_TIMEOUT
                ) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    conn.execute(f"LISTEN {CLOSING_CHANNEL.format(writer=self.writer)}")
                    self._heard()
                    self._listening.set()
                    if lost:
                        log.warning("history at %s: listening again", self._redacted)
                    backoff, lost = 0.5, False
                    while not self._closed.is_set():
                        for note in conn.notifies(timeout=LISTEN_TICK):
                            if self._closed.is_set():
                                break
                            if note.channel == CHANNEL and note.payload != self.writer:
                                self._heard()
            except psycopg.Error as exc:
                if self._closed.is_set():
                    return
                if not lost:
                    log.warning(
                        "history at %s: lost the connection that hears other processes "
                        "(%s); retrying",
                        self._redacted,
                        _first_line(exc),
                    )
                lost = True
                self._closed.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _runner_alive(self, pid: int) -> bool:
        """A batch's runner may be on another machine, where its pid means nothing here:
        its fresh heartbeat is all there is to go by (a killed one frees the batch once
        the heartbeat ages past ``alive_within``)."""
        return True

    # ----------------------------------------------------------------- large outputs

    def get_kickoff_lean(
        self, kickoff_id: str, *, hold: int = HOLD_BYTES
    ) -> tuple[Kickoff, Mapping[str | None, HeldText]] | None:
        """As :meth:`Store.get_kickoff_lean`: sizes come from ``octet_length`` (read from
        the value's header, not the value), large outputs as :class:`PgStoredText`."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT octet_length(output), octet_length(raw) FROM kickoffs WHERE kickoff_id = ?",
                (kickoff_id,),
            ).fetchone()
            if row is None:
                return None
            big: dict[str | None, int] = {}
            leave_out: set[str] = set()
            if (row[0] or 0) > hold:
                leave_out.add("output")
                big[None] = int(row[0])
            if (row[1] or 0) > hold:
                leave_out.add("raw")
            for task_id, size in conn.execute(
                "SELECT task_id, octet_length(output) FROM tasks WHERE kickoff_id = ?",
                (kickoff_id,),
            ):
                if (size or 0) > hold:
                    big[read_key(task_id)] = int(size)
            kickoff = _load_kickoff(conn, kickoff_id, leave_out, frozenset(big))
        if kickoff is None:
            return None
        sources = {
            task_id: PgStoredText(OutputKey(kickoff_id, task_id), size, self._pool)
            for task_id, size in big.items()
        }
        return kickoff, sources

    # ----------------------------------------------------------------- diagnostics

    def health(self) -> dict[str, object]:
        """What ``crewtui doctor`` shows: where (no password), which schema and server,
        how much. The server keeps its own pages sound: there is no quick check to run."""
        with self._read() as conn:
            counts = _counts(conn)
            server = conn.execute("SHOW server_version").fetchone()
        return {
            "path": self._redacted,
            "schema_version": self.schema_version,
            "known_schema_version": pg_schema.SCHEMA_VERSION,
            "journal_mode": None,
            "server": f"PostgreSQL {server[0] if server else '?'}",
            "counts": counts,
            "quick_check": "ok",
            "read_only": None,
        }


# One round trip each: a write begins by taking the writers' lock (statements without
# parameters go together).
def _begin_write(lock: int) -> str:
    return f"BEGIN; SELECT pg_advisory_xact_lock({int(lock)})"


_BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"


def _connection_lost(exc: psycopg.Error) -> bool:
    """The connection itself failed (no SQLSTATE, or class 08 or 57P: the server went
    away), not the statement."""
    return exc.sqlstate is None or exc.sqlstate.startswith(("08", "57P"))


def _describe(where: str, exc: psycopg.Error) -> StoreError:
    """One sentence for a failed call: the connection lost, a value too large for an
    index, or the server's reason."""
    state = exc.sqlstate
    if _connection_lost(exc):
        return HistoryUnreachable(
            f"The PostgreSQL history at {where} is not answering ({_first_line(exc)})."
        )
    if state == "54000":
        return StoreError(
            f"The PostgreSQL history at {where} cannot keep this run: an id, crew name or "
            "task id longer than about 2,700 bytes is more than its indexes can hold."
        )
    return StoreError(f"The history store at {where} failed ({_first_line(exc)}).")


# --------------------------------------------------------------------------- large outputs

_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


class PgStoredText(SpilledText):
    """An output in the PostgreSQL history, read in pieces: a ``TextSource``.

    On the first read, one binary ``COPY`` streams the value into a private temporary file
    (unlinked: it goes when closed), undoing the escapes of ``pg_sql`` on the way; reads are
    then answered from that file. A value another process rewrote since (its size changed)
    is read as nothing, as on SQLite. ``size`` is the stored size: exact, except for an
    output holding NUL or lone surrogates, whose escapes make it an upper bound (reads then
    end early).
    """

    def __init__(
        self, key: OutputKey, size: int, pool: ConnectionPool[psycopg.Connection[Row]]
    ) -> None:
        super().__init__(key, size)
        self._pool = pool

    def _fill(self, end: int) -> None:
        """The whole value at once (one COPY), whatever ``end`` asks for."""
        if self._spill is not None:
            return  # all of it is there: a size with escapes counted is an upper bound
        if self.key.task_id is None:
            query = "SELECT output FROM kickoffs WHERE kickoff_id = %s"
            params: list[object] = [escape_text(self.key.kickoff_id)]
        else:
            query = "SELECT output FROM tasks WHERE kickoff_id = %s AND task_id = %s"
            params = [escape_text(self.key.kickoff_id), escape_text(self.key.task_id)]
        spill = self._new_spill()
        reader = _CopyReader(spill)
        try:
            with (
                self._pool.connection() as conn,
                conn.cursor().copy(
                    f"COPY ({query} AND octet_length(output) = %s) TO STDOUT (FORMAT BINARY)",
                    [*params, self._size],
                ) as copy,
            ):
                for data in copy:
                    reader.feed(bytes(data))
        except (psycopg.Error, PoolClosed, PoolTimeout) as exc:
            spill.close()
            self._give_up(f"the history could not be read ({_first_line(exc)})")
            return
        if not reader.found:
            spill.close()
            self._give_up("another process rewrote it, or it is no longer in the history")
            return
        self._spill, self._spilled = spill, reader.written

    def _release(self) -> None:
        """Nothing stays open between reads: the COPY ended with ``_fill``."""


class _CopyReader:
    """The one text field of a binary COPY, unescaped into ``out`` as it streams in."""

    _HEADER = len(_COPY_SIGNATURE) + 8  # flags and header-extension length

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._head = b""
        self._left: int | None = None  # bytes of the field still to come
        self._carry = b""
        self.found = False
        self.written = 0

    def feed(self, data: bytes) -> None:
        if self._left is None:
            self._head += data
            # Signature, flags, extension length, then the tuple's field count and length.
            needed = self._HEADER + 6
            if len(self._head) < needed:
                return
            if not self._head.startswith(_COPY_SIGNATURE):
                return
            fields, length = struct.unpack("!hi", self._head[self._HEADER : needed])
            if fields != 1 or length < 0:
                return  # no row (the trailer), or NULL
            self.found = True
            self._left = length
            data, self._head = self._head[needed:], b""
        take = data[: self._left]
        self._left -= len(take)
        self._write(take, last=self._left == 0)

    def _write(self, data: bytes, *, last: bool) -> None:
        buf = self._carry + data
        if ESCAPE_BYTES[:1] not in buf:
            self._emit(buf)
            self._carry = b""
            return
        out = bytearray()
        start = 0
        while (found := buf.find(ESCAPE_BYTES, start)) >= 0:
            if len(buf) - found < len(ESCAPE_BYTES) + 4 and not last:
                break
            out += buf[start:found]
            code = buf[found + len(ESCAPE_BYTES) : found + len(ESCAPE_BYTES) + 4]
            if len(code) < 4:  # cut short at the very end: not an escape of ours
                break
            out += chr(int(code, 16)).encode("utf-8", "surrogatepass")
            start = found + len(ESCAPE_BYTES) + 4
        else:
            found = len(buf)
            # A marker cut by the end of this piece waits for the next.
            for cut in (2, 1):
                if not last and buf.endswith(ESCAPE_BYTES[:cut]) and len(buf) - cut >= start:
                    found = len(buf) - cut
                    break
        out += buf[start:found]
        self._carry = buf[found:]
        self._emit(bytes(out))

    def _emit(self, data: bytes) -> None:
        if data:
            os.pwrite(self._out.fileno(), data, self.written)
            self.written += len(data)


def _pool(url: str, size: int, name: str) -> ConnectionPool[psycopg.Connection[Row]]:
    """A pool of up to ``size`` connections to ``url``, opened by the caller."""
    return ConnectionPool(
        url,
        min_size=1,
        max_size=size,
        kwargs={"autocommit": True, "row_factory": row_factory},
        open=False,
        name=name,
        timeout=WAIT_FOR_CONNECTION,
    )
