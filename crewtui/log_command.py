"""``crewtui logs [-f]``: the run log on stdout, from the history, then live.

Without ``-f`` it prints what the history remembers (``core.run_log.history_entries``) and
exits. With ``-f`` it goes on like ``tail -f``: a tracker assembled like every other
(``core.runtime``) follows the history and polls the configured crews no other crewtui
polls (the crew's lease), so a change shows whether this process learnt it or another
crewtui on the same history did.
Ctrl-C ends it quietly (exit 0). No Textual import here.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

from crewtui.api.errors import ConfigError, NotFoundError
from crewtui.api.profile import CrewProfile
from crewtui.api.sanitize import inert_line
from crewtui.api.states import Submission
from crewtui.core.format import sentence
from crewtui.core.run_log import (
    STEPS_READ_AGAIN,
    LogEntry,
    LogFilter,
    LogKind,
    RunLog,
    plain_line,
    stored_history,
)
from crewtui.core.tracker_events import CrewHealthChanged, HealthState, KickoffChanged, TrackerEvent
from crewtui.headless import Session, check_crew_is_known, warn

# The ANSI colour of each kind's word (the word is always there: never colour alone).
_COLOURS: dict[LogKind, str] = {
    "run": "34",
    "done": "32",
    "failed": "1;31",
    "waiting": "1;33",
    "task": "36",
    "step": "2",
    "tool": "35",
    "event": "2",
    "usage": "33",
}


def colour_wanted() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org) or TERM is
    dumb."""
    if not sys.stdout.isatty():
        return False
    return not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


class LogPrinter:
    """Writes entries to stdout as lines (coloured by kind on a terminal) or JSON lines."""

    def __init__(self, *, as_json: bool, colour: bool) -> None:
        self.as_json = as_json
        self.colour = colour and not as_json

    def line(self, entry: LogEntry, now: datetime) -> str:
        if self.as_json:
            return json.dumps(entry.as_json(), ensure_ascii=True)
        if not self.colour:
            return plain_line(entry, now)

        def paint(column: str, text: str) -> str:
            colour = _COLOURS[entry.kind] if column == "kind" else "2"
            return f"\x1b[{colour}m{text}\x1b[0m"

        return plain_line(entry, now, paint)

    def write(self, entries: Iterable[LogEntry]) -> None:
        now = datetime.now(UTC)
        for entry in entries:
            sys.stdout.write(self.line(entry, now) + "\n")
        sys.stdout.flush()


async def run_logs(session: Session) -> int:
    """Print the history's entries; with ``-f``, keep printing new ones until Ctrl-C."""
    args = session.args
    ids = [session.resolve(given) for given in args.ids]
    # --crew, or --url: the crew whose runs `list` would show with the same flags.
    choice = LogFilter(kickoff_ids=frozenset(ids), crew=session.history_crew(), since=args.since)
    printer = LogPrinter(as_json=session.json, colour=colour_wanted())
    await asyncio.to_thread(_require_stored, session, ids)  # before anything is polled
    # `crewtui logs | head` ends quietly once the reader has what it wanted (see cli.main).
    if not args.follow:
        runs = await asyncio.to_thread(_stored_runs, session, ids, choice)
        if not runs:  # said on stderr: stdout stays the stream of entries
            warn(_nothing_logged(choice))
        # Read and printed in a thread as the stream goes: a long history is never held.
        await asyncio.to_thread(printer.write, _history(session, runs, choice))
        return 0
    return await _follow(session, ids, choice, printer)


def _stored_runs(session: Session, ids: Sequence[str], choice: LogFilter) -> list[str]:
    """The runs to print: the ids given (each must be in the history), else every run of
    the history (of ``--crew``) that changed since ``--since``, oldest first."""
    store = session.store
    if ids:
        _require_stored(session, ids)
        # The stream reads runs in the order they began.
        began = {
            kickoff_id: lean[0].created_at
            for kickoff_id in ids
            if (lean := store.get_kickoff_lean(kickoff_id, hold=0)) is not None
        }
        return sorted(began, key=began.__getitem__)
    if choice.crew is not None and not store.count_kickoffs(crew=choice.crew, archived=None):
        try:
            check_crew_is_known(session, choice.crew)
        except ConfigError as error:
            if not session.args.follow:
                raise
            # Following, its first run may be on its way: say so, and wait for it.
            warn(f"{sentence(error.message)} `logs -f` waits for its runs.")
    rows = store.list_kickoffs(crew=choice.crew, archived=False, order="oldest")
    since = choice.since
    return [
        row.kickoff_id
        for row in rows
        # An attempt still being sent arrives under its run's id once the service answers.
        if row.submission is not Submission.SENDING and (since is None or row.updated_at >= since)
    ]


