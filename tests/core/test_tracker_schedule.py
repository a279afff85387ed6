"""Predictive polling end to end: the tracker, a simulator that logs its requests, a real
store whose history says how long the crew's first task takes."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from crewtui.api.models import Kickoff, TaskResult
from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.api.states import RunState, TaskState
from crewtui.core.schedule import Strategy
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker, utcnow
from crewtui.settings import PollSettings
from crewtui.sim import SimOptions
from crewtui.sim.crews import CREWS
from crewtui.sim.server import ThreadedServer, create_app
from tests.api.hostile_server import HostileServer, drip, json_reply
from tests.helpers import wait_until

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

# One request per second for the crew: the order of polls is the planner's choice.
SETTINGS = PollSettings(min_interval=0.2, max_interval=5.0, requests_per_second=1.0)
# The first task of the runs under test takes about 3 s, as it did in the history.
OUTLINE_SECONDS = 3.0


class PollLog:
    """The simulator, noting the kickoff id of every status poll in order."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.polled: list[str] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and "/status/" in path:
            self.polled.append(path.rsplit("/", 1)[-1])
        await self.app(scope, receive, send)


@pytest.fixture
def logged_sim() -> Iterator[tuple[ThreadedServer, PollLog]]:
    log = PollLog(create_app(SimOptions(dialect="live", speed=1.0, seed=3)))
    with ThreadedServer(log) as server:
        yield server, log


def remember_outline_durations(store: Store) -> None:
    """Five finished runs of ``content`` whose outline took about ``OUTLINE_SECONDS``."""
    for number, seconds in enumerate((2.8, 2.9, 3.0, 3.1, 3.2)):
        began = utcnow() - timedelta(hours=number + 1)
        store.save_kickoff(
            Kickoff(
                kickoff_id=f"00000000-0000-4000-8000-00000000000{number}",
                crew="content",
                state=RunState.COMPLETED,
                created_at=began,
                updated_at=began,
                tasks=[
                    TaskResult(
                        task_id="outline_task", state=TaskState.COMPLETED, execution_time=seconds
                    )
                ],
            )
        )


def start_long_run(base_url: str, store: Store) -> str:
    """A run in its first task for ten minutes already, as the history recorded it."""
    inputs = dict(CREWS["content"].sample_inputs) | {"duration_scale": "100"}
    answer = httpx.post(
        f"{base_url}/content/kickoff",
        json={"inputs": inputs},
        headers={"Authorization": f"Bearer {SimOptions().token}"},
    )
    kickoff_id = str(answer.json()["kickoff_id"])
    long_ago = utcnow() - timedelta(minutes=10)
    store.save_kickoff(
        Kickoff(
            kickoff_id=kickoff_id,
            crew="content",
            state=RunState.RUNNING,
            created_at=long_ago,
            updated_at=long_ago,
            current_task="outline_task",
            tasks=[TaskResult(task_id="outline_task", started_at=long_ago)],
        )
    )
    return kickoff_id


async def polls_until_the_short_task_ends(
    server: ThreadedServer, log: PollLog, tmp_path: Path, strategy: Strategy
) -> tuple[str, str, list[str]]:
    store = Store.open(tmp_path / f"{strategy}.sqlite3")
    try:
        remember_outline_durations(store)
        quiet = start_long_run(server.base_url, store)
        url = f"{server.base_url}/content"
        crew = CrewProfile(name="content", url=url, token=Secret(SimOptions().token))
        async with Tracker([crew], store, SETTINGS, strategy=strategy) as tracker:
            await wait_until(tracker, lambda: log.polled.count(quiet) >= 1)
            scale = OUTLINE_SECONDS / CREWS["content"].tasks[0].duration
            inputs = dict(CREWS["content"].sample_inputs) | {"duration_scale": f"{scale:.4f}"}
            ending = (await tracker.kickoff("content", inputs)).kickoff_id
            await wait_until(tracker, lambda: tracker.get(ending).current_task == "draft_task")
        return quiet, ending, list(log.polled)
    finally:
        store.close()


async def test_a_run_whose_task_should_end_is_polled_before_a_long_quiet_one(
    logged_sim: tuple[ThreadedServer, PollLog], tmp_path: Path
) -> None:
    server, log = logged_sim
    quiet, ending, polled = await polls_until_the_short_task_ends(
        server, log, tmp_path, "predictive"
    )
    # The quiet run was polled once when adopted; the budget then went to the run whose
    # outline should end about now, until its end was seen.
    assert polled.count(quiet) == 1, polled
    assert polled.count(ending) >= 2


async def test_round_robin_spends_the_same_budget_on_the_quiet_run(
    logged_sim: tuple[ThreadedServer, PollLog], tmp_path: Path
) -> None:
    """The floor the benchmark compares with: runs in turn, whatever their tasks."""
    server, log = logged_sim
    quiet, _, polled = await polls_until_the_short_task_ends(server, log, tmp_path, "round_robin")
    assert polled.count(quiet) >= 2, polled


async def test_tracking_a_run_polls_it_once_while_that_first_poll_is_out(tmp_path: Path) -> None:
    """``track`` adopts the run (due at once for the crew's poller) and polls it: the poller
    must not send a second request while that first answer is still coming (a slow service,
    or a loaded machine: `watch` of a run answered by a web page asked twice)."""
    kickoff_id = str(uuid.uuid4())
    running = json_reply(200, {"state": "STARTED", "status": None, "result": None})
    store = Store.open(tmp_path / "history.sqlite3")
    async with HostileServer() as server:
        server.script(drip(running, interval=0.005))  # about a second for the answer
        server.fallback = running
        crew = CrewProfile(name="crew", url=server.url, token=Secret("t" * 20))
        async with Tracker([crew], store, PollSettings(min_interval=0.2)) as tracker:
            kickoff = await tracker.track("crew", kickoff_id)
            assert kickoff.state is RunState.RUNNING
            assert [request.target for request in server.requests] == [f"/status/{kickoff_id}"]
    store.close()
