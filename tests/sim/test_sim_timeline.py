"""A run's state as a pure function of the clock, and the crews' data (no server needed)."""

from __future__ import annotations

import pytest

from crewtui.sim.crews import CREWS
from crewtui.sim.timeline import Phase, Run, resume, snapshot, waiting_task


def _run(crew: str = "travel", speed: float = 1.0, **options: bool | float) -> Run:
    """A run that started at monotonic time 0 (at reference speed unless told)."""
    return Run(
        crew=CREWS[crew],
        kickoff_id="k1",
        inputs=dict(CREWS[crew].sample_inputs),
        meta=None,
        started_mono=0.0,
        started_wall=1_800_000_000.0,
        speed=speed,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("now", "phase", "done", "current"),
    [
        (0.2, Phase.PENDING, [], None),
        (10.0, Phase.RUNNING, [], "research_task"),
        (50.0, Phase.RUNNING, ["research_task"], "planning_task"),
        (108.5, Phase.COMPLETED, ["research_task", "planning_task"], None),
        (500.0, Phase.COMPLETED, ["research_task", "planning_task"], None),
    ],
)
def test_travel_follows_the_reference_timings(
    now: float, phase: Phase, done: list[str], current: str | None
) -> None:
    snap = snapshot(_run(), now)
    assert snap.phase is phase
    assert [task.task_id for task, _ in snap.done] == done
    assert (snap.current.task_id if snap.current else None) == current
    assert snap.elapsed == pytest.approx(min(now, 108.5))


def test_speed_and_scale_change_the_clock_not_the_story() -> None:
    fast = _run(speed=10.0)
    slow = _run(scale=2.0)
    assert snapshot(fast, 10.85).phase is Phase.COMPLETED
    assert snapshot(slow, 200.0).phase is Phase.RUNNING
    assert [round(t, 1) for _, t in snapshot(slow, 300.0).done] == [90.4, 125.6]


def test_a_failing_run_fails_at_the_reference_moment_in_its_first_task() -> None:
    run = _run(will_fail=True)
    assert snapshot(run, 23.0).phase is Phase.RUNNING
    failed = snapshot(run, 23.1)
    assert (failed.phase, failed.elapsed, failed.done) == (Phase.FAILED, 23.1, ())


def test_a_held_run_waits_with_its_clock_stopped_until_resumed() -> None:
    run = _run(hold=True)
    assert waiting_task(run, 40.0) is None
    paused = snapshot(run, 1000.0)
    assert paused.phase is Phase.PAUSED and paused.elapsed == pytest.approx(45.7)
    assert waiting_task(run, 1000.0) is CREWS["travel"].tasks[0]
    resume(run, 1000.0, approved=True)
    assert run.resumed.is_set() and waiting_task(run, 1000.0) is None
    assert snapshot(run, 1001.0).current is CREWS["travel"].tasks[1]
    assert snapshot(run, 1000.0 + 62.81).phase is Phase.COMPLETED


@pytest.mark.parametrize("crew", ["outreach", "content", "research"])
def test_english_crews_have_three_tasks_by_distinct_agents(crew: str) -> None:
    tasks = CREWS[crew].tasks
    assert len(tasks) == 3 and len({task.agent for task in tasks}) == 3
    final = tasks[-1].render(CREWS[crew].sample_inputs)
    assert final.startswith("# ") and "\n## " in final and "\n| " in final
    assert "$" not in final.replace("$our_product", "")  # every placeholder filled
    assert 0 < CREWS[crew].fail_at < tasks[0].duration + tasks[1].duration


def test_some_crew_output_has_a_code_block_and_travel_speaks_chinese() -> None:
    outputs = [task.output for crew in CREWS.values() for task in crew.tasks]
    assert any("```" in output for output in outputs)
    travel = CREWS["travel"]
    assert [(task.task_id, task.agent, task.duration) for task in travel.tasks] == [
        ("research_task", "旅行研究员", 45.2),
        ("planning_task", "行程规划师", 62.8),
    ]
    assert travel.tasks[-1].output.startswith("为期 7 天的日本科技文化主题综合旅行行程")
    assert (travel.error, travel.fail_at) == ("任务执行失败：外部服务的 API 密钥无效", 23.1)
