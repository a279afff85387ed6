"""Several crewtui processes on one history: each shows the others' runs, live, and each
crew is polled by one of them, the holder of its lease; the others view it.

The first test runs a real ``crewtui kickoff`` child next to a tracker; the others use two
trackers on two connections to one file (what two processes have), so that the test can
look inside both. Nothing sleeps: each wait ends on a tracker event.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from crewtui.api.models import Observation, TaskResult
from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.api.states import RunState
from crewtui.config import resolve_paths
from crewtui.core.store import Store
from crewtui.core.store_rows import bind_ts
from crewtui.core.tracker import Tracker, utcnow
from crewtui.core.tracker_events import KickoffChanged, LeaseChanged, TrackerEvent
from crewtui.settings import PollSettings
from crewtui.sim import SimServer
from tests.api.hostile_server import HostileServer, raw_reply
from tests.helpers import wait_until

FAST = PollSettings(min_interval=0.05, max_interval=0.2)
# The crew the CLI builds from CREWAI_API_URL.
ENV_CREW = "default"


def crew_profile(sim: SimServer, name: str = ENV_CREW) -> CrewProfile:
    return CrewProfile(name=name, url=sim.crew_url("research"), token=Secret(sim.options.token))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def stores(home: Path) -> Iterator[Callable[[], Store]]:
    """Opens connections to the home's history (one per simulated process)."""
    opened: list[Store] = []

    def open_one() -> Store:
        store = Store.open(resolve_paths(home).store_file)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


