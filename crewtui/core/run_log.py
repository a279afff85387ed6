"""The run log: one timestamped stream of what happens across runs, for the CLI and the app.

``crewtui logs`` and the app's Log view print the same entries, made here from what the
tracker learns: a kickoff before and after a change (state changes, tasks starting and
ending with their agent and duration, a new wait for a person, tokens spent) and the steps
and events pushed for it (thoughts, tool calls, crew events). The history gives the same
entries back for runs already stored (``history_entries``), so ``logs`` without ``-f``
prints what ``logs -f`` would have printed, as far as the history remembers it.

Entries keep the service's text as it came (JSON prints it faithfully); whoever shows one
on a terminal makes it inert (``plain_line`` here, ``crewtui.ui.text`` in the app). No
Textual here, and no I/O but ``stored_history``'s reads of the history (call it in a
thread): a ``RunLog`` is fed events and answers entries.
"""

from __future__ import annotations

import heapq
import itertools
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Literal

from crewtui.api.rows import WaitingFor
from crewtui.api.sanitize import inert_line
from crewtui.api.states import AGENT_STEP, RunState, TaskState
from crewtui.core.format import crew_cell, format_duration, tokens_text
from crewtui.core.history import History
from crewtui.core.timing import run_duration, run_start
from crewtui.core.tracker_events import KickoffChanged, StepsAdded, TrackerEvent

if TYPE_CHECKING:
    from crewtui.api.models import Kickoff, Step, TaskResult

LogKind = Literal["run", "done", "failed", "waiting", "task", "step", "tool", "event", "usage"]
LOG_KINDS: tuple[LogKind, ...] = (
    "run",
    "done",
    "failed",
    "waiting",
    "task",
    "step",
    "tool",
    "event",
    "usage",
)

# An entry keeps at most this much of a text from the service (a tool's whole answer can
# be megabytes); a line shows less.
TEXT_KEPT = 2000
_LINE_TEXT = 300
_LABEL = 40

