"""The normalized model crewtui prints, whatever dialect the service spoke.

``KickoffStatus`` is exactly the JSON of the README's "The normalized status", what
``crewtui status --json`` prints and scripts rely on. ``Kickoff`` adds what only crewtui
knows (inputs, meta, timestamps, archive flag). ``Observation`` is one fact learnt about a
kickoff, from a poll, a webhook or the kickoff answer; the tracker merges observations into
kickoffs (see ``crewtui.core.merge``).
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from crewtui.api.rows import Progress, Usage, WaitingFor
from crewtui.api.states import (
    AGENT_STEP,
    CancelRequest,
    Dialect,
    RunKind,
    RunState,
    Submission,
    TaskState,
)


def _schema_built_once(*kinds: type) -> None:
    """Give each plain dataclass its pydantic schema, built once.

    pydantic reuses a dataclass's ``__pydantic_core_schema__``; without one it builds the
    dataclass's schema again for every model field that names it (``Usage`` is named by
    six). Measured (CPU, pydantic already imported): this module took 23-24 ms with
    pydantic sub-models, 29-34 ms with plain dataclasses, 26-28 ms with this.
    """
    for kind in kinds:
        setattr(kind, "__pydantic_core_schema__", TypeAdapter(kind).core_schema)  # noqa: B010


_schema_built_once(Progress, Usage, WaitingFor)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=False)


class LlmCall(_Model):
    """One LLM call's usage (an ``llm_call_completed`` event): what per-task tokens sum.

    ``call_id`` is the event's identity, so a call delivered twice is counted once.
    """

    call_id: str
    task_id: str | None = None
    model: str | None = None
    usage: Usage
    # When the call completed (its event's time): a run keeps its newest calls only.
    at: datetime | None = None


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
    # The sum of the task's LLM calls seen so far; None when none was seen.
    usage: Usage | None = None


def _normalized(text: str | None) -> str | None:
    """Text as the same step reads through any channel: NFC, LF line ends, no outer blanks."""
    if text is None:
        return None
    folded = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return folded.strip() or None


def _normalized_input(text: str | None) -> str | None:
    """A tool input that is JSON (an object sent as text by one channel, as an object by
    another) compares by its value, not its spacing or key order."""
    normalized = _normalized(text)
    if normalized is None or normalized[0] not in "[{":
        return normalized
    try:
        value = json.loads(normalized)
    except (ValueError, RecursionError):
        return normalized
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


class Step(_Model):
    """One agent step (thought, tool call) or crew event pushed by a webhook or a poll.

    The same agent step reaches crewtui through several channels: the live poll's
    ``last_step`` (on every poll until the next step) and the step webhook. Those copies
    differ in everything but the step itself (the webhook adds ``prompt``, ``kickoff_id``
    and ``meta``; each channel stamps its own arrival), so a step's identity is its content,
    not its payload: see :attr:`key`.
    """

    kickoff_id: str
    received_at: datetime
    kind: str = AGENT_STEP
    thought: str | None = None
    tool: str | None = None
    tool_input: str | None = None
    result: str | None = None
    # Ordering hint from the batched events form (``data.emission_sequence``).
    sequence: int | None = None
    raw: Any = None

    @property
    def key(self) -> str:
        """The step's identity: one key per step, whichever channels brought it, how often.

        An agent step is what the agent thought and did (kickoff, thought, tool, input,
        result, normalized); an event of the batched form is its own ``id`` when it has one
        (two identical tool calls are two events), else its whole payload. Arrival times and
        delivery envelopes never count: they are what differs between channels.
        """
        identity: list[Any] = [self.kickoff_id, self.kind]
        event_id = self.raw.get("id") if isinstance(self.raw, dict) else None
        content = [
            _normalized(self.thought),
            _normalized(self.tool),
            _normalized_input(self.tool_input),
            _normalized(self.result),
        ]
        if self.kind == AGENT_STEP and any(part is not None for part in content):
            identity += content
        elif isinstance(event_id, str) and event_id:
            identity.append(event_id)
        else:
            identity.append(self.raw)
        canonical = json.dumps(identity, sort_keys=True, ensure_ascii=True, default=str)
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:32]


class SentWebhooks(_Model):
    """The classic webhook URLs a kickoff was sent with: POST /resume must send them again.

    A URL may hold a receiver's secret path, so they stay in the history (a private file)
    and are never printed, exported or shown in a repr.
    """

    task: str | None = None
    step: str | None = None
    crew: str | None = None

    def __repr__(self) -> str:
        return "SentWebhooks(<secret>)"


ObservationSource = Literal["poll", "webhook", "kickoff"]

# Where a payload about a kickoff came from: the Raw tab and ``raw_by_source`` keep the last
# one of each, since a poll, the kickoff answer and each kind of webhook say different things.
PayloadSource = Literal[
    "poll", "kickoff", "task webhook", "step webhook", "crew webhook", "events webhook"
]


class Payload(_Model):
    """The last payload one source sent about a kickoff, as received.

    ``received_at`` is when that body first arrived: a poll that repeats the same body does
    not move it (nor make the kickoff change).
    """

    source: PayloadSource
    received_at: datetime
    body: Any = None


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
    # When the run began, as the service says (the live progress); never an arrival time.
    started_at: datetime | None = None
    dialect: Dialect | None = None
    # A run-level usage report (crew webhook, crew_kickoff_completed, usage_metrics), the
    # LLM calls an event reported, and the model the service named.
    usage: Usage | None = None
    llm_calls: list[LlmCall] = Field(default_factory=list)
    model: str | None = None
    raw: Any = None
    # Which source ``raw`` is the last payload of; a fact read out of a larger push (one
    # event of a batch) has none: the push's whole body is recorded once, on its own.
    channel: PayloadSource | None = None
    # A push saying the run now waits for a person (``human_feedback_requested``).
    waiting_for: WaitingFor | None = None
    # "flow" when the source shows a flow (its events, a live status counting steps).
    kind: RunKind | None = None
    # Said by a crew's own kickoff event (``crew_kickoff_*``): in a flow's run, that is a
    # crew one of its methods ran, not the run.
    crew_event: bool = False


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
    "started_at",
    "finished_at",
    "tracked_at",
    "dialect",
    "raw",
    "raw_by_source",
    "waiting_for",
    "usage",
    "model",
    "continues",
    "continued_from",
    "kind",
    "restarts",
    "restarted_at",
    "earlier_attempts",
)


class Attempt(_Model):
    """An earlier attempt of a restarted flow run, as it stood when the run started over:
    the service overwrote it, crewtui keeps it."""

    state: RunState
    started_at: datetime | None = None
    finished_at: datetime | None = None
    output: str | None = None
    error: str | None = None
    execution_time: float | None = None
    tasks: list[TaskResult] = Field(default_factory=list)
    usage: Usage | None = None


class KickoffStatus(_Model):
    """The normalized status, as ``status --json`` emits it: the contract's fields, plus
    what a script needs to tell known from unknown (``started_at``, ``finished_at``,
    ``tracked_at``), every source's last payload (``raw_by_source``) and, for a paused run,
    the task that waits for a person (``waiting_for``)."""

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
    # When the run began and ended, as far as known; ``None`` is "not known", never guessed.
    # A run crewtui sent began when it was sent. A tracked run (started elsewhere, adopted
    # with ``track``) began when the service says; until it says, nobody here knows.
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # When crewtui began following a run it did not start; ``None`` for runs it sent.
    tracked_at: datetime | None = None
    dialect: Dialect | None = None
    # The last polled payload (what ``raw`` always was), and the last payload of every
    # source, newest first.
    raw: Any = None
    raw_by_source: list[Payload] = Field(default_factory=list)
    waiting_for: WaitingFor | None = None
    # Tokens and LLM calls of the whole run, as far as any source said, and the LLM the
    # run used as its LLM call events named it (null: no event said; polls never do).
    usage: Usage | None = None
    model: str | None = None
    # An answered pause the service continued under a new kickoff id links the two runs.
    continues: str | None = None
    continued_from: str | None = None
    # A flow's tasks are its methods. A flow execution started again under the same id
    # (``inputs.id`` reused) counts its restarts and keeps the attempts before the current.
    kind: RunKind = "crew"
    restarts: int = 0
    restarted_at: datetime | None = None
    earlier_attempts: list[Attempt] = Field(default_factory=list)


class Kickoff(KickoffStatus):
    """A tracked kickoff: the normalized status plus what only crewtui knows."""

    inputs: dict[str, str] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)
    # When the kickoff entered the history (sent, or tracked) and last changed.
    created_at: datetime
    updated_at: datetime
    archived: bool = False
    submission: Submission = Submission.ACCEPTED
    # The live service's message ("Task is Running"), and the agent of the current task.
    message: str | None = None
    current_agent: str | None = None
    # Since when the service has answered NOT FOUND; after the grace period the run is lost.
    not_found_since: datetime | None = None
    # Why the last poll failed, while it keeps failing (rows show it as stale data).
    poll_error: str | None = None
    # The LLM the run used, as the service named it (for the cost estimate); per task, the
    # sum of its distinct LLM calls ("" for calls no task claimed), and the newest calls,
    # whose ids tell a repeated delivery (see crewtui.core.calls).
    model: str | None = None
    call_usage: dict[str, Usage] = Field(default_factory=dict)
    llm_calls: list[LlmCall] = Field(default_factory=list)
    cancel_request: CancelRequest | None = None
    # Who asked crewtui to stop it (``user@host``): a shared history says "stopped by" them.
    cancelled_by: str | None = None
    # When crewtui answered a flow's human-in-the-loop request of this run: until the run is
    # seen going again, a poll still saying PAUSED is the flow not yet resumed, not a wait.
    hitl_answered_at: datetime | None = None
    # Sent again with an answer to a pause; the store keeps them, nothing else shows them.
    webhooks: SentWebhooks | None = Field(default=None, exclude=True, repr=False)

    def to_status(self) -> KickoffStatus:
        """The contract's normalized status of this kickoff (what scripts get)."""
        return KickoffStatus.model_validate({name: getattr(self, name) for name in STATUS_FIELDS})

    @property
    def is_terminal(self) -> bool:
        return self.state.is_terminal

    @property
    def short_id(self) -> str:
        return self.kickoff_id[:8]
