"""The tracker against hostile and failing servers: a bad crew never harms the others.

The client's own answers to each fault are tested in tests/api. Here the whole polling
machinery runs: a Tracker with two crews, one pointed at a scripted hostile server, the
other at the simulator. Whatever the hostile crew does, the healthy crew's runs finish, the
hostile kickoff says why it is stale in one sentence (never a guessed success), the crew's
health says it is unreachable, polling goes on at clamped waits, the token stays on its
origin, memory stays bounded by the body cap, and nothing escapes as an unhandled exception.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import threading
import time
import tracemalloc
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crewtui.api.client import ClientPolicy
from crewtui.api.errors import BadResponseError
from crewtui.api.models import Kickoff
from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.api.states import RunState, Submission
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.core.tracker_events import CrewHealthChanged, TrackerEvent
from crewtui.settings import PollSettings
from crewtui.sim import SimOptions, SimServer, ThreadedServer, create_app
from tests.api.hostile_server import (
    HostileServer,
    Reply,
    drip,
    gzip_reply,
    hang,
    json_reply,
    raw_reply,
    redirect,
    reset,
    self_signed_tls,
    truncated,
)
from tests.helpers import wait_until

TOKEN = "hostile-crew-token-7d41c9"
CAP = 64 * 1024
# Short everything: a hung request gives up after half a second, a Retry-After of a day is
# clamped to 0.3 s, and one retry per poll keeps the test fast.
POLICY = ClientPolicy(
    deadline=0.5,
    connect_timeout=0.5,
    read_timeout=3.0,
    max_body_bytes=CAP,
    max_retries=1,
    backoff_base=0.05,
    backoff_max=0.2,
    retry_after_max=0.3,
)
SETTINGS = PollSettings(min_interval=0.05, max_interval=0.2, request_deadline=POLICY.deadline)
# No background poll for a minute: the test drives every poll itself.
QUIET = PollSettings(min_interval=60.0, max_interval=60.0, request_deadline=POLICY.deadline)
# The longest one poll can take under POLICY: every attempt to its deadline, clamped waits between.
WORST_POLL = (POLICY.max_retries + 1) * (POLICY.deadline + POLICY.retry_after_max)
RUNNING = {"state": "RUNNING", "status": "Task is Running", "result": None}
LoopErrors = list[dict[str, Any]]


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fast_sim() -> Iterator[SimServer]:
    """The healthy crew's simulator: a whole run takes about a tenth of a second."""
    with SimServer(SimOptions(dialect="live", speed=1000.0)) as server:
        yield server


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "history.sqlite3")
    yield opened
    opened.close()


@pytest.fixture
async def hostile() -> AsyncIterator[HostileServer]:
    async with HostileServer() as server:
        yield server


@pytest.fixture
async def elsewhere() -> AsyncIterator[HostileServer]:
    """Another origin: the token must never arrive here."""
    async with HostileServer() as server:
        yield server


@pytest.fixture
async def loop_errors() -> AsyncIterator[LoopErrors]:
    """Everything the event loop would report as unhandled (a task's lost exception...)."""
    loop = asyncio.get_running_loop()
    errors: LoopErrors = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    yield errors
    loop.set_exception_handler(previous)


def assert_nothing_unhandled(errors: LoopErrors) -> None:
    """Collect garbage first: a task's lost exception is only reported when it is freed."""
    gc.collect()
    assert errors == [], [str(error.get("exception") or error.get("message")) for error in errors]


# -- helpers ----------------------------------------------------------------------------------


def hostile_profile(url: str) -> CrewProfile:
    return CrewProfile(name="hostile", url=url, token=Secret(TOKEN))


def healthy_profile(sim: SimServer) -> CrewProfile:
    return CrewProfile(name="healthy", url=sim.crew_url("travel"), token=Secret(sim.options.token))


def seed(store: Store, crew: str, state: RunState = RunState.RUNNING) -> str:
    """A kickoff a previous session left running: the tracker adopts it when it starts."""
    now = datetime.now(UTC)
    kickoff_id = str(uuid.uuid4())
    store.upsert_crew(crew, "http://127.0.0.1")
    store.save_kickoff(
        Kickoff(
            kickoff_id=kickoff_id,
            crew=crew,
            created_at=now,
            updated_at=now,
            state=state,
            submission=Submission.ACCEPTED,
        )
    )
    return kickoff_id


