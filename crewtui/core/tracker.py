"""The tracker: the one path every change of a kickoff takes.

Whatever learns something about a kickoff (a poll, a webhook, a kickoff answer) hands it
here; the tracker merges it (``crewtui.core.merge``), writes it to the store and emits one
event per real change. The Textual app and the headless CLI only listen and ask.

Polling: each crew has its own scheduler task, concurrency cap and request budget, so one
slow or failing crew never slows another. Which of a crew's kickoffs is polled next is
``core.schedule``'s choice (the kickoff likeliest to have changed, from how long its current
task usually takes in the history); a kickoff is planned again when its last poll finished
(polls never pile up). Terminal kickoffs are not polled again, unless a flow shows it
restarted (its execution overwritten under the same id, see ``crewtui.core.merge``); nor
are runs an answer continued under a new id (the new id is). No Textual import here.

Other processes: another app, a ``crewtui serve``, a ``crewtui kickoff`` in another pane or
a cron job may write the same history. While running, the tracker follows the store (see
``_follow_store``): their new runs are adopted and their changes emitted like this
process's own, within about a second. One process polls each crew for all of them: the
holder of the crew's lease in the history (``Store.claim_lease``, renewed every
``LEASE_RENEW_EVERY`` s, taken over by another once it lapses, ``LEASE_TTL``). The others
view that crew: they never poll it, and read what its poller writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from crewtui.api.callback import post_feedback
from crewtui.api.client import ClientPolicy, CrewClient, RedirectRefusedError, RequestCounts
from crewtui.api.errors import (
    ApiError,
    AuthError,
    BadResponseError,
    ConfigError,
    CrewNotFoundError,
    CrewtuiError,
    KickoffUncertainError,
    RateLimitedError,
    StoreError,
    TransportError,
)
from crewtui.api.hitl import HitlRequest
from crewtui.api.models import Kickoff, Observation, Payload, SentWebhooks, Step
from crewtui.api.profile import CrewProfile
from crewtui.api.pushes import step_payloads
from crewtui.api.states import CancelRequest, RunState, Submission, TaskState
from crewtui.api.validate import validate_kickoff_id
from crewtui.core.early_pushes import EarlyPushes
from crewtui.core.format import this_user
from crewtui.core.history import History
from crewtui.core.merge import (
    answer_request,
    apply_observation,
    begin_attempt,
    confirm_stop,
    merge_payloads,
    merge_stored,
)
from crewtui.core.pacing import TokenBucket, error_backoff
from crewtui.core.schedule import CrewPlanner, DurationModel, PlanSettings, Strategy
from crewtui.core.store_rows import Lease
from crewtui.core.timing import current_task_start
from crewtui.core.tracker_events import (
    CrewHealth,
    CrewHealthChanged,
    HealthState,
    HistoryTrouble,
    KickoffChanged,
    LeaseChanged,
    StepsAdded,
    TrackerEvent,
)
from crewtui.core.webhook_urls import WebhookUrls
from crewtui.settings import PollSettings

log = logging.getLogger(__name__)

# How far the service's clock (which dates pushed events) may be behind ours when a pushed
# restart is matched with the kickoff that caused it.
_RESTART_CLOCK_SKEW = timedelta(seconds=5)

_TROUBLED_HEALTH: frozenset[HealthState] = frozenset({"token_rejected", "unreachable"})

# An attempt older than this that is still "sending" was cut off by a crash.
ABANDONED_ATTEMPT_AGE = 300.0
UNCERTAIN_AFTER_CRASH = (
    "crewtui stopped while this kickoff was being sent; the run may have started. "
    "Check the crew's dashboard, then track its id with `t` or `crewtui track`."
)

UNEXPECTED_POLL_ERROR = (
    "crewtui could not process the last answer (a bug, logged); it keeps polling."
)

# How long a crew whose token was rejected waits before one more try on its own.
TOKEN_REJECTED_RETRY = 60.0

# Following other processes through the store: how often this process looks for their
# commits (a counter read, free when nothing happened), says it is alive, and how long a
# process that stopped saying so is still taken to be alive (``Store.live_writers``).
STORE_CHECK_EVERY = 0.5
HEARTBEAT_EVERY = 2.0
ALIVE_FOR = 10.0
# The poller lease of each crew: renewed every LEASE_RENEW_EVERY s for LEASE_TTL s, so a
# poller that was killed is taken over within LEASE_TTL + LEASE_RENEW_EVERY s, and one that
# stopped cleanly within LEASE_RENEW_EVERY s. A viewer shows a crew stale once its poller
# has not finished a round of polls for longer than a lease lasts.
LEASE_TTL = 5.0
LEASE_RENEW_EVERY = 1.0

# How often the history's task durations are read again (they move slowly), and how often
# at most a crew's pace (requests per second, interval) is reported while it polls.
DURATIONS_EVERY = 600.0
PACE_EVERY = 2.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def waiting_task_of(kickoff: Kickoff) -> str | None:
    """The task an answer is about: the one the run waits on, else the last one finished."""
    if kickoff.waiting_for is not None and kickoff.waiting_for.task_id:
        return kickoff.waiting_for.task_id
    finished = [task.task_id for task in kickoff.tasks if task.state is TaskState.COMPLETED]
    return finished[-1] if finished else None


def flow_request_of(kickoff: Kickoff) -> str | None:
    """The flow's human-in-the-loop request a paused run waits on (answered through the
    request's callback, not POST /resume), or None."""
    waiting = kickoff.waiting_for
    if kickoff.state is not RunState.PAUSED or waiting is None:
        return None
    return waiting.request_id


@dataclass(frozen=True)
class Resumed:
    """What answering a paused run did: ``kickoff`` is the run to follow from now on.

    The live service continues the run under a new id (``continues_as``); the documented
    one keeps the id and says ``status`` (resumed, retrying, completed).
    """

    kickoff: Kickoff
    answered_id: str
    task_id: str
    approved: bool
    status: str | None = None
    message: str | None = None
    # Answered through a flow's human-in-the-loop callback, not POST /resume.
    callback: bool = False
    # The feedback text sent (through either), None when none was.
    feedback: str | None = None

    @property
    def continues_as(self) -> str | None:
        new_id = self.kickoff.kickoff_id
        return new_id if new_id != self.answered_id else None


@dataclass(frozen=True)
class Cancelled:
    """What asking the service to stop a run did: ``stopped`` it now, or it had already
    ended (``kickoff.state`` says how: cancelled, completed, failed)."""

    kickoff: Kickoff
    stopped: bool


@dataclass
class _Schedule:
    """Polling state of one tracked kickoff (its timing is the crew planner's)."""

    kickoff_id: str
    failures: int = 0
    # The wait a 429 asked for (already clamped by the client's policy): a floor for the next.
    retry_after: float = 0.0
    in_flight: bool = False


@dataclass
class _Crew:
    """Per-crew machinery: client, budget, cap, the planner of its polls, health."""

    profile: CrewProfile
    client: CrewClient
    bucket: TokenBucket
    gate: asyncio.Semaphore
    health: CrewHealth
    planner: CrewPlanner
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    runner: asyncio.Task[None] | None = None
    # When the crew's pace was last reported (``PACE_EVERY``).
    pace_reported: float = float("-inf")
    # The crew's poller lease: until when (monotonic seconds) this process may poll it, a
    # little before the history's expiry since it counts from before the claim; whether
    # it acted as the holder at the last renewal; the lease as last read, and the writer
    # id of its live holder then ("" before the first read), and since when (the staleness
    # of a poller that has not finished a round yet counts from there).
    lease_until: float = 0.0
    holding: bool = False
    lease: Lease | None = None
    poller_id: str | None = ""
    poller_since: datetime | None = None
    # Whether this process gave the lease up since the crew last rejected its token (once
    # per rejection: a process alone keeps polling the crew, at the slow retry pace).
    yielded: bool = False
    # Whether this tracker has put the crew's name and URL in the history (``_record``).
    recorded: bool = False


