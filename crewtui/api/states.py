"""The names a run's state is said in: plain enums and literals, no pydantic.

Split from ``crewtui.api.models`` so that what only needs a state's name (the command
line's choices, the list's rows, the store's queries) does not build the wire models'
schemas. Import them from here: ``crewtui.api.models`` uses them and re-exports none.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class RunState(StrEnum):
    """The normalized state of a kickoff (the API contract mapping table)."""

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NOT_FOUND = "not_found"
    LOST = "lost"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        """A terminal kickoff is never polled again."""
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED, RunState.LOST}
)


# What kind of deployment a run belongs to: a crew (its units are tasks) or a flow (its
# units are methods, and reusing its id restarts an ended run). Seen, never configured.
RunKind = Literal["crew", "flow"]


class Dialect(StrEnum):
    """Which form of the API a response came in; detected per response, never configured."""

    DOCUMENTED = "documented"
    LIVE = "live"


class TaskState(StrEnum):
    """Where one task of a run is, as far as crewtui has seen."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class Submission(StrEnum):
    """How far the POST /kickoff that created a kickoff got.

    A kickoff is written to the store as ``sending`` before the request leaves, so that an
    answer lost on the way shows up as ``uncertain`` ("may have started") instead of vanishing.
    """

    SENDING = "sending"
    ACCEPTED = "accepted"
    UNCERTAIN = "uncertain"


# crewtui asked the service to stop the run ("sent": the row says "cancelling…") and the
# service said it stopped it ("confirmed": the run stays cancelled, "stopped by you").
CancelRequest = Literal["sent", "confirmed"]


# The kind of an agent's thought/action step (a step webhook, a live ``last_step``); the
# batched events form names its events by their crewai type instead.
AGENT_STEP = "step"


# What a kickoff asks the service to push: the batched crewai events (``events``) or the three
# classic per-kind URLs (``classic``); see ``[webhooks] form`` in the config (which reads it
# without the push parsers and the models behind them).
WebhookForm = Literal["events", "classic"]
