"""A running crewtui as ``core.runtime.assemble`` builds it, webhooks on, over a simulator."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from crewtui.api.profile import CrewProfile
from crewtui.api.rows import Usage
from crewtui.api.secret import Secret
from crewtui.api.states import RunState, WebhookForm
from crewtui.config import Config, resolve_paths
from crewtui.core.runtime import Runtime, assemble
from crewtui.core.store import Store
from crewtui.settings import PollSettings, WebhookSettings
from crewtui.sim import SimServer
from crewtui.sim.crews import CREWS
from crewtui.sim.timeline import Run, call_usage, timeline, usage_until
from tests.helpers import wait_until

# Brisk enough that polls see most of a run's moments, not only its webhooks.
BRISK = PollSettings(min_interval=0.02, max_interval=0.05)


@asynccontextmanager
async def webhook_runtime(
    sim: SimServer,
    home: Path,
    crew: str,
    form: WebhookForm = "events",
    *,
    hitl_secret: str | None = None,
    store_file: Path | None = None,
) -> AsyncIterator[Runtime]:
    """Store (``store_file``, by default ``home``/history.sqlite3), tracker and a started
    receiver whose URLs every kickoff sends, as the app does. With ``hitl_secret`` the
    receiver takes flows' signed requests instead, the simulator sends them there, and
    kickoffs ask for no pushes (the pause is known from the request, and polls)."""
    profile = CrewProfile(name=crew, url=sim.crew_url(crew), token=Secret(sim.options.token))
    signing = Secret(hitl_secret) if hitl_secret is not None else None
    settings = WebhookSettings(listen="127.0.0.1:0", form=form, hitl_secret=signing)
    config = Config(crews={crew: profile}, poll=BRISK, webhooks=settings)
    store = Store.open(store_file or home / "history.sqlite3")
    runtime = assemble([profile], config, resolve_paths(home), store=store)
    receiver = runtime.receiver
    assert receiver is not None
    await receiver.start()
    if hitl_secret is None:
        runtime.tracker.webhook_urls = receiver.urls
    else:
        sim.options.hitl_url = receiver.hitl_url
        sim.options.hitl_secret = hitl_secret
    try:
        await runtime.tracker.start(resume=False)
        yield runtime
    finally:
        await runtime.tracker.stop()
        await receiver.stop()
        store.close()


async def run_to_the_end_with_usage(runtime: Runtime, crew: str, inputs: dict[str, str]) -> str:
    """Kick off a run as crewtui does, receiver on (so it asks for the batched events);
    return its id once it completed and its ``calls`` LLM calls and last event arrived."""
    tracker = runtime.tracker
    kickoff_id = (await tracker.kickoff(crew, inputs)).kickoff_id
    calls = simulated_calls(crew, inputs)

    def seen_all() -> bool:
        kickoff = tracker.get(kickoff_id)
        return (
            kickoff is not None
            and kickoff.state is RunState.COMPLETED
            and len(kickoff.llm_calls) == calls
            and kickoff.usage is not None  # the run's own report, its last push
        )

    await wait_until(tracker, seen_all)
    return kickoff_id


def simulated_run(crew: str, inputs: dict[str, str]) -> Run:
    return Run(
        crew=CREWS[crew], kickoff_id="x", inputs=inputs, meta=None,
        started_mono=0.0, started_wall=0.0, speed=1.0,
    )  # fmt: skip


def simulated_calls(crew: str, inputs: dict[str, str]) -> int:
    """How many LLM calls the simulator's run of ``crew`` makes."""
    run = simulated_run(crew, inputs)
    return sum(1 for event in timeline(run) if call_usage(run, event) is not None)


def simulated_usage(crew: str, inputs: dict[str, str]) -> tuple[dict[str, Usage], Usage]:
    """What the simulator's run spends, per task and in all."""
    run = simulated_run(crew, inputs)
    per_task = {
        task.task_id: Usage(**(usage_until(run, math.inf, task) or {}))
        for task in CREWS[crew].tasks
    }
    return per_task, Usage(**(usage_until(run, math.inf) or {}))
