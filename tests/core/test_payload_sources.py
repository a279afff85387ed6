"""Every source's last payload is kept: the poll's, the kickoff answer's, each webhook's.

When a webhook brings a run's end, the last polled payload is stale; Raw and
``status --json`` show each source's newest payload, newest first, with its source and time,
while ``raw`` stays what it always was (the last polled body) for scripts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from crewtui.api.models import Kickoff, Observation, Payload
from crewtui.api.states import RunState
from crewtui.core.merge import apply_observation, merge_stored
from crewtui.headless import status_json
from crewtui.sim import SimServer
from tests.core.live_runtime import webhook_runtime
from tests.helpers import wait_until

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
KICKOFF = "5f1c2a9e-0d4b-4c1e-9a53-7b0f6f1d2c3a"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def kickoff() -> Kickoff:
    return Kickoff(kickoff_id=KICKOFF, crew="travel", created_at=T0, updated_at=T0)


def poll(seconds: float, body: dict[str, object]) -> Observation:
    return Observation(
        kickoff_id=KICKOFF, observed_at=at(seconds), raw=body, channel="poll", source="poll"
    )


async def test_a_run_ended_by_webhook_keeps_each_sources_last_payload(
    sim: SimServer, tmp_path: Path
) -> None:
    async with webhook_runtime(sim, tmp_path, "travel", form="classic") as runtime:
        tracker = runtime.tracker
        kickoff_id = (await tracker.kickoff("travel", sim.sample_inputs("travel"))).kickoff_id
        await wait_until(
            tracker,
            lambda: any(
                p.source == "crew webhook"
                for p in tracker.get(kickoff_id).raw_by_source  # type: ignore[union-attr]
            ),
        )
        final = tracker.get(kickoff_id)
        stored = runtime.store.get_kickoff(kickoff_id)
    assert final is not None and final.state is RunState.COMPLETED
    payloads = {payload.source: payload for payload in final.raw_by_source}
    assert set(payloads) == {"kickoff", "poll", "task webhook", "step webhook", "crew webhook"}
    assert payloads["kickoff"].body == {"kickoff_id": kickoff_id}
    assert payloads["crew webhook"].body["result"] == final.output  # type: ignore[index]
    assert payloads["task webhook"].body["name"] == "planning_task"  # type: ignore[index]
    times = [payload.received_at for payload in final.raw_by_source]
    assert times == sorted(times, reverse=True)
    # ``raw`` is still the last polled body, as scripts expect.
    assert final.raw == payloads["poll"].body and "state" in final.raw
    assert stored is not None and stored.raw_by_source == final.raw_by_source

    status = status_json(final)
    assert status["raw"] == final.raw
    assert [(entry["source"], entry["body"]) for entry in status["raw_by_source"]] == [
        (payload.source, payload.body) for payload in final.raw_by_source
    ]


def test_a_repeated_body_changes_nothing_and_a_late_old_one_replaces_nothing() -> None:
    first = apply_observation(kickoff(), poll(1, {"state": "RUNNING"}))
    assert apply_observation(first, poll(2, {"state": "RUNNING"})) is first
    newer = apply_observation(first, poll(3, {"state": "SUCCESS"}))
    assert newer.raw_by_source == [Payload(source="poll", received_at=at(3), body=newer.raw)]
    late = poll(2.5, {"state": "RUNNING", "late": True})
    assert apply_observation(newer, late).raw_by_source == newer.raw_by_source


def test_two_writers_keep_the_newest_payload_of_each_source() -> None:
    crew = Payload(source="crew webhook", received_at=at(9), body={"result": "好"})
    old_poll = Payload(source="poll", received_at=at(5), body={"state": "RUNNING"})
    new_poll = Payload(source="poll", received_at=at(8), body={"state": "SUCCESS"})
    one = kickoff().model_copy(update={"raw_by_source": [crew, old_poll], "updated_at": at(9)})
    other = kickoff().model_copy(update={"raw_by_source": [new_poll], "updated_at": at(8)})
    assert merge_stored(one, other).raw_by_source == [crew, new_poll]
    assert merge_stored(other, one).raw_by_source == [crew, new_poll]