_ENDED_BADLY = frozenset({RunState.FAILED, RunState.CANCELLED, RunState.LOST, RunState.NOT_FOUND})


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One thing that happened to one run, at one moment."""

    at: datetime
    kind: LogKind
    crew: str
    kickoff_id: str
    text: str
    task: str | None = None
    agent: str | None = None
    # Seconds: how long the task or the run took, when the entry says it ended.
    duration: float | None = None
    state: RunState | None = None

    @property
    def short_id(self) -> str:
        return self.kickoff_id[:8]

    def as_json(self) -> dict[str, Any]:
        """The entry as ``logs --json`` prints it (one object per line)."""
        return {
            "ts": self.at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "kind": self.kind,
            "crew": self.crew,
            "kickoff_id": self.kickoff_id,
            "task": self.task,
            "agent": self.agent,
            "text": self.text,
            "duration": self.duration,
            "state": self.state.value if self.state is not None else None,
        }


def _kept(text: str | None) -> str:
    return (text or "")[:TEXT_KEPT]


# -- what a change says --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Seen:
    """What a run looked like when last logged: only what the next change is compared with
    (outputs and payloads stay out, so following thousands of runs stays small)."""

    state: RunState
    waiting: WaitingFor | None
    tasks: dict[str, TaskState]
    current_task: str | None
    tokens: int | None


def _seen(kickoff: Kickoff) -> _Seen:
    return _Seen(
        state=kickoff.state,
        waiting=kickoff.waiting_for if kickoff.state is RunState.PAUSED else None,
        tasks={task.task_id: task.state for task in kickoff.tasks},
        current_task=kickoff.current_task,
        tokens=kickoff.usage.total_tokens if kickoff.usage else None,
    )


def _state_kind(state: RunState, waiting: WaitingFor | None) -> LogKind:
    if state is RunState.COMPLETED:
        return "done"
    if state in _ENDED_BADLY:
        return "failed"
    if state is RunState.PAUSED and waiting is not None:
        return "waiting"
    return "run"


def _waiting_words(waiting: WaitingFor) -> str:
    """What a run waits on, as the service said it (not yet inert)."""
    task = waiting.task_id or "a task it did not name"
    said = f": {waiting.message}" if waiting.message else ""
    return f"waits for input on {task}{said}"


def _state_entry(before: RunState | None, kickoff: Kickoff, at: datetime) -> LogEntry:
    """The run moved to its state: ``running → completed`` (with its duration, or error)."""
    state = kickoff.state
    waiting = kickoff.waiting_for if state is RunState.PAUSED else None
    moved = f"{before.value} → {state.value}" if before is not None else state.value
    duration = run_duration(kickoff, at) if state.is_terminal else None
    text = moved
    if duration is not None:
        text += f" in {format_duration(duration)}"
    if waiting is not None:
        text += f": {_waiting_words(waiting)}"
    elif state.is_terminal and kickoff.error:
        text += f": {kickoff.error}"
    return LogEntry(
        at=at,
        kind=_state_kind(state, waiting),
        crew=kickoff.crew,
        kickoff_id=kickoff.kickoff_id,
        text=_kept(text),
        task=waiting.task_id if waiting else None,
        agent=waiting.agent if waiting else None,
        duration=duration,
        state=state,
    )


def _task_duration(task: TaskResult) -> float | None:
    if task.execution_time is not None:
        return task.execution_time
    if task.started_at is not None and task.finished_at is not None:
        return max((task.finished_at - task.started_at).total_seconds(), 0.0)
    return None


def _task_started(kickoff: Kickoff, task_id: str, agent: str | None, at: datetime) -> LogEntry:
    return LogEntry(
        at=at,
        kind="task",
        crew=kickoff.crew,
        kickoff_id=kickoff.kickoff_id,
        text="started",
        task=task_id,
        agent=agent,
    )


def _task_ended(kickoff: Kickoff, task: TaskResult, at: datetime) -> LogEntry:
    duration = _task_duration(task)
    took = f" in {format_duration(duration, precise=True)}" if duration is not None else ""
    return LogEntry(
        at=task.finished_at or at,
        kind="task" if task.state is TaskState.COMPLETED else "failed",
        crew=kickoff.crew,
        kickoff_id=kickoff.kickoff_id,
        text=f"{task.state.value}{took}",
        task=task.task_id,
        agent=task.agent,
        duration=duration,
    )


def _usage_entry(kickoff: Kickoff, before: int | None, at: datetime) -> LogEntry | None:
    tokens = kickoff.usage.total_tokens if kickoff.usage else None
    if tokens is None or tokens == before:
        return None
    grew = f" (+{tokens_text(tokens - before)})" if before is not None and tokens > before else ""
    return LogEntry(
        at=at,
        kind="usage",
        crew=kickoff.crew,
        kickoff_id=kickoff.kickoff_id,
        text=f"{tokens_text(tokens)} tokens{grew}",
        task=kickoff.current_task,
    )


def change_entries(before: _Seen | None, kickoff: Kickoff, at: datetime) -> list[LogEntry]:
    """What changed between ``before`` (None: a run new to the log) and ``kickoff``."""
    entries: list[LogEntry] = []
    known = before.tasks if before is not None else {}
    for task in kickoff.tasks:
        was = known.get(task.task_id)
        if was is None and task.state is TaskState.RUNNING:
            entries.append(_task_started(kickoff, task.task_id, task.agent, task.started_at or at))
        elif was in (None, TaskState.RUNNING) and task.state is not TaskState.RUNNING:
            entries.append(_task_ended(kickoff, task, at))
    current = kickoff.current_task
    listed = {task.task_id for task in kickoff.tasks}
    if current and current not in listed and current != (before and before.current_task):
        # A dialect that names only the task in progress: its start is this change.
        entries.append(_task_started(kickoff, current, kickoff.current_agent, at))
    waiting = kickoff.waiting_for if kickoff.state is RunState.PAUSED else None
    if before is None or before.state is not kickoff.state:
        entries.append(_state_entry(before.state if before else None, kickoff, at))
    elif waiting is not None and waiting != before.waiting:
        entries.append(_state_entry(None, kickoff, at))
    usage = _usage_entry(kickoff, before.tokens if before else None, at)
    if usage is not None:
        entries.append(usage)
    return entries


# -- steps and events ----------------------------------------------------------------------


def _raw_text(step: Step, name: str) -> str | None:
    """A field of a pushed event's ``data`` (its task, its agent), when it names one."""
    raw = step.raw if isinstance(step.raw, dict) else {}
    data = raw.get("data")
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


