"""What the tracker tells its listeners (``Tracker.listen``) and a crew's health.

Apart from the tracker so that its listeners (the app, its run log, the status line) can
name them without importing the tracker, which brings the HTTP client, the wire dialects and
the models: the app's first frame needs none of those. No Textual import here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from crewtui.api.states import RunState

if TYPE_CHECKING:
    from crewtui.api.models import Kickoff, Step

HealthState = Literal["ok", "token_rejected", "unreachable", "unknown"]


@dataclass(frozen=True)
class CrewHealth:
    """How a crew's service is answering, for the status line and ``doctor``."""

    crew: str
    state: HealthState = "unknown"
    since: datetime | None = None
    message: str | None = None
    # About how long one kickoff waits between two polls, the requests per second sent
    # (over the last seconds) and the crew's budget of them; None before the first poll.
    interval: float | None = None
    last_ok: datetime | None = None
    rate: float | None = None
    budget: float | None = None
    # The process that polls the crew for the shared history when it is another one
    # (``pid@host``); None when this process polls it (or nobody does yet).
    poller: str | None = None
    # A crew another process polls: when that poller last finished a round of polls, once
    # that is longer ago than a lease lasts (the crew's runs are stale since); else None.
    stale_since: datetime | None = None
    # While stale: what the poller was told in its last round (it learnt nothing), if it said.
    poller_trouble: str | None = None


@dataclass(frozen=True)
class KickoffChanged:
    """A kickoff changed (or was first seen by this session, when ``previous`` is None)."""

    kickoff: Kickoff
    previous: RunState | None


@dataclass(frozen=True)
class StepsAdded:
    """New agent steps or crew events arrived for a kickoff."""

    kickoff_id: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class CrewHealthChanged:
    health: CrewHealth


@dataclass(frozen=True)
class LeaseChanged:
    """This process began (``held``) or stopped polling a crew, or another process took
    over its polls: ``poller`` is the process that polls it now (``pid@host``, this one's
    when held), None when nobody does."""

    crew: str
    held: bool
    poller: str | None


@dataclass(frozen=True)
class HistoryTrouble:
    """The history stopped taking writes (a full disk, damage found after opening):
    announced once per new reason, so the user learns that changes are not being kept."""

    message: str


TrackerEvent = KickoffChanged | StepsAdded | CrewHealthChanged | LeaseChanged | HistoryTrouble
