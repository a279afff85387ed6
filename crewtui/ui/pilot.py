"""Driving the app headless (screenshots, tests): wait for a condition, never sleep.

A condition is re-checked after every tracker event and once the app's workers are done;
so a wait ends as soon as what it waits for has happened, however slow the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from textual.pilot import Pilot
from textual.worker import WorkerCancelled, WorkerFailed

from crewtui.ui.app import CrewtuiApp

# Some changes come from the UI's own workers rather than from tracker events.
_RECHECK_SECONDS = 1.0


class Clock:
    """An app's clock (``clock=``): real time plus however far it was moved on, so that a
    run can be seen an hour later without waiting an hour."""

    def __init__(self) -> None:
        self.ahead = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


async def workers_done(app: CrewtuiApp) -> None:
    """Wait for the app's workers; one cancelled by a newer one (exclusive) is not a failure,
    nor one that failed: the app reports that itself and goes on."""
    while True:
        try:
            await app.workers.wait_for_complete()
        except (WorkerCancelled, WorkerFailed):
            continue
        return


async def settle(pilot: Pilot[Any], predicate: Callable[[], bool], within: float = 20.0) -> None:
    """Return once ``predicate()`` holds; raise TimeoutError after ``within`` seconds."""
    app = pilot.app
    if not isinstance(app, CrewtuiApp):
        raise TypeError("settle drives a CrewtuiApp")
    changed = asyncio.Event()
    unsubscribe = app.tracker.listen(lambda _event: changed.set())
    try:
        async with asyncio.timeout(within):
            while True:
                changed.clear()
                await workers_done(app)
                await pilot.pause()
                if predicate():
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), timeout=_RECHECK_SECONDS)
    finally:
        unsubscribe()
