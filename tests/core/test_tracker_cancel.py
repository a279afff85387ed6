"""``Tracker.cancel`` against the simulator: every step of a cancel flows through it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crewtui.api.errors import AuthError
from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.api.states import RunState, TaskState
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.core.tracker_events import KickoffChanged, TrackerEvent
from crewtui.settings import PollSettings
from crewtui.sim import SimServer

FAST = PollSettings(min_interval=0.05, max_interval=0.2)
SLOW = {"duration_scale": "100"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "history.sqlite3")
    yield opened
    opened.close()


def travel(sim: SimServer, token: str | None = None) -> CrewProfile:
    return CrewProfile(
        name="travel", url=sim.crew_url("travel"), token=Secret(token or sim.options.token)
    )


def marks(events: list[TrackerEvent], kickoff_id: str) -> list[tuple[str, str | None]]:
    """The (state, cancel_request) each change of the run went through, repeats folded."""
    seen: list[tuple[str, str | None]] = []
    for event in events:
        if isinstance(event, KickoffChanged) and event.kickoff.kickoff_id == kickoff_id:
            mark = (event.kickoff.state.value, event.kickoff.cancel_request)
            if not seen or seen[-1] != mark:
                seen.append(mark)
    return seen


async def test_cancel_says_cancelling_then_stopped_and_stores_it(
    sim_any: SimServer, store: Store
) -> None:
    events: list[TrackerEvent] = []
    async with Tracker([travel(sim_any)], store, FAST) as tracker:
        started = await tracker.kickoff("travel", sim_any.sample_inputs("travel") | SLOW)
        await tracker.refresh(started.kickoff_id)
        tracker.listen(events.append)
        outcome = await tracker.cancel("travel", started.kickoff_id)
    assert outcome.stopped
    (going, sent), (ended, confirmed) = marks(events, started.kickoff_id)[-2:]
    assert (sent, confirmed) == ("sent", "confirmed")
    assert going in ("pending", "running") and ended == "cancelled"
    stored = store.get_kickoff(started.kickoff_id)
    assert stored is not None
    assert (stored.state, stored.cancel_request) == (RunState.CANCELLED, "confirmed")
    assert all(task.state is not TaskState.RUNNING for task in stored.tasks)


async def test_a_rejected_stop_takes_the_mark_back(sim: SimServer, store: Store) -> None:
    events: list[TrackerEvent] = []
    async with Tracker([travel(sim)], store, FAST) as tracker:
        started = await tracker.kickoff("travel", sim.sample_inputs("travel") | SLOW)
    async with Tracker([travel(sim, token="wrong")], store, FAST) as tracker:
        tracker.listen(events.append)
        with pytest.raises(AuthError):
            await tracker.cancel("travel", started.kickoff_id)
        after = tracker.get(started.kickoff_id)
    assert [request for _, request in marks(events, started.kickoff_id)] == ["sent", None]
    assert after is not None and after.cancel_request is None and not after.is_terminal