# Pushed events whose facts other entries already tell (a task's start and end, a run's
# state, tokens, a wait): a line of their own would say it twice.
TOLD_ELSEWHERE = frozenset(
    {
        "task_started",
        "task_completed",
        "task_failed",
        "llm_call_started",
        "llm_call_completed",
        "crew_kickoff_started",
        "crew_kickoff_completed",
        "crew_kickoff_failed",
        "flow_started",
        "flow_finished",
        "flow_failed",
        "method_execution_started",
        "method_execution_finished",
        "method_execution_failed",
        "human_feedback_requested",
    }
)


def step_entry(step: Step, crew: str, task: str | None, agent: str | None) -> LogEntry | None:
    """One pushed step: a tool call (``tool(input) → result``), a thought, or an event;
    None for an event ``TOLD_ELSEWHERE``."""
    if step.tool:
        call = f"{step.tool}({step.tool_input or ''})"
        text = f"{call} → {step.result}" if step.result else call
        kind: LogKind = "tool"
    elif step.kind == AGENT_STEP:
        text = step.thought or step.result or "step"
        kind = "step"
    elif step.kind in TOLD_ELSEWHERE:
        return None
    else:
        said = step.thought or step.result
        text = f"{step.kind}: {said}" if said else step.kind
        kind = "event"
    return LogEntry(
        at=step.received_at,
        kind=kind,
        crew=crew,
        kickoff_id=step.kickoff_id,
        text=_kept(text),
        task=_raw_text(step, "task_name") or task,
        agent=_raw_text(step, "agent_role") or agent,
    )


def step_entries(
    steps: Iterable[Step], crew: str, task: str | None = None, agent: str | None = None
) -> list[LogEntry]:
    """The entries of these steps (events told elsewhere left out)."""
    made = (step_entry(step, crew, task, agent) for step in steps)
    return [entry for entry in made if entry is not None]


# -- the history ---------------------------------------------------------------------------


def history_entries(kickoff: Kickoff, steps: Sequence[Step] = ()) -> list[LogEntry]:
    """The entries a stored run gives back, oldest first: its start, its tasks' starts and
    ends, a wait, its end and tokens, its stored steps. Moments the history did not keep
    (a task seen only once it had ended) are placed at the nearest moment it did."""
    start = run_start(kickoff) or kickoff.created_at
    end = kickoff.finished_at or kickoff.updated_at
    started = "tracked" if kickoff.tracked_at is not None else "started"
    entries = [
        LogEntry(
            at=start,
            kind="run",
            crew=kickoff.crew,
            kickoff_id=kickoff.kickoff_id,
            text=started,
            state=RunState.RUNNING,
        )
    ]
    for task in kickoff.tasks:
        if task.started_at is not None:
            entries.append(_task_started(kickoff, task.task_id, task.agent, task.started_at))
        if task.state is not TaskState.RUNNING:
            entries.append(_task_ended(kickoff, task, task.finished_at or end))
    if kickoff.state is RunState.PAUSED and kickoff.waiting_for is not None:
        entries.append(_state_entry(None, kickoff, kickoff.waiting_for.since))
    elif kickoff.state not in (RunState.RUNNING, RunState.PENDING):
        entries.append(_state_entry(None, kickoff, end))
    usage = _usage_entry(kickoff, None, end)
    if usage is not None:
        entries.append(usage)
    entries += step_entries(steps, kickoff.crew)
    return sorted(entries, key=lambda entry: entry.at)


def stored_history(
    store: History,
    kickoff_ids: Sequence[str],
    *,
    steps: int | None = None,
    remember: Callable[[Kickoff, Sequence[Step]], None] | None = None,
) -> Iterator[LogEntry]:
    """The entries of these stored runs (given oldest first) as one stream, oldest first.

    Runs are read one at a time, as the stream reaches the time they began: what is held
    is the runs going on at that moment, not the history, so ``crewtui logs`` on years of
    runs starts at once and stays small. Each run comes with its newest ``steps`` steps
    (all by default); outputs are left in the history (lean reads). ``remember`` is told
    each run as read, with its steps (a ``RunLog`` about to follow them).
    """
    held: list[tuple[datetime, int, LogEntry]] = []
    order = itertools.count()
    upcoming = iter(kickoff_ids)

    def read_next() -> Kickoff | None:
        for kickoff_id in upcoming:
            lean = store.get_kickoff_lean(kickoff_id, hold=0)
            if lean is not None:
                return lean[0]
        return None

    coming = read_next()
    while coming is not None or held:
        if coming is not None and (not held or held[0][0] >= coming.created_at):
            stored_steps = store.list_steps(coming.kickoff_id, newest=steps)
            if remember is not None:
                remember(coming, stored_steps)
            for entry in history_entries(coming, stored_steps):
                heapq.heappush(held, (entry.at, next(order), entry))
            coming = read_next()
        else:
            yield heapq.heappop(held)[2]


