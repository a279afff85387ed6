"""Outputs too large to hold in memory, read from the history in pieces.

An LLM output can be hundreds of MB. :meth:`crewtui.core.store.Store.get_kickoff_lean` leaves
every output (and raw payload) larger than ``HOLD_BYTES`` in the file and gives a
:class:`StoredText` for each output instead: a :class:`~crewtui.core.text_lines.TextSource`
that reads any range by SQLite's incremental blob I/O (``Connection.blobopen``), so only the
bytes asked for are read, whatever the size.

Why blob I/O rather than ``substr()`` or a file beside the history: ``substr`` on TEXT
counts characters from the start and loads the whole value on every call; a spill file
would need its own lifecycle (deletion, other processes, backups) beside a history that is
one file today. A blob handle is opened, read and closed for each piece, so no read
transaction stays open (WAL checkpoints go on) and a value another process rewrote is
noticed (its size changed) instead of read half old, half new.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

HOLD_BYTES = 256 * 1024
"""Outputs up to this size are read whole with the record; larger ones in pieces."""


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


def read_piece(
    conn: sqlite3.Connection, key: OutputKey, bound_id: object, size: int, offset: int, length: int
) -> bytes:
    """``length`` bytes of an output from ``offset``; empty when the output is gone or was
    rewritten with another size since it was measured (the new version is shown anew)."""
    rowid = output_rowid(conn, key, bound_id)
    if rowid is None:
        return b""
    table = "kickoffs" if key.task_id is None else "tasks"
    try:
        with conn.blobopen(table, "output", rowid, readonly=True) as blob:
            if len(blob) != size:
                return b""
            blob.seek(offset)
            return blob.read(length)
    except sqlite3.OperationalError as error:
        log.info("an output could not be read from the history: %s", error)
        return b""


class StoredText:
    """An output in the history, read in pieces: a :class:`TextSource` of known size."""

    def __init__(self, key: OutputKey, size: int, read: Callable[[int, int], bytes]) -> None:
        self.key = key
        self._size = size
        self._read = read

    @property
    def size(self) -> int:
        return self._size

    def read(self, offset: int, length: int) -> bytes:
        return self._read(offset, length)

    def __repr__(self) -> str:
        return f"StoredText({self.key!r}, {self._size} bytes)"