def known(tracker: Tracker, kickoff_id: str) -> Kickoff:
    kickoff = tracker.get(kickoff_id)
    assert kickoff is not None, kickoff_id
    return kickoff


def assert_one_clean_sentence(text: str | None, crew: str = "hostile") -> None:
    assert text is not None
    assert crew in text
    assert TOKEN not in text
    assert "\n" not in text and "\x1b" not in text
    assert text.endswith(".")
    assert len(text) < 500


def http_date(seconds: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)


async def stop_promptly(tracker: Tracker) -> None:
    async with asyncio.timeout(2.0):
        await tracker.stop()


# -- one fault at a time ----------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """What the hostile server answers to every request, and whether it is the crew's fault."""

    name: str
    build: Callable[[str], Reply]  # given the other origin's URL
    crew_level: bool = True  # the service is down or refusing, not one payload

    def __str__(self) -> str:
        return self.name


def limited(status: int, name: str, retry_after: Callable[[], str]) -> Fault:
    """A 429 or 503 asking for a wait (made when the test runs: dates must be fresh)."""

    def build(_: str) -> Reply:
        return json_reply(status, {"error": "slow down"}, ("Retry-After", retry_after()))

    return Fault(f"{status}-retry-after-{name}", build)


BOMB = b'{"state": "RUNNING", "result": "' + b"0" * (256 * CAP) + b'"}'
FAULTS = [
    Fault("hang", lambda _: hang()),
    Fault("drip", lambda _: drip(json_reply(200, RUNNING), interval=0.05)),
    Fault("reset", lambda _: reset()),
    Fault("body-cut-short", lambda _: truncated(json_reply(200, RUNNING), 10)),
    Fault(
        "truncated-json", lambda _: raw_reply(200, b'{"state": "RUNN', "application/json"), False
    ),
    Fault(
        "html-502",
        lambda _: raw_reply(502, "<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
    ),
    Fault("text-500", lambda _: raw_reply(500, "Internal Server Error", "text/plain")),
    limited(429, "0", lambda: "0"),
    limited(429, "5", lambda: "5"),
    limited(429, "a-day", lambda: "86400"),
    limited(429, "http-date", lambda: http_date(3600)),
    limited(429, "garbage", lambda: "soon-ish"),
    limited(503, "a-day", lambda: "86400"),
    limited(503, "http-date", lambda: http_date(3600)),
    Fault("over-cap", lambda _: json_reply(200, RUNNING | {"result": "x" * CAP}), False),
    Fault("gzip-bomb", lambda _: gzip_reply(200, BOMB), False),
    Fault(
        "huge-number",
        lambda _: raw_reply(200, b'{"state": "RUNNING", "n": ' + b"7" * 5000 + b"}", "text/json"),
        False,
    ),
    Fault(
        "nested-too-deep",
        lambda _: raw_reply(200, b"[" * 100_000 + b"]" * 100_000, "application/json"),
        False,
    ),
    Fault("redirect-elsewhere", lambda other: redirect(307, f"{other}/status/x")),
    Fault("redirect-permanent", lambda other: redirect(308, f"{other}/status/x")),
]


@pytest.mark.parametrize("fault", FAULTS, ids=str)
async def test_a_hostile_crew_is_reported_clearly_and_never_slows_the_healthy_one(
    fault: Fault,
    fast_sim: SimServer,
    store: Store,
    hostile: HostileServer,
    elsewhere: HostileServer,
    loop_errors: LoopErrors,
) -> None:
    hostile.fallback = fault.build(elsewhere.url)
    kickoff_id = seed(store, "hostile")
    events: list[TrackerEvent] = []
    tracker = Tracker(
        [hostile_profile(hostile.url), healthy_profile(fast_sim)],
        store,
        SETTINGS,
        client_policy=POLICY,
    )
    tracker.listen(events.append)
    started = time.monotonic()
    await tracker.start()
    try:
        await wait_until(tracker, lambda: known(tracker, kickoff_id).poll_error is not None, 10)
        # The overall deadline holds: one poll, retries and clamped waits included, is bounded.
        assert time.monotonic() - started < WORST_POLL + 2.0
        run = await tracker.kickoff("healthy", fast_sim.sample_inputs("travel"))
        await wait_until(tracker, lambda: known(tracker, run.kickoff_id).is_terminal, 10)
        # Still polling: no Retry-After, however long, stops the hostile crew for good.
        await hostile.wait_for_requests(len(hostile.requests) + 2, timeout=10)
    finally:
        await stop_promptly(tracker)

    assert known(tracker, run.kickoff_id).state is RunState.COMPLETED
    assert tracker.health("healthy").state == "ok"
    stale = known(tracker, kickoff_id)
    assert_one_clean_sentence(stale.poll_error)
    # Never a guessed success, in memory or on disk.
    assert stale.state in (RunState.RUNNING, RunState.UNKNOWN)
    on_disk = store.get_kickoff(kickoff_id)
    assert on_disk is not None
    assert on_disk.state in (RunState.RUNNING, RunState.UNKNOWN)
    health = tracker.health("hostile")
    if fault.crew_level:
        assert health.state == "unreachable"
        assert health.since is not None
        assert_one_clean_sentence(health.message)
    else:
        assert health.state != "ok"
    # The token went only to the configured origin.
    assert elsewhere.requests == []
    assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in hostile.requests)
    assert TOKEN not in repr(events)
    assert tracker.store_error is None
    assert_nothing_unhandled(loop_errors)


