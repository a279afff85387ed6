"""``crewtui serve``'s log: one line per record on stderr, as text or as JSON lines.

A service's log is read by people (``journalctl -u crewtui``) and by log shippers, so each
record is one line: text by default (``TS LEVEL LOGGER: MESSAGE key=value ...``), or one
JSON object per line with ``--log-format json`` (``ts``, ``level``, ``logger``,
``message``, and the fields known, such as ``crew``, ``kickoff_id``, ``state``). Tokens
are blanked in both (``crewtui.api.redact``). Text from a crew is made inert in text
lines (``crewtui.api.sanitize``); JSON escapes it.

What the log says about runs comes from the tracker's events, each said once
(``EventLog``): a run's state change, a crew's health change, a poll error of one run
while its crew otherwise answers. The tracker logs a history trouble itself, once per
new reason.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from crewtui.api.redact import redact
from crewtui.api.sanitize import inert_line
from crewtui.api.states import RunState
from crewtui.core.tracker import Tracker
from crewtui.core.tracker_events import (
    CrewHealth,
    CrewHealthChanged,
    HealthState,
    KickoffChanged,
    LeaseChanged,
    TrackerEvent,
)

if TYPE_CHECKING:
    from crewtui.api.models import Kickoff

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")

# The attribute of a record that holds its structured fields (see ``fields``).
_FIELDS = "crewtui_fields"
# Libraries whose INFO lines are one per request, with URLs: only their warnings are news.
_CHATTY_LIBRARIES = ("httpx", "httpcore", "asyncio")
# A message from a crew is cut here in a log line.
_TEXT_LIMIT = 500


def fields(**values: object) -> dict[str, object]:
    """The ``extra=`` of a log call that gives the record structured fields."""
    return {_FIELDS: {name: value for name, value in values.items() if value is not None}}


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fields_of(record: logging.LogRecord) -> Mapping[str, object]:
    found = getattr(record, _FIELDS, None)
    return found if isinstance(found, Mapping) else {}


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record, every string redacted before it is written."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        # The caller's list, not a copy: tokens learnt later are blanked too.
        self._secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in _fields_of(record).items():
            entry.setdefault(name, value)
        trace = self._trace(record)
        if trace:
            entry["error"] = trace
        clean = {name: self._clean(value) for name, value in entry.items()}
        return json.dumps(clean, ensure_ascii=True, default=str)

    def _trace(self, record: logging.LogRecord) -> str | None:
        if record.exc_text:
            return record.exc_text
        if record.exc_info:
            return self.formatException(record.exc_info)
        return None

    def _clean(self, value: object) -> object:
        if isinstance(value, str):
            return redact(value, self._secrets)
        if isinstance(value, int | float | bool) or value is None:
            return value
        return redact(str(value), self._secrets)


class TextLineFormatter(logging.Formatter):
    """``TS LEVEL LOGGER: MESSAGE key=value``: inert, redacted, one line (a traceback after)."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self._secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            _timestamp(record),
            record.levelname,
            f"{record.name}:",
            inert_line(record.getMessage(), _TEXT_LIMIT * 4),
        ]
        parts += [f"{name}={_text_value(value)}" for name, value in _fields_of(record).items()]
        line = " ".join(parts)
        trace = record.exc_text or (
            self.formatException(record.exc_info) if record.exc_info else None
        )
        if trace:
            line += "\n" + trace
        return redact(line, self._secrets)


