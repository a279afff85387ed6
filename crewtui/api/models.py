"""The normalized model crewtui prints, whatever dialect the service spoke.

``KickoffStatus`` is exactly the JSON of CONTRACT.md "crewtui's normalized status", what
``crewtui status --json`` prints and scripts rely on. ``Kickoff`` adds what only crewtui
knows (inputs, meta, timestamps, archive flag). ``Observation`` is one fact learnt about a
kickoff, from a poll, a webhook or the kickoff answer; the tracker merges observations into
kickoffs (see ``crewtui.core.merge``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class RunState(StrEnum):
    """The normalized state of a kickoff (CONTRACT.md mapping table)."""

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


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=False)


class Progress(_Model):
    """How many tasks (or steps) of the run are done, when the service says."""

    completed: int | None = None
    total: int | None = None


class TaskResult(_Model):
    """One task of a run, accumulated across polls and webhooks."""

    task_id: str
    agent: str | None = None
    output: str | None = None
    execution_time: float | None = None
    state: TaskState = TaskState.COMPLETED
    # When crewtui saw the task start and finish (observed, not the service's figures).
    started_at: datetime | None = None
    finished_at: datetime | None = None


class Step(_Model):
    """One agent step (thought, tool call) or crew event pushed by a webhook or a poll."""

    kickoff_id: str
    received_at: datetime
    kind: str = "step"
    thought: str | None = None
    tool: str | None = None
    tool_input: str | None = None
    result: str | None = None
    # Ordering hint from the batched events form (``data.emission_sequence``).
    sequence: int | None = None
    raw: Any = None

    @property
    def key(self) -> str:
        """A content key that makes storing the same step twice a no-op (webhooks repeat)."""
        canonical = json.dumps(
            [self.kickoff_id, self.kind, self.raw], sort_keys=True, ensure_ascii=True, default=str
        )
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:32]


ObservationSource = Literal["poll", "webhook", "kickoff"]


class Observation(_Model):
    """What one response or one webhook said about one kickoff.

    ``None`` means "this source said nothing about it", never "it is empty".
    """

    kickoff_id: str
    observed_at: datetime
    source: ObservationSource = "poll"
    state: RunState | None = None
    message: str | None = None
    current_task: str | None = None
    current_agent: str | None = None
    progress: Progress | None = None
    output: str | None = None
    output_json: Any = None
    tasks: list[TaskResult] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    error: str | None = None
    execution_time: float | None = None
    dialect: Dialect | None = None
    raw: Any = None


STATUS_FIELDS = (
    "kickoff_id",
    "crew",
    "state",
    "current_task",
    "progress",
    "output",
    "output_json",
    "tasks",
    "error",
    "execution_time",
    "dialect",
    "raw",
)


class KickoffStatus(_Model):
    """The normalized status, as CONTRACT.md prints it and ``status --json`` emits it."""

    kickoff_id: str
    crew: str
    state: RunState = RunState.PENDING
    current_task: str | None = None
    progress: Progress | None = None
    output: str | None = None
    output_json: Any = None
    tasks: list[TaskResult] = Field(default_factory=list)
    error: str | None = None
    execution_time: float | None = None
    dialect: Dialect | None = None
    raw: Any = None


class Kickoff(KickoffStatus):
    """A tracked kickoff: the normalized status plus what only crewtui knows."""

    inputs: dict[str, str] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    # When crewtui first and last saw it active; used for elapsed time and the timeline.
    started_at: datetime | None = None
    finished_at: datetime | None = None
    archived: bool = False
    submission: Submission = Submission.ACCEPTED
    # The live service's message ("Task is Running"), and the agent of the current task.
    message: str | None = None
    current_agent: str | None = None
    # Since when the service has answered NOT FOUND; after the grace period the run is lost.
    not_found_since: datetime | None = None
    # Why the last poll failed, while it keeps failing (rows show it as stale data).
    poll_error: str | None = None

    def to_status(self) -> KickoffStatus:
        """The contract's normalized status of this kickoff (what scripts get)."""
        return KickoffStatus.model_validate({name: getattr(self, name) for name in STATUS_FIELDS})

    @property
    def is_terminal(self) -> bool:
        return self.state.is_terminal

    @property
    def short_id(self) -> str:
        return self.kickoff_id[:8]


class KickoffSummary(_Model):
    """A row of the history list: what the list shows, without outputs or raw payloads.

    Listing 10,000 kickoffs must not read 10,000 outputs.
    """

    kickoff_id: str
    crew: str
    state: RunState
    current_task: str | None = None
    progress: Progress | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    execution_time: float | None = None
    archived: bool = False
    submission: Submission = Submission.ACCEPTED
    error: str | None = None
    task_count: int = 0
    # What the run was started with: small, and what tells runs of one crew apart.
    inputs: dict[str, str] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)
