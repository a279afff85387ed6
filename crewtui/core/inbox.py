"""The inbox: every run that waits for a person, oldest wait first.

A run waits when it is paused (a crew's task waiting for approval, or a flow's
human-in-the-loop request, which the tracker records as a pause naming the request) and
nobody has answered or cancelled it yet. Archived runs are left out, as they are of the list.
The app's inbox (``i``), its count in the status line and the terminal title, and
``crewtui inbox`` all read it from here, so they always agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias

from crewtui.api.rows import KickoffSummary
from crewtui.api.sanitize import inert_line
from crewtui.api.states import RunState
from crewtui.core.format import format_duration, sentence, waiting_line
from crewtui.core.history import History

if TYPE_CHECKING:
    from crewtui.api.models import Kickoff

# A string: the full model is a type here, never imported at run time.
Run: TypeAlias = "Kickoff | KickoffSummary"


def is_waiting(run: Run) -> bool:
    """Whether ``run`` belongs in the inbox: paused, and nobody answered it (the service
    continues an answered crew under a new id), cancelled it or archived it."""
    return (
        run.state is RunState.PAUSED
        and run.continues is None
        and run.cancel_request is None
        and not run.archived
    )


def waiting_since(run: Run) -> datetime:
    """When the run began to wait: what the pause said, else its last change."""
    return run.waiting_for.since if run.waiting_for is not None else run.updated_at


def waiting_runs(store: History, crew: str | None = None) -> list[KickoffSummary]:
    """Every run of the history (of ``crew``, if named) that waits for a person, the one
    waiting longest first."""
    paused = store.list_kickoffs(crew=crew, states=[RunState.PAUSED], archived=False)
    return sorted((row for row in paused if is_waiting(row)), key=waiting_since)


def what_it_asks(run: Run) -> str:
    """One inert sentence: which task or request waits, and what the service said."""
    if run.waiting_for is None:
        return "Paused; the service did not say what it waits for."
    line = waiting_line(run.waiting_for)
    return sentence(line[:1].upper() + line[1:])


def who_waits(run: Run) -> str:
    """``research 5f1c2d3e``: the crew and the short id (inert)."""
    return f"{inert_line(run.crew, 24)} {inert_line(run.kickoff_id[:8])}"


def waited(run: Run, now: datetime) -> str:
    """How long the run has waited, as people read it (``4m12s``)."""
    return format_duration(max(0.0, (now - waiting_since(run)).total_seconds()))


def inbox_line(run: Run, now: datetime) -> str:
    """``research 5f1c2d3e  waiting 4m12s  Waits for input on review: Approve?`` (inert)."""
    return f"{who_waits(run)}  waiting {waited(run, now)}  {what_it_asks(run)}"


class Inbox:
    """The waiting runs as events change them: a count for the status line and the title,
    rows for the inbox view. Fed the history's list once, then every changed run."""

    def __init__(self) -> None:
        self._runs: dict[str, KickoffSummary] = {}

    def load(self, runs: list[KickoffSummary]) -> None:
        """Start from the history's list (``waiting_runs``)."""
        self._runs = {run.kickoff_id: run for run in runs}

    def apply(self, run: KickoffSummary) -> bool:
        """Take a changed run in or out; whether the inbox changed."""
        known = self._runs.get(run.kickoff_id)
        if is_waiting(run):
            self._runs[run.kickoff_id] = run
            return known != run
        return self._runs.pop(run.kickoff_id, None) is not None

    def forget(self, kickoff_id: str) -> bool:
        """A run deleted from the history; whether it was waiting."""
        return self._runs.pop(kickoff_id, None) is not None

    def rows(self) -> list[KickoffSummary]:
        """The waiting runs, the one waiting longest first."""
        return sorted(self._runs.values(), key=waiting_since)

    def __len__(self) -> int:
        return len(self._runs)


def count_words(count: int) -> str:
    """``2 waiting``, or empty when none is: the status line's and the title's words."""
    return f"{count} waiting" if count else ""