class Tracker:
    """Keeps every non-terminal kickoff of every crew up to date and reports each change."""

    def __init__(
        self,
        crews: Sequence[CrewProfile],
        store: History,
        settings: PollSettings | None = None,
        *,
        client_policy: ClientPolicy | None = None,
        webhook_urls: WebhookUrls | None = None,
        strategy: Strategy = "predictive",
    ) -> None:
        """``strategy``: ``round_robin`` polls every run in turn, the floor the freshness
        benchmark measures the default against."""
        self.store = store
        self.settings = settings or PollSettings()
        self.webhook_urls = webhook_urls
        self.crews: dict[str, CrewProfile] = {crew.name: crew for crew in crews}
        policy = client_policy or ClientPolicy(
            deadline=self.settings.request_deadline,
            max_body_bytes=int(self.settings.max_body_mb * (1 << 20)),
        )
        # An answer to a flow's callback is a POST that may have arrived: never retried.
        self._callback_policy = replace(policy, max_retries=0)
        plan = PlanSettings.from_poll(self.settings.min_interval, self.settings.max_interval)
        budget = self.settings.requests_per_second
        self._crews: dict[str, _Crew] = {}
        for profile in crews:
            self._crews[profile.name] = _Crew(
                profile=profile,
                client=CrewClient(profile, policy, max_connections=self.settings.max_in_flight + 2),
                bucket=TokenBucket(budget),
                gate=asyncio.Semaphore(self.settings.max_in_flight),
                health=CrewHealth(crew=profile.name, budget=budget),
                planner=CrewPlanner(plan, crew=profile.name, budget=budget, strategy=strategy),
            )
        self._kickoffs: dict[str, Kickoff] = {}
        # Kickoffs of this process waiting for their answer, and the pushes that came
        # before an answer named their run.
        self._sending = 0
        self._early = EarlyPushes()
        # When a poll or a push last told this process anything about each run.
        self._heard: dict[str, datetime] = {}
        self._schedules: dict[str, _Schedule] = {}
        self._listeners: list[Callable[[TrackerEvent], None]] = []
        self._queues: list[asyncio.Queue[TrackerEvent]] = []
        self._polls: set[asyncio.Task[None]] = set()
        # Store calls sent and not yet done: ``stop`` waits for them (``_store_call``).
        self._store_work: set[asyncio.Task[Any]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._running = False
        # The last store failure, said once; a store opened read-only said why at open.
        # The store call that failed: the same call succeeding again ends the trouble (a
        # PostgreSQL server back up); a read succeeding says nothing of a full disk.
        self.store_error: str | None = store.open_note
        self._failed_store_call: str | None = None
        # Following the store: the last change number read, and whether runs other
        # processes start are adopted (the whole history) or only those already known
        # (``watch``; it still polls every run of a crew whose lease it holds).
        self._store_mark = 0
        self._adopt_others = False
        self._store_changed = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        self._leaser: asyncio.Task[None] | None = None
        self._lease_thread: ThreadPoolExecutor | None = None
        # Flow requests taken by this process: a replay is ignored even when the history
        # cannot record them (read-only, or too old a schema).
        self._requests_seen: set[str] = set()
        self._learner: asyncio.Task[None] | None = None
        # How long each (crew, task) took in the history, as last read: what the planners
        # predict with, and what the app's stall rule judges running runs by.
        self.task_durations: dict[tuple[str, str], list[float]] = {}

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, *, resume: bool = True) -> None:
        """Start polling; with ``resume``, pick up every active kickoff from the store."""
        if self._running:
            return
        self._running = True
        self._adopt_others = resume
        if self.store.persistent:  # a history in memory has no other process
            self._store_mark = await self._store_call(self.store.change_mark) or 0
            await self._store_call(self.store.beat)
            # A store that hears of other processes' commits (PostgreSQL) wakes the
            # follower at once; SQLite's is looked at every STORE_CHECK_EVERY s.
            loop = asyncio.get_running_loop()

            def wake() -> None:
                loop.call_soon_threadsafe(self._store_changed.set)

            self.store.watch(wake)
            self._watcher = asyncio.create_task(self._follow_store(), name="crewtui-store-watch")
        self._learner = asyncio.create_task(self._learn_durations(), name="crewtui-durations")
        for crew in self._crews.values():
            await self._record(crew)
            crew.runner = asyncio.create_task(
                self._run_crew(crew), name=f"crewtui-poll-{crew.profile.name}"
            )
        if resume:
            active = await self._store_call(self.store.active_kickoffs) or []
            for kickoff in active:
                if kickoff.crew not in self._crews:
                    continue
                if kickoff.submission is Submission.ACCEPTED:
                    self._adopt(kickoff, emit=False)
                elif kickoff.submission is Submission.SENDING:
                    await self._settle_abandoned_attempt(kickoff)
        # The runs held now are polled from the first claim on, for the crews it wins.
        self._lease_thread = ThreadPoolExecutor(1, thread_name_prefix="crewtui-leases")
        await self._renew_leases()
        self._leaser = asyncio.create_task(self._keep_leases(), name="crewtui-leases")

    async def _settle_abandoned_attempt(self, attempt: Kickoff) -> None:
        """An attempt still ``sending`` long after any request could last was cut off by a
        crash: its run may have started, so it becomes ``uncertain`` instead of a row that
        never changes. Recent ones may belong to another session sending right now."""
        age = (utcnow() - attempt.created_at).total_seconds()
        if age < ABANDONED_ATTEMPT_AGE:
            return
        await self._store_call(
            self.store.save_kickoff,
            attempt.model_copy(
                update={
                    "submission": Submission.UNCERTAIN,
                    "state": RunState.UNKNOWN,
                    "error": UNCERTAIN_AFTER_CRASH,
                    "updated_at": utcnow(),
                }
            ),
        )

    async def stop(self) -> None:
        """Stop every poll and close every connection; safe to call twice."""
        was_running, self._running = self._running, False
        tasks = [crew.runner for crew in self._crews.values() if crew.runner] + list(self._polls)
        for helper in (self._watcher, self._learner, self._leaser):
            if helper is not None:
                tasks.append(helper)
        self._watcher = self._learner = self._leaser = None
        self.store.watch(None)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # The writes of the polls just cancelled land before the history is let go.
        while self._store_work:
            await asyncio.wait(set(self._store_work))
        for crew in self._crews.values():
            crew.runner = None
            crew.lease_until, crew.holding = 0.0, False
            await crew.client.aclose()
        if was_running:
            # Others take this process's crews over at their next renewal.
            await self._lease_call(self.store.release_leases)
            await self._store_call(self.store.retire)
        if self._lease_thread is not None:
            self._lease_thread.shutdown(wait=False)
            self._lease_thread = None

    async def __aenter__(self) -> Tracker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- listening -----------------------------------------------------------------------

    def listen(self, callback: Callable[[TrackerEvent], None]) -> Callable[[], None]:
        """Call ``callback`` (on the event loop) for every event; returns the unsubscriber."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    async def events(self) -> AsyncIterator[TrackerEvent]:
        """Every event from now on, as an async iterator (the CLI's ``watch``)."""
        queue: asyncio.Queue[TrackerEvent] = asyncio.Queue()
        self._queues.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.remove(queue)

    def _emit(self, event: TrackerEvent) -> None:
        for callback in list(self._listeners):
            try:
                callback(event)
            except Exception:  # a broken listener must not stop the tracker
                log.exception("tracker listener failed")
        for queue in self._queues:
            queue.put_nowait(event)

    # -- queries -------------------------------------------------------------------------

    def get(self, kickoff_id: str) -> Kickoff | None:
        return self._kickoffs.get(kickoff_id)

    def tracked(self) -> list[Kickoff]:
        """Every kickoff this session knows in memory, newest first."""
        return sorted(self._kickoffs.values(), key=lambda k: k.created_at, reverse=True)

    def is_tracked(self, kickoff_id: str) -> bool:
        return kickoff_id in self._kickoffs

    def holds_lease(self, crew: str) -> bool:
        """Whether this process polls ``crew`` for the shared history (it holds the crew's
        lease); otherwise it views the crew: another process polls it, or none yet."""
        state = self._crews.get(crew)
        return state is not None and state.lease_until > time.monotonic()

    @property
    def here(self) -> str:
        """This process as a poller is named: ``pid@host``."""
        return f"{os.getpid()}@{self.store.host}"

    def lease(self, crew: str) -> Lease | None:
        """The crew's lease as this process last read it (who polls, how fresh), or None."""
        state = self._crews.get(crew)
        return state.lease if state is not None else None

    def last_heard(self, kickoff_id: str) -> datetime | None:
        """When a poll or a push last said anything about the run here, changed or not."""
        return self._heard.get(kickoff_id)

    def request_counts(self, crew: str) -> RequestCounts:
        """What the crew's client sent and how it went (``crewtui serve``'s metrics)."""
        return self._crew(crew).client.counts

    def health(self, crew: str) -> CrewHealth:
        return self._crew(crew).health

    def healths(self) -> list[CrewHealth]:
        return [crew.health for crew in self._crews.values()]

    async def _record(self, crew: _Crew) -> None:
        """The crew's name and URL (never its token) in the history, with the first run this
        tracker stores for it: ``crewtui status ID`` of a run started with ``--url`` polls
        it there without ``--url``, even when nothing started a tracker (``kickoff``,
        ``track``)."""
        if not crew.recorded:
            crew.recorded = True
            await self._store_call(self.store.upsert_crew, crew.profile.name, crew.profile.url)

    def _crew(self, name: str) -> _Crew:
        try:
            return self._crews[name]
        except KeyError:
            known = ", ".join(sorted(self._crews)) or "none"
            raise ConfigError(f"There is no crew named {name!r} (known: {known}).") from None

    # -- actions -------------------------------------------------------------------------

    async def inputs(self, crew: str) -> list[str]:
        """The crew's required inputs (GET /inputs); also a health check."""
        state = self._crew(crew)
        try:
            names = await state.client.inputs()
        except ApiError as error:
            self._note_failure(state, error)
            raise
        self._note_ok(state)
        return names

    async def kickoff(
        self,
        crew: str,
        inputs: Mapping[str, str],
        meta: Mapping[str, Any] | None = None,
        *,
        webhooks: WebhookUrls | None = None,
        restore_from: str | None = None,
    ) -> Kickoff:
        """Start a run. The attempt is stored before the request leaves.

        A definite refusal (401, 422, connection refused) removes the attempt; an answer lost
        after the request may have arrived keeps it as ``uncertain`` ("may have started").
        An answer naming a run the history held before this kickoff is a flow execution the
        service restarted (``inputs.id`` reused): that run starts a new attempt.
        """
        self._sending += 1
        try:
            return await self._start(crew, inputs, meta, webhooks, restore_from)
        finally:
            self._sending -= 1

    async def _start(
        self,
        crew: str,
        inputs: Mapping[str, str],
        meta: Mapping[str, Any] | None,
        webhooks: WebhookUrls | None,
        restore_from: str | None,
    ) -> Kickoff:
        """``kickoff``, while it counts as in flight (pushes for unknown runs are kept)."""
        state = self._crew(crew)
        hooks = webhooks or self.webhook_urls
        # The batched form replaces the classic URLs: both would push every task twice.
        classic = None if hooks is None or hooks.events is not None else hooks
        now = utcnow()
        attempt = Kickoff(
            kickoff_id=f"local-{uuid.uuid4()}",
            crew=crew,
            inputs=dict(inputs),
            meta=dict(meta or {}),
            created_at=now,
            updated_at=now,
            started_at=now,
            state=RunState.PENDING,
            submission=Submission.SENDING,
            # Kept in both forms: POST /resume takes only the classic URLs.
            webhooks=_sent_webhooks(hooks),
        )
        await self._store_call(self.store.save_kickoff, attempt)
        await self._record(state)
        try:
            answer = await state.client.start(
                inputs,
                meta,
                task_webhook_url=(classic.task or None) if classic else None,
                step_webhook_url=(classic.step or None) if classic else None,
                crew_webhook_url=(classic.crew or None) if classic else None,
                events=hooks.events if hooks else None,
                restore_from=restore_from,
            )
        except KickoffUncertainError as error:
            uncertain = attempt.model_copy(
                update={
                    "submission": Submission.UNCERTAIN,
                    "state": RunState.UNKNOWN,
                    "error": error.message,
                    "updated_at": utcnow(),
                }
            )
            self._note_failure(state, error)
            await self._store_call(self.store.save_kickoff, uncertain)
            self._kickoffs[uncertain.kickoff_id] = uncertain
            self._emit(KickoffChanged(uncertain, None))
            raise
        except CrewtuiError as error:
            if isinstance(error, ApiError):
                self._note_failure(state, error)
            await self._store_call(self.store.delete_kickoff, attempt.kickoff_id)
            raise
        except BaseException:
            # Cancelled mid-request: the run may have started; keep the attempt visible.
            await self._store_call(
                self.store.save_kickoff,
                attempt.model_copy(
                    update={"submission": Submission.UNCERTAIN, "state": RunState.UNKNOWN}
                ),
            )
            raise
        self._note_ok(state)
        kickoff_id = answer.kickoff_id
        earlier = self._kickoffs.get(kickoff_id) or await self._store_call(
            self.store.get_kickoff, kickoff_id
        )
        if earlier is not None and earlier.created_at < attempt.created_at:
            return await self._restarted(attempt, earlier, answer.payload)
        await self._store_call(self.store.rename_kickoff, attempt.kickoff_id, kickoff_id)
        kickoff = attempt.model_copy(
            update={
                "kickoff_id": kickoff_id,
                "submission": Submission.ACCEPTED,
                "updated_at": utcnow(),
                "raw_by_source": [answer.payload],
            }
        )
        await self._store_call(self.store.save_kickoff, kickoff)
        self._adopt(kickoff, emit=True)
        early = self._early.take(kickoff_id)
        if early:
            await self.ingest(early)
            return self._kickoffs.get(kickoff_id, kickoff)
        return kickoff

    async def _restarted(self, attempt: Kickoff, earlier: Kickoff, answer: Payload) -> Kickoff:
        """The service answered a kickoff with a run it already had: the flow execution was
        overwritten, so that run starts a new attempt with the inputs just sent."""
        await self._store_call(self.store.delete_kickoff, attempt.kickoff_id)
        async with self._locks.setdefault(earlier.kickoff_id, asyncio.Lock()):
            current = self._kickoffs.get(earlier.kickoff_id, earlier)
            # Its first events may have come before this answer and begun the attempt
            # already: then this answer only names its inputs, or the methods and tokens
            # pushed so far would be filed under a second, empty restart.
            begun = current.restarted_at is not None and (
                current.restarted_at >= attempt.created_at - _RESTART_CLOCK_SKEW
            )
            base = current if begun else begin_attempt(current, utcnow())
            restarted = base.model_copy(
                update={
                    "inputs": attempt.inputs,
                    "meta": attempt.meta,
                    "webhooks": attempt.webhooks or current.webhooks,
                    "raw_by_source": merge_payloads(current.raw_by_source, [answer]),
                }
            )
            saved = await self._store_call(self.store.save_kickoff, restarted)
            restarted = saved if saved is not None else restarted
            self._kickoffs[restarted.kickoff_id] = restarted
        self._adopt(restarted, emit=False)
        self._emit(KickoffChanged(restarted, current.state))
        return restarted

    async def track(self, crew: str, kickoff_id: str, *, keep_unknown: bool = True) -> Kickoff:
        """Adopt a kickoff started elsewhere; polls it once before returning.

        With ``keep_unknown=False`` an id new to the history is adopted only if the service
        knows it: a mistyped id given to ``crewtui status`` or ``track`` comes back
        NOT_FOUND and leaves nothing in the history.
        """
        state = self._crew(crew)
        kickoff_id = validate_kickoff_id(kickoff_id)
        known = self._kickoffs.get(kickoff_id)
        if known is None:
            known = await self._store_call(self.store.get_kickoff, kickoff_id)
        if known is None:
            if not keep_unknown:
                return await self._first_sight(state, _started_elsewhere(crew, kickoff_id))
            known = await self._keep_started_elsewhere(crew, kickoff_id)
        self._adopt(known, emit=True)
        return await self.refresh(kickoff_id)

    async def _keep_started_elsewhere(self, crew: str, kickoff_id: str) -> Kickoff:
        known = _started_elsewhere(crew, kickoff_id)
        await self._store_call(self.store.save_kickoff, known)
        await self._record(self._crew(crew))
        self._adopt(known, emit=True)
        return known

    async def _first_sight(self, crew: _Crew, unseen: Kickoff) -> Kickoff:
        """Poll an id new to the history; store and adopt it only if the service knows it."""
        try:
            observation = await crew.client.status(unseen.kickoff_id)
        except ApiError as error:
            self._note_failure(crew, error)
            raise
        self._note_ok(crew)
        if observation.state is RunState.NOT_FOUND:
            await self._raise_if_url_wrong(crew)
            grace = timedelta(seconds=self.settings.not_found_grace)
            return apply_observation(unseen, observation, grace=grace)
        await self._store_call(self.store.save_kickoff, unseen)
        await self._record(crew)
        self._adopt(unseen, emit=True)
        return await self._merge(observation) or unseen

    @staticmethod
    async def _raise_if_url_wrong(crew: _Crew) -> None:
        """A wrong crew URL answers 404 to every path: tell it from one unknown kickoff id.

        Only the crew's own 404 (``CrewNotFoundError``) counts; any other trouble with
        ``/inputs`` says nothing about the URL, and the id stays merely unknown.
        """
        try:
            await crew.client.inputs()
        except CrewNotFoundError:
            raise
        except ApiError:
            return

    async def refresh(self, kickoff_id: str) -> Kickoff:
        """Poll one tracked kickoff now and return it as known afterwards.

        Raises the client's error, so a one-shot ``crewtui status`` can report it.
        """
        kickoff = self._kickoffs.get(kickoff_id)
        if kickoff is None:
            raise ConfigError(f"Kickoff {kickoff_id} is not tracked; use `crewtui track` first.")
        schedule = self._schedules.get(kickoff_id)
        if schedule is None or schedule.in_flight:
            return await self._poll(kickoff_id, raise_errors=True)
        # In flight for the crew's runner too: a run adopted just before (``track``) is due
        # at once, and the runner polled it again while this poll was out.
        crew = self._crew(kickoff.crew)
        loop = asyncio.get_running_loop()
        schedule.in_flight = True
        crew.planner.sent(kickoff_id, loop.time())
        try:
            return await self._poll(kickoff_id, raise_errors=True, crew=crew)
        finally:
            schedule.in_flight = False
            if kickoff_id in self._schedules:
                hold = self._hold_after(crew, schedule)
                crew.planner.answered(kickoff_id, loop.time(), hold=hold)
                crew.wake.set()

    def poll_now(self, kickoff_id: str | None = None) -> None:
        """Make one (or every) active kickoff due now, token-rejected crews included; also
        look at the store now for what other processes wrote (``R`` in the app)."""
        self._store_changed.set()
        loop_now = asyncio.get_running_loop().time()
        for crew in self._crews.values():
            crew.planner.poll_now(loop_now, kickoff_id)
            crew.wake.set()

    async def archive(self, kickoff_id: str, archived: bool = True) -> None:
        """Hide (or show again) a kickoff in the history; never deletes anything."""
        await self._store_call(self.store.set_archived, kickoff_id, archived)
        kickoff = self._kickoffs.get(kickoff_id) or await self._store_call(
            self.store.get_kickoff, kickoff_id
        )
        if kickoff is None:
            return
        kickoff = kickoff.model_copy(update={"archived": archived})
        if kickoff_id in self._kickoffs:
            self._kickoffs[kickoff_id] = kickoff
        self._emit(KickoffChanged(kickoff, kickoff.state))

    async def forget(self, kickoff_id: str) -> None:
        """Stop following a kickoff and delete it, its tasks and steps from the history.

        Waits for a change being merged into it, so nothing writes it back afterwards.
        """
        async with self._locks.setdefault(kickoff_id, asyncio.Lock()):
            self._unschedule(kickoff_id)
            self._kickoffs.pop(kickoff_id, None)
            self._heard.pop(kickoff_id, None)
            await self._store_call(self.store.delete_kickoff, kickoff_id)
        self._locks.pop(kickoff_id, None)

    async def resume(
        self,
        kickoff_id: str,
        task_id: str | None = None,
        feedback: str = "",
        approve: bool = True,
    ) -> Resumed:
        """Answer a run that waits for human input (experimental on the live service).

        ``task_id`` defaults to the task the run waits on (``waiting_for``), else to the
        last task it finished: the one whose output the person judges.
        """
        kickoff = self._kickoffs.get(kickoff_id) or await self._store_call(
            self.store.get_kickoff, kickoff_id
        )
        if kickoff is None:
            raise ConfigError(f"Kickoff {kickoff_id} is not tracked; use `crewtui track` first.")
        request_id = flow_request_of(kickoff)
        if request_id is not None:
            return await self._answer_request(kickoff, request_id, feedback, approve)
        task_id = task_id or waiting_task_of(kickoff)
        if task_id is None:
            raise ConfigError(
                f"The service has not said which task of {kickoff.short_id} waits for input "
                "and crewtui saw no task finish: give the task id (--task TASK_ID)."
            )
        state = self._crew(kickoff.crew)
        # The service wants the run's webhook URLs again; one tracked from elsewhere has
        # none on record, and gets this session's receiver, if any.
        hooks = kickoff.webhooks or _sent_webhooks(self.webhook_urls) or SentWebhooks()
        result = await state.client.resume(
            kickoff_id,
            task_id,
            feedback,
            approve=approve,
            task_webhook_url=hooks.task,
            step_webhook_url=hooks.step,
            crew_webhook_url=hooks.crew,
        )
        if result.new_kickoff_id and result.new_kickoff_id != kickoff_id:
            followed = await self._continue(kickoff, result.new_kickoff_id, hooks)
        else:
            self._adopt(kickoff, emit=False)
            # The answer ends the pause even where polls have no word for one (documented).
            answered = Observation(
                kickoff_id=kickoff_id,
                observed_at=utcnow(),
                source="kickoff",
                state=RunState.RUNNING,
            )
            await self._merge(answered)
            followed = await self.refresh(kickoff_id)
        return Resumed(
            kickoff=followed,
            answered_id=kickoff_id,
            task_id=task_id,
            approved=approve,
            status=result.status,
            message=result.message,
            feedback=feedback or None,
        )

    async def _answer_request(
        self, kickoff: Kickoff, request_id: str, feedback: str, approve: bool
    ) -> Resumed:
        """Answer a flow's human-in-the-loop request through its callback.

        The request takes text only: the feedback as typed, else the decision's word
        ("approved" or "rejected", what flows usually expect). From then on the run no
        longer shows as waiting, even while the flow takes its time to resume.
        """
        record = await self._store_call(self.store.hitl_request, request_id)
        if record is None:
            raise ConfigError(
                f"The history no longer holds where to answer the request of "
                f"{kickoff.short_id}; answer it from the CrewAI dashboard."
            )
        if record.answered_at is not None:
            raise ConfigError(
                f"The request of {kickoff.short_id} was already answered from crewtui "
                f"({record.answered_at:%Y-%m-%d %H:%M} UTC); the flow will resume with that answer."
            )
        text = feedback.strip() or ("approved" if approve else "rejected")
        await post_feedback(record.callback_url, text, policy=self._callback_policy)
        now = utcnow()
        await self._store_call(self.store.answer_hitl_request, request_id, text, now)
        async with self._locks.setdefault(kickoff.kickoff_id, asyncio.Lock()):
            before = self._kickoffs.get(kickoff.kickoff_id, kickoff)
            after = answer_request(before, now)
            self._kickoffs[kickoff.kickoff_id] = after
            saved = await self._store_call(self.store.save_kickoff, after)
            if saved is not None:
                after = self._kickoffs[kickoff.kickoff_id] = saved
        self._emit(KickoffChanged(after, before.state))
        if kickoff.kickoff_id not in self._schedules:
            self._adopt(after, emit=False)
        return Resumed(
            kickoff=after,
            answered_id=kickoff.kickoff_id,
            task_id=(kickoff.waiting_for.task_id if kickoff.waiting_for else None) or "",
            approved=approve,
            callback=True,
            feedback=text,
        )

    async def hitl_requested(self, request: HitlRequest) -> bool:
        """A flow asks a person for feedback (a signed request the receiver checked).

        The run it names is shown waiting, like a paused run: a tracked one, else one made
        from the request (its crew is the configured crew the deployment's name matches, else
        the deployment's name: shown, never polled). Returns False for a request already
        seen, here or by another process (a replay): then nothing changes.
        """
        if request.request_id in self._requests_seen:
            return False
        self._requests_seen.add(request.request_id)
        kickoff_id = await self._requested_kickoff_id(request)
        now = utcnow()
        added = await self._store_call(self.store.add_hitl_request, request, kickoff_id, now)
        if added is False:
            return False
        known = self._kickoffs.get(kickoff_id) or await self._store_call(
            self.store.get_kickoff, kickoff_id
        )
        if known is None:
            known = Kickoff(
                kickoff_id=kickoff_id,
                crew=self._crew_of_deployment(request.deployment_name),
                kind="flow",  # only flows send these requests
                created_at=now,
                updated_at=now,
                tracked_at=now,
            )
            await self._store_call(self.store.save_kickoff, known)
        self._adopt(known, emit=True)
        await self._merge(request.observation(kickoff_id))
        return True

    async def _requested_kickoff_id(self, request: HitlRequest) -> str:
        """The known run a request names (its flow id, else an id in its metadata); for a
        run crewtui never saw, the first of those that reads as a kickoff id."""
        candidates = request.kickoff_candidates
        for candidate in candidates:
            if candidate in self._kickoffs:
                return candidate
            if await self._store_call(self.store.get_kickoff, candidate) is not None:
                return candidate
        for candidate in candidates:
            with contextlib.suppress(ConfigError):
                return validate_kickoff_id(candidate)
        return f"request-{uuid.uuid5(uuid.NAMESPACE_URL, request.request_id)}"

    def _crew_of_deployment(self, deployment: str | None) -> str:
        """The configured crew a deployment's name stands for: the crew of that name, else
        the one whose URL names it (``https://NAME.crewai.com``, or ``…/NAME`` for the
        simulator); else the deployment's own name."""
        if not deployment:
            return "flow"
        if deployment in self._crews:
            return deployment
        for name, crew in self._crews.items():
            parts = urlsplit(crew.profile.url)
            host_label = (parts.hostname or "").split(".")[0]
            if deployment in (host_label, parts.path.rstrip("/").rpartition("/")[2]):
                return name
        return deployment

    async def cancel(self, crew: str, kickoff_id: str) -> Cancelled:
        """Ask the service to stop a run (experimental: served, not yet documented).

        Until the service answers, the run is marked ``cancel_request="sent"`` (its row
        says "cancelling…"); once it confirms, the run is cancelled for good (see
        :func:`~crewtui.core.merge.confirm_stop`). A run that had already ended is polled
        once, so it is known as it ended. An id new to the history that the service could
        stop is adopted; one it does not know raises ``NotFoundError`` and leaves nothing.
        """
        state = self._crew(crew)
        kickoff_id = validate_kickoff_id(kickoff_id)
        known = self._kickoffs.get(kickoff_id) or await self._store_call(
            self.store.get_kickoff, kickoff_id
        )
        if known is not None and known.cancel_request == "confirmed":
            return Cancelled(known, stopped=False)
        if known is not None:
            self._adopt(known, emit=False)
            await self._mark_cancel(kickoff_id, "sent")
        try:
            result = await state.client.stop(kickoff_id)
        except ApiError as error:
            self._note_failure(state, error)
            await self._mark_cancel(kickoff_id, None)
            raise
        self._note_ok(state)
        if known is None:  # the service knows it: into the history
            await self._keep_started_elsewhere(crew, kickoff_id)
        if result.stopped:
            await self._confirm_stop(kickoff_id)
        else:
            await self._mark_cancel(kickoff_id, None)
        if result.ended_as is not None:  # the refusal names the state: the service's word
            said = Observation(kickoff_id=kickoff_id, observed_at=utcnow(), state=result.ended_as)
            await self._merge(said)
        with contextlib.suppress(ApiError):  # adds what a poll tells (outputs, tasks)
            await self.refresh(kickoff_id)
        return Cancelled(self._kickoffs[kickoff_id], stopped=result.stopped)

    async def _mark_cancel(self, kickoff_id: str, request: CancelRequest | None) -> None:
        """Say that a stop is on its way (or no longer is) on a tracked run."""
        async with self._locks.setdefault(kickoff_id, asyncio.Lock()):
            before = self._kickoffs.get(kickoff_id)
            if before is None or before.cancel_request == request:
                return
            who = this_user() if request is not None else None
            after = before.model_copy(
                update={"cancel_request": request, "cancelled_by": who, "updated_at": utcnow()}
            )
            self._kickoffs[kickoff_id] = after
            saved = await self._store_call(self.store.save_kickoff, after)
            if saved is not None:
                after = self._kickoffs[kickoff_id] = saved
            self._emit(KickoffChanged(after, before.state))

    async def _confirm_stop(self, kickoff_id: str) -> Kickoff:
        async with self._locks.setdefault(kickoff_id, asyncio.Lock()):
            before = self._kickoffs[kickoff_id]
            after = confirm_stop(before, utcnow())
            self._kickoffs[kickoff_id] = after
            self._unschedule(kickoff_id)
            saved = await self._store_call(self.store.save_kickoff, after)
            if saved is not None:
                after = self._kickoffs[kickoff_id] = saved
            self._emit(KickoffChanged(after, before.state))
        return after

    async def _continue(self, answered: Kickoff, new_id: str, hooks: SentWebhooks) -> Kickoff:
        """Follow the run the service continues under ``new_id``, linked both ways.

        The answered run keeps its history and says what it continues as; the new one says
        what it continues, and carries the same webhook URLs for a later pause.
        """
        async with self._locks.setdefault(answered.kickoff_id, asyncio.Lock()):
            current = self._kickoffs.get(answered.kickoff_id, answered)
            linked = current.model_copy(update={"continues": new_id, "updated_at": utcnow()})
            self._kickoffs[linked.kickoff_id] = linked
            self._unschedule(linked.kickoff_id)  # the new id is polled in its stead
            await self._store_call(self.store.save_kickoff, linked)
        self._emit(KickoffChanged(linked, current.state))
        followed = await self.track(answered.crew, new_id)
        async with self._locks.setdefault(new_id, asyncio.Lock()):
            current = self._kickoffs.get(new_id, followed)
            update: dict[str, Any] = {"continued_from": answered.kickoff_id, "webhooks": hooks}
            followed = current.model_copy(update=update)
            self._kickoffs[new_id] = followed
            await self._store_call(self.store.save_kickoff, followed)
        self._emit(KickoffChanged(followed, current.state))
        return followed

    def accepts_push(self, kickoff_id: str) -> bool:
        """Whether a push about ``kickoff_id`` is wanted: a run held here, or, while a
        kickoff of this process waits for its answer, any run (it may be that one)."""
        return kickoff_id in self._kickoffs or self._sending > 0

    async def ingest(self, items: Sequence[Observation | Step]) -> None:
        """Facts pushed by webhooks; merged exactly like polled ones. Those about a run not
        held yet wait while a kickoff is in flight (:mod:`crewtui.core.early_pushes`)."""
        unknown = [item for item in items if item.kickoff_id not in self._kickoffs]
        if unknown and self._sending > 0:
            self._early.park(unknown)
        steps: dict[str, list[Step]] = {}
        for item in items:
            if isinstance(item, Step):
                steps.setdefault(item.kickoff_id, []).append(item)
            elif item.kickoff_id in self._kickoffs:
                await self._merge(item)
        for kickoff_id, batch in steps.items():
            if kickoff_id in self._kickoffs:
                for payload in step_payloads(batch):
                    await self._merge(payload)
                await self._add_steps(kickoff_id, batch)

    # -- merging -------------------------------------------------------------------------

    def _adopt(self, kickoff: Kickoff, *, emit: bool) -> None:
        """Hold ``kickoff`` in memory and poll it if it is still going."""
        previous = self._kickoffs.get(kickoff.kickoff_id)
        self._kickoffs[kickoff.kickoff_id] = kickoff
        if emit and previous is None:
            self._emit(KickoffChanged(kickoff, None))
        if not self.holds_lease(kickoff.crew):
            return  # its crew's poller polls it (or will, once one holds the lease)
        crew = self._crews.get(kickoff.crew)
        if crew is not None and _is_followed(kickoff):
            loop_now = asyncio.get_running_loop().time()
            self._schedules.setdefault(kickoff.kickoff_id, _Schedule(kickoff.kickoff_id))
            crew.planner.add(
                kickoff.kickoff_id,
                loop_now,
                task=kickoff.current_task,
                task_age=_task_age(kickoff),
                quiet_for=(utcnow() - kickoff.updated_at).total_seconds(),
            )
            crew.wake.set()

    async def _merge(self, observation: Observation) -> Kickoff | None:
        """Apply one observation; store and emit only when something really changed.

        ``None`` when the kickoff was forgotten while the observation was on its way.
        """
        kickoff_id = observation.kickoff_id
        lock = self._locks.setdefault(kickoff_id, asyncio.Lock())
        async with lock:
            before = self._kickoffs.get(kickoff_id)
            if before is None:
                return None
            self._heard[kickoff_id] = observation.observed_at
            after = apply_observation(
                before,
                observation,
                grace=timedelta(seconds=self.settings.not_found_grace),
            )
            if after.poll_error is not None and observation.source == "poll":
                after = after.model_copy(update={"poll_error": None})
            pushed = observation.source == "webhook"
            planner = self._planner_of(before)
            if pushed and planner is not None:
                planner.pushed(kickoff_id, asyncio.get_running_loop().time())
            if after is before or after == before:
                return before
            self._kickoffs[kickoff_id] = after
            # What the history holds is ours merged with what other processes wrote there
            # (an archive flag, tasks from their webhooks): that is the run as it is.
            saved = await self._store_call(self.store.save_kickoff, after)
            if saved is not None:
                after = self._kickoffs[kickoff_id] = saved
            if after.is_terminal:
                self._unschedule(kickoff_id)
            elif before.is_terminal:
                self._adopt(after, emit=False)  # a flow restarted: follow it again
            else:
                self._note_progress(before, after, pushed=pushed)
            self._emit(KickoffChanged(after, before.state))
        if observation.steps:
            await self._add_steps(kickoff_id, observation.steps)
        return after

    async def _add_steps(self, kickoff_id: str, steps: Sequence[Step]) -> None:
        fresh = await self._store_call(self.store.add_steps, list(steps))
        if fresh:
            self._emit(StepsAdded(kickoff_id, tuple(fresh)))

    async def _store_call(
        self, func: Callable[..., Any], *args: Any, thread: ThreadPoolExecutor | None = None
    ) -> Any:
        """Run a store call off the loop (in ``thread``, else the shared pool); a failing
        disk is reported, never fatal, and the end of the trouble too.

        Once sent, the call runs to its end even when its caller is cancelled, and ``stop``
        waits for it: cancelling the wait for a call still queued for a thread cancelled the
        call itself, so a poll cut off by ``stop`` lost the change it had already made in
        memory (the history kept a run "running" that had completed).
        """
        work = asyncio.ensure_future(self._run_store_call(func, args, thread))
        self._store_work.add(work)
        work.add_done_callback(self._store_work.discard)
        return await asyncio.shield(work)

    async def _run_store_call(
        self, func: Callable[..., Any], args: tuple[Any, ...], thread: ThreadPoolExecutor | None
    ) -> Any:
        name = getattr(func, "__name__", None)
        try:
            if thread is not None:
                result = await asyncio.get_running_loop().run_in_executor(thread, func, *args)
            else:
                result = await asyncio.to_thread(func, *args)
        except StoreError as error:
            self._failed_store_call = name
            if self.store_error != error.message:
                self.store_error = error.message
                log.warning("history store: %s", error.message)
                self._emit(HistoryTrouble(error.message))
            return None
        if name is not None and name == self._failed_store_call:
            self._failed_store_call = None
            self.store_error = self.store.open_note
            log.info("history store: taking writes again")
        return result

    async def _lease_call(self, func: Callable[..., Any], *args: Any) -> Any:
        """A read or write of the leases, in a thread of their own: queued behind a busy
        poller's saves in the shared pool, a round of 20 crews' renewals outlasted the
        lease and viewers took the crews over, in turns (``bench/bench_team.py``)."""
        return await self._store_call(func, *args, thread=self._lease_thread)

    # -- other processes -----------------------------------------------------------------

    async def _follow_store(self) -> None:
        """Look at the store every ``STORE_CHECK_EVERY`` s; read it only when it changed.

        ``PRAGMA data_version`` moves only when another process committed, so a quiet
        history costs one counter read per look, on the loop, never waiting for the lock.
        A heartbeat every ``HEARTBEAT_EVERY`` s tells the others this process is alive.
        """
        loop = asyncio.get_running_loop()
        seen_version: int | None = None
        next_beat = loop.time()
        while self._running:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._store_changed.wait(), timeout=STORE_CHECK_EVERY)
            asked = self._store_changed.is_set()
            self._store_changed.clear()
            try:
                if loop.time() >= next_beat:
                    next_beat = loop.time() + HEARTBEAT_EVERY
                    await self._store_call(self.store.beat)
                version = self.store.data_version()
                if asked or (version is not None and version != seen_version):
                    seen_version = version
                    await self.sync_with_store()
            except Exception:  # a bug must cost one look at the store, never the following
                log.exception("crewtui failed to take in changes from the history store")

    async def sync_with_store(self) -> None:
        """Take in what other processes wrote to the history since the last look."""
        changes = await self._store_call(self.store.changes_since, self._store_mark)
        if changes is None:
            return
        self._store_mark = changes.mark
        for kickoff in changes.kickoffs:
            self._absorb(kickoff)

    def _absorb(self, theirs: Kickoff) -> None:
        """A kickoff another process wrote: merge it, emit it, and poll it if this process
        holds its crew's lease (a run a viewer started is polled by the crew's poller).

        Attempts still being sent elsewhere are skipped: they arrive under their kickoff id
        once accepted. Runs of a crew this process has no profile for are shown, never
        polled.
        """
        kickoff_id = theirs.kickoff_id
        before = self._kickoffs.get(kickoff_id)
        if theirs.submission is Submission.SENDING:
            return
        if before is None and not (self._adopt_others or self.holds_lease(theirs.crew)):
            return
        after = theirs if before is None else merge_stored(theirs, before)
        changed = before is None or after != before
        self._kickoffs[kickoff_id] = after
        if not _is_followed(after) or after.crew not in self._crews:
            self._unschedule(kickoff_id)
        elif kickoff_id not in self._schedules:
            self._adopt(after, emit=False)
        elif before is not None:
            self._note_progress(before, after, pushed=False)
        if changed:
            self._emit(KickoffChanged(after, before.state if before is not None else None))

    # -- the poller lease of each crew ---------------------------------------------------

    async def _keep_leases(self) -> None:
        """Renew this process's leases, and try for the others, every ``LEASE_RENEW_EVERY`` s."""
        while self._running:
            await asyncio.sleep(LEASE_RENEW_EVERY)  # the heartbeat's period, not a wait for work
            try:
                await self._renew_leases()
            except Exception:  # a bug must cost one renewal, never the polling
                log.exception("crewtui failed to renew its poller leases")

    async def _renew_leases(self) -> None:
        """One heartbeat: read the leases, claim each crew's that is free, lapsed or ours,
        mark a round of polls finished where this process held it already, and act on
        every change of who polls (start or stop polling the crew's runs)."""
        leases = await self._lease_call(self.store.leases) or {}
        now = utcnow()
        for name, crew in self._crews.items():
            lease = leases.get(name)
            asked = time.monotonic()
            theirs = lease is not None and lease.holder != self.store.writer
            if crew.health.state != "token_rejected":
                crew.yielded = False
            if theirs and lease is not None and lease.is_live(now):
                held = False  # no write while another process holds it
            elif await self._gives_way(crew, lease, now):
                held = False
            else:
                claimed = await self._lease_call(self.store.claim_lease, name, LEASE_TTL)
                # A history that fails to record it: poll for itself (the trouble was said).
                held = claimed is not False
            lapsed = crew.lease_until <= asked
            crew.lease_until = asked + LEASE_TTL if held else 0.0
            if held and crew.holding:
                trouble = self._round_trouble(name)
                if trouble is not None or self._answered_since_taken(crew):
                    await self._lease_call(self.store.mark_refreshed, name, trouble)
            if held and lapsed:
                crew.wake.set()  # its runner waited while the lease was not known held
            await self._note_lease(crew, lease, held=held, now=now)

    def _round_trouble(self, crew: str) -> str | None:
        """None when a round of the crew's polls told anything: its health is not troubled
        and, while it has runs to poll, one at least was answered at its last poll. Else
        what the round was told, for the viewers: a crew answering a web page for every run
        is as stale to them as one that is down, and they say why."""
        health = self._crews[crew].health
        if health.state in _TROUBLED_HEALTH:
            return health.message or f"The {crew} crew is {health.state.replace('_', ' ')}."
        failing: list[str] = []
        for kickoff_id, schedule in self._schedules.items():
            kickoff = self._kickoffs.get(kickoff_id)
            if kickoff is None or kickoff.crew != crew:
                continue
            if schedule.failures == 0:
                return None
            failing.append(kickoff.poll_error or "")
        if not failing:
            return None
        return next((error for error in failing if error), "None of its runs' polls was answered.")

    def _answered_since_taken(self, crew: _Crew) -> bool:
        """Whether the crew's runs are fresh as of now: it has none to poll, or it answered a
        poll since this process took its lease. A new poller whose first polls are still
        out has told nothing yet: marking its rounds would tell the viewers otherwise."""
        name = crew.profile.name
        polled = any(
            kickoff is not None and kickoff.crew == name
            for kickoff in map(self._kickoffs.get, self._schedules)
        )
        answered = crew.health.last_ok
        taken = crew.poller_since
        return not polled or (answered is not None and taken is not None and answered >= taken)

    async def _gives_way(self, crew: _Crew, lease: Lease | None, now: datetime) -> bool:
        """Whether this process leaves the crew to a teammate whose token works: tokens are
        each process's own, so a poller the crew refuses lets its lease lapse once (every
        viewer would see the crew's runs stuck otherwise), and while it is refused it claims
        a lapsed lease only after one has had a lease's time to take it."""
        if crew.health.state != "token_rejected":
            return False
        if not crew.yielded and crew.holding:
            crew.yielded = True
            await self._store_call(self.store.claim_lease, crew.profile.name, 0.0)
            return True
        lapsed_for = (now - lease.expires_at).total_seconds() if lease is not None else None
        return lapsed_for is not None and 0 <= lapsed_for < LEASE_TTL

    async def _note_lease(
        self, crew: _Crew, lease: Lease | None, *, held: bool, now: datetime
    ) -> None:
        """Poll the crew's runs from the renewal that won its lease, stop at the one that
        lost it; say who polls it (an event when that changed, and the crew's health)."""
        name = crew.profile.name
        crew.lease = lease
        if held != crew.holding:
            crew.holding = held
            if held:
                await self._take_polls(name)
            else:
                self._drop_polls(name)
        viewed = lease if not held and lease is not None and lease.is_live(now) else None
        poller_id = self.store.writer if held else (viewed.holder if viewed else None)
        poller = viewed.poller if viewed is not None else None
        if poller_id != crew.poller_id:
            crew.poller_id, crew.poller_since = poller_id, now
            self._emit(LeaseChanged(name, held, self.here if held else poller))
        # Fresh as of the poller's last round; one that never finished a round, as of when
        # this process found it polling.
        fresh_as_of = None if viewed is None else (viewed.refreshed_at or crew.poller_since)
        stale = fresh_as_of is not None and (now - fresh_as_of).total_seconds() > LEASE_TTL
        update = replace(
            crew.health,
            poller=poller,
            stale_since=fresh_as_of if stale else None,
            poller_trouble=viewed.trouble if stale and viewed is not None else None,
        )
        self._set_health(crew, update)

    async def _take_polls(self, crew: str) -> None:
        """This process now polls ``crew``: every active run of it, those it holds and (for
        a ``watch``, which holds only its own) the rest of the history's."""
        if not self._adopt_others:
            stored = await self._store_call(self.store.active_kickoffs) or []
            for kickoff in stored:
                accepted = kickoff.submission is Submission.ACCEPTED
                new = kickoff.kickoff_id not in self._kickoffs
                if kickoff.crew == crew and accepted and new:
                    self._adopt(kickoff, emit=False)
        for kickoff in list(self._kickoffs.values()):
            if kickoff.crew == crew:
                self._adopt(kickoff, emit=False)

    def _drop_polls(self, crew: str) -> None:
        """Another process polls ``crew`` now: its runs are left to it."""
        for kickoff_id in list(self._schedules):
            kickoff = self._kickoffs.get(kickoff_id)
            if kickoff is not None and kickoff.crew == crew:
                self._unschedule(kickoff_id)

    # -- polling -------------------------------------------------------------------------

    def _planner_of(self, kickoff: Kickoff) -> CrewPlanner | None:
        crew = self._crews.get(kickoff.crew)
        return crew.planner if crew is not None else None

    def _unschedule(self, kickoff_id: str) -> None:
        """Poll a run no more (it ended, was forgotten, or another process polls it)."""
        self._schedules.pop(kickoff_id, None)
        kickoff = self._kickoffs.get(kickoff_id)
        crew = self._crews.get(kickoff.crew) if kickoff is not None else None
        if crew is not None and kickoff_id in crew.planner:
            crew.planner.remove(kickoff_id)
            self._report_pace(crew)

    def _note_progress(self, before: Kickoff, after: Kickoff, *, pushed: bool) -> None:
        """Tell the planner the run moved (its backoff and next task follow from that)."""
        planner = self._planner_of(after)
        if planner is not None and progress_signature(after) != progress_signature(before):
            now = asyncio.get_running_loop().time()
            planner.changed(after.kickoff_id, now, after.current_task, pushed=pushed)

    async def _learn_durations(self) -> None:
        """Read how long each crew's tasks take from the history, now and every
        ``DURATIONS_EVERY`` s: what the planners predict the end of a task with."""
        while self._running:
            durations = await self._store_call(self.store.task_durations)
            if durations is not None:
                self.task_durations = durations
                model = DurationModel(durations)
                for crew in self._crews.values():
                    crew.planner.set_durations(model)
            await asyncio.sleep(DURATIONS_EVERY)  # the refresh period, not waiting for work

    async def _run_crew(self, crew: _Crew) -> None:
        """Send the crew's polls, within its budget and concurrency cap, each to the run
        the planner deems likeliest to have changed when a request may leave."""
        loop = asyncio.get_running_loop()
        planner = crew.planner
        while self._running:
            crew.wake.clear()
            if not self.holds_lease(crew.profile.name):
                # Not renewed in time (or lost): nothing leaves until a renewal says so.
                await crew.wake.wait()
                continue
            due = planner.next_due()
            if due is None:
                await crew.wake.wait()
                continue
            delay = due - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(crew.wake.wait(), timeout=delay)
                continue
            await crew.bucket.acquire()
            await crew.gate.acquire()
            if not self.holds_lease(crew.profile.name):  # it lapsed while waiting to send
                crew.gate.release()
                crew.bucket.refund()
                continue
            kickoff_id = planner.take(loop.time())
            schedule = self._schedules.get(kickoff_id) if kickoff_id is not None else None
            if kickoff_id is None or schedule is None or schedule.in_flight:
                # Taken elsewhere meanwhile (ended, forgotten): the token goes back.
                crew.gate.release()
                crew.bucket.refund()
                if kickoff_id is not None and schedule is None:
                    planner.remove(kickoff_id)
                continue
            planner.sent(kickoff_id, loop.time())
            schedule.in_flight = True
            task = asyncio.create_task(self._poll_and_reschedule(crew, schedule))
            self._polls.add(task)
            task.add_done_callback(self._polls.discard)

    async def _poll_and_reschedule(self, crew: _Crew, schedule: _Schedule) -> None:
        loop = asyncio.get_running_loop()
        try:
            await self._poll(schedule.kickoff_id, raise_errors=False, crew=crew)
        except Exception:  # a bug must cost one poll, never the kickoff's tracking
            log.exception("crewtui failed to process a poll of %s", schedule.kickoff_id)
            schedule.failures += 1
            await self._mark_poll_error(schedule.kickoff_id, UNEXPECTED_POLL_ERROR)
        finally:
            crew.gate.release()
            schedule.in_flight = False
        kickoff = self._kickoffs.get(schedule.kickoff_id)
        if kickoff is None or kickoff.is_terminal or schedule.kickoff_id not in self._schedules:
            self._unschedule(schedule.kickoff_id)
            return
        hold = self._hold_after(crew, schedule)
        crew.planner.answered(schedule.kickoff_id, loop.time(), hold=hold)
        crew.wake.set()
        self._report_pace(crew)

    def _hold_after(self, crew: _Crew, schedule: _Schedule) -> float:
        """How long a run waits at least before its next poll: long while its crew refuses
        the token, with backoff (or the service's Retry-After) after failed polls."""
        if crew.health.state == "token_rejected":
            return TOKEN_REJECTED_RETRY
        if schedule.failures:
            backoff = error_backoff(schedule.failures, self.settings.min_interval, 60.0)
            return max(backoff, schedule.retry_after)
        return 0.0

    async def _poll(
        self, kickoff_id: str, *, raise_errors: bool, crew: _Crew | None = None
    ) -> Kickoff:
        kickoff = self._kickoffs[kickoff_id]
        crew = crew or self._crew(kickoff.crew)
        schedule = self._schedules.get(kickoff_id)
        try:
            observation = await crew.client.status(kickoff_id)
        except ApiError as error:
            self._note_failure(crew, error)
            if schedule is not None:
                schedule.failures += 1
                schedule.retry_after = _asked_wait(error)
            await self._mark_poll_error(kickoff_id, error.message)
            if raise_errors:
                raise
            return self._kickoffs.get(kickoff_id, kickoff)
        self._note_ok(crew)
        if schedule is not None:
            schedule.failures = 0
        return await self._merge(observation) or kickoff

    async def _mark_poll_error(self, kickoff_id: str, message: str) -> None:
        """Keep the last poll error on the kickoff so its row can say why it is stale."""
        kickoff = self._kickoffs.get(kickoff_id)
        if kickoff is None or kickoff.poll_error == message:
            return
        updated = kickoff.model_copy(update={"poll_error": message})
        self._kickoffs[kickoff_id] = updated
        self._emit(KickoffChanged(updated, kickoff.state))

    # -- health --------------------------------------------------------------------------

    def _set_health(self, crew: _Crew, health: CrewHealth) -> None:
        if health != crew.health:
            crew.health = health
            self._emit(CrewHealthChanged(health))

    def _note_ok(self, crew: _Crew) -> None:
        now = utcnow()
        health = crew.health
        if health.state != "ok":
            self._set_health(
                crew, replace(health, state="ok", since=now, message=None, last_ok=now)
            )
        else:
            # last_ok moves silently: no event per successful poll.
            crew.health = replace(health, last_ok=now)

    def _note_failure(self, crew: _Crew, error: ApiError) -> None:
        if not _is_crew_level(error):
            return
        health = crew.health
        state: HealthState = "token_rejected" if isinstance(error, AuthError) else "unreachable"
        since = health.since if health.state == state else utcnow()
        self._set_health(crew, replace(health, state=state, since=since, message=error.message))

    def _report_pace(self, crew: _Crew) -> None:
        """Report the crew's requests per second and interval at most every ``PACE_EVERY``
        s (at once when it starts or stops polling): the status line shows them."""
        now = asyncio.get_running_loop().time()
        planner = crew.planner
        interval = planner.interval() if len(planner) else None
        rate = planner.rate(now) if len(planner) else None
        health = crew.health
        started_or_stopped = (interval is None) != (health.interval is None)
        if not started_or_stopped and now - crew.pace_reported < PACE_EVERY:
            return
        crew.pace_reported = now
        self._set_health(
            crew,
            replace(
                health,
                interval=None if interval is None else round(interval, 1),
                rate=None if rate is None else round(rate, 1),
            ),
        )