@pytest.mark.parametrize(
    "blip",
    [
        raw_reply(500, "Internal Server Error", "text/plain"),
        json_reply(503, {"error": "busy"}),
        reset(),
        truncated(json_reply(200, RUNNING), 10),
    ],
    ids=["500", "503", "reset", "body-cut-short"],
)
async def test_one_transient_failure_is_ridden_out_without_a_stale_mark(
    store: Store, hostile: HostileServer, loop_errors: LoopErrors, blip: Reply
) -> None:
    """A blip costs a retry, not a "stale" row nor an "unreachable" crew."""
    hostile.script(blip)
    hostile.fallback = json_reply(200, RUNNING)
    events: list[TrackerEvent] = []
    tracker = Tracker([hostile_profile(hostile.url)], store, QUIET, client_policy=POLICY)
    tracker.listen(events.append)
    try:
        kickoff = await tracker.track("hostile", str(uuid.uuid4()))
    finally:
        await stop_promptly(tracker)
    assert kickoff.state is RunState.RUNNING
    assert kickoff.poll_error is None
    assert len(hostile.requests) == 2
    assert tracker.health("hostile").state == "ok"
    assert not any(isinstance(event, CrewHealthChanged) and event.health.state != "ok"
                   for event in events)  # fmt: skip
    assert_nothing_unhandled(loop_errors)


async def test_the_healthy_crew_finishes_while_every_hostile_poll_hangs(
    fast_sim: SimServer, store: Store, hostile: HostileServer, loop_errors: LoopErrors
) -> None:
    """Every slot of the hostile crew is stuck for good: the other crew does not notice."""
    hostile.fallback = hang()
    for _ in range(3 * SETTINGS.max_in_flight):
        seed(store, "hostile")
    patient = replace(POLICY, deadline=300.0, read_timeout=300.0)
    tracker = Tracker(
        [hostile_profile(hostile.url), healthy_profile(fast_sim)],
        store,
        SETTINGS,
        client_policy=patient,
    )
    await tracker.start()
    try:
        await hostile.wait_for_requests(SETTINGS.max_in_flight)
        runs = [await tracker.kickoff("healthy", fast_sim.sample_inputs("travel")) for _ in "abc"]
        await wait_until(
            tracker, lambda: all(known(tracker, r.kickoff_id).is_terminal for r in runs)
        )
        # The hostile crew sent its cap of polls and no more: all of them are still hanging.
        assert len(hostile.requests) == SETTINGS.max_in_flight
    finally:
        await stop_promptly(tracker)
    assert all(known(tracker, r.kickoff_id).state is RunState.COMPLETED for r in runs)
    assert_nothing_unhandled(loop_errors)


