"""A flow run end to end, pushes on, in both dialects: its methods are its tasks, its
reviewer's pause is a wait on a method, answered through POST /resume."""

from __future__ import annotations

from pathlib import Path

from crewtui.api.models import Kickoff
from crewtui.api.states import RunState
from crewtui.core.tracker import Tracker
from crewtui.sim import SimServer
from tests.core.live_runtime import webhook_runtime
from tests.helpers import wait_until

FLOW = "onboarding"
METHODS = ["collect_profile", "verify_identity", "approve_account", "send_welcome"]


def _get(tracker: Tracker, kickoff_id: str) -> Kickoff:
    kickoff = tracker.get(kickoff_id)
    assert kickoff is not None
    return kickoff


async def test_a_flow_shows_its_methods_waits_on_its_reviewer_and_goes_on(
    sim_any: SimServer, tmp_path: Path
) -> None:
    async with webhook_runtime(sim_any, tmp_path, FLOW) as runtime:
        tracker = runtime.tracker
        kickoff_id = (await tracker.kickoff(FLOW, dict(sim_any.sample_inputs(FLOW)))).kickoff_id
        await wait_until(tracker, lambda: _get(tracker, kickoff_id).state is RunState.PAUSED)
        paused = _get(tracker, kickoff_id)
        assert paused.kind == "flow"
        assert {task.task_id for task in paused.tasks} >= set(METHODS[:2])
        assert paused.waiting_for is not None
        assert paused.waiting_for.task_id == "approve_account"
        assert paused.waiting_for.message is not None
        assert paused.waiting_for.message.startswith("Approve the Team account")
        resumed = await tracker.resume(kickoff_id, feedback="Looks right")
        followed = resumed.kickoff.kickoff_id

        def ended() -> bool:
            kickoff = _get(tracker, followed)
            return kickoff.state is RunState.COMPLETED and kickoff.output is not None

        await wait_until(tracker, ended)
        done = _get(tracker, followed)
        assert done.kind == "flow"
        assert done.output is not None and "Welcome to Beacon" in done.output
        assert done.usage is not None and done.usage.total_tokens
