"""The history list's rows, and the small values a row and a kickoff share: plain slotted
dataclasses, no pydantic.

The app's first frame shows a page of these, read straight from the history's rows; it
must not wait for the wire models' schemas (``crewtui.api.models``, which uses
``Progress``, ``Usage`` and ``WaitingFor`` as its fields' types: pydantic validates and
dumps standard dataclasses like its own models). A row is checked field by field as it is
read (:meth:`KickoffSummary.from_values`): a value of the wrong type is refused, and the
store reads the row with that field's default, as it does for a full kickoff.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar

from crewtui.api.states import CancelRequest, RunKind, RunState, Submission

T = TypeVar("T")
Reader = Callable[[Any], Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    """How many tasks (or steps) of the run are done, when the service says."""

    completed: int | None = None
    total: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """Tokens and LLM calls, as the service counted them (crewai's UsageMetrics).

    Each field is None when no source said it: an unknown count is never 0. A report is a
    running total, not an increment (see ``crewtui.core.calls.merge_usage``).
    """

    total_tokens: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_prompt_tokens: int | None = None
    reasoning_tokens: int | None = None
    # The number of LLM calls that answered.
    successful_requests: int | None = None


USAGE_FIELDS = tuple(part.name for part in fields(Usage))


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitingFor:
    """A run paused for a person: whose output awaits an answer (POST /resume's task_id).

    ``task_id`` is None when the service paused without saying which task waits.
    ``request_id`` names a flow's human-in-the-loop request: such a wait is answered through
    the request's callback, not POST /resume.
    """

    task_id: str | None = None
    agent: str | None = None
    message: str | None = None
    since: datetime
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class KickoffSummary:
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
    tracked_at: datetime | None = None
    execution_time: float | None = None
    archived: bool = False
    submission: Submission = Submission.ACCEPTED
    error: str | None = None
    task_count: int = 0
    # What the run was started with: small, and what tells runs of one crew apart.
    inputs: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    waiting_for: WaitingFor | None = None
    usage: Usage | None = None
    cancel_request: CancelRequest | None = None
    cancelled_by: str | None = None
    continues: str | None = None
    continued_from: str | None = None
    kind: RunKind = "crew"
    restarts: int = 0
    # When the current task was first seen running (the stall rule's clock), from its task.
    task_started_at: datetime | None = None

    @classmethod
    def from_values(
        cls, values: Mapping[str, Any], stand_ins: Mapping[str, Any]
    ) -> tuple[KickoffSummary | None, set[str]]:
        """A row from the history's decoded values, and the fields it refused.

        A refused value (or a required one missing) takes its stand-in, else its default;
        a row whose required field has neither is beyond repair (None). Unknown names are
        ignored.
        """
        checked: dict[str, Any] = {}
        refused: set[str] = set()
        for name, read in _SUMMARY_READERS.items():
            if name not in values:
                continue
            try:
                checked[name] = read(values[name])
            except (ValueError, TypeError):
                refused.add(name)
        missing = {name for name in _REQUIRED if name not in checked}
        for name in refused | missing:
            if name in stand_ins:
                checked[name] = stand_ins[name]
        if not checked.keys() >= _REQUIRED:
            return None, refused | (missing - stand_ins.keys())
        return cls(**checked), refused | (missing & stand_ins.keys())


SUMMARY_FIELDS = tuple(part.name for part in fields(KickoffSummary))
_REQUIRED = frozenset(
    part.name
    for part in fields(KickoffSummary)
    if part.default is MISSING and part.default_factory is MISSING
)


# -- checking a row's values, as pydantic's lax mode would --------------------------------


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not text")
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError("not a number")
    if isinstance(value, int):
        return value
    number = float(value)
    if not number.is_integer():
        raise ValueError("not a whole number")
    return int(number)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError("not a number")
    return float(value)


_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise ValueError("not a flag")


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(_text(value))


def _choice(*allowed: str) -> Reader:
    def read(value: Any) -> str:
        if value not in allowed:
            raise ValueError("not one of the allowed values")
        return str(value)

    return read


def _optional(read: Reader) -> Reader:
    return lambda value: None if value is None else read(value)


def _mapping(read_value: Reader) -> Reader:
    def read(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise TypeError("not a mapping")
        return {_text(key): read_value(item) for key, item in value.items()}

    return read


def _record(kind: Callable[..., T], readers: Mapping[str, Reader]) -> Callable[[Any], T]:
    """A nested value (a JSON object) as ``kind``; unknown keys are ignored."""

    def read(value: Any) -> T:
        if not isinstance(value, dict):
            raise TypeError("not a mapping")
        return kind(
            **{name: readers[name](item) for name, item in value.items() if name in readers}
        )

    return read


_OPTIONAL_TEXT = _optional(_text)
_OPTIONAL_INT = _optional(_integer)
_OPTIONAL_MOMENT = _optional(_moment)
_PROGRESS = _record(Progress, {"completed": _OPTIONAL_INT, "total": _OPTIONAL_INT})
_USAGE = _record(Usage, dict.fromkeys(USAGE_FIELDS, _OPTIONAL_INT))
_WAITING_FOR = _record(
    WaitingFor,
    {
        "since": _moment,
        **dict.fromkeys(("task_id", "agent", "message", "request_id"), _OPTIONAL_TEXT),
    },
)
_SUMMARY_READERS: dict[str, Reader] = {
    "kickoff_id": _text,
    "crew": _text,
    "state": RunState,
    "created_at": _moment,
    "updated_at": _moment,
    "current_task": _OPTIONAL_TEXT,
    "progress": _optional(_PROGRESS),
    "started_at": _OPTIONAL_MOMENT,
    "finished_at": _OPTIONAL_MOMENT,
    "tracked_at": _OPTIONAL_MOMENT,
    "execution_time": _optional(_number),
    "archived": _flag,
    "submission": Submission,
    "error": _OPTIONAL_TEXT,
    "task_count": _integer,
    "inputs": _mapping(_text),
    "meta": _mapping(lambda item: item),
    "waiting_for": _optional(_WAITING_FOR),
    "usage": _optional(_USAGE),
    "cancel_request": _optional(_choice("sent", "confirmed")),
    "cancelled_by": _OPTIONAL_TEXT,
    "continues": _OPTIONAL_TEXT,
    "continued_from": _OPTIONAL_TEXT,
    "kind": _choice("crew", "flow"),
    "restarts": _integer,
    "task_started_at": _OPTIONAL_MOMENT,
}
assert _SUMMARY_READERS.keys() == set(SUMMARY_FIELDS)  # every field has its check