async def test_a_throttled_crew_waits_what_it_asked_for_but_no_longer_than_the_clamp(
    store: Store, hostile: HostileServer, loop_errors: LoopErrors
) -> None:
    """A day's Retry-After becomes the clamp: the next poll is neither hammered nor never."""
    hostile.fallback = json_reply(429, {"error": "slow down"}, ("Retry-After", "86400"))
    seed(store, "hostile")
    policy = replace(POLICY, max_retries=0, retry_after_max=20.0)
    tracker = Tracker([hostile_profile(hostile.url)], store, SETTINGS, client_policy=policy)
    await tracker.start()
    try:
        await wait_until(tracker, lambda: tracker.health("hostile").interval is not None)
    finally:
        await stop_promptly(tracker)
    assert tracker.health("hostile").interval == policy.retry_after_max
    assert tracker.health("hostile").state == "unreachable"
    assert len(hostile.requests) == 1
    assert_nothing_unhandled(loop_errors)


async def test_an_https_crew_redirecting_to_http_never_sends_the_token_over_http(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    store: Store,
    elsewhere: HostileServer,
    loop_errors: LoopErrors,
) -> None:
    server_tls, _ = self_signed_tls(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))  # trust the test's CA
    kickoff_id = seed(store, "hostile")
    async with HostileServer(ssl=server_tls) as secure:
        secure.fallback = redirect(301, f"{elsewhere.url}/status/{kickoff_id}")
        tracker = Tracker([hostile_profile(secure.url)], store, SETTINGS, client_policy=POLICY)
        await tracker.start()
        try:
            await wait_until(tracker, lambda: known(tracker, kickoff_id).poll_error is not None)
            await secure.wait_for_requests(len(secure.requests) + 1)
        finally:
            await stop_promptly(tracker)
    assert secure.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert elsewhere.requests == []
    assert "redirected" in (known(tracker, kickoff_id).poll_error or "")
    assert_nothing_unhandled(loop_errors)


# -- memory -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [gzip_reply(200, BOMB), json_reply(200, RUNNING | {"result": "x" * (4 * CAP)})],
    ids=["gzip-bomb", "over-cap"],
)
async def test_hundreds_of_polls_against_huge_bodies_stay_within_the_cap(
    reply: Reply, store: Store, hostile: HostileServer, loop_errors: LoopErrors
) -> None:
    """Memory is bounded by what is in flight times the cap, not by what the body inflates to.

    Structural bound: every one of the in-flight polls may hold the body on the wire (the
    test's own server copies it too) and a few cap-sized buffers; plus a fixed allowance.
    """
    hostile.fallback = reply
    ids = [seed(store, "hostile") for _ in range(QUIET.max_in_flight)]
    bound = QUIET.max_in_flight * (2 * len(reply.body) + 4 * CAP) + 4 * 1024 * 1024
    # A deadline a loaded CI machine can meet: this test is about memory, not time.
    roomy = replace(POLICY, deadline=10.0)
    async with Tracker([hostile_profile(hostile.url)], store, QUIET, client_policy=roomy) as t:
        tracemalloc.start()
        try:
            for _ in range(25):
                await asyncio.gather(*(refresh_refused(t, kickoff_id) for kickoff_id in ids))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert len(hostile.requests) >= 25 * len(ids)
    assert peak < bound, f"peak {peak / 2**20:.1f} MiB over {bound / 2**20:.1f} MiB"
    assert all("larger than" in (known(t, kickoff_id).poll_error or "") for kickoff_id in ids)
    assert_nothing_unhandled(loop_errors)


async def refresh_refused(tracker: Tracker, kickoff_id: str) -> None:
    with pytest.raises(BadResponseError):
        await tracker.refresh(kickoff_id)


def encoded(coding: str, body: bytes) -> Reply:
    """``body`` sent with Content-Encoding ``coding`` (zlib-wrapped or raw deflate)."""
    packed = {
        "gzip": lambda: gzip_reply(200, body).body,
        "deflate": lambda: zlib.compress(body),
        "raw-deflate": lambda: zlib.compress(body, wbits=-zlib.MAX_WBITS),
        "br": lambda: body,
        "gzip, gzip": lambda: gzip_reply(200, gzip_reply(200, body).body).body,
    }[coding]()
    header = "deflate" if coding == "raw-deflate" else coding
    return Reply(200, (("Content-Type", "application/json"), ("Content-Encoding", header)), packed)


