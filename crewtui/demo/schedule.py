"""When the demo starts its runs, and with what: a seeded plan, and the launcher that follows it.

The plan is in crew seconds (the simulator's reference time), so the whole demo keeps its
rhythm at any ``--speed``: at the default speed 10 a new run starts every two to six
seconds. It opens with one run per crew at once (one fails, one waits for human input, one
runs long), then goes on across the four crews and the onboarding flow (which goes past its
reviewer: only the opening waits for a person) with a few failures and a few long runs.

The demo must be able to stay open for hours, so it is bounded twice: at most
``MAX_ACTIVE`` runs are moving at once (the launcher waits for one to end), and after
``BURST`` runs (about half an hour at speed 10) it slows to a long run every ten to twenty
seconds, so that a few are always moving while the history grows by a few hundred runs an
hour, which the list pages through without effort.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from crewtui.api.errors import CrewtuiError
from crewtui.api.states import RunState
from crewtui.core.tracker import Tracker
from crewtui.core.tracker_events import KickoffChanged, TrackerEvent
from crewtui.demo.inputs import CREW_NAMES, DEPLOYMENT_NAMES, pick_inputs
from crewtui.sim.crews import FLOWS

MAX_ACTIVE = 6
BURST = 400
# Crew seconds between two launches, during the burst and after it.
BURST_GAP = (20.0, 60.0)
QUIET_GAP = (100.0, 200.0)
FAIL_ODDS = 0.12
LONG_ODDS = 0.18
LONG_SCALES = ("3", "4", "6")

# Runs that count against MAX_ACTIVE: a paused run waits for a person, not for the crew.
_MOVING = frozenset({RunState.PENDING, RunState.RUNNING})


@dataclass(frozen=True)
class Launch:
    """One run of the plan: start it ``gap`` crew seconds after the previous one."""

    gap: float
    crew: str
    inputs: dict[str, str] = field(default_factory=dict)


def _opening(rng: random.Random) -> list[Launch]:
    """One run per crew at once, so every kind of run is on screen within seconds."""
    steer = {
        "research": {"fail": "1"},
        "outreach": {"hold": "1"},
        "content": {"duration_scale": "4"},
    }
    return [
        Launch(0.0, crew, {**pick_inputs(crew, rng), **steer.get(crew, {})}) for crew in CREW_NAMES
    ]


def plan(seed: int) -> Iterator[Launch]:
    """The demo's launches, endless and the same for the same seed."""
    rng = random.Random(seed)
    yield from _opening(rng)
    launched = len(CREW_NAMES)
    while True:
        launched += 1
        low, high = BURST_GAP if launched <= BURST else QUIET_GAP
        crew = rng.choice(DEPLOYMENT_NAMES)
        inputs = pick_inputs(crew, rng)
        if crew in FLOWS:
            inputs["hold"] = "0"  # its reviewer would wait on whoever watches the demo
        draw = rng.random()
        if draw < FAIL_ODDS:
            inputs["fail"] = "1"
        elif draw < FAIL_ODDS + LONG_ODDS or launched > BURST:
            inputs["duration_scale"] = rng.choice(LONG_SCALES)
        yield Launch(round(rng.uniform(low, high), 1), crew, inputs)


class Launcher:
    """Starts the plan's runs through the tracker, never more than ``max_active`` at once."""

    def __init__(
        self,
        tracker: Tracker,
        launches: Iterable[Launch],
        *,
        speed: float,
        max_active: int = MAX_ACTIVE,
    ) -> None:
        self.tracker = tracker
        self.launches = launches
        self.speed = speed
        self.max_active = max_active
        self.started = 0
        self._changed = asyncio.Event()

    def moving(self) -> int:
        """How many of the tracker's runs are pending or running now."""
        return sum(kickoff.state in _MOVING for kickoff in self.tracker.tracked())

    def _heard(self, event: TrackerEvent) -> None:
        if isinstance(event, KickoffChanged):
            self._changed.set()

    async def _room(self) -> None:
        """Wait until fewer than ``max_active`` runs are moving (woken by tracker events)."""
        while self.moving() >= self.max_active:
            self._changed.clear()
            await self._changed.wait()

    async def run(self, refused: Callable[[CrewtuiError], None]) -> None:
        """Follow the plan until cancelled; a refused kickoff is reported, never fatal."""
        unlisten = self.tracker.listen(self._heard)
        try:
            for launch in self.launches:
                if launch.gap > 0:
                    await asyncio.sleep(launch.gap / self.speed)
                await self._room()
                try:
                    await self.tracker.kickoff(launch.crew, launch.inputs)
                except CrewtuiError as error:
                    refused(error)
                else:
                    self.started += 1
        finally:
            unlisten()
