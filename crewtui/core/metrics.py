"""``crewtui serve``'s Prometheus metrics, read from the running parts at each scrape.

Nothing is counted twice: each crew's client counts its requests, the receiver its
pushes, the history holds the runs, the tracker knows when it last heard of each; a
scrape reads them all (prometheus-client's custom collector), so the metrics cannot
drift from what the rest of crewtui says. Labels are crew names, states and outcomes only:
never a URL, a token or a kickoff id (one series per run would grow without end).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import get_args

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from crewtui import __version__
from crewtui.api.errors import StoreError
from crewtui.api.http import Outcome
from crewtui.api.states import RunState
from crewtui.core.tracker import Tracker
from crewtui.core.tracker_events import HealthState
from crewtui.core.webhooks import WebhookReceiver

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
HEALTH_STATES: tuple[HealthState, ...] = get_args(HealthState)
# Upper bounds (seconds) of the staleness buckets: polls run every 1-15 s when all is well.
STALENESS_BUCKETS = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0)
# How long a scrape waits for the history's counts: a history that does not answer (a
# PostgreSQL server down or a table locked) must not hold the scrape past Prometheus'
# default 10 s timeout, and with it every other metric, just when they matter.
HISTORY_COUNT_WAIT = 3.0


class ServeMetrics:
    """The registry a scrape of ``/metrics`` reads, and the collector that fills it."""

    def __init__(self, tracker: Tracker, receiver: WebhookReceiver | None) -> None:
        self._tracker = tracker
        self._receiver = receiver
        # The history's runs by state, counted off the loop just before each scrape (one
        # count at a time: a scrape finds the one still under way instead of adding one).
        self._history: dict[RunState, int] | None = None
        self._counting: asyncio.Future[dict[RunState, int] | None] | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)
        ProcessCollector(registry=self.registry)

    async def exposition(self) -> bytes:
        """The text a scrape gets (Prometheus text format 0.0.4): without the history's
        counts when it does not answer within ``HISTORY_COUNT_WAIT``."""
        if self._counting is None or self._counting.done():
            self._counting = asyncio.ensure_future(asyncio.to_thread(self._count_history))
        try:
            counting = asyncio.shield(self._counting)
            self._history = await asyncio.wait_for(counting, HISTORY_COUNT_WAIT)
        except TimeoutError:
            self._history = None  # the health endpoint and the log say why
        return generate_latest(self.registry)

    def _count_history(self) -> dict[RunState, int] | None:
        store = self._tracker.store
        try:
            return {
                state: store.count_kickoffs(states=[state], archived=None) for state in RunState
            }
        except StoreError:
            return None  # the health endpoint and the log say why

    def collect(self) -> Iterable[Metric]:
        """Every family, read now (prometheus-client calls this on each scrape)."""
        crews = sorted(self._tracker.crews)
        yield _build_info()
        yield from self._requests(crews)
        yield self._crew_health(crews)
        if self._history is not None:
            kickoffs = GaugeMetricFamily(
                "crewtui_kickoffs", "Kickoffs in the history, by state.", labels=["state"]
            )
            for state, count in self._history.items():
                kickoffs.add_metric([state.value], count)
            yield kickoffs
        yield from self._followed(crews)
        yield from self._leases(crews)
        yield from self._pushes()

    def _requests(self, crews: Sequence[str]) -> Iterable[Metric]:
        requests = CounterMetricFamily(
            "crewtui_requests",
            "Requests sent to each crew's service, by outcome (each retry counts).",
            labels=["crew", "outcome"],
        )
        errors = CounterMetricFamily(
            "crewtui_poll_errors",
            "Status polls that failed once their retries were spent, by crew.",
            labels=["crew"],
        )
        for crew in crews:
            counts = self._tracker.request_counts(crew)
            for outcome in OUTCOMES:
                requests.add_metric([crew, outcome], counts.attempts[outcome])
            errors.add_metric([crew], counts.failed_polls)
        yield requests
        yield errors

    def _crew_health(self, crews: Sequence[str]) -> Metric:
        health = GaugeMetricFamily(
            "crewtui_crew_health",
            "How each crew's service answers: 1 for its current state, 0 for the others.",
            labels=["crew", "state"],
        )
        for crew in crews:
            now = self._tracker.health(crew).state
            for state in HEALTH_STATES:
                health.add_metric([crew, state], 1.0 if state == now else 0.0)
        return health

    def _followed(self, crews: Sequence[str]) -> Iterable[Metric]:
        """The active runs: who polls them, and how stale each is as this process sees it."""
        followed = GaugeMetricFamily(
            "crewtui_active_kickoffs",
            "Kickoffs still going, by crew and by who polls them (this process or another).",
            labels=["crew", "polled_by"],
        )
        staleness = GaugeHistogramMetricFamily(
            "crewtui_staleness_seconds",
            "Seconds since a poll or a push last told this process about each active kickoff "
            "it polls, or since the poller of a crew it views last finished a round of polls "
            "(a histogram of the current values).",
            labels=["crew"],
        )
        oldest = GaugeMetricFamily(
            "crewtui_staleness_max_seconds",
            "The longest staleness of an active kickoff (see crewtui_staleness_seconds).",
            labels=["crew"],
        )
        now = datetime.now(UTC)
        ages: dict[str, list[float]] = {crew: [] for crew in crews}
        elsewhere: dict[str, int] = dict.fromkeys(crews, 0)
        for kickoff in self._tracker.tracked():
            if kickoff.is_terminal or kickoff.archived or kickoff.crew not in ages:
                continue
            if self._tracker.holds_lease(kickoff.crew):
                heard = self._tracker.last_heard(kickoff.kickoff_id) or kickoff.updated_at
            else:
                elsewhere[kickoff.crew] += 1
                lease = self._tracker.lease(kickoff.crew)
                heard = (lease.refreshed_at if lease else None) or kickoff.updated_at
            ages[kickoff.crew].append(max((now - heard).total_seconds(), 0.0))
        for crew in crews:
            followed.add_metric([crew, "this_process"], len(ages[crew]) - elsewhere[crew])
            followed.add_metric([crew, "another_process"], elsewhere[crew])
            staleness.add_metric([crew], _buckets(ages[crew]), sum(ages[crew]))
            oldest.add_metric([crew], max(ages[crew], default=0.0))
        yield followed
        yield staleness
        yield oldest

    def _leases(self, crews: Sequence[str]) -> Iterable[Metric]:
        """Who polls each crew for the history: this process (1) or another (0), and which."""
        held = GaugeMetricFamily(
            "crewtui_lease_held",
            "1 when this process holds the crew's poller lease (it polls the crew), 0 when "
            "it views what another process polls.",
            labels=["crew"],
        )
        holder = GaugeMetricFamily(
            "crewtui_lease_holder",
            "The process (pid@host) that polls each crew for the shared history: 1.",
            labels=["crew", "holder"],
        )
        for crew in crews:
            polls_here = self._tracker.holds_lease(crew)
            held.add_metric([crew], 1.0 if polls_here else 0.0)
            poller = self._tracker.here if polls_here else self._tracker.health(crew).poller
            if poller is not None:
                holder.add_metric([crew, poller], 1.0)
        yield held
        yield holder

    def _pushes(self) -> Iterable[Metric]:
        if self._receiver is None:
            return
        pushes = CounterMetricFamily(
            "crewtui_webhook_pushes",
            "Webhook requests the receiver accepted or refused (wrong path, token, size, JSON).",
            labels=["outcome"],
        )
        pushes.add_metric(["received"], self._receiver.received)
        pushes.add_metric(["rejected"], self._receiver.rejected)
        yield pushes
        yield CounterMetricFamily(
            "crewtui_webhook_items_ignored",
            "Pushed items about kickoffs nobody tracks, dropped.",
            value=self._receiver.ignored,
        )
        yield CounterMetricFamily(
            "crewtui_hitl_requests_replayed",
            "Flows' human-in-the-loop requests taken before (same id or signature), ignored.",
            value=self._receiver.replayed,
        )


def _build_info() -> Metric:
    info = GaugeMetricFamily("crewtui_build_info", "The running crewtui.", labels=["version"])
    info.add_metric([__version__], 1.0)
    return info


def _buckets(ages: Sequence[float]) -> list[tuple[str, float]]:
    """Cumulative counts at each bound, as a histogram's ``le`` buckets (with ``+Inf``)."""
    bounds = [*STALENESS_BUCKETS, float("inf")]
    return [
        ("+Inf" if bound == float("inf") else repr(bound), sum(1 for age in ages if age <= bound))
        for bound in bounds
    ]
