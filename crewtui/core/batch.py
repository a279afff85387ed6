"""Batch kickoffs: one run per row of a CSV or JSON Lines file, and where each row stands.

Pure and Textual-free, shared by ``crewtui batch`` and the app. A batch is recorded in the
history (``Store.save_batch``) before any row is sent, and each row's run carries
``meta {"batch": <id>, "row": <n>}``; the tracker stores a run's attempt before its request
leaves, so what the history holds says, after any crash, which rows were answered, which
may have started (their answer never came: ``uncertain``) and which were never sent.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from crewtui.api.errors import ConfigError
from crewtui.api.rows import KickoffSummary
from crewtui.api.sanitize import inert_line
from crewtui.api.states import RunState, Submission

# The meta keys each run of a batch is tagged with; a file may not set them itself.
BATCH_KEY = "batch"
ROW_KEY = "row"
META_PREFIX = "meta."
DEFAULT_CONCURRENCY = 4
# A file larger than this is not a batch anyone means to start from a terminal.
MAX_FILE_BYTES = 16 * 1024 * 1024

RowState = Literal["unsent", "sending", "uncertain", "running", "completed", "failed"]


@dataclass(frozen=True)
class BatchRow:
    """One row: its number (1 is the first data row) and what its run is started with."""

    number: int
    inputs: dict[str, str]
    meta: dict[str, str] = field(default_factory=dict)

    def run_meta(self, batch_id: str) -> dict[str, Any]:
        """The meta its run is sent with: the row's own, and the batch's tags."""
        return {**self.meta, BATCH_KEY: batch_id, ROW_KEY: self.number}


@dataclass(frozen=True)
class Batch:
    """A batch as the history records it: the rows themselves, so that a resume needs
    neither the file nor its path."""

    batch_id: str
    crew: str
    source: str
    fingerprint: str
    rows: tuple[BatchRow, ...]
    concurrency: int
    created_at: datetime

    @property
    def short_id(self) -> str:
        return self.batch_id[:8]


@dataclass(frozen=True)
class RowStatus:
    """Where one row stands, from the run the history holds for it (if any)."""

    row: BatchRow
    state: RowState
    kickoff_id: str | None = None
    run_state: RunState | None = None


@dataclass(frozen=True)
class BatchProgress:
    """Every row's status and the counts a progress line or the list's batch row shows."""

    batch: Batch
    rows: tuple[RowStatus, ...]

    def count(self, *states: RowState) -> int:
        return sum(1 for status in self.rows if status.state in states)

    @property
    def done(self) -> int:
        return self.count("completed")

    @property
    def failed(self) -> int:
        return self.count("failed")

    @property
    def running(self) -> int:
        return self.count("running", "sending")

    @property
    def uncertain(self) -> tuple[RowStatus, ...]:
        return tuple(status for status in self.rows if status.state == "uncertain")

    @property
    def unsent(self) -> tuple[BatchRow, ...]:
        return tuple(status.row for status in self.rows if status.state == "unsent")

    @property
    def finished(self) -> bool:
        """Every row's run has ended or is uncertain: nothing is left to send or follow."""
        return all(s.state in ("completed", "failed", "uncertain") for s in self.rows)

    def counts_text(self) -> str:
        """``3 done · 1 failed · 2 running · 14 to go`` (only the counts that are not 0)."""
        parts = [
            (self.done, "done"),
            (self.failed, "failed"),
            (self.running, "running"),
            (len(self.uncertain), "uncertain"),
            (len(self.unsent), "to go"),
        ]
        return " · ".join(f"{number} {word}" for number, word in parts if number)


def row_number_of(meta: Mapping[str, Any], batch_id: str) -> int | None:
    """The row a run's meta names when it is a run of ``batch_id``."""
    number = meta.get(ROW_KEY)
    if meta.get(BATCH_KEY) != batch_id or not isinstance(number, int):
        return None
    return number


def progress_of(
    batch: Batch, runs: Iterable[KickoffSummary], *, sender_gone: bool = False
) -> BatchProgress:
    """Each row's status from the runs the history holds for the batch.

    A row whose attempt is recorded without an answer is ``sending`` while a process sends
    it; with ``sender_gone`` (a batch resumed: whoever sent it stopped, by a crash) it is
    ``uncertain``: its run may exist, and only the service's dashboard can say.
    """
    by_row: dict[int, KickoffSummary] = {}
    for run in runs:
        number = row_number_of(run.meta, batch.batch_id)
        if number is not None:
            by_row[number] = run
    statuses = (_status(row, by_row.get(row.number), sender_gone) for row in batch.rows)
    return BatchProgress(batch, tuple(statuses))


def _status(row: BatchRow, run: KickoffSummary | None, sender_gone: bool) -> RowStatus:
    if run is None:
        return RowStatus(row, "unsent")
    state: RowState
    if run.submission is Submission.SENDING:
        state = "uncertain" if sender_gone else "sending"
    elif run.submission is Submission.UNCERTAIN:
        state = "uncertain"
    elif run.state is RunState.COMPLETED:
        state = "completed"
    elif run.state.is_terminal:
        state = "failed"
    else:
        state = "running"
    return RowStatus(row, state, run.kickoff_id, run.state)


# -- reading a file ----------------------------------------------------------------------------