@pytest.mark.parametrize(
    ("coding", "readable"),
    [
        ("gzip", True),
        ("deflate", True),
        ("raw-deflate", True),
        ("br", False),
        ("gzip, gzip", False),
    ],
)
async def test_only_the_encodings_asked_for_are_read(
    coding: str, readable: bool, quiet_tracker: Tracker, hostile: HostileServer
) -> None:
    hostile.fallback = encoded(coding, json.dumps(RUNNING | {"result": "x" * 1000}).encode())
    kickoff_id = str(uuid.uuid4())
    if readable:
        kickoff = await quiet_tracker.track("hostile", kickoff_id)
        assert kickoff.state is RunState.RUNNING
    else:
        with pytest.raises(BadResponseError, match="encoding"):
            await quiet_tracker.track("hostile", kickoff_id)
        refused = known(quiet_tracker, kickoff_id)
        assert not refused.is_terminal
        assert "encoding" in (refused.poll_error or "")
    assert hostile.requests[0].headers["accept-encoding"] == "gzip, deflate"


# -- valid JSON of the wrong shape --------------------------------------------------------------

_LIVE = {
    "PENDING": RunState.PENDING,
    "STARTED": RunState.RUNNING,
    "RUNNING": RunState.RUNNING,
    "PAUSED": RunState.PAUSED,
    "SUCCESS": RunState.COMPLETED,
    "FAILED": RunState.FAILED,
    "FAILURE": RunState.FAILED,
    "REVOKED": RunState.CANCELLED,
    "NOT FOUND": RunState.NOT_FOUND,
    "NOT_FOUND": RunState.NOT_FOUND,
}
_DOCUMENTED = {
    "running": RunState.RUNNING,
    "completed": RunState.COMPLETED,
    "error": RunState.FAILED,
}


def claimed_states(body: Any) -> set[RunState]:
    """The states a body can justify, read from the contract's tables: UNKNOWN always."""
    allowed = {RunState.UNKNOWN}
    if isinstance(body, dict):
        if isinstance(body.get("state"), str):
            allowed.add(_LIVE.get(body["state"].strip().upper(), RunState.UNKNOWN))
        elif isinstance(body.get("status"), str):
            allowed.add(_DOCUMENTED.get(body["status"].strip().lower(), RunState.UNKNOWN))
    return allowed


KEYS = ["state", "status", "result", "result_json", "progress", "error", "execution_time",
        "last_executed_task", "last_step", "current_task", "completed", "total", "tasks",
        "duration_seconds", "name", "output", "agent"]  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from([*_LIVE, *_DOCUMENTED, "success", " Running "])
)
BODIES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=20,
)


@pytest.fixture
async def quiet_tracker(store: Store, hostile: HostileServer) -> AsyncIterator[Tracker]:
    """A started tracker of the hostile crew that polls only when asked."""
    async with Tracker([hostile_profile(hostile.url)], store, QUIET, client_policy=POLICY) as t:
        yield t


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=BODIES)
async def test_any_json_as_a_status_never_breaks_the_tracker(
    body: Any,
    quiet_tracker: Tracker,
    store: Store,
    hostile: HostileServer,
    loop_errors: LoopErrors,
) -> None:
    hostile.fallback = json_reply(200, body)
    kickoff = await quiet_tracker.track("hostile", str(uuid.uuid4()))
    assert kickoff.state in claimed_states(body), (kickoff.state, body)
    assert kickoff.raw == body
    assert kickoff.poll_error is None
    stored = store.get_kickoff(kickoff.kickoff_id)
    assert stored is not None
    assert stored.state is kickoff.state
    assert stored.raw == body
    assert_nothing_unhandled(loop_errors)


@pytest.mark.parametrize(
    "body",
    [
        b'{"state": "RUNNING", "progress": {"completed": ' + b"9" * 3000 + b', "total": 3}}',
        b'{"state": "RUNNING", "progress": {"duration_seconds": 1e400}, "execution_time": -1e400}',
        b'{"state": "RUNNING", "x": ' + b"[" * 400 + b"]" * 400 + b"}",
        b'{"state": "SUCCESS", "result": ' + json.dumps("\ud800 lone surrogate").encode() + b"}",
    ],
    ids=["thousands-of-digits", "infinite", "deep", "surrogate"],
)
async def test_odd_but_valid_json_is_tracked_and_kept_raw(
    body: bytes,
    quiet_tracker: Tracker,
    store: Store,
    hostile: HostileServer,
    loop_errors: LoopErrors,
) -> None:
    hostile.fallback = raw_reply(200, body, "application/json")
    kickoff = await quiet_tracker.track("hostile", str(uuid.uuid4()))
    expected = json.loads(body)
    assert kickoff.state is _LIVE[expected["state"]]
    assert kickoff.poll_error is None
    assert kickoff.progress is None or kickoff.progress.completed is None
    assert kickoff.execution_time is None or kickoff.execution_time < 1e300
    stored = store.get_kickoff(kickoff.kickoff_id)
    assert stored is not None
    assert json.dumps(stored.raw) == json.dumps(expected)
    assert_nothing_unhandled(loop_errors)


