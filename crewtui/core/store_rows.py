"""Rows of the history: how each value is bound and read back, and the list's rows.

- **Any text the server sends.** Python's sqlite3 refuses to bind a ``str`` holding a lone
  surrogate (``"\\ud800"`` is valid JSON). Free text (outputs, errors, agent names, ids) is
  bound as TEXT when it is valid UTF-8, which is nearly always, and otherwise as a BLOB of its
  ``surrogatepass`` UTF-8 bytes; reading decodes BLOBs back. Such a value round-trips exactly
  but is not found by text search. JSON values (inputs, meta, raw payloads, ``output_json``)
  are stored as JSON text with ``ensure_ascii=True``, which escapes surrogates.
- **One bad row never stops a history.** A value the reader cannot decode (a timestamp
  Python refuses, broken JSON, a wrong type) takes its default, with a logged note; a row
  beyond repair is left out.

Timestamps are ISO-8601 UTC text of fixed width, so text order is time order; a naive
datetime is taken to be UTC. Nothing here imports pydantic: the list's first page is read
with this module alone. Full kickoffs, tasks and steps (pydantic models) are written and
read by ``crewtui.core.store_models``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from crewtui.api.rows import KickoffSummary
from crewtui.api.sanitize import inert_line
from crewtui.api.states import RunState

log = logging.getLogger(__name__)

SqlValue = str | bytes | int | float | None
_INT64 = (-(2**63), 2**63 - 1)

# --------------------------------------------------------------------------- codecs


def bind_text(value: str | None) -> str | bytes | None:
    """Bind free text so that any str survives, lone surrogates included (see module doc)."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")
    return value


def _read_text(value: object) -> str | None:
    """Undo :func:`bind_text`."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogatepass")
    return None if value is None else str(value)


def _json(value: Any) -> str:
    """JSON text that is pure ASCII, so surrogates and control characters are escaped."""
    return json.dumps(value, ensure_ascii=True, default=str)


def read_key(value: object) -> str:
    """A stored id or name as text; one that is not text at all reads as "" (never found)."""
    try:
        return _read_text(value) or ""
    except ValueError:
        return ""


def _read_json(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def bind_ts(value: datetime | None) -> str | None:
    """Fixed-width ISO-8601 UTC, so that text order is time order; naive means UTC.

    The year is written with four digits by hand: ``strftime("%Y")`` drops the leading
    zeros of years below 1000 on Linux, which ``fromisoformat`` then refuses. A time that
    overflows on its way to UTC is clamped to the first or last representable one.
    """
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        value = datetime.min if value.year == datetime.min.year else datetime.max
    return f"{value.year:04d}-{value:%m-%dT%H:%M:%S.%f}Z"


def _read_ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass(frozen=True)
class Lease:
    """Which process polls a crew for everyone sharing the history, and until when.

    The holder renews it with a heartbeat; once ``expires_at`` has passed, any other
    process may take it. ``refreshed_at`` is when the holder last finished a round of polls
    of the crew: the others count their staleness from it. ``trouble`` is what the holder
    was told in its last round when that round taught it nothing (None after a round that
    did): the others say it beside their stale runs.
    """

    crew: str
    holder: str  # the holder's Store.writer id
    pid: int
    host: str
    expires_at: datetime  # UTC
    refreshed_at: datetime | None
    trouble: str | None = None

    @property
    def poller(self) -> str:
        """The holder as people name a process: ``pid@host``."""
        return f"{self.pid}@{self.host}"

    def is_live(self, now: datetime) -> bool:
        """Whether the holder still holds it at ``now`` (it renewed in time)."""
        return self.expires_at > now


def lease_of(row: sqlite3.Row) -> Lease:
    """A ``leases`` row as a :class:`Lease` (its host is shown: kept inert)."""
    expires_at = _read_ts(row["expires_at"]) or datetime.min.replace(tzinfo=UTC)
    return Lease(
        crew=read_key(row["crew"]),
        holder=str(row["holder"]),
        pid=int(row["pid"]),
        host=inert_line(str(row["host"]), 64),
        expires_at=expires_at,
        refreshed_at=_read_ts(row["refreshed_at"]),
        trouble=inert_line(read_key(row["trouble"]), 300) or None,
    )


def clamp_int64(value: int | None) -> int | None:
    """SQLite integers are 64-bit; a step's sequence is only an ordering hint."""
    return None if value is None else min(max(value, _INT64[0]), _INT64[1])


