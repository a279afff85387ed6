"""The tracker against the simulator over real loopback HTTP, with a real SQLite store."""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from crewtui.api.errors import InputValidationError, KickoffUncertainError
from crewtui.api.http import BACKOFF_SCALE_ENV
from crewtui.api.models import Observation, Step, TaskResult
from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.api.states import RunState, Submission
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.core.tracker_events import CrewHealthChanged, KickoffChanged, TrackerEvent
from crewtui.settings import PollSettings
from crewtui.sim import SimServer
from tests.helpers import wait_until

FAST = PollSettings(min_interval=0.05, max_interval=0.2, not_found_grace=0.5)


def profile(sim: SimServer, crew: str, token: str | None = None) -> CrewProfile:
    return CrewProfile(
        name=crew,
        url=sim.crew_url(crew),
        token=Secret(token if token is not None else sim.options.token),
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(tmp_path / "history.sqlite3")
    yield opened
    opened.close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/travel"


async def test_many_kickoffs_across_crews_all_finish(sim_any: SimServer, store: Store) -> None:
    crews = [profile(sim_any, name) for name in SimServer.CREWS]
    events: list[TrackerEvent] = []
    async with Tracker(crews, store, FAST) as tracker:
        tracker.listen(events.append)
        started = []
        for index in range(12):
            crew = SimServer.CREWS[index % 4]
            inputs = sim_any.sample_inputs(crew)
            if index == 5:
                inputs["fail"] = "1"
            started.append(await tracker.kickoff(crew, inputs))
        ids = [k.kickoff_id for k in started]
        await wait_until(tracker, lambda: all(tracker.get(i).is_terminal for i in ids))

    finals = {i: tracker.get(i) for i in ids}
    assert finals[ids[5]].state is RunState.FAILED
    assert finals[ids[5]].error
    for index, kickoff_id in enumerate(ids):
        if index != 5:
            assert finals[kickoff_id].state is RunState.COMPLETED, finals[kickoff_id]
            assert finals[kickoff_id].output
            assert finals[kickoff_id].tasks
    # Every event is a real change: two events in a row for one kickoff never carry the same record.
    last: dict[str, object] = {}
    for event in events:
        if isinstance(event, KickoffChanged):
            key = event.kickoff.kickoff_id
            assert last.get(key) != event.kickoff
            last[key] = event.kickoff
    # What the tracker knew is what the store kept.
    for kickoff_id, kickoff in finals.items():
        stored = store.get_kickoff(kickoff_id)
        assert stored is not None
        assert stored.state is kickoff.state
        assert [t.task_id for t in stored.tasks] == [t.task_id for t in kickoff.tasks]


async def test_a_change_made_by_a_poll_that_stop_cuts_off_reaches_the_store(
    sim: SimServer, store: Store
) -> None:
    """The cause of the flaky test above: ``stop`` cancels the polls, and a poll whose
    write still waited for a store thread took the write with it (the tracker had the run
    running, the history kept it pending). Here every store thread is busy (one, held)."""
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(1))
    held = threading.Event()
    tracker = Tracker([profile(sim, "travel")], store, FAST)
    await tracker.start()
    try:
        run = await tracker.kickoff("travel", sim.sample_inputs("travel"))
        busy = loop.run_in_executor(None, held.wait)
        # The first poll says the run is going: made in memory, its write queued.
        async with asyncio.timeout(30):
            while tracker.get(run.kickoff_id).state is RunState.PENDING:  # type: ignore[union-attr]
                await asyncio.sleep(0)  # a turn of the loop, for the poll's answer
        polls = set(tracker._polls)
        stopping = asyncio.create_task(tracker.stop())
        await asyncio.wait(polls)  # cut off by stop
    finally:
        held.set()
    await busy
    await stopping
    known, stored = tracker.get(run.kickoff_id), store.get_kickoff(run.kickoff_id)
    assert known is not None and stored is not None
    assert known.state is not RunState.PENDING
    assert stored.state is known.state


