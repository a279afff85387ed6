"""Running a batch: its rows sent through the tracker, a cap on runs in flight, 429 backoff.

Shared by ``crewtui batch`` and the app's batch form. Every kickoff goes through
``Tracker.kickoff``, which stores the attempt before the request leaves: a crash at any
moment leaves each row unsent, uncertain (sent, answer unknown) or started, and a resume
(``BatchRunner`` on the same batch) sends only the unsent ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from crewtui.api.errors import (
    AuthError,
    ConfigError,
    CrewNotFoundError,
    CrewtuiError,
    KickoffUncertainError,
    RateLimitedError,
    TransportError,
)
from crewtui.core.batch import Batch, BatchProgress, BatchRow, progress_of
from crewtui.core.pacing import error_backoff
from crewtui.core.tracker import ALIVE_FOR, Tracker
from crewtui.core.tracker_events import KickoffChanged, TrackerEvent

if TYPE_CHECKING:
    from crewtui.api.models import Kickoff

# How long at most a batch waits for news before it looks at its runs and crew again.
WAKE_EVERY = 5.0
# Backoff after a 429 that names no Retry-After: full-jitter exponential, these bounds.
RATE_LIMIT_BASE = 1.0
RATE_LIMIT_MAX = 60.0

NoteKind = Literal["started", "ended", "uncertain", "refused", "rate_limited", "following"]


@dataclass(frozen=True)
class BatchNote:
    """Something that happened to a row, for progress lines and the app."""

    kind: NoteKind
    row: BatchRow
    kickoff: Kickoff | None = None
    message: str = ""
    wait: float = 0.0


@dataclass
class BatchOutcome:
    """How a run of the batch ended: the rows' statuses, the rows the crew refused (never
    started: sent again by a resume), and whether the deadline cut it short."""

    progress: BatchProgress
    refused: dict[int, str] = field(default_factory=dict)
    timed_out: bool = False


class BatchRunner:
    """Sends the unsent rows of ``batch``, at most ``concurrency`` runs going at once, and
    follows them to their end.

    ``check`` is called at every wake (the CLI raises there when a crew is down for good).
    Rows whose attempt is recorded without an answer are uncertain and never sent again,
    unless ``resend_uncertain``: their attempts are forgotten first. One process at a time
    sends a batch (``Store.claim_batch``): two resuming it at once would both send its rows.
    """

    def __init__(
        self,
        tracker: Tracker,
        batch: Batch,
        *,
        concurrency: int,
        on_note: Callable[[BatchNote], None] = lambda note: None,
        check: Callable[[], None] = lambda: None,
        resend_uncertain: bool = False,
        deadline: float | None = None,
    ) -> None:
        self.tracker = tracker
        self.batch = batch
        self.concurrency = max(1, concurrency)
        self._on_note = on_note
        self._check = check
        self._resend_uncertain = resend_uncertain
        self._deadline = deadline
        self._in_flight: dict[str, BatchRow] = {}
        self._refused: dict[int, str] = {}
        self._wake = asyncio.Event()
        self._not_before = 0.0
        self._rate_limits = 0

    def progress(self, *, sender_gone: bool = False) -> BatchProgress:
        """Where every row stands, as the history says now."""
        return progress_of(
            self.batch, self.tracker.store.batch_runs(self.batch.batch_id), sender_gone=sender_gone
        )

    async def run(self) -> BatchOutcome:
        """Resume or start the batch; returns when every row is started and ended (or the
        deadline passed)."""
        store = self.tracker.store
        holder = await asyncio.to_thread(store.claim_batch, self.batch.batch_id, ALIVE_FOR)
        if holder is not None:
            raise ConfigError(
                f"Batch {self.batch.batch_id} is being sent by another crewtui (pid {holder}); "
                "let it finish, or stop it and resume the batch then."
            )
        unsubscribe = self.tracker.listen(self._heard)
        try:
            rows = await self._prepare()
            sent_all = True
            for row in rows:
                if not await self._send_when_free(row):
                    sent_all = False
                    break
            ended = sent_all and await self._wait_until(lambda: not self._following())
        finally:
            unsubscribe()
            await asyncio.to_thread(store.release_batch, self.batch.batch_id)
        # Nothing of this batch is being sent any more: an attempt left unanswered is uncertain.
        progress = await asyncio.to_thread(self.progress, sender_gone=True)
        return BatchOutcome(progress, dict(self._refused), timed_out=not ended)

    async def _prepare(self) -> list[BatchRow]:
        """The rows to send: the unsent ones (and the uncertain ones, when asked); the runs
        a crash left going are followed again."""
        start = await asyncio.to_thread(self.progress, sender_gone=True)
        for status in start.rows:
            if status.state == "uncertain" and status.kickoff_id is not None:
                if self._resend_uncertain:
                    await self.tracker.forget(status.kickoff_id)
                else:
                    self._on_note(BatchNote("uncertain", status.row))
            elif status.state == "running" and status.kickoff_id is not None:
                await self._follow(status.row, status.kickoff_id)
        resend = {s.row.number for s in start.uncertain} if self._resend_uncertain else set()
        return [s.row for s in start.rows if s.state == "unsent" or s.row.number in resend]

    async def _follow(self, row: BatchRow, kickoff_id: str) -> None:
        kickoff: Kickoff | None
        try:
            kickoff = await self.tracker.track(self.batch.crew, kickoff_id)
        except CrewtuiError as error:
            self._on_note(BatchNote("following", row, message=error.message))
            kickoff = self.tracker.get(kickoff_id)
        else:
            self._on_note(BatchNote("following", row, kickoff))
        if kickoff is not None and not kickoff.is_terminal:
            self._in_flight[kickoff_id] = row

    async def _send_when_free(self, row: BatchRow) -> bool:
        """Send ``row`` once a slot is free and no 429 asks to wait; False past the deadline."""
        while True:
            if not await self._wait_until(lambda: len(self._following()) < self.concurrency):
                return False
            wait = self._not_before - time.monotonic()
            if wait > 0:
                if self._deadline is not None and time.monotonic() + wait > self._deadline:
                    return False
                await asyncio.sleep(wait)  # the backoff the crew asked for
            if await self._send(row):
                return True

    async def _send(self, row: BatchRow) -> bool:
        """One kickoff; False when the crew asked to wait (429) and the row is to be sent
        again. A crew-level failure (token, URL, unreachable) ends the batch."""
        try:
            kickoff = await self.tracker.kickoff(
                self.batch.crew, row.inputs, row.run_meta(self.batch.batch_id)
            )
        except RateLimitedError as error:
            self._rate_limits += 1
            wait = error.retry_after
            if wait is None:
                wait = error_backoff(self._rate_limits, RATE_LIMIT_BASE, RATE_LIMIT_MAX)
            self._not_before = time.monotonic() + wait
            self._on_note(BatchNote("rate_limited", row, wait=wait))
            return False
        except KickoffUncertainError as error:
            self._on_note(BatchNote("uncertain", row, message=error.message))
            return True
        except (AuthError, CrewNotFoundError, TransportError):
            raise
        except CrewtuiError as error:  # refused (422, 400...): the run never started
            self._refused[row.number] = error.message
            self._on_note(BatchNote("refused", row, message=error.message))
            return True
        self._rate_limits = 0
        self._on_note(BatchNote("started", row, kickoff))
        if not kickoff.is_terminal:
            self._in_flight[kickoff.kickoff_id] = row
        return True

    def _following(self) -> list[str]:
        """The runs of this batch still going; those that ended are said once and dropped."""
        for kickoff_id, row in list(self._in_flight.items()):
            kickoff = self.tracker.get(kickoff_id)
            if kickoff is not None and kickoff.is_terminal:
                del self._in_flight[kickoff_id]
                self._on_note(BatchNote("ended", row, kickoff))
        return list(self._in_flight)

    async def _wait_until(self, done: Callable[[], bool]) -> bool:
        """Wait for the tracker's news until ``done()``; False once the deadline passes."""
        while not done():
            self._check()
            timeout = WAKE_EVERY
            if self._deadline is not None:
                timeout = min(timeout, self._deadline - time.monotonic())
                if timeout <= 0:
                    return False
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                continue
        return True

    def _heard(self, event: TrackerEvent) -> None:
        if isinstance(event, KickoffChanged) and event.kickoff.kickoff_id in self._in_flight:
            self._wake.set()
