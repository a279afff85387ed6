"""The demo's plan of new runs, and the launcher that keeps it bounded."""

from __future__ import annotations

import asyncio
from itertools import islice

import pytest

from crewtui.api.states import RunState
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.core.tracker_events import KickoffChanged, TrackerEvent
from crewtui.demo.schedule import BURST, BURST_GAP, QUIET_GAP, Launch, Launcher, plan
from crewtui.sim import SimServer
from tests.ui.app_helpers import FAST_POLL, sim_crews

pytestmark = pytest.mark.timeout(60)


def test_the_plan_opens_with_every_kind_of_run_and_slows_after_the_burst() -> None:
    launches = list(islice(plan(3), BURST + 20))
    opening = launches[:4]
    assert {launch.crew for launch in opening} == {"travel", "outreach", "content", "research"}
    assert all(launch.gap == 0 for launch in opening)
    steers = [launch.inputs for launch in opening]
    assert any(inputs.get("fail") == "1" for inputs in steers)
    assert any(inputs.get("hold") == "1" for inputs in steers)
    assert any("duration_scale" in inputs for inputs in steers)
    later = launches[4:]
    # Only the opening waits for a person: the flow's runs go past their reviewer.
    assert not any(launch.inputs.get("hold") == "1" for launch in later)
    flows = [launch for launch in later if launch.crew == "onboarding"]
    assert flows and all(launch.inputs["hold"] == "0" for launch in flows)
    assert any("fail" in launch.inputs for launch in later)
    assert any("duration_scale" in launch.inputs for launch in later)
    assert all(BURST_GAP[0] <= launch.gap <= BURST_GAP[1] for launch in later[: BURST - 4])
    quiet = later[BURST - 4 :]
    assert all(QUIET_GAP[0] <= launch.gap <= QUIET_GAP[1] for launch in quiet)
    # After the burst every run that does not fail runs long: something is always moving.
    assert all("fail" in launch.inputs or "duration_scale" in launch.inputs for launch in quiet)
    assert list(islice(plan(3), 30)) == launches[:30]


async def test_the_launcher_never_has_more_than_its_bound_moving(sim: SimServer) -> None:
    store = Store.in_memory()
    tracker = Tracker(sim_crews(sim), store, FAST_POLL)
    launches = [Launch(0.0, "research", sim.sample_inputs("research")) for _ in range(5)]
    launcher = Launcher(tracker, launches, speed=sim.options.speed, max_active=2)
    peak = 0

    def count(event: TrackerEvent) -> None:
        nonlocal peak
        if isinstance(event, KickoffChanged):
            peak = max(peak, launcher.moving())

    tracker.listen(count)
    refused: list[object] = []
    async with tracker:
        await launcher.run(refused.append)
        ended = asyncio.Event()
        tracker.listen(
            lambda _: (
                ended.set() if all(kickoff.is_terminal for kickoff in tracker.tracked()) else None
            )
        )
        await asyncio.wait_for(ended.wait(), timeout=30)
    store.close()
    assert refused == []
    assert launcher.started == 5
    assert peak == 2
    assert {kickoff.state for kickoff in tracker.tracked()} == {RunState.COMPLETED}