def _task_age(kickoff: Kickoff) -> float | None:
    """How long the run's current task has been running, as far as the record says."""
    started = current_task_start(kickoff)
    return None if started is None else (utcnow() - started).total_seconds()


def _is_followed(kickoff: Kickoff) -> bool:
    """Whether a run is polled: accepted by the service and going, and not continued under
    a new id (the live service answers a resume so; the old id may read "paused" for ever,
    and each poll of it would spend the crew's budget for nothing)."""
    accepted = kickoff.submission is Submission.ACCEPTED
    return accepted and not kickoff.is_terminal and kickoff.continues is None


def _started_elsewhere(crew: str, kickoff_id: str) -> Kickoff:
    """A run crewtui did not send: it began at a moment only the service may tell, not now."""
    now = utcnow()
    return Kickoff(kickoff_id=kickoff_id, crew=crew, created_at=now, updated_at=now, tracked_at=now)


def _sent_webhooks(hooks: WebhookUrls | None) -> SentWebhooks | None:
    """The webhook URLs a request carries (a blank one is not sent), or None for none."""
    if hooks is None or not (hooks.task or hooks.step or hooks.crew):
        return None
    return SentWebhooks(task=hooks.task or None, step=hooks.step or None, crew=hooks.crew or None)


def progress_signature(kickoff: Kickoff) -> tuple[object, ...]:
    """What counts as the run moving: not its ticking duration, message or raw payload.

    Polls back off while this stays the same, and ``watch`` prints a line when it changes.
    """
    return (
        kickoff.state,
        kickoff.current_task,
        kickoff.progress,
        tuple((task.task_id, task.state, task.output is not None) for task in kickoff.tasks),
        kickoff.output is not None,
        kickoff.error,
        kickoff.poll_error,
        kickoff.archived,
    )


def _asked_wait(error: ApiError) -> float:
    """The wait a rate-limited service asked for (clamped by the client), else none."""
    if isinstance(error, RateLimitedError) and error.retry_after is not None:
        return error.retry_after
    return 0.0


def _is_crew_level(error: ApiError) -> bool:
    """Errors that say something about the crew's service, not about one kickoff's payload.

    A 429 (the service throttles crewtui) and a redirect (the crew lives elsewhere) are
    about every kickoff of the crew; a body that cannot be used may be one run's output.
    """
    if isinstance(error, AuthError | TransportError | RateLimitedError | RedirectRefusedError):
        return True
    return not isinstance(error, BadResponseError) and (error.status_code or 0) >= 500
