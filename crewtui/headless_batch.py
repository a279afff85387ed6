"""``crewtui batch``: one kickoff per row of a CSV or JSON Lines file, resumable after a crash.

The file is read and every row checked against the crew's required inputs before anything
is sent; the batch is recorded in the history, then ``core.batch_runner`` sends the rows
through the tracker. The same command again (or ``--resume BATCH_ID``) finds the batch and
sends only the rows that were never sent. No Textual import on this path.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crewtui.api.errors import ConfigError, ExitCode
from crewtui.api.profile import CrewProfile
from crewtui.api.sanitize import inert_line
from crewtui.api.states import RunState
from crewtui.core.batch import (
    DEFAULT_CONCURRENCY,
    Batch,
    BatchProgress,
    check_inputs,
    fingerprint,
    new_batch_id,
    read_rows,
)
from crewtui.core.batch_runner import BatchNote, BatchOutcome, BatchRunner
from crewtui.core.tracker import Tracker
from crewtui.headless import (
    Session,
    _raise_if_crew_down,
    _raise_if_stale_too_long,
    emit_json,
    exit_for,
    out,
    warn,
)


async def cmd_batch(session: Session) -> int:
    args = session.args
    if (args.file is None) == (args.resume is None):
        raise ConfigError("Give a FILE.csv or FILE.jsonl to start a batch, or --resume BATCH_ID.")
    if args.resume is not None and args.new:
        raise ConfigError("--new starts a batch from a file; --resume continues one: pick one.")
    if args.resume is not None:
        batch = _recorded(session, args.resume)
        crew = _crew_named(session, batch.crew)
        return await _run(session, crew, batch, resumed=True)
    path = Path(args.file)
    rows = read_rows(path)
    crew = session.crew()
    tracker = session.tracker([crew])
    try:
        required = await tracker.inputs(crew.name)
    finally:
        await tracker.stop()
    check_inputs(rows, required, crew.name, str(path))
    found = None if args.new else session.store.find_batch(fingerprint(crew.name, crew.url, rows))
    if found is not None:
        return await _run(session, crew, found, resumed=True)
    batch = Batch(
        batch_id=new_batch_id(),
        crew=crew.name,
        source=str(path),
        fingerprint=fingerprint(crew.name, crew.url, rows),
        rows=rows,
        concurrency=args.concurrency or DEFAULT_CONCURRENCY,
        created_at=datetime.now(UTC),
    )
    session.store.save_batch(batch)
    return await _run(session, crew, batch, resumed=False)


def _recorded(session: Session, batch_id: str) -> Batch:
    """The batch ``--resume`` names: its whole id, or a unique prefix (the app shows 8)."""
    given = batch_id.strip()
    matches = session.store.resolve_batch_id(given) if given else []
    if len(matches) > 1 and given not in matches:
        raise ConfigError(
            f"{inert_line(given, 40)!r} begins several batches' ids; give more of the id."
        )
    batch = session.store.get_batch(given if given in matches or not matches else matches[0])
    if batch is None:
        raise ConfigError(
            f"The history holds no batch {inert_line(batch_id, 40)!r}; the first line a batch "
            "prints names its id."
        )
    return batch


def _crew_named(session: Session, name: str) -> CrewProfile:
    """The crew a recorded batch ran on, which ``--crew``/``--url`` may not change."""
    for crew in session.crews():
        if crew.name == name:
            return crew
    raise ConfigError(
        f"The batch ran on the {inert_line(name, 40)} crew, which these options do not select: "
        "use --crew with that name, or leave --crew and --url out."
    )


async def _run(session: Session, crew: CrewProfile, batch: Batch, *, resumed: bool) -> int:
    args = session.args
    concurrency = args.concurrency or batch.concurrency
    progress = _Progress(session, batch)
    verb = "resuming" if resumed else "starting"
    # Found by its rows, not named: say why nothing new may be sent, and how to send it anyway.
    found_again = resumed and args.resume is None
    why = " (these rows were batched before: --new sends them all again)" if found_again else ""
    progress.say(
        f"{verb} batch {batch.batch_id}: {len(batch.rows)} rows of "
        f"{inert_line(batch.source, 120)} on {inert_line(crew.name)}, up to {concurrency} at once"
        f"{why}"
    )
    deadline = time.monotonic() + args.timeout if args.timeout else None
    async with session.following([crew], interval=args.interval, receive=True) as tracker:
        await tracker.start(resume=False)
        runner = BatchRunner(
            tracker,
            batch,
            concurrency=concurrency,
            on_note=progress.note,
            check=_watchdog(tracker, crew),
            resend_uncertain=args.resend_uncertain,
            deadline=deadline,
        )
        try:
            outcome = await runner.run()
        except asyncio.CancelledError:  # Ctrl-C: what was sent is in the history
            warn(
                f"Stopped; `crewtui batch --resume {batch.batch_id}` sends the rows never sent "
                "and follows the runs still going."
            )
            raise
    return _finish(session, batch, outcome, resumed=resumed, concurrency=concurrency)


def _watchdog(tracker: Tracker, crew: CrewProfile) -> Callable[[], None]:
    """What ``watch`` gives up on (a rejected token, a crew down or unusable for too long),
    checked at every wake of the batch."""
    stale_since: dict[str, float] = {}

    def check() -> None:
        _raise_if_crew_down(tracker, {crew.name})
        going = {kickoff.kickoff_id: kickoff for kickoff in tracker.tracked()}
        _raise_if_stale_too_long(going, stale_since)

    return check


class _Progress:
    """Progress lines: stdout, or stderr under ``--json`` (stdout holds the one document)."""

    def __init__(self, session: Session, batch: Batch) -> None:
        self._stream = sys.stderr if session.json else sys.stdout
        self._batch = batch
        self._ended = 0

    def say(self, text: str) -> None:
        clock = datetime.now().strftime("%H:%M:%S")
        self._stream.write(f"{clock}  {text}\n")
        self._stream.flush()

    def note(self, note: BatchNote) -> None:
        where = f"row {note.row.number}/{len(self._batch.rows)}"
        run = note.kickoff
        short = run.short_id if run is not None else ""
        if note.kind == "started":
            self.say(f"{where}  started {short}")
        elif note.kind == "following":
            self.say(f"{where}  following {short or 'its run'} again {note.message}".rstrip())
        elif note.kind == "ended" and run is not None:
            self._ended += 1
            error = f"  {inert_line(run.error, 200)}" if run.error else ""
            self.say(f"{where}  {run.state.value} {short}{error}")
        elif note.kind == "rate_limited":
            self.say(f"{where}  the crew is rate limiting (HTTP 429): waiting {note.wait:.0f} s")
        elif note.kind == "uncertain":
            self.say(
                f"{where}  uncertain: its kickoff was sent but no answer came, so its run may "
                "have started; it is not sent again (--resend-uncertain sends it)"
            )
        elif note.kind == "refused":
            self.say(f"{where}  refused: {inert_line(note.message, 300)}")


def _finish(
    session: Session, batch: Batch, outcome: BatchOutcome, *, resumed: bool, concurrency: int
) -> int:
    progress = outcome.progress
    if session.json:
        emit_json(_document(batch, outcome, resumed=resumed, concurrency=concurrency))
    else:
        out(f"batch {batch.batch_id}: {_counts_text(progress, outcome)}")
    if progress.uncertain:
        rows = ", ".join(str(status.row.number) for status in progress.uncertain)
        warn(
            f"Rows {rows} of batch {batch.batch_id} may have started (their answer never came); "
            "check the crew's dashboard, then resume with --resend-uncertain to send them again."
        )
    if outcome.timed_out:
        warn(
            f"Gave up waiting after {session.args.timeout:g} s; resume with "
            f"`crewtui batch --resume {batch.batch_id}` (rows never sent are sent then)."
        )
        return int(ExitCode.TIMED_OUT)
    return _exit_code(progress, outcome, session.args.exit_status)


def _exit_code(progress: BatchProgress, outcome: BatchOutcome, exit_status: bool) -> int:
    """Like ``watch``: 4 when a run is not found or lost; with ``--exit-status`` also 1 when
    a run failed (or the crew refused a row) and 3 when rows are uncertain."""
    states = [
        s.run_state for s in progress.rows if s.run_state is not None and s.state != "uncertain"
    ]
    if any(state in (RunState.NOT_FOUND, RunState.LOST) for state in states):
        return int(ExitCode.NOT_FOUND)
    if not exit_status:
        return int(ExitCode.OK)
    if outcome.refused:
        states.append(RunState.FAILED)
    if progress.uncertain:
        states.append(RunState.UNKNOWN)
    return exit_for(states)


def _counts_text(progress: BatchProgress, outcome: BatchOutcome) -> str:
    text = progress.counts_text()
    if outcome.refused:
        text = (
            f"{text} · {len(outcome.refused)} refused"
            if text
            else f"{len(outcome.refused)} refused"
        )
    return text or "no rows"


def _document(
    batch: Batch, outcome: BatchOutcome, *, resumed: bool, concurrency: int
) -> dict[str, Any]:
    """The one JSON document of ``batch --json`` (the README's --json section lists it)."""
    progress = outcome.progress
    runs: list[dict[str, Any]] = []
    for status in progress.rows:
        refused = outcome.refused.get(status.row.number)
        runs.append(
            {
                "row": status.row.number,
                "status": "refused" if refused is not None else status.state,
                "kickoff_id": status.kickoff_id,
                "state": status.run_state.value if status.run_state is not None else None,
                "error": refused,
            }
        )
    counts = {
        name: 0 for name in ("completed", "failed", "running", "uncertain", "unsent", "refused")
    }
    for run in runs:
        counts[_count_key(str(run["status"]))] += 1
    return {
        "batch_id": batch.batch_id,
        "crew": batch.crew,
        "source": batch.source,
        "rows": len(batch.rows),
        "concurrency": concurrency,
        "resumed": resumed,
        "timed_out": outcome.timed_out,
        "created_at": batch.created_at.isoformat(),
        "counts": counts,
        "runs": runs,
    }


def _count_key(status: str) -> str:
    return "running" if status == "sending" else status
