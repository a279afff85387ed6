"""The app started for one crew on a shared history: the other crews' active runs are not
polled by this session, and their rows and detail say so instead of "running" as if live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crewtui.api.models import Kickoff
from crewtui.api.states import RunState
from crewtui.sim import SimServer
from crewtui.ui.pilot import settle
from tests.ui.app_helpers import AppFactory, main_screen, sim_crews


def running(crew: str, number: int) -> Kickoff:
    start = datetime.now(UTC) - timedelta(minutes=5)
    return Kickoff(
        kickoff_id=f"{number:08x}-0000-4000-8000-000000000000",
        crew=crew,
        state=RunState.RUNNING,
        current_task="outline_task",
        created_at=start,
        updated_at=start,
    )


async def test_another_crews_running_run_reads_not_followed_in_the_list_and_the_detail(
    sim: SimServer, make_app: AppFactory
) -> None:
    store = make_app.store()
    other = running("content", 1)
    store.save_kickoff(other)
    travel_only = [crew for crew in sim_crews(sim) if crew.name == "travel"]
    app = make_app(travel_only)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await main_screen(pilot)
        await settle(pilot, lambda: other.kickoff_id in screen.kickoffs)
        task = screen.kickoffs.cell(other.kickoff_id, "task").plain
        assert task.startswith("not followed · outline"), task
        screen.kickoffs.select(other.kickoff_id)
        header = screen.query_one("#detail-header")
        await settle(pilot, lambda: "not followed" in str(header.render()))
        assert "Stale: not followed in this session, which polls travel only" in str(
            header.render()
        )
        # The crew this session polls reads as usual.
        travel = await app.tracker.kickoff("travel", sim.sample_inputs("travel"))
        await settle(pilot, lambda: travel.kickoff_id in screen.kickoffs)
        assert "not followed" not in screen.kickoffs.cell(travel.kickoff_id, "task").plain
