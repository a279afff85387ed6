"""Pushes that arrive before crewtui knows the kickoff id they name.

The service starts pushing as soon as a run starts, often before the answer to ``POST
/kickoff`` (which carries the id) has been read, and never sends a push again. Dropped,
those first events lose a run's first task start and the tokens of its first LLM calls.
While a kickoff of this process is in flight, pushes for ids it does not know yet are
parked here, then handed over once the answer names one of them. The buffer is bounded in
items and in age, so pushes for ids that never become ours (a forged id, another tool's
run) cost a little memory for a minute at most.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from crewtui.api.models import Observation, Step

Pushed = Observation | Step

MAX_ITEMS = 5_000
MAX_AGE_SECONDS = 60.0


class EarlyPushes:
    """Parked items by kickoff id, oldest first; the oldest go when a bound is reached."""

    def __init__(
        self,
        max_items: int = MAX_ITEMS,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_items = max_items
        self._max_age = max_age
        self._clock = clock
        self._parked: OrderedDict[str, tuple[float, list[Pushed]]] = OrderedDict()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def park(self, items: list[Pushed]) -> None:
        """Keep ``items`` until their kickoff id is known, or they are too old."""
        now = self._clock()
        self._expire(now)
        for item in items:
            _, parked = self._parked.setdefault(item.kickoff_id, (now, []))
            parked.append(item)
            self._count += 1
        while self._count > self._max_items:
            self._drop_oldest()

    def take(self, kickoff_id: str) -> list[Pushed]:
        """The items parked for ``kickoff_id``, in arrival order; none are kept after."""
        self._expire(self._clock())
        _, items = self._parked.pop(kickoff_id, (0.0, []))
        self._count -= len(items)
        return items

    def _expire(self, now: float) -> None:
        while self._parked:
            first_seen, _ = next(iter(self._parked.values()))
            if now - first_seen <= self._max_age:
                return
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        _, (_, items) = self._parked.popitem(last=False)
        self._count -= len(items)
