"""How often to poll: adaptive intervals, error backoff and a per-crew request budget.

Kept apart from the tracker so the rules can be read (and tested) on their own.
"""

from __future__ import annotations

import asyncio
import random
import time


def adaptive_interval(seconds_since_change: float, minimum: float, maximum: float) -> float:
    """About ``minimum`` right after a change, doubling every 30 s without one, up to ``maximum``.

    A run that moved a second ago is polled every second; one that has sat still for two
    minutes is polled every 15 s (with the defaults).
    """
    if seconds_since_change <= 0:
        return minimum
    exponent = min(seconds_since_change / 30.0, 32.0)
    grown: float = minimum * 2.0**exponent
    return max(minimum, min(maximum, grown))


def error_backoff(failures: int, base: float, maximum: float) -> float:
    """Full-jitter exponential backoff after ``failures`` consecutive errors (>= 1)."""
    ceiling = min(maximum, base * 2.0 ** min(max(failures - 1, 0), 16))
    return random.uniform(ceiling / 2.0, ceiling)


class TokenBucket:
    """At most ``rate`` acquisitions per second on average, bursts up to ``burst``.

    Each crew has one, so a crew with hundreds of active kickoffs never floods its service
    (and never delays another crew's polls: buckets are independent).
    """

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = max(rate, 0.001)
        self.capacity = burst if burst is not None else max(1.0, self.rate)
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> None:
        """Wait until a request may be sent."""
        async with self._lock:
            self._refill()
            if self._tokens < 1.0:
                await asyncio.sleep((1.0 - self._tokens) / self.rate)
                self._refill()
            self._tokens -= 1.0

    def refund(self) -> None:
        """Give back a token that was not used after all (the request was not sent)."""
        self._tokens = min(self.capacity, self._tokens + 1.0)
