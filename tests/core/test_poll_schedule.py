"""The poll planner on its own: a virtual clock, no I/O."""

from __future__ import annotations

import math

from crewtui.core.schedule import CrewPlanner, DurationModel, PlanSettings, Strategy, TaskFit

SETTINGS = PlanSettings(
    min_interval=1.0, max_interval=15.0, longest_wait=60.0, confirm_after=60.0, first_delay=0.5
)
# How long the crew's two tasks took in the history: about 40 s, and about ten minutes.
HISTORY = DurationModel(
    {
        ("content", "outline_task"): [36.0, 38.0, 40.0, 41.0, 43.0, 45.0],
        ("content", "draft_task"): [540.0, 580.0, 600.0, 610.0, 650.0],
    }
)


def planner(budget: float = 10.0, strategy: Strategy = "predictive") -> CrewPlanner:
    return CrewPlanner(SETTINGS, HISTORY, crew="content", budget=budget, strategy=strategy)


def start(plan: CrewPlanner, kickoff_id: str, now: float, task: str) -> None:
    """Add a run and give it its first poll, which sees ``task`` begin."""
    plan.add(kickoff_id, now)
    plan.sent(kickoff_id, now + 0.5)
    plan.changed(kickoff_id, now + 0.5, task, pushed=False)
    plan.answered(kickoff_id, now + 0.5)


def take_all(plan: CrewPlanner, now: float) -> list[str]:
    """Every run eligible at ``now``, in the order the planner gives them."""
    taken = []
    while (kickoff_id := plan.take(now)) is not None:
        plan.sent(kickoff_id, now)
        taken.append(kickoff_id)
    return taken


def test_a_task_fit_needs_enough_history_and_shrugs_off_a_stray_run() -> None:
    assert TaskFit.of([40.0, 41.0, 39.0, 40.0]) is None
    fit = TaskFit.of([40.0, 41.0, 39.0, 40.0, 42.0, 3600.0])
    assert fit is not None
    assert 39.0 < fit.typical < 42.0
    assert fit.survival(20.0, 1.0, 0.0) > 0.99
    assert fit.survival(80.0, 1.0, 0.0) < 0.01
    assert math.isclose(fit.survival(fit.elapsed_at(0.3, 1.0, 0.0), 1.0, 0.0), 0.3)


def test_the_run_whose_task_should_end_now_goes_before_one_that_just_began() -> None:
    plan = planner()
    start(plan, "ending", 0.0, "outline_task")
    start(plan, "beginning", 30.0, "outline_task")
    start(plan, "long", 0.0, "draft_task")
    # At 42 s every run is eligible (15 s is the longest a run waits to be), and the budget
    # allows one request: the run 42 s into a task that takes about 40 s goes first.
    assert take_all(plan, 42.0)[0] == "ending"


def test_a_run_is_not_polled_in_the_middle_of_a_long_task_more_than_it_must() -> None:
    plan = planner()
    start(plan, "long", 0.0, "draft_task")
    polls = 0
    now = 0.5
    while now < 300.0:
        now += 0.1
        for kickoff_id in take_all(plan, now):
            polls += 1
            plan.answered(kickoff_id, now)
    # Ten minutes of task: polled every max_interval (15 s) at most, not every second.
    assert polls <= 300 / SETTINGS.max_interval + 1
    assert polls >= 300 / SETTINGS.max_interval - 2


def test_no_run_starves_and_a_starving_run_goes_first() -> None:
    plan = planner(budget=1.0)
    for number in range(30):
        start(plan, f"run-{number}", 0.0, "outline_task")
    start(plan, "long", 0.0, "draft_task")
    for run_id in [f"run-{number}" for number in range(30)] + ["long"]:
        run = plan.run(run_id)
        assert run is not None
        # Eligible at the latest after as long as polling every run in turn takes.
        assert run.eligible_at - run.last_poll <= max(SETTINGS.max_interval, 31 / 1.0)
    for number in range(30):  # polled again when their task should end
        plan.sent(f"run-{number}", 40.0)
        plan.answered(f"run-{number}", 40.0)
    # Past the longest wait, the long run goes before the 30 whose task should have ended.
    assert plan.take(0.5 + SETTINGS.longest_wait) == "long"


def test_polls_stay_within_the_budget_and_spare_it_when_runs_are_quiet() -> None:
    """Driven as the tracker drives it: one request per token of a 10/s budget."""
    plan = planner(budget=10.0)
    for number in range(3):
        start(plan, f"quiet-{number}", 0.0, "draft_task")
    sent = 0
    now = 0.5
    while now < 120.0:
        now += 0.1  # one token
        kickoff_id = plan.take(now)
        if kickoff_id is not None:
            plan.sent(kickoff_id, now)
            plan.answered(kickoff_id, now)
            sent += 1
    assert sent <= 10 * 120
    # Three runs in a long task cost far less than polling each every second would.
    assert sent <= 0.3 * 3 * 120
    assert plan.rate(now) <= 10.0


def test_a_run_that_receives_webhooks_only_needs_a_slow_confirming_poll() -> None:
    plan = planner()
    start(plan, "pushed", 0.0, "outline_task")
    plan.changed("pushed", 10.0, "outline_task", pushed=True)
    run = plan.run("pushed")
    assert run is not None
    assert run.eligible_at == 10.0 + SETTINGS.confirm_after
    assert take_all(plan, 45.0) == []  # its task should end about now: the push will say


def test_recently_changed_runs_are_polled_sooner_than_long_quiet_ones_without_history() -> None:
    plan = planner()
    plan.add("quiet", 0.0, task="unknown_task", quiet_for=600.0)
    plan.add("moved", 0.0, task="unknown_task", quiet_for=600.0)
    for kickoff_id in take_all(plan, 0.5):
        plan.answered(kickoff_id, 0.5)
    for kickoff_id in take_all(plan, 16.0):
        if kickoff_id == "moved":
            plan.changed(kickoff_id, 16.0, "next_task", pushed=False)
        plan.answered(kickoff_id, 16.0)
    quiet, moved = plan.run("quiet"), plan.run("moved")
    assert quiet is not None and moved is not None
    assert moved.eligible_at - 16.0 == SETTINGS.min_interval
    assert quiet.eligible_at - 16.0 == SETTINGS.max_interval


def test_round_robin_takes_runs_in_turn_whatever_their_tasks() -> None:
    plan = planner(budget=1.0, strategy="round_robin")
    start(plan, "long", 0.0, "draft_task")
    start(plan, "ending", 1.0, "outline_task")
    assert take_all(plan, 42.0) == ["long", "ending"]


def test_poll_now_and_a_retry_go_before_the_likeliest_change() -> None:
    plan = planner()
    start(plan, "ending", 0.0, "outline_task")
    start(plan, "asked", 0.0, "draft_task")
    start(plan, "failed", 0.0, "draft_task")
    plan.poll_now(41.0, "asked")
    plan.sent("failed", 20.0)
    plan.answered("failed", 20.0, hold=5.0)
    assert take_all(plan, 41.0) == ["asked", "failed", "ending"]