async def crewtui_child(
    home: Path, sim: SimServer, *args: str, exit_code: int = 0, give_up: float | None = None
) -> tuple[str, str]:
    """``python -m crewtui ARGS`` on ``home`` against the research crew, which must end
    with ``exit_code``; its stdout and stderr. ``give_up``: CREWTUI_GIVE_UP_SECONDS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREWAI_", "CREWTUI_"))}
    env |= {
        "CREWTUI_HOME": str(home),
        "CREWAI_API_URL": sim.crew_url("research"),
        "CREWAI_BEARER_TOKEN": sim.options.token,
    }
    if give_up is not None:
        env["CREWTUI_GIVE_UP_SECONDS"] = str(give_up)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "crewtui",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await child.communicate()
    assert child.returncode == exit_code, err.decode()
    return out.decode().strip(), err.decode().strip()


def inputs(sim: SimServer, **extra: str) -> dict[str, str]:
    return sim.sample_inputs("research") | extra


async def test_a_run_kicked_off_by_another_process_appears_and_is_followed(
    sim: SimServer, home: Path, stores: Callable[[], Store]
) -> None:
    events: asyncio.Queue[TrackerEvent] = asyncio.Queue()
    async with Tracker([crew_profile(sim)], stores(), FAST) as tracker:
        tracker.listen(events.put_nowait)
        args = [arg for key, value in inputs(sim).items() for arg in ("-i", f"{key}={value}")]
        kickoff_id, _ = await crewtui_child(home, sim, "kickoff", *args)

        async with asyncio.timeout(30):
            while True:
                event = await events.get()
                if isinstance(event, KickoffChanged) and event.kickoff.kickoff_id == kickoff_id:
                    break
        assert event.previous is None  # new to this process: the app adds a row
        assert event.kickoff.crew == ENV_CREW
        # The child exited without watching: this process holds the crew's lease and polls.
        assert tracker.holds_lease(ENV_CREW)
        await wait_until(tracker, lambda: tracker.get(kickoff_id).is_terminal)  # type: ignore[union-attr]
    assert tracker.get(kickoff_id).state is RunState.COMPLETED  # type: ignore[union-attr]


def requests_sent(tracker: Tracker) -> int:
    return sum(tracker.request_counts(ENV_CREW).attempts.values())


async def test_a_crew_another_process_polls_is_viewed_until_that_process_stops(
    sim: SimServer, stores: Callable[[], Store]
) -> None:
    crew = crew_profile(sim)
    first = Tracker([crew], stores(), FAST)
    await first.start()
    try:
        assert first.holds_lease(ENV_CREW)
        run = await first.kickoff(ENV_CREW, inputs(sim, hold="1"))
        async with Tracker([crew], stores(), FAST) as second:
            leases: list[LeaseChanged] = []
            second.listen(lambda e: leases.append(e) if isinstance(e, LeaseChanged) else None)
            # Picked up from the history at start, and viewed: the first process polls it.
            assert second.is_tracked(run.kickoff_id)
            assert not second.holds_lease(ENV_CREW)
            assert second.health(ENV_CREW).poller == first.here
            # The first process's polls reach the second through the store alone.
            await wait_until(
                second,
                lambda: second.get(run.kickoff_id).state is RunState.PAUSED,  # type: ignore[union-attr]
            )
            assert requests_sent(second) == 0
            await first.stop()
            # The first one released its lease: the second takes the crew over and polls.
            await wait_until(second, lambda: second.health(ENV_CREW).state == "ok")
            assert second.holds_lease(ENV_CREW)
            assert second.health(ENV_CREW).poller is None
            assert leases == [LeaseChanged(ENV_CREW, held=True, poller=second.here)]
    finally:
        await first.stop()


async def test_changes_by_another_process_are_emitted_once_and_never_written_back(
    sim: SimServer, stores: Callable[[], Store]
) -> None:
    crew = crew_profile(sim)
    poller_store = stores()
    seen: list[TrackerEvent] = []
    async with (
        Tracker([crew], poller_store, FAST) as poller,
        Tracker([crew], stores(), FAST) as viewer,
    ):
        viewer.listen(seen.append)
        mark = poller_store.change_mark()
        run = await poller.kickoff(ENV_CREW, inputs(sim))
        await wait_until(poller, lambda: poller.get(run.kickoff_id).is_terminal)  # type: ignore[union-attr]
        await wait_until(
            viewer,
            lambda: (kickoff := viewer.get(run.kickoff_id)) is not None and kickoff.is_terminal,
        )
        assert requests_sent(viewer) == 0  # it never polled
    changes = [e for e in seen if isinstance(e, KickoffChanged)]
    assert changes[0].previous is None
    assert changes[-1].kickoff.state is RunState.COMPLETED
    # Each event is a real change, and the viewer never wrote back what it read.
    assert all(a.kickoff != b.kickoff for a, b in itertools.pairwise(changes))
    assert poller_store.changes_since(mark).kickoffs == []


async def test_a_viewer_kicks_off_and_receives_pushes_for_the_runs_the_poller_polls(
    sim: SimServer, stores: Callable[[], Store]
) -> None:
    crew = crew_profile(sim)
    async with (
        Tracker([crew], stores(), FAST) as poller,
        Tracker([crew], stores(), FAST) as viewer,
    ):
        run = await viewer.kickoff(ENV_CREW, inputs(sim, hold="1"))
        # The poller adopts the viewer's run from the history and polls it.
        await wait_until(
            poller,
            lambda: (
                (kickoff := poller.get(run.kickoff_id)) is not None
                and kickoff.state is RunState.PAUSED
            ),
        )
        await wait_until(viewer, lambda: viewer.get(run.kickoff_id).state is RunState.PAUSED)  # type: ignore[union-attr]
        # A push that reached the viewer's receiver is merged there and shared.
        pushed = TaskResult(task_id="pushed-task", output="from a webhook")
        said = Observation(
            kickoff_id=run.kickoff_id, observed_at=utcnow(), source="webhook", tasks=[pushed]
        )
        await viewer.ingest([said])
        await wait_until(
            poller,
            lambda: any(t.task_id == "pushed-task" for t in poller.get(run.kickoff_id).tasks),  # type: ignore[union-attr]
        )
        assert requests_sent(viewer) == 1  # its kickoff, never a poll
        assert poller.holds_lease(ENV_CREW) and not viewer.holds_lease(ENV_CREW)


async def test_runs_of_a_crew_this_process_does_not_know_are_shown_not_polled(
    sim: SimServer, stores: Callable[[], Store]
) -> None:
    other = crew_profile(sim, name="other")
    async with Tracker([other], stores(), FAST) as watcher:
        async with Tracker([crew_profile(sim)], stores(), FAST) as worker:
            run = await worker.kickoff(ENV_CREW, inputs(sim, hold="1"))
            await wait_until(watcher, lambda: watcher.is_tracked(run.kickoff_id))
        assert watcher.get(run.kickoff_id).crew == ENV_CREW  # type: ignore[union-attr]
        assert watcher.health("other").state == "unknown"  # nothing was polled


async def test_archiving_a_run_elsewhere_does_not_take_it_from_the_process_polling_it(
    sim: SimServer, stores: Callable[[], Store]
) -> None:
    """A live app without this crew archives the run: the one polling it keeps polling."""
    async with Tracker([crew_profile(sim)], stores(), FAST) as poller:
        run = await poller.kickoff(ENV_CREW, inputs(sim))
        async with Tracker([crew_profile(sim, name="other")], stores(), FAST) as archiver:
            await wait_until(archiver, lambda: archiver.is_tracked(run.kickoff_id))
            await archiver.archive(run.kickoff_id)
            await wait_until(poller, lambda: poller.get(run.kickoff_id).archived)  # type: ignore[union-attr]
            assert poller.holds_lease(ENV_CREW)
            await wait_until(poller, lambda: poller.get(run.kickoff_id).is_terminal)  # type: ignore[union-attr]


async def test_a_poller_whose_lease_was_taken_stops_polling_and_views(
    sim: SimServer, stores: Callable[[], Store], home: Path
) -> None:
    """A poller that failed to renew in time (its loop stalled) finds the lease taken: it
    stops polling the crew at once and names the new poller."""
    async with Tracker([crew_profile(sim)], stores(), FAST) as tracker:
        run = await tracker.kickoff(ENV_CREW, inputs(sim, hold="1"))
        await wait_until(tracker, lambda: tracker.health(ENV_CREW).state == "ok")
        events: list[LeaseChanged] = []
        tracker.listen(lambda e: events.append(e) if isinstance(e, LeaseChanged) else None)
        lapse_leases(home)
        other = stores()
        assert other.claim_lease(ENV_CREW, 60.0)
        await wait_until(tracker, lambda: not tracker.holds_lease(ENV_CREW))
        assert events == [LeaseChanged(ENV_CREW, held=False, poller=tracker.here)]
        assert tracker.health(ENV_CREW).poller == tracker.here  # the other store, same pid
        # Nothing of the crew is planned any more; the run is still shown.
        await wait_until(tracker, lambda: tracker.health(ENV_CREW).interval is None)
        assert tracker.is_tracked(run.kickoff_id)


async def test_a_viewer_shows_a_crew_stale_once_its_poller_stopped_its_rounds(
    sim: SimServer, stores: Callable[[], Store], home: Path
) -> None:
    poller = stores()
    assert poller.claim_lease(ENV_CREW, 60.0)
    poller.mark_refreshed(ENV_CREW)
    async with Tracker([crew_profile(sim)], stores(), FAST) as viewer:
        assert not viewer.holds_lease(ENV_CREW)
        assert viewer.health(ENV_CREW).stale_since is None  # its last round was just now
        long_ago = utcnow() - timedelta(minutes=5)
        with sqlite3.connect(resolve_paths(home).store_file) as conn:
            conn.execute("UPDATE leases SET refreshed_at = ?", (bind_ts(long_ago),))
        conn.close()
        await wait_until(viewer, lambda: viewer.health(ENV_CREW).stale_since is not None)
        assert viewer.health(ENV_CREW).stale_since == long_ago
        poller.mark_refreshed(ENV_CREW)  # a round again: fresh
        await wait_until(viewer, lambda: viewer.health(ENV_CREW).stale_since is None)


def lapse_leases(home: Path) -> None:
    """Every lease in the history ran out (what a holder's stalled loop leads to)."""
    past = bind_ts(utcnow() - timedelta(seconds=1))
    with sqlite3.connect(resolve_paths(home).store_file) as conn:
        conn.execute("UPDATE leases SET expires_at = ?", (past,))
    conn.close()


async def test_a_poller_whose_token_is_rejected_hands_the_crew_to_a_process_whose_token_works(
    sim: SimServer, stores: Callable[[], Store]
) -> None:
    """Tokens are each process's own: a teammate's stale token must not leave every viewer
    with runs stuck where they were. The refused poller lets its lease go, once."""
    refused = replace(crew_profile(sim), token=Secret("not-the-token"))
    async with Tracker([refused], stores(), FAST) as stale:
        assert stale.holds_lease(ENV_CREW)
        async with Tracker([crew_profile(sim)], stores(), FAST) as working:
            assert not working.holds_lease(ENV_CREW)
            run = await working.kickoff(ENV_CREW, inputs(sim, hold="1"))
            await wait_until(stale, lambda: stale.health(ENV_CREW).state == "token_rejected")
            await wait_until(working, lambda: working.holds_lease(ENV_CREW))
            await wait_until(
                working,
                lambda: working.get(run.kickoff_id).state is RunState.PAUSED,  # type: ignore[union-attr]
            )
            await wait_until(stale, lambda: stale.health(ENV_CREW).poller == working.here)
            assert not stale.holds_lease(ENV_CREW)


async def test_a_viewer_shows_a_crew_stale_while_its_poller_gets_web_pages_for_every_run(
    sim: SimServer, stores: Callable[[], Store]
) -> None:
    """A poller whose every poll is answered by a web page (a proxy's login page, say) has
    learnt nothing: its rounds must not tell the viewers that the crew's runs are fresh."""
    async with Tracker([crew_profile(sim)], stores(), FAST) as starter:
        run = await starter.kickoff(ENV_CREW, inputs(sim, hold="1"))
        await wait_until(starter, lambda: starter.get(run.kickoff_id).state is RunState.PAUSED)  # type: ignore[union-attr]
    earlier = stores()  # the crew's earlier poller: a round of polls, then its lease ran out
    assert earlier.claim_lease(ENV_CREW, 0.0)
    earlier.mark_refreshed(ENV_CREW)
    login_page = raw_reply(200, "<html><body>Sign in</body></html>", "text/html")
    async with HostileServer() as proxy:
        proxy.script(*[login_page] * 500)
        behind_proxy = replace(crew_profile(sim), url=f"{proxy.url}/research")
        async with Tracker([behind_proxy], stores(), FAST) as poller:
            assert poller.holds_lease(ENV_CREW)
            async with Tracker([crew_profile(sim)], stores(), FAST) as viewer:
                assert not viewer.holds_lease(ENV_CREW)
                await wait_until(viewer, lambda: viewer.health(ENV_CREW).stale_since is not None)
                error = poller.get(run.kickoff_id).poll_error  # type: ignore[union-attr]
                assert error is not None
                # The viewer says why: what the poller was told.
                await wait_until(viewer, lambda: viewer.health(ENV_CREW).poller_trouble == error)


async def test_a_viewer_shows_a_crew_stale_when_its_first_poller_never_finished_a_round(
    sim: SimServer, stores: Callable[[], Store], home: Path
) -> None:
    """A poller that has been unreachable from its start leaves no round to count from:
    the viewer counts from when it found it polling, and says what it is told."""
    async with Tracker([crew_profile(sim)], stores(), FAST) as starter:
        run = await starter.kickoff(ENV_CREW, inputs(sim, hold="1"))
    with sqlite3.connect(resolve_paths(home).store_file) as conn:
        conn.execute("DELETE FROM leases")  # nobody has polled the crew yet
    conn.close()
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{closed.getsockname()[1]}/research"
    cut_off = replace(crew_profile(sim), url=dead_url)
    async with Tracker([cut_off], stores(), FAST) as poller:
        assert poller.holds_lease(ENV_CREW)
        async with Tracker([crew_profile(sim)], stores(), FAST) as viewer:
            assert viewer.is_tracked(run.kickoff_id) and not viewer.holds_lease(ENV_CREW)
            assert viewer.health(ENV_CREW).stale_since is None  # not yet a lease's time
            await wait_until(viewer, lambda: viewer.health(ENV_CREW).poller_trouble is not None)
            health = viewer.health(ENV_CREW)
            assert health.stale_since is not None and health.poller == poller.here
            assert health.poller_trouble == poller.health(ENV_CREW).message
        # A `watch` that views the crew gives up as if it polled it itself (exit 6): its
        # poller, which never gives up, is the one that cannot reach the crew.
        _, said = await crewtui_child(home, sim, "watch", run.kickoff_id, exit_code=6, give_up=1.0)
        assert f"polled by {poller.here}" in said and "Could not reach" in said, said


async def test_the_lease_heartbeat_does_not_queue_behind_the_store_calls_of_busy_polls(
    sim: SimServer, stores: Callable[[], Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poller with every thread of the shared pool busy (saves waiting for the history's
    write lock, as under 10,000 runs in ``bench_team.py``) still renews its lease: else it
    lapses and a viewer takes the crew over."""
    store = stores()
    async with Tracker([crew_profile(sim)], store, FAST) as tracker:
        assert tracker.holds_lease(ENV_CREW)
        loop = asyncio.get_running_loop()
        renewed = asyncio.Event()
        claim = store.claim_lease

        def noted_claim(crew: str, ttl: float) -> bool:
            held = claim(crew, ttl)
            loop.call_soon_threadsafe(renewed.set)
            return held

        monkeypatch.setattr(store, "claim_lease", noted_claim)
        busy = threading.Event()
        blocked = [loop.run_in_executor(None, busy.wait) for _ in range(64)]
        try:
            # A deadlock check, not a timing one: without its own thread it waits for busy.
            await asyncio.wait_for(renewed.wait(), timeout=60)
        finally:
            busy.set()
            await asyncio.gather(*blocked)