def _nothing_logged(choice: LogFilter) -> str:
    """Why ``logs`` printed nothing: no run in the history (yet), or none that the filters
    keep."""
    kept = f" of {inert_line(choice.crew, 40)}" if choice.crew is not None else ""
    if choice.since is not None:
        kept += f" changed since {choice.since.astimezone():%Y-%m-%d %H:%M}"
    if kept:
        return f"No run in the history{kept}."
    return "No run in the history yet; start one with `crewtui kickoff -i KEY=VALUE`."


def _require_stored(session: Session, ids: Sequence[str]) -> None:
    """An id the history does not hold is a mistake, said as ``status`` says it (exit 4)."""
    for kickoff_id in ids:
        if not session.store.resolve_id(kickoff_id):
            raise NotFoundError(
                f"Kickoff {inert_line(kickoff_id, 80)} is not in the history: check the id, "
                f"or follow a run started elsewhere with `crewtui track {kickoff_id}`."
            )


def _history(
    session: Session, kickoff_ids: Sequence[str], choice: LogFilter, log: RunLog | None = None
) -> Iterator[LogEntry]:
    """The runs' entries that ``choice`` wants, as read; with ``log``, it remembers each run
    as read, so that following tells only what changes after."""
    entries = stored_history(session.store, kickoff_ids, remember=log.remember if log else None)
    return (entry for entry in entries if choice.matches(entry))


def _stored_steps(session: Session, log: RunLog, event: KickoffChanged) -> list[LogEntry]:
    """The run's newest steps in the history that the log has not told: those another
    process stored (this process's own come as events)."""
    kickoff_id = event.kickoff.kickoff_id
    steps = session.store.list_steps(kickoff_id, newest=STEPS_READ_AGAIN)
    return log.stored_steps(kickoff_id, steps)


def _polled_crews(session: Session) -> list[CrewProfile]:
    """The crews this process polls while it follows (``--crew`` names one); with none (or
    one that cannot be used), it still shows what other crewtui processes write to the
    history."""
    try:
        return session.crews()
    except ConfigError as error:
        warn(f"{sentence(error.message)} `logs -f` shows what other crewtui processes learn.")
        return []


class HealthNotes:
    """A crew this process polls that stops answering (or refuses the token) is said once on
    stderr, and again when it answers: else ``logs -f`` just goes quiet, as if the runs had
    nothing to tell. stdout stays the stream of entries."""

    def __init__(self) -> None:
        self._said: dict[str, HealthState] = {}

    def note(self, event: CrewHealthChanged) -> None:
        health = event.health
        before = self._said.get(health.crew, "unknown")
        if health.state == before or health.state == "unknown":
            return
        self._said[health.crew] = health.state
        crew = health.crew  # warn makes it inert
        if health.state == "ok":
            if before != "unknown":
                warn(f"Crew {crew} answers again.")
            return
        why = health.message or f"Crew {crew} is {health.state}."
        warn(f"{sentence(why)} `logs -f` goes on and tries again.")


async def _follow(
    session: Session, ids: Sequence[str], choice: LogFilter, printer: LogPrinter
) -> int:
    """The history first, then every new entry, until Ctrl-C (exit 0).

    The tracker is listened to before the history is read, so nothing that happens in
    between is lost; the log remembers each run as read, so nothing is told twice. Ctrl-C
    cancels this task (``asyncio.run``, with SIGINT taken even when it came in ignored:
    ``cli._sigint_taken``)."""
    crews = _polled_crews(session)
    events: asyncio.Queue[TrackerEvent] = asyncio.Queue()
    log = RunLog()
    health = HealthNotes()
    live = LogFilter(kickoff_ids=choice.kickoff_ids, crew=choice.crew)
    try:
        async with session.following(crews, interval=None, receive=False) as tracker:
            unsubscribe = tracker.listen(events.put_nowait)
            try:
                await tracker.start(resume=True)
                runs = await asyncio.to_thread(_stored_runs, session, ids, choice)
                await asyncio.to_thread(printer.write, _history(session, runs, choice, log))
                while True:
                    event = await events.get()
                    if isinstance(event, CrewHealthChanged):
                        health.note(event)
                    entries = log.entries(event, datetime.now(UTC))
                    if isinstance(event, KickoffChanged):
                        entries += await asyncio.to_thread(_stored_steps, session, log, event)
                    printer.write([entry for entry in entries if live.matches(entry)])
            finally:
                unsubscribe()
    except asyncio.CancelledError:  # Ctrl-C: SIGINT cancels this task
        return 0