def _text_value(value: object) -> str:
    """A field's value in a text line; quoted when it holds a space, a quote or ``=``."""
    text = inert_line(str(value), _TEXT_LIMIT)
    if text and not any(char in text for char in ' "='):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def configure(log_format: LogFormat, secrets: Sequence[str]) -> None:
    """Every log record, crewtui's and the libraries', to stderr in ``log_format``."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonLineFormatter(secrets))
    else:
        handler.setFormatter(TextLineFormatter(secrets))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in _CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)


_HEALTH_LEVELS: dict[HealthState, int] = {
    "ok": logging.INFO,
    "unknown": logging.INFO,
    "unreachable": logging.WARNING,
    "token_rejected": logging.ERROR,
}


class EventLog:
    """The tracker's events as log lines, each fact said once.

    A run's line is written when its state differs from the last one logged for it, so
    the many events of a run moving through its tasks make one line per state. A poll
    error of a run is logged when it changes, and only while its crew otherwise answers:
    when the crew is down, its health line says so once for all of its runs.
    """

    def __init__(self, tracker: Tracker, logger: logging.Logger) -> None:
        self._tracker = tracker
        self._log = logger
        self._states: dict[str, RunState] = {}
        self._poll_errors: dict[str, str] = {}
        self._health: dict[str, HealthState] = {}

    def __call__(self, event: TrackerEvent) -> None:
        if isinstance(event, KickoffChanged):
            self._kickoff(event.kickoff, event.previous)
        elif isinstance(event, CrewHealthChanged):
            self._crew(event.health)
        elif isinstance(event, LeaseChanged):
            self._lease(event)

    def _kickoff(self, kickoff: Kickoff, previous: RunState | None) -> None:
        kickoff_id = kickoff.kickoff_id
        logged = self._states.get(kickoff_id)
        if logged is not kickoff.state:
            self._states[kickoff_id] = kickoff.state
            before = logged or previous
            run = f"kickoff {kickoff.short_id} of {kickoff.crew}"
            if before is not None and before is not kickoff.state:
                said = f"{run}: {before.value} → {kickoff.state.value}"
            elif kickoff.is_terminal:  # a run another process wrote, already over
                said = f"{run}: {kickoff.state.value}"
            else:
                said = f"following {run} ({kickoff.state.value})"
            level = logging.WARNING if kickoff.state in _TROUBLED else logging.INFO
            self._log.log(
                level,
                "%s",
                said,
                extra=fields(
                    crew=kickoff.crew,
                    kickoff_id=kickoff_id,
                    state=kickoff.state.value,
                    previous=before.value if before is not None else None,
                    error=kickoff.error if kickoff.is_terminal else None,
                ),
            )
        self._poll_error(kickoff)

    def _poll_error(self, kickoff: Kickoff) -> None:
        kickoff_id = kickoff.kickoff_id
        error = kickoff.poll_error
        if error == self._poll_errors.get(kickoff_id):
            return
        if error is None:
            self._poll_errors.pop(kickoff_id, None)
            return
        self._poll_errors[kickoff_id] = error
        known = kickoff.crew in self._tracker.crews
        if known and self._tracker.health(kickoff.crew).state in _CREW_DOWN:
            return
        self._log.warning(
            "polls of kickoff %s fail: %s",
            kickoff.short_id,
            error,
            extra=fields(crew=kickoff.crew, kickoff_id=kickoff_id, state=kickoff.state.value),
        )

    def _crew(self, health: CrewHealth) -> None:
        before = self._health.get(health.crew, "unknown")
        if health.state == before:
            return
        self._health[health.crew] = health.state
        if health.state == "ok":
            message = f"crew {health.crew} answers"
        else:
            message = health.message or f"crew {health.crew} is {health.state}"
        self._log.log(
            _HEALTH_LEVELS[health.state],
            "%s",
            message,
            extra=fields(crew=health.crew, health=health.state, previous=before),
        )

    def _lease(self, event: LeaseChanged) -> None:
        """Who polls a crew for the history: this process, another (it views), or none."""
        if event.held:
            message = f"polling crew {event.crew} for the history (this process holds its lease)"
        elif event.poller is not None:
            message = f"viewing crew {event.crew}: {event.poller} polls it for the history"
        else:
            message = f"crew {event.crew}: no process polls it for the history now"
        lease = "held" if event.held else "viewing"
        extra = fields(crew=event.crew, lease=lease, poller=event.poller)
        self._log.info("%s", message, extra=extra)


_TROUBLED = frozenset({RunState.FAILED, RunState.LOST, RunState.NOT_FOUND})
_CREW_DOWN: frozenset[HealthState] = frozenset({"unreachable", "token_rejected"})
