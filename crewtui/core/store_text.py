"""Outputs too large to hold in memory, read from the history in pieces.

An LLM output can be hundreds of MB. :meth:`crewtui.core.store.Store.get_kickoff_lean` leaves
every output (and raw payload) larger than ``HOLD_BYTES`` in the file and gives a
:class:`StoredText` for each output instead: a :class:`~crewtui.core.text_lines.TextSource`
that reads it with SQLite's incremental blob I/O (``Connection.blobopen``), front to back,
into a private temporary file (unlinked: it goes when closed), and answers every read by
offset from that file. Only what was asked for is read, and it lives in the OS's page cache,
not in the process.

Why this way: a large value is a chain of overflow pages, so a blob read at an offset walks
the chain from its start unless the handle stays open (measured: a screenful of lines from
the end of a 20 MB output took over 300 ms); and an open handle holds a read transaction,
which in WAL mode keeps checkpoints from resetting the log for as long as the output is on
screen. Reading front to back once, with one handle, on a read-only connection of its own,
and closing it at the end, avoids both. ``substr()`` would load the whole value on every
call; a spill file beside the history would need a lifecycle of its own (deletion, other
processes). A value another process rewrote while it was read (its size changed, or the
handle expired) is read as nothing from there on: the change reaches the view as a new
version of the run, never half old, half new.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

HOLD_BYTES = 256 * 1024
"""Outputs up to this size are read whole with the record; larger ones in pieces."""
SPILL_CHUNK = 1 << 20


@dataclass(frozen=True)
class OutputKey:
    """Which output: a run's final output (``task_id`` None) or one task's."""

    kickoff_id: str
    task_id: str | None = None


def value_size(conn: sqlite3.Connection, table: str, column: str, rowid: int) -> int:
    """Bytes of one TEXT or BLOB value, without reading it (0 for NULL)."""
    try:
        with conn.blobopen(table, column, rowid, readonly=True) as blob:
            return len(blob)
    except sqlite3.OperationalError:
        return 0  # NULL, or a number: nothing large


def output_rowid(conn: sqlite3.Connection, key: OutputKey, bound_id: object) -> int | None:
    """The row holding an output (kickoffs or tasks), by the kickoff id as bound."""
    if key.task_id is None:
        row = conn.execute("SELECT rowid FROM kickoffs WHERE kickoff_id = ?", (bound_id,))
    else:
        row = conn.execute(
            "SELECT rowid FROM tasks WHERE kickoff_id = ? AND task_id = ?",
            (bound_id, key.task_id),
        )
    found = row.fetchone()
    return None if found is None else int(found[0])


class SpilledText(ABC):
    """An output in a history, read in pieces through a private spill file: the part both
    back ends share (SQLite's :class:`StoredText`, PostgreSQL's ``PgStoredText``).

    ``_fill(end)`` (each back end's) copies the value into the spill file (``_new_spill``)
    until ``end`` is in it, or gives up (``_give_up``); every read is then answered by
    offset from that file. A value the back end could not read is read as nothing.
    """

    def __init__(self, key: OutputKey, size: int) -> None:
        self.key = key
        self._size = size
        self._lock = threading.Lock()
        self._spill: IO[bytes] | None = None
        self._spilled = 0
        self._gone = False

    @property
    def size(self) -> int:
        return self._size

    def read(self, offset: int, length: int) -> bytes:
        end = min(offset + length, self._size)
        if end <= offset:
            return b""
        with self._lock:
            if end > self._spilled and not self._gone:
                self._fill(end)
            spill = self._spill
            if spill is None or offset >= self._spilled:
                return b""
            return os.pread(spill.fileno(), min(end, self._spilled) - offset, offset)

    @abstractmethod
    def _fill(self, end: int) -> None:
        """Copy the value into the spill file until ``end`` is in it (the lock is held)."""

    @staticmethod
    def _new_spill() -> IO[bytes]:
        # Closed by close(), or with the object: it is unlinked already.
        return tempfile.TemporaryFile(prefix="crewtui-output-")

    @abstractmethod
    def _release(self) -> None:
        """Let go of what the back end holds open while it copies."""

    def _give_up(self, why: str) -> None:
        log.info("an output of %s is read no further: %s", self.key.kickoff_id, why)
        self._gone = True
        self._release()

    def close(self) -> None:
        """Let go of the history and of the spill file; a later read starts again."""
        with self._lock:
            self._release()
            if self._spill is not None:
                self._spill.close()
            self._spill = None
            self._spilled = 0
            self._gone = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key!r}, {self._size} bytes)"


class StoredText(SpilledText):
    """An output in the SQLite history, read in pieces: a :class:`TextSource` of known size."""

    def __init__(self, key: OutputKey, size: int, database: Path, bound_id: object) -> None:
        super().__init__(key, size)
        self._database = database
        self._bound_id = bound_id
        self._conn: sqlite3.Connection | None = None
        self._blob: sqlite3.Blob | None = None

    def _fill(self, end: int) -> None:
        """Copy the output, front to back, until ``end`` is in the spill file."""
        while self._spilled < end and not self._gone:
            blob = self._blob or self._open()
            if blob is None:
                break
            try:
                piece = blob.read(min(SPILL_CHUNK, self._size - self._spilled))
            except sqlite3.Error as error:
                self._give_up(f"it changed while read ({error})")
                break
            if not piece:
                break
            assert self._spill is not None
            os.pwrite(self._spill.fileno(), piece, self._spilled)
            self._spilled += len(piece)
        if self._spilled >= self._size:
            self._release()

    def _open(self) -> sqlite3.Blob | None:
        for options in ("mode=ro", "immutable=1"):
            try:
                conn = sqlite3.connect(
                    f"{self._database.resolve().as_uri()}?{options}",
                    uri=True,
                    check_same_thread=False,
                )
                rowid = output_rowid(conn, self.key, self._bound_id)
                if rowid is None:
                    conn.close()
                    self._give_up("it is no longer in the history")
                    return None
                table = "kickoffs" if self.key.task_id is None else "tasks"
                blob = conn.blobopen(table, "output", rowid, readonly=True)
            except sqlite3.Error:
                continue
            self._conn, self._blob = conn, blob
            if len(blob) != self._size:
                self._give_up("another process rewrote it")
                return None
            self._spill = self._new_spill()
            return blob
        self._give_up("the history could not be opened for reading")
        return None

    def _release(self) -> None:
        if self._blob is not None:
            self._blob.close()
        if self._conn is not None:
            self._conn.close()
        self._blob = self._conn = None