def without_credentials(url: str) -> str:
    """A crew's base URL has no user info, query or fragment; a token could hide there."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


# --------------------------------------------------------------------------- rows

SUMMARY_COLUMNS = (
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
KICKOFF_COLUMNS = (
    *SUMMARY_COLUMNS,
    "not_found_since",
    "current_agent",
    "message",
    "dialect",
    "output",
    "output_json",
    "raw",
    "extra",
)
TASK_COLUMNS = (
    "kickoff_id",
    "task_id",
    "ordinal",
    "agent",
    "output",
    "execution_time",
    "state",
    "started_at",
    "finished_at",
    "usage",
)
STEP_COLUMNS = (
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
JSON_COLUMNS = frozenset(
    {"progress", "output_json", "inputs", "meta", "raw", "extra", "waiting_for", "usage"}
)
# A paused row says which task waits, a continued run what it continues: read from
# ``extra`` (no columns of their own yet), and only from valid JSON: json_extract on a
# broken one would fail the whole page.
WAITING_FOR = ", ".join(
    f"CASE WHEN json_valid(extra) THEN json_extract(extra, '$.{name}') END AS {name}"
    for name in ("waiting_for", "continues", "continued_from")
)
# A flow's row says so, and how often it restarted ("restarted"): from ``extra`` too, where
# the defaults (a crew, never restarted) are left out.
RUN_KIND = (
    "COALESCE(CASE WHEN json_valid(extra) THEN json_extract(extra, '$.kind') END, 'crew') AS kind, "
    "COALESCE(CASE WHEN json_valid(extra) THEN json_extract(extra, '$.restarts') END, 0)"
    " AS restarts"
)
# Every row's tokens, for the list's optional tokens column: from ``extra`` too.
USAGE = "CASE WHEN json_valid(extra) THEN json_extract(extra, '$.usage') END AS usage"
# Likewise whether crewtui is cancelling the run, or stopped it ("cancelling…" on its row),
# and at whose request.
CANCEL_REQUEST = ", ".join(
    f"CASE WHEN json_valid(extra) THEN json_extract(extra, '$.{name}') END AS {name}"
    for name in ("cancel_request", "cancelled_by")
)
# When a running row's current task was first seen running (the stall rule's clock): one
# primary-key lookup in ``tasks`` per row.
TASK_STARTED = (
    "(SELECT t.started_at FROM tasks AS t WHERE t.kickoff_id = kickoffs.kickoff_id"
    " AND t.task_id = kickoffs.current_task) AS task_started_at"
)
_TS_COLUMNS = frozenset(
    {
        "created_at",
        "task_started_at",
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
DERIVED_COLUMNS = ("task_count", "state_rank", "extra")
# Who changed the row last, and the change number others follow (``Store.changes_since``).
_STAMP_COLUMNS = ("changed_seq", "written_by")
_KICKOFF_WRITE_COLUMNS = (*KICKOFF_COLUMNS, "state_rank", *_STAMP_COLUMNS)
UPSERT_KICKOFF = _insert_sql(
    "kickoffs",
    _KICKOFF_WRITE_COLUMNS,
    "ON CONFLICT (kickoff_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _KICKOFF_WRITE_COLUMNS if c != "kickoff_id"),
)
UPSERT_TASK = _insert_sql(
    "tasks",
    TASK_COLUMNS,
    "ON CONFLICT (kickoff_id, task_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in TASK_COLUMNS[2:]),
)
INSERT_STEP = _insert_sql("steps", STEP_COLUMNS, "ON CONFLICT (step_key) DO NOTHING")
STEP_FIELDS = tuple(c for c in STEP_COLUMNS if c != "step_key")
SELECT_STEP = f"SELECT {', '.join(STEP_FIELDS)} FROM steps WHERE step_key = :step_key"  # noqa: S608
UPDATE_STEP = (
    f"UPDATE steps SET {', '.join(f'{c} = :{c}' for c in STEP_FIELDS)} "  # noqa: S608
    "WHERE step_key = :step_key"
)


def encode(values: Mapping[str, Any]) -> dict[str, SqlValue]:
    """Model values to SQL values, by column kind (text, JSON, timestamp, plain)."""
    row: dict[str, SqlValue] = {}
    for name, value in values.items():
        if name in _TEXT_COLUMNS:
            row[name] = bind_text(value)
        elif name in JSON_COLUMNS:
            row[name] = None if value is None else _json(value)
        elif name in _TS_COLUMNS:
            row[name] = bind_ts(value)
        else:
            row[name] = value
    return row


def decode_row(row: sqlite3.Row) -> tuple[dict[str, Any], set[str]]:
    """Undo :func:`encode` for the columns the row has; also the columns that could not be.

    A value this crewtui cannot read (a timestamp Python refuses, broken JSON, bytes where
    text belongs) is left out rather than raised, so one bad row never stops a history.
    """
    values: dict[str, Any] = {}
    unreadable: set[str] = set()
    for name in row.keys():  # noqa: SIM118 (sqlite3.Row is not a mapping)
        value = row[name]
        try:
            if name in _TEXT_COLUMNS:
                values[name] = _read_text(value)
            elif name in JSON_COLUMNS:
                values[name] = _read_json(value)
            elif name in _TS_COLUMNS:
                values[name] = _read_ts(value)
            else:
                values[name] = value
        except (ValueError, TypeError, RecursionError):
            unreadable.add(name)
    return values, unreadable


# What a row gets for a required value it cannot read (optional ones take their defaults).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
KICKOFF_STAND_INS = {"created_at": EPOCH, "updated_at": EPOCH, "state": RunState.UNKNOWN}
# Rows already reported, so that paging through a history logs each bad row once.
_REPORTED: set[tuple[str, str]] = set()
_REPORTED_MAX = 1000


def note_unreadable(what: str, key: str, bad: set[str], *, skipped: bool) -> None:
    """Log a row read with defaults (or skipped), once per row."""
    if (what, key) in _REPORTED or len(_REPORTED) >= _REPORTED_MAX:
        return
    _REPORTED.add((what, key))
    log.warning(
        "history store: %s %s has unreadable %s; %s",
        what,
        inert_line(key, 80),
        ", ".join(sorted(bad)) or "values",
        "skipped it" if skipped else "used defaults for them",
    )


def summaries(rows: Iterable[sqlite3.Row]) -> list[KickoffSummary]:
    """List rows as summaries, checked without pydantic (the list's first page is read
    before anything else needs it); a row beyond repair is left out of the page (logged)."""
    summaries = []
    for row in rows:
        values, unreadable = decode_row(row)
        key = str(values.get("kickoff_id", "?"))
        readable = {name: value for name, value in values.items() if name not in unreadable}
        summary, refused = KickoffSummary.from_values(readable, KICKOFF_STAND_INS)
        if unreadable or refused:
            note_unreadable("kickoff", key, unreadable | refused, skipped=summary is None)
        if summary is not None:
            summaries.append(summary)
    return summaries