# -- following -----------------------------------------------------------------------------

# How many of a run's newest steps the log keeps the identity of: a step read back from the
# history is one of its newest, and only those are read again.
STEP_KEYS_KEPT = 500
# When a run another process follows changes, its newest steps are read back from the
# history (the follow mechanism carries kickoffs, not steps): this many.
STEPS_READ_AGAIN = 50


@dataclass
class RunLog:
    """Turns the tracker's events into entries, remembering how each run was last logged.

    ``remember`` a run already shown (read from the history) so that its next change is
    told as a change, not as a new run; an event that changes nothing worth a line (a
    repeated poll) makes no entry. Steps are told once each, whether they come as this
    process's events or are read back from the history (``stored_steps``: another process
    stored them).
    """

    _runs: dict[str, _Seen] = field(default_factory=dict)
    # The task and agent each run is on, to label the steps pushed for it.
    _context: dict[str, tuple[str, str | None, str | None]] = field(default_factory=dict)
    # The identities of each run's newest steps told (an ordered set, bounded).
    _told: dict[str, dict[str, None]] = field(default_factory=dict)

    def remember(self, kickoff: Kickoff, steps: Sequence[Step] = ()) -> None:
        self._runs[kickoff.kickoff_id] = _seen(kickoff)
        # A poll that ends a run names no current task, yet brings the last step of the last
        # one: steps keep the last task named.
        _, task, agent = self._context.get(kickoff.kickoff_id, ("", None, None))
        if kickoff.current_task:
            task, agent = kickoff.current_task, kickoff.current_agent
        self._context[kickoff.kickoff_id] = (kickoff.crew, task, agent)
        self._untold(kickoff.kickoff_id, steps)

    def entries(self, event: TrackerEvent, now: datetime) -> list[LogEntry]:
        """What ``event`` adds to the log (``now`` dates what the event does not)."""
        if isinstance(event, KickoffChanged):
            kickoff = event.kickoff
            before = self._runs.get(kickoff.kickoff_id)
            self.remember(kickoff)
            return change_entries(before, kickoff, now)
        if isinstance(event, StepsAdded):
            return self.stored_steps(event.kickoff_id, event.steps)
        return []

    def stored_steps(self, kickoff_id: str, steps: Sequence[Step]) -> list[LogEntry]:
        """The entries of those of ``steps`` not told yet."""
        crew, task, agent = self._context.get(kickoff_id, ("", None, None))
        return step_entries(self._untold(kickoff_id, steps), crew, task, agent)

    def _untold(self, kickoff_id: str, steps: Sequence[Step]) -> list[Step]:
        told = self._told.setdefault(kickoff_id, {})
        fresh = []
        for step in steps:
            key = step.key
            if key not in told:
                told[key] = None
                fresh.append(step)
        while len(told) > STEP_KEYS_KEPT:
            del told[next(iter(told))]
        return fresh


class LogRing:
    """The newest ``capacity`` entries, in the order they came: what the app's Log view
    shows, bounded however long the app runs. Entries from the history (read when the view
    first opens) go before the live ones, those older than the ring's start only: the live
    stream told the rest."""

    def __init__(self, capacity: int, started: datetime) -> None:
        self.capacity = capacity
        self.started = started
        self._entries: deque[LogEntry] = deque(maxlen=capacity)
        # Every entry ever added (live), so a view can tell how many it has not seen.
        self.added = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(self._entries)

    def extend(self, entries: Sequence[LogEntry]) -> None:
        self._entries.extend(entries)
        self.added += len(entries)

    def add_history(self, entries: Sequence[LogEntry]) -> None:
        older = [entry for entry in entries if entry.at < self.started]
        if not older:
            return
        combined = [*older, *self._entries][-self.capacity :]
        self._entries = deque(combined, maxlen=self.capacity)

    def newest(self, count: int) -> list[LogEntry]:
        """The last ``count`` entries added (fewer if the ring dropped them)."""
        if count <= 0:
            return []
        return list(self._entries)[-count:]


# -- choosing and printing -----------------------------------------------------------------


