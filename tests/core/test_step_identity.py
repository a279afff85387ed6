"""One agent step is one step, whichever channels brought it and however often.

In the live dialect a step reaches crewtui twice: in the poll's ``last_step`` and in the step
webhook. These tests run the real assembly (store, tracker, webhook receiver) against the
simulator in both dialects and count what the store kept and what the tracker announced.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crewtui.api.dialects import parse_status
from crewtui.api.models import Step
from crewtui.api.pushes import parse_push
from crewtui.core import store_models, store_rows, store_schema
from crewtui.core.merge import merge_step
from crewtui.core.store import Store
from crewtui.core.tracker_events import StepsAdded, TrackerEvent
from crewtui.sim import SimServer
from crewtui.sim.crews import CREWS, fill
from tests.core.live_runtime import webhook_runtime
from tests.helpers import wait_until

KICKOFF = "5f1c2a9e-0d4b-4c1e-9a53-7b0f6f1d2c3a"
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
STEP = {
    "thought": "我需要先找到适合科技与游戏爱好者的日本城市。",
    "tool": "search",
    "tool_input": "日本 科技 游戏 旅游 景点",
    "result": "找到 12 个相关结果",
}


def polled_step(last_step: dict[str, object], at: datetime = T0) -> Step:
    body = {"state": "RUNNING", "status": "Task is Running", "last_step": last_step}
    [step] = parse_status(KICKOFF, 200, body, at).steps
    return step


def pushed_step(body: dict[str, object], at: datetime = T0) -> Step:
    [step] = [
        item
        for item in parse_push("step", {"kickoff_id": KICKOFF, **body}, at)
        if isinstance(item, Step)
    ]
    return step


def test_a_polled_step_and_its_webhook_are_one_step() -> None:
    webhook = pushed_step({"prompt": "调研目的地", "meta": {"requestId": "r-1"}, **STEP})
    poll = polled_step(STEP, T0 + timedelta(seconds=3))
    assert poll.key == webhook.key
    merged = merge_step(poll, webhook)
    # The first arrival dates it; the webhook's fuller body is the raw kept.
    assert merged.received_at == T0
    assert merged.raw == webhook.raw
    assert merge_step(webhook, poll) == merged.model_copy(update={"raw": webhook.raw})


@pytest.mark.parametrize(
    "variant",
    [
        {**STEP, "thought": STEP["thought"] + "\r\n"},
        {**STEP, "result": "  " + STEP["result"]},
        # The same tool input as an object in one channel and as JSON text in the other.
        {**STEP, "tool_input": '{"b": [1, 2], "a": "东京"}'},
    ],
)
def test_channels_that_format_a_step_differently_still_agree(variant: dict[str, object]) -> None:
    reference = dict(STEP)
    if isinstance(variant["tool_input"], str) and variant["tool_input"].startswith("{"):
        reference["tool_input"] = {"a": "东京", "b": [1, 2]}
    assert polled_step(variant).key == pushed_step(reference).key


def test_different_steps_and_different_runs_stay_apart() -> None:
    step = pushed_step(STEP)
    assert pushed_step({**STEP, "result": "another result"}).key != step.key
    assert step.model_copy(update={"kickoff_id": "another"}).key != step.key
    # Two identical tool calls of the batched form are two events (their ids differ).
    event = {"execution_id": KICKOFF, "type": "tool_usage_finished", "data": {"tool_name": "s"}}
    first, second = (
        parse_push("events", {"events": [event | {"id": name}]}, T0)[-1] for name in "ab"
    )
    assert first.key != second.key


def test_the_store_keeps_one_row_per_step_and_the_fullest_copy(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "history.sqlite3")
    try:
        poll = polled_step(STEP, T0 + timedelta(seconds=2))
        webhook = pushed_step({"prompt": "调研目的地", **STEP}, T0 + timedelta(seconds=1))
        assert store.add_steps([poll]) == [poll]
        assert store.add_steps([webhook, poll]) == []
        assert store.list_steps(KICKOFF) == [merge_step(poll, webhook)]
    finally:
        store.close()


def simulated_steps(crew: str, inputs: dict[str, str]) -> list[tuple[str, ...]]:
    """Every agent step the simulator's crew takes, as (thought, tool, input, result)."""
    return [
        tuple(fill(text, inputs) for text in (s.thought, s.tool, s.tool_input, s.result))
        for task in CREWS[crew].tasks
        for s in task.steps
    ]


async def test_each_simulated_step_is_stored_and_announced_once(
    sim_any: SimServer, tmp_path: Path
) -> None:
    """Polls and step webhooks together, in either dialect: exactly one step per step."""
    announced: list[Step] = []

    def on_event(event: TrackerEvent) -> None:
        if isinstance(event, StepsAdded):
            announced.extend(event.steps)

    # Slower than the default so that polls see most steps as the live ``last_step`` too.
    inputs = sim_any.sample_inputs("travel") | {"duration_scale": "3"}
    expected = simulated_steps("travel", inputs)
    # The classic step webhooks, the ones polls' ``last_step`` repeats.
    async with webhook_runtime(sim_any, tmp_path, "travel", form="classic") as runtime:
        tracker, store = runtime.tracker, runtime.store
        tracker.listen(on_event)
        kickoff_id = (await tracker.kickoff("travel", inputs)).kickoff_id
        await wait_until(tracker, lambda: tracker.get(kickoff_id).is_terminal)  # type: ignore[union-attr]
        await wait_until(tracker, lambda: len(store.list_steps(kickoff_id)) >= len(expected))
        stored = store.list_steps(kickoff_id)

    def content(steps: list[Step]) -> list[tuple[str | None, ...]]:
        return [(s.thought, s.tool, s.tool_input, s.result) for s in steps]

    assert content(stored) == expected
    assert sorted(content(announced)) == sorted(expected)
    # The stored copy is the step webhook's: the fuller of the two payloads.
    assert all(isinstance(s.raw, dict) and "prompt" in s.raw for s in stored)


def test_a_history_written_before_step_identity_keeps_one_copy_of_each_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The migration re-keys the steps an older crewtui stored twice; running it again (the
    integrator may renumber it) changes nothing."""
    path = tmp_path / "history.sqlite3"
    with monkeypatch.context() as old:
        old.setattr(store_schema, "MIGRATIONS", store_schema.MIGRATIONS[:1])
        old.setattr(store_schema, "SCHEMA_VERSION", 1)
        store = Store.open(path)
        poll = polled_step(STEP, T0 + timedelta(seconds=2))
        webhook = pushed_step({"prompt": "调研目的地", **STEP}, T0 + timedelta(seconds=1))
        other = pushed_step({**STEP, "result": "another result"}, T0 + timedelta(seconds=5))
        with store._write() as conn:  # the keys of old: one per payload
            for n, step in enumerate((poll, webhook, other)):
                conn.execute(
                    store_rows.INSERT_STEP, store_models.step_values(step) | {"step_key": n}
                )
        store.close()

    store = Store.open(path)
    try:
        expected = [merge_step(poll, webhook), other]
        assert store.list_steps(KICKOFF) == expected
        with store._write() as conn:
            store_schema._migrate_tracked_at_and_step_identity(conn)
        assert store.list_steps(KICKOFF) == expected
        assert store.health()["counts"]["steps"] == 2  # type: ignore[index]
    finally:
        store.close()
