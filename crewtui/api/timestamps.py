"""Timestamps from the wire, checked before anything stores or compares them.

A service or a webhook sender may send any text as a time. Python parses ``"0999-01-01"``,
but ``strftime("%Y")`` writes that year without its leading zero on Linux and
``fromisoformat`` then refuses what was written: one such event once made a whole history
unreadable. So every time read from a body goes through :func:`wire_time`, which accepts
only what crewtui can store and read back: an ISO-8601 time whose UTC year is between 1000
and 9999. Anything else is dropped with a logged note, and the caller uses its own clock.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from crewtui.api.sanitize import inert_line

log = logging.getLogger(__name__)

EARLIEST_YEAR = 1000
LATEST_YEAR = 9999
# How much of a refused value the log note quotes.
_QUOTED = 40


def wire_time(value: Any) -> datetime | None:
    """``value`` as an aware UTC datetime if it is a usable ISO-8601 time, else None.

    No zone means UTC. Absent values are None silently; present but unusable ones (garbage,
    a year outside 1000-9999 once in UTC, a zone that overflows) are None with a note.
    """
    if value is None or value == "":
        return None
    stamp = _parse(value)
    if stamp is None or not _storable(stamp):
        quoted = inert_line(repr(value), _QUOTED)
        log.info("ignored an unusable timestamp from the wire: %s", quoted)
        return None
    return stamp


def wire_derived_time(moment: datetime, back: float) -> datetime | None:
    """``moment`` minus ``back`` seconds (a duration the service reported), if usable.

    A huge duration gives a time before year 1000 or no time at all: None, with a note.
    """
    try:
        stamp: datetime | None = (moment - timedelta(seconds=back)).astimezone(UTC)
    except (OverflowError, ValueError):
        stamp = None
    if stamp is None or not _storable(stamp):
        log.info("ignored a duration from the wire that starts out of range: %r s", back)
        return None
    return stamp


def event_time(value: Any, received_at: datetime) -> datetime:
    """When something happened: its own usable timestamp, never after it arrived.

    ``received_at`` (timezone-aware) stands in for a missing or unusable timestamp, and caps
    one from the future, so merged times always compare, subtract and store.
    """
    stamp = wire_time(value)
    return received_at if stamp is None else min(stamp, received_at)


def _storable(stamp: datetime) -> bool:
    return EARLIEST_YEAR <= stamp.year <= LATEST_YEAR


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return stamp.astimezone(UTC) if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None