async def test_rejected_token_pauses_only_that_crew(sim: SimServer, store: Store) -> None:
    good = profile(sim, "content")
    bad = profile(sim, "travel", token="not-the-token")
    healths: list[CrewHealthChanged] = []
    async with Tracker([good, bad], store, FAST) as tracker:
        tracker.listen(lambda e: healths.append(e) if isinstance(e, CrewHealthChanged) else None)
        run = await tracker.kickoff("content", sim.sample_inputs("content"))
        with pytest.raises(Exception) as raised:
            await tracker.kickoff("travel", sim.sample_inputs("travel"))
        assert "token" in str(raised.value).lower()
        assert tracker.health("travel").state == "token_rejected"
        await wait_until(tracker, lambda: tracker.get(run.kickoff_id).is_terminal)
    assert tracker.get(run.kickoff_id).state is RunState.COMPLETED
    assert any(h.health.crew == "travel" and h.health.state == "token_rejected" for h in healths)
    assert "not-the-token" not in repr(healths)
    # The refused attempt left nothing behind.
    assert store.count_kickoffs(crew="travel", archived=None) == 0


async def test_unreachable_crew_is_reported_and_does_not_slow_others(
    sim: SimServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every attempt at the dead crew is made, without the seconds of backoff between them.
    monkeypatch.setenv(BACKOFF_SCALE_ENV, "0")
    down = CrewProfile(name="down", url=closed_port_url(), token=Secret("t"))
    good = profile(sim, "research")
    lost_id = str(uuid.uuid4())
    async with Tracker([down, good], store, FAST) as tracker:
        with pytest.raises(Exception, match=r"reach|connect"):
            await tracker.track("down", lost_id)
        assert tracker.health("down").state == "unreachable"
        assert tracker.health("down").since is not None
        run = await tracker.kickoff("research", sim.sample_inputs("research"))
        await wait_until(tracker, lambda: tracker.get(run.kickoff_id).is_terminal)
        assert tracker.get(run.kickoff_id).state is RunState.COMPLETED
        # The kickoff on the dead crew is kept, marked with why it is stale.
        assert tracker.get(lost_id) is not None
        assert tracker.get(lost_id).poll_error
    assert store.get_kickoff(lost_id) is not None


async def test_unknown_id_becomes_not_found_then_lost(sim_any: SimServer, store: Store) -> None:
    crew = profile(sim_any, "travel")
    kickoff_id = str(uuid.uuid4())
    seen: list[RunState] = []
    async with Tracker([crew], store, FAST) as tracker:
        tracker.listen(
            lambda e: seen.append(e.kickoff.state) if isinstance(e, KickoffChanged) else None
        )
        first = await tracker.track("travel", kickoff_id)
        assert first.state is RunState.NOT_FOUND
        await wait_until(tracker, lambda: tracker.get(kickoff_id).state is RunState.LOST)
    assert RunState.COMPLETED not in seen
    assert store.get_kickoff(kickoff_id).state is RunState.LOST


async def test_running_kickoffs_are_picked_up_by_the_next_session(
    sim: SimServer, store: Store
) -> None:
    crew = profile(sim, "outreach")
    inputs = sim.sample_inputs("outreach") | {"duration_scale": "3"}
    async with Tracker([crew], store, FAST) as first:
        run = await first.kickoff("outreach", inputs)
    assert store.get_kickoff(run.kickoff_id).is_terminal is False
    async with Tracker([crew], store, FAST) as second:
        await wait_until(
            second,
            lambda: (
                second.get(run.kickoff_id) is not None and second.get(run.kickoff_id).is_terminal
            ),
        )
        assert second.get(run.kickoff_id).state is RunState.COMPLETED


async def test_missing_inputs_leave_no_attempt_behind(sim_any: SimServer, store: Store) -> None:
    async with Tracker([profile(sim_any, "travel")], store, FAST) as tracker:
        with pytest.raises(InputValidationError) as raised:
            await tracker.kickoff("travel", {"budget": "1000 USD"})
    assert set(raised.value.missing) >= {"interests", "duration", "age"}
    assert store.count_kickoffs(archived=None) == 0


async def test_lost_answer_is_kept_as_may_have_started(fresh_sim: SimServer, store: Store) -> None:
    fresh_sim.options.faults.drop_rate = 1.0
    async with Tracker([profile(fresh_sim, "content")], store, FAST) as tracker:
        with pytest.raises(KickoffUncertainError):
            await tracker.kickoff("content", fresh_sim.sample_inputs("content"))
    rows = store.list_kickoffs(archived=None)
    assert len(rows) == 1
    assert rows[0].submission is Submission.UNCERTAIN


async def test_pushed_facts_merge_with_polled_ones(sim: SimServer, store: Store) -> None:
    crew = profile(sim, "content")
    inputs = sim.sample_inputs("content") | {"duration_scale": "5"}
    async with Tracker([crew], store, FAST) as tracker:
        run = await tracker.kickoff("content", inputs)
        now = run.created_at
        push = Observation(
            kickoff_id=run.kickoff_id,
            observed_at=now,
            source="webhook",
            tasks=[TaskResult(task_id="pushed_task", agent="Pusher", output="from a webhook")],
        )
        step = Step(kickoff_id=run.kickoff_id, received_at=now, thought="hm", raw={"t": 1})
        stranger = Observation(kickoff_id=str(uuid.uuid4()), observed_at=now, source="webhook")
        await tracker.ingest([push, step, step, stranger])
        assert any(t.task_id == "pushed_task" for t in tracker.get(run.kickoff_id).tasks)
        assert not tracker.is_tracked(stranger.kickoff_id)
        await wait_until(tracker, lambda: tracker.get(run.kickoff_id).is_terminal)
    final = store.get_kickoff(run.kickoff_id)
    assert final.state is RunState.COMPLETED
    ids = [t.task_id for t in final.tasks]
    assert "pushed_task" in ids and len(ids) > 1
    assert len(store.list_steps(run.kickoff_id)) >= 1
    assert sum(1 for s in store.list_steps(run.kickoff_id) if s.thought == "hm") == 1


async def test_stop_is_prompt_with_polls_in_flight(fresh_sim: SimServer, store: Store) -> None:
    fresh_sim.options.faults.latency = 5.0
    crew = profile(fresh_sim, "travel")
    tracker = Tracker([crew], store, FAST)
    await tracker.start()
    fresh_sim.options.faults.latency = 0.0
    run = await tracker.kickoff("travel", fresh_sim.sample_inputs("travel"))
    fresh_sim.options.faults.latency = 5.0
    tracker.poll_now(run.kickoff_id)
    async with asyncio.timeout(3):
        await tracker.stop()


async def test_an_attempt_cut_off_by_a_crash_becomes_may_have_started(
    sim: SimServer, store: Store
) -> None:
    from datetime import timedelta

    from crewtui.api.models import Kickoff
    from crewtui.core.tracker import ABANDONED_ATTEMPT_AGE, utcnow

    long_ago = utcnow() - timedelta(seconds=ABANDONED_ATTEMPT_AGE + 60)
    just_now = utcnow()
    for name, when in (("old", long_ago), ("new", just_now)):
        store.save_kickoff(
            Kickoff(
                kickoff_id=f"local-{name}",
                crew="travel",
                created_at=when,
                updated_at=when,
                submission=Submission.SENDING,
            )
        )
    async with Tracker([profile(sim, "travel")], store, FAST):
        pass
    assert store.get_kickoff("local-old").submission is Submission.UNCERTAIN
    assert "may have started" in (store.get_kickoff("local-old").error or "")
    # Another session may be sending this one right now: left alone.
    assert store.get_kickoff("local-new").submission is Submission.SENDING


class _FlakyStore(Store):
    """A real store whose first saves after a poll raise a bug-like error."""

    failures_left = 2

    def save_kickoff(self, kickoff):  # type: ignore[no-untyped-def]
        if kickoff.state is RunState.RUNNING and self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("a bug in the store")
        return super().save_kickoff(kickoff)


async def test_an_unexpected_error_costs_one_poll_not_the_kickoff(
    sim: SimServer, tmp_path: Path
) -> None:
    flaky = _FlakyStore.open(tmp_path / "flaky.sqlite3")
    async with Tracker([profile(sim, "content")], flaky, FAST) as tracker:
        run = await tracker.kickoff("content", sim.sample_inputs("content"))
        await wait_until(tracker, lambda: tracker.get(run.kickoff_id).is_terminal)
    assert flaky.failures_left == 0
    assert tracker.get(run.kickoff_id).state is RunState.COMPLETED
    assert flaky.get_kickoff(run.kickoff_id).state is RunState.COMPLETED
    flaky.close()
