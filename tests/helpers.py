"""Waiting for the tracker without sleeping: wake on its events, re-check a condition."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from crewtui.core.tracker import Tracker
from crewtui.core.tracker_events import TrackerEvent


async def wait_until(
    tracker: Tracker, predicate: Callable[[], bool], timeout: float = 30.0
) -> None:
    """Return once ``predicate()`` holds, re-checking after each tracker event."""
    changed = asyncio.Event()

    def on_event(_event: TrackerEvent) -> None:
        changed.set()

    unsubscribe = tracker.listen(on_event)
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                changed.clear()
                await changed.wait()
    finally:
        unsubscribe()
