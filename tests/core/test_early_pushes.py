"""Pushes that come before the kickoff's answer are kept for it, within bounds.

The service pushes as soon as a run starts, often before crewtui has read the answer that
names the run; pushes are never sent twice. The tracker test holds the answer back on a
real server (it drips out byte by byte) while a push about the run it will name arrives.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

from crewtui.api.models import Observation
from crewtui.api.profile import CrewProfile
from crewtui.api.pushes import parse_push
from crewtui.api.secret import Secret
from crewtui.api.states import RunState
from crewtui.core.early_pushes import EarlyPushes
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from tests.api.hostile_server import HostileServer, drip, json_reply


def _observation(kickoff_id: str) -> Observation:
    return Observation(kickoff_id=kickoff_id, observed_at=datetime.now(UTC), source="webhook")


def test_parked_items_are_taken_once_in_arrival_order() -> None:
    early = EarlyPushes()
    first, second, other = _observation("a"), _observation("a"), _observation("b")
    early.park([first, other])
    early.park([second])
    assert early.take("a") == [first, second]
    assert early.take("a") == []
    assert len(early) == 1


def test_the_oldest_go_first_when_too_many_or_too_old() -> None:
    now = [0.0]
    early = EarlyPushes(max_items=3, max_age=60.0, clock=lambda: now[0])
    early.park([_observation("old"), _observation("old")])
    now[0] = 30.0
    early.park([_observation("new"), _observation("newer")])
    assert early.take("old") == []  # over the bound: the oldest id went whole
    assert len(early) == 2
    now[0] = 91.0
    assert early.take("new") == []  # parked 61 s ago
    assert len(early) == 0


async def test_a_push_that_beats_the_kickoff_answer_is_merged_into_the_run(
    tmp_path: Path,
) -> None:
    kickoff_id = str(uuid.uuid4())
    store = Store.open(tmp_path / "history.sqlite3")
    async with HostileServer() as server:
        server.script(drip(json_reply(200, {"kickoff_id": kickoff_id}), interval=0.02))
        crew = CrewProfile(name="crew", url=server.url, token=Secret("t" * 20))
        tracker = Tracker([crew], store)
        try:
            assert not tracker.accepts_push(kickoff_id)
            sending = asyncio.create_task(tracker.kickoff("crew", {"topic": "x"}))
            await server.wait_for_requests(1)
            assert tracker.accepts_push(kickoff_id)  # the receiver lets it through
            now = datetime.now(UTC)
            event = {
                "id": "first",
                "execution_id": kickoff_id,
                "timestamp": now.isoformat(),
                "type": "task_started",
                "data": {"task_name": "research_task", "agent_role": "Researcher"},
            }
            await tracker.ingest(parse_push("events", {"events": [event]}, now))
            kickoff = await sending
            assert kickoff.kickoff_id == kickoff_id
            assert [task.task_id for task in kickoff.tasks] == ["research_task"]
            assert kickoff.state is RunState.RUNNING
            assert not tracker.accepts_push(str(uuid.uuid4()))  # nothing in flight now
        finally:
            await tracker.stop()
            store.close()