# -- pacing: the server's view ------------------------------------------------------------------


@dataclass
class StatusMeter:
    """ASGI middleware in front of the simulator: what the server sees of GET /status.

    Runs on the server's own thread and loop; the test reads the counts after ``reached``.
    """

    app: Any
    target: int = 0
    active: int = 0
    peak: int = 0
    spans: list[tuple[str, float, float]] = field(default_factory=list)
    reached: threading.Event = field(default_factory=threading.Event)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or "/status/" not in path:
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1
            self.spans.append((path.rsplit("/", 1)[-1], started, time.monotonic()))
            if self.target and len(self.spans) >= self.target:
                self.reached.set()

    async def wait_for(self, count: int, timeout: float = 30.0) -> None:
        self.target = count
        if len(self.spans) < count:
            assert await asyncio.to_thread(self.reached.wait, timeout), "too few polls"


@pytest.fixture
def metered() -> Iterator[tuple[SimOptions, StatusMeter, ThreadedServer]]:
    options = SimOptions(dialect="live", speed=1.0)
    meter = StatusMeter(create_app(options))
    with ThreadedServer(meter) as server:
        yield options, meter, server


async def _pace(
    metered: tuple[SimOptions, StatusMeter, ThreadedServer],
    store: Store,
    latency: float,
    polls: int,
) -> StatusMeter:
    """50 tracked kickoffs, all due at once, under the default budget and cap."""
    options, meter, server = metered
    options.faults.latency = latency
    for _ in range(50):
        seed(store, "travel")
    defaults = PollSettings(min_interval=0.05, max_interval=0.2)
    crew = CrewProfile(name="travel", url=f"{server.base_url}/travel", token=Secret(options.token))
    async with Tracker([crew], store, defaults):
        await meter.wait_for(polls)
    return meter


async def test_a_slow_crew_never_sees_more_than_the_cap_in_flight(
    metered: tuple[SimOptions, StatusMeter, ThreadedServer], store: Store
) -> None:
    cap = PollSettings().max_in_flight
    meter = await _pace(metered, store, latency=0.5, polls=3 * cap)
    assert meter.peak == cap  # reached (50 were due at once) and never passed
    assert_polls_of_a_kickoff_never_overlap(meter.spans)


async def test_a_crew_never_gets_more_than_its_request_budget(
    metered: tuple[SimOptions, StatusMeter, ThreadedServer], store: Store
) -> None:
    budget = PollSettings().requests_per_second
    burst = budget  # the bucket holds one second of requests
    meter = await _pace(metered, store, latency=0.0, polls=40)
    starts = sorted(start for _, start, _ in meter.spans)
    span = starts[-1] - starts[0]
    # n requests need (n - burst) / rate seconds at least; one request of slack for jitter.
    assert len(starts) <= budget * span + burst + 1, (len(starts), span)
    for index, start in enumerate(starts):
        in_window = sum(1 for other in starts[index:] if other < start + 1.0)
        assert in_window <= budget * 1.0 + burst + 1
    assert_polls_of_a_kickoff_never_overlap(meter.spans)


def assert_polls_of_a_kickoff_never_overlap(spans: list[tuple[str, float, float]]) -> None:
    """A kickoff's next poll is sent only after its last one was answered."""
    by_kickoff: dict[str, list[tuple[float, float]]] = {}
    for kickoff_id, start, end in spans:
        by_kickoff.setdefault(kickoff_id, []).append((start, end))
    for times in by_kickoff.values():
        times.sort()
        for (_, end), (next_start, _) in itertools.pairwise(times):
            assert next_start >= end
