"""A run tracked mid-way: what crewtui knows of its timing, and what it does not.

The run is started on the simulator by another client, one task finishes, then crewtui's
tracker tracks it. It must not date the run's start, nor the finished task, from the moment
it began watching; the live dialect's progress says when the run began, the documented one
does not.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.api.states import Dialect, RunState, TaskState
from crewtui.core.store import Store
from crewtui.core.timeline import BEFORE_TRACKING, layout
from crewtui.core.timing import run_duration
from crewtui.core.tracker import Tracker, utcnow
from crewtui.settings import PollSettings
from crewtui.sim import SimServer
from tests.helpers import wait_until

FAST = PollSettings(min_interval=0.02, max_interval=0.05)


async def start_elsewhere(sim: SimServer) -> str:
    """A travel run started by another client, once its first task is done."""
    inputs = sim.sample_inputs("travel") | {"duration_scale": "3"}
    headers = {"Authorization": f"Bearer {sim.options.token}"}
    url = sim.crew_url("travel")
    async with httpx.AsyncClient(headers=headers, timeout=10) as client:
        kickoff_id: str = (await client.post(f"{url}/kickoff", json={"inputs": inputs})).json()[
            "kickoff_id"
        ]
        while True:
            body = (await client.get(f"{url}/status/{kickoff_id}")).json()
            done = body["progress"].get("completed", body["progress"].get("completed_tasks"))
            if done >= 1:
                return kickoff_id


async def test_a_run_tracked_mid_way_is_not_dated_from_its_tracking(
    sim_any: SimServer, tmp_path: Path
) -> None:
    kickoff_id = await start_elsewhere(sim_any)
    crew = CrewProfile(
        name="travel", url=sim_any.crew_url("travel"), token=Secret(sim_any.options.token)
    )
    store = Store.open(tmp_path / "history.sqlite3")
    try:
        async with Tracker([crew], store, FAST) as tracker:
            before = utcnow()
            first = await tracker.track("travel", kickoff_id)
            live = first.dialect is Dialect.LIVE
            assert first.tracked_at is not None and first.tracked_at >= before
            if live:
                # The live progress says how long it has run: the start is known, and earlier.
                assert first.started_at is not None and first.started_at < before
            else:
                assert first.started_at is None
                assert run_duration(first, utcnow()) is None
            # The task that was going or done when tracking began has no invented time.
            assert all(task.started_at is None for task in first.tasks)
            assert all(task.finished_at is None for task in first.tasks)
            bars, _ = layout(first, utcnow())
            assert bars and all(bar.note == BEFORE_TRACKING for bar in bars)

            await wait_until(tracker, lambda: tracker.get(kickoff_id).is_terminal)  # type: ignore[union-attr]
            final = tracker.get(kickoff_id)
        assert final is not None and final.state is RunState.COMPLETED
        research = next(task for task in final.tasks if task.task_id == "research_task")
        assert research.state is TaskState.COMPLETED and research.finished_at is None
        # Both dialects give the run's figure at the end: its duration is known after all.
        assert run_duration(final, utcnow()) == final.execution_time is not None
        assert store.get_kickoff(kickoff_id) == final
    finally:
        store.close()