def read_rows(path: Path) -> tuple[BatchRow, ...]:
    """The rows of a ``.csv`` (a header of input names) or ``.jsonl`` (one object a line).

    Columns are inputs; ``meta.``-prefixed ones are meta. Anything wrong is one sentence
    naming the file and the row, raised before anything is sent.
    """
    shown = inert_line(str(path), 200)
    path = path.expanduser()
    kind = _kind(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(
                f"{shown} is {size / (1 << 20):.0f} MB, more than the "
                f"{MAX_FILE_BYTES >> 20} MB a batch may be; split it into several files."
            )
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"There is no file {shown}; check the path.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{shown} is not UTF-8 text; save it as UTF-8.") from None
    except OSError as error:
        raise ConfigError(f"crewtui cannot read {shown} ({error.strerror}).") from None
    records = _csv_records(text, shown) if kind == "csv" else _jsonl_records(text, shown)
    rows = tuple(_row(number, record, shown) for number, record in enumerate(records, start=1))
    if not rows:
        raise ConfigError(f"{shown} has no rows; a batch needs at least one.")
    return rows


def _kind(path: Path) -> Literal["csv", "jsonl"]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise ConfigError(
        f"{inert_line(path.name, 120)} is neither .csv nor .jsonl; a batch reads a CSV file "
        "with a header row, or JSON Lines (one object a line)."
    )


def _csv_records(text: str, shown: str) -> list[dict[str, Any]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return []
        names = [name.strip() for name in header]
        records: list[dict[str, Any]] = []
        for line in reader:
            if not any(cell.strip() for cell in line):
                continue  # a blank line is not a row
            if len(line) > len(names):
                raise ConfigError(
                    f"Row {len(records) + 1} of {shown} has {len(line)} cells and the header "
                    f"{len(names)} columns; quote cells that hold commas."
                )
            records.append(dict(zip(names, line, strict=False)))
    except csv.Error as error:
        raise ConfigError(f"{shown} is not valid CSV (line {reader.line_num}: {error}).") from None
    blank = [index + 1 for index, name in enumerate(names) if not name]
    if blank:
        raise ConfigError(f"Column {blank[0]} of {shown}'s header has no name; name it.")
    return records


def _jsonl_records(text: str, shown: str) -> list[dict[str, Any]]:
    records = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            raise ConfigError(f"Line {line_number} of {shown} is not JSON ({error}).") from None
        if not isinstance(record, dict):
            raise ConfigError(
                f"Line {line_number} of {shown} is not a JSON object; each line holds one "
                'object of inputs, such as {"topic": "AI"}.'
            )
        records.append(record)
    return records


def _row(number: int, record: Mapping[str, Any], shown: str) -> BatchRow:
    inputs: dict[str, str] = {}
    meta: dict[str, str] = {}
    for key, value in record.items():
        text = _cell(value, number, key, shown)
        if text is None:
            continue
        if key.startswith(META_PREFIX):
            name = key.removeprefix(META_PREFIX)
            if name in (BATCH_KEY, ROW_KEY) or not name:
                raise ConfigError(
                    f"{shown} has a column {inert_line(key, 60)!r}: crewtui sets meta.batch "
                    "and meta.row itself; rename the column."
                )
            meta[name] = text
        else:
            inputs[key] = text
    return BatchRow(number, inputs, meta)


def _cell(value: Any, number: int, key: str, shown: str) -> str | None:
    """A cell as the input's text: a string as it is, a number or boolean as JSON spells
    it; null and a blank cell are absent (an empty spreadsheet cell means "no value", and
    the service treats an empty input as missing); a list or an object is refused."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    raise ConfigError(
        f"Row {number} of {shown} gives {inert_line(key, 60)!r} a list or an object; "
        "an input is text (a string, number or boolean)."
    )


def check_inputs(rows: Sequence[BatchRow], required: Sequence[str], crew: str, shown: str) -> None:
    """Refuse the whole batch, before anything is sent, when a row lacks a required input.

    An empty cell counts as missing: the service treats it so, after a round trip.
    """
    for row in rows:
        missing = [name for name in required if not row.inputs.get(name, "").strip()]
        if missing:
            names = ", ".join(repr(inert_line(name, 60)) for name in missing)
            noun, them = ("input", "it") if len(missing) == 1 else ("inputs", "them")
            raise ConfigError(
                f"Row {row.number} of {inert_line(shown, 200)} has no value for the {noun} "
                f"{names} that the {inert_line(crew, 60)} crew requires; fill {them} in "
                "(nothing was sent)."
            )


def fingerprint(crew: str, url: str, rows: Sequence[BatchRow]) -> str:
    """What makes two batches the same: the crew and every row, in order.

    Running the same command again finds the batch by it and resumes it, so no row is
    started twice; ``--new`` starts another batch of the same rows.
    """
    body = json.dumps(
        [crew, url, [[row.number, row.inputs, row.meta] for row in rows]],
        ensure_ascii=True,
        sort_keys=True,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def new_batch_id() -> str:
    return uuid.uuid4().hex[:12]


def rows_json(rows: Sequence[BatchRow]) -> str:
    """The rows as the history stores them (JSON; surrogates escaped)."""
    return json.dumps(
        [{"row": r.number, "inputs": r.inputs, "meta": r.meta} for r in rows], ensure_ascii=True
    )


def rows_from_json(text: str) -> tuple[BatchRow, ...]:
    """Undo :func:`rows_json`; an entry of the wrong shape is left out."""
    try:
        items = json.loads(text)
    except ValueError:
        return ()
    rows = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("row"), int):
            continue
        inputs, meta = item.get("inputs"), item.get("meta")
        if isinstance(inputs, dict) and isinstance(meta, dict):
            rows.append(
                BatchRow(
                    item["row"],
                    {str(k): str(v) for k, v in inputs.items()},
                    {str(k): str(v) for k, v in meta.items()},
                )
            )
    return tuple(rows)
