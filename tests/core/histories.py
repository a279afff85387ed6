"""Hand-made histories in a real SQLite store: past runs whose tasks took known times, and
running runs whose current task began at a known moment (stall, stats and diff tests)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crewtui.api.models import Kickoff, TaskResult
from crewtui.api.rows import Usage
from crewtui.api.states import RunState, TaskState
from crewtui.core.store import Store

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
# Run ids stay unique across calls (a repeated id would merge two runs into one).
_SERIAL = itertools.count()


def past_runs(
    store: Store,
    crew: str,
    task: str,
    seconds: Sequence[float],
    *,
    ended_before: datetime = NOW,
    state: RunState = RunState.COMPLETED,
    tokens: int | None = None,
    model: str | None = None,
) -> list[Kickoff]:
    """One ended run of ``crew`` per duration, each with one ``task`` that took it, an hour
    apart back from ``ended_before``; ``tokens`` each (a third prompt, the rest completion)."""
    runs = []
    for hours_before, took in enumerate(seconds, start=1):
        created = ended_before - timedelta(hours=hours_before)
        usage = None
        if tokens is not None:
            prompt = tokens // 3
            usage = Usage(
                total_tokens=tokens, prompt_tokens=prompt, completion_tokens=tokens - prompt
            )
        task_state = TaskState.COMPLETED if state is RunState.COMPLETED else TaskState.FAILED
        run = Kickoff(
            kickoff_id=f"{crew}-{task}-{state.value}-{next(_SERIAL):04d}",
            crew=crew,
            state=state,
            created_at=created,
            updated_at=created + timedelta(seconds=took),
            started_at=created,
            finished_at=created + timedelta(seconds=took),
            execution_time=took,
            tasks=[
                TaskResult(task_id=task, agent="Researcher", state=task_state, execution_time=took)
            ],
            usage=usage,
            model=model,
        )
        runs.append(store.save_kickoff(run))
    return runs


def running_run(
    store: Store, crew: str, task: str, task_began: datetime, kickoff_id: str = "running-0001"
) -> Kickoff:
    """A run of ``crew`` whose current ``task`` was first seen running at ``task_began``."""
    return store.save_kickoff(
        Kickoff(
            kickoff_id=kickoff_id,
            crew=crew,
            state=RunState.RUNNING,
            created_at=task_began,
            updated_at=task_began,
            started_at=task_began,
            current_task=task,
            tasks=[TaskResult(task_id=task, state=TaskState.RUNNING, started_at=task_began)],
        )
    )


def history_file(home: Path) -> Path:
    """Where ``crewtui --home HOME`` keeps its history (made by the config module's rules)."""
    from crewtui.config import resolve_paths

    return resolve_paths(home).store_file
