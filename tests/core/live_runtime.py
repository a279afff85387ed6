"""A running crewtui as ``core.runtime.assemble`` builds it, webhooks on, over a simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from crewtui.api.profile import CrewProfile
from crewtui.config import Config, PollSettings, WebhookSettings, resolve_paths
from crewtui.core.runtime import Runtime, assemble
from crewtui.core.store import Store
from crewtui.sim import SimServer

# Brisk enough that polls see most of a run's moments, not only its webhooks.
BRISK = PollSettings(min_interval=0.02, max_interval=0.05)


@asynccontextmanager
async def webhook_runtime(sim: SimServer, home: Path, crew: str) -> AsyncIterator[Runtime]:
    """Store, tracker and a started receiver whose URLs every kickoff sends, as the app does."""
    profile = CrewProfile(name=crew, url=sim.crew_url(crew), token=sim.options.token)
    config = Config(
        crews={crew: profile}, poll=BRISK, webhooks=WebhookSettings(listen="127.0.0.1:0")
    )
    store = Store.open(home / "history.sqlite3")
    runtime = assemble([profile], config, resolve_paths(home), store=store)
    receiver = runtime.receiver
    assert receiver is not None
    await receiver.start()
    runtime.tracker.webhook_urls = receiver.urls
    try:
        await runtime.tracker.start(resume=False)
        yield runtime
    finally:
        await runtime.tracker.stop()
        await receiver.stop()
        store.close()