@dataclass(frozen=True)
class LogFilter:
    """Which entries to show: some runs (full ids), one crew, entries since a moment, some
    kinds, a text anywhere in the labels or the words (case-insensitive)."""

    kickoff_ids: frozenset[str] = frozenset()
    crew: str | None = None
    since: datetime | None = None
    kinds: frozenset[LogKind] = frozenset()
    text: str = ""

    def matches(self, entry: LogEntry) -> bool:
        if self.kickoff_ids and entry.kickoff_id not in self.kickoff_ids:
            return False
        if self.crew is not None and entry.crew != self.crew:
            return False
        if self.since is not None and entry.at < self.since:
            return False
        if self.kinds and entry.kind not in self.kinds:
            return False
        return not self.text or self.text.casefold() in searchable(entry)


def parse_filter(text: str) -> LogFilter:
    """What people type in the Log view's filter: ``crew:NAME``, ``kind:KIND[,KIND]`` and
    words (all of them, as one text); an unknown kind is a ValueError with its sentence."""
    crew: str | None = None
    kinds: set[LogKind] = set()
    words: list[str] = []
    for token in text.split():
        name, sep, value = token.partition(":")
        if sep and name == "crew" and value:
            crew = value
        elif sep and name == "kind" and value:
            for kind in value.split(","):
                if kind not in LOG_KINDS:
                    raise ValueError(
                        f"{inert_line(kind, 20)!r} is not a kind; kinds: {', '.join(LOG_KINDS)}."
                    )
                kinds.add(kind)
        else:
            words.append(token)
    return LogFilter(crew=crew, kinds=frozenset(kinds), text=" ".join(words))


def searchable(entry: LogEntry) -> str:
    """Everything a search looks in, folded once."""
    parts = (entry.crew, entry.short_id, entry.kind, entry.task, entry.agent, entry.text)
    return " ".join(part for part in parts if part).casefold()


def label(entry: LogEntry) -> str:
    """``task (agent)``, ``task``, ``(agent)`` or nothing: inert."""
    task = inert_line(entry.task, _LABEL) if entry.task else ""
    agent = f"({inert_line(entry.agent, _LABEL)})" if entry.agent else ""
    return " ".join(part for part in (task, agent) if part)


def moment_text(at: datetime, today: datetime, tz: tzinfo | None = None) -> str:
    """Time of day in ``tz`` (local by default); the date too when it is not today's."""
    local = at.astimezone(tz)
    if local.date() == today.astimezone(tz).date():
        return local.strftime("%H:%M:%S")
    return local.strftime("%m-%d %H:%M:%S")


def line_parts(
    entry: LogEntry, today: datetime, tz: tzinfo | None = None
) -> tuple[str, str, str, str, str, str]:
    """The columns of an entry's line, each inert: time, crew, short id, kind, label, text."""
    return (
        moment_text(entry.at, today, tz),
        crew_cell(entry.crew, 16),
        inert_line(entry.short_id),
        entry.kind,
        label(entry),
        inert_line(entry.text, _LINE_TEXT),
    )


# How a terminal line shows a column: ``paint(column, text)``, the column being "moment"
# or "kind" (the CLI colours those on a terminal); the text is already inert.
Paint = Callable[[str, str], str]


def _unpainted(_column: str, text: str) -> str:
    return text


def plain_line(entry: LogEntry, today: datetime, paint: Paint = _unpainted) -> str:
    """``14:02:11  content  5f1c2d3e  task     research (Researcher)  completed in 2.1s``."""
    moment, crew, short_id, kind, labelled, text = line_parts(entry, today)
    columns = [paint("moment", moment), f"{crew:<12}", short_id, paint("kind", f"{kind:<7}")]
    if labelled:
        columns.append(labelled)
    columns.append(text)
    return "  ".join(columns)


# -- --since -------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: datetime) -> datetime:
    """``10m``, ``2h``, ``1h30m``, ``3d`` ago, or an ISO time (local when it names no zone).

    Raises ValueError with the sentence to show."""
    given = text.strip()
    pieces = _DURATION.findall(given)
    if pieces and "".join(number + unit for number, unit in pieces) == given:
        seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in pieces)
        return now - timedelta(seconds=seconds)
    try:
        moment = datetime.fromisoformat(given)
    except ValueError:
        raise ValueError(
            f"{inert_line(text, 40)!r} is neither a duration (10m, 2h, 1d) nor a time "
            "(2026-12-01T14:00 or 2026-12-01 14:00+00:00)"
        ) from None
    return moment if moment.tzinfo is not None else moment.astimezone()
