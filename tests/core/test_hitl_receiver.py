"""Flow human-in-the-loop requests at the real receiver, over loopback HTTP.

The signature is the only thing between a stranger and a row in the user's list that asks
for an answer, so every way of getting it wrong is tried: no signature, a wrong one, another
secret, a tampered body, no or a bad timestamp, one too old or too far ahead. A replay (the
same request again, as is or re-signed) is answered 200 and changes nothing, also after a
restart. Requests are signed by the simulator's own signing code, not the receiver's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from crewtui.api.hitl import HitlRequest
from crewtui.api.models import Kickoff
from crewtui.api.profile import CrewProfile
from crewtui.api.states import RunState
from crewtui.core.metrics import ServeMetrics
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.core.tracker_events import KickoffChanged, TrackerEvent
from crewtui.core.webhooks import WebhookReceiver
from crewtui.sim.hitl import signed_headers

SECRET = "test-secret-0123456789abcdefghij"
SIGNING = "hitl-signing-secret-0123456789"
FLOW = "7d0c1e52-3f7a-4c61-9b0e-2a4f5c6d7e8f"


class Taker:
    """Stands where the tracker stands: collects every request handed over."""

    def __init__(self) -> None:
        self.requests: list[HitlRequest] = []

    async def take(self, request: HitlRequest) -> bool:
        self.requests.append(request)
        return True


Start = Callable[..., Awaitable[WebhookReceiver]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    started: list[WebhookReceiver] = []

    async def start_receiver(
        on_hitl: Callable[[HitlRequest], Awaitable[bool]], **options: Any
    ) -> WebhookReceiver:
        settings: dict[str, Any] = {"secret": SECRET, "hitl_secret": SIGNING} | options
        receiver = WebhookReceiver(_no_push, lambda _: False, on_hitl=on_hitl, **settings)
        await receiver.start()
        started.append(receiver)
        return receiver

    yield start_receiver
    await asyncio.gather(*(receiver.stop() for receiver in started))


async def _no_push(_items: object) -> None:
    raise AssertionError("a flow request is not a push")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def request_body(request_id: str = "req-1", **changes: Any) -> bytes:
    payload: dict[str, Any] = {
        "event": "new_request",
        "request": {
            "id": request_id,
            "flow_id": FLOW,
            "method_name": "approve_account",
            "message": "Approve the account of 李雷?\x1b]52;c;aGk=\x07",
            "emit_options": ["approved", "rejected"],
            "state": {"id": FLOW},
            "metadata": {},
            "created_at": "2026-12-01T10:00:00+00:00",
        },
        "deployment": {"id": "dep-1", "name": "onboarding", "organization_id": "org-1"},
        "callback_url": "https://app.crewai.com/hitl/req-1/callback?token=abc",
        "assigned_to_email": None,
    }
    payload.update(changes)
    return json.dumps(payload).encode()


def url_of(receiver: WebhookReceiver) -> str:
    assert receiver.hitl_url is not None
    return receiver.hitl_url


# -- accepted --------------------------------------------------------------------------------


async def test_a_request_signed_with_the_secret_is_handed_over(
    start: Start, http: httpx.AsyncClient
) -> None:
    taker = Taker()
    receiver = await start(taker.take)
    body = request_body()
    answer = await http.post(url_of(receiver), content=body, headers=signed_headers(SIGNING, body))
    assert answer.status_code == 200
    [request] = taker.requests
    assert (request.request_id, request.flow_id, request.method_name) == (
        "req-1",
        FLOW,
        "approve_account",
    )
    assert request.deployment_name == "onboarding"
    assert request.callback_url == "https://app.crewai.com/hitl/req-1/callback?token=abc"
    assert request.emit_options == ("approved", "rejected")
    assert "callback" not in repr(request)


# -- refused ---------------------------------------------------------------------------------


def _now() -> int:
    return int(time.time())


SPOILED: dict[str, Callable[[bytes], tuple[bytes, dict[str, str]]]] = {
    "no signature": lambda body: (
        body,
        {k: v for k, v in signed_headers(SIGNING, body).items() if k != "X-Signature"},
    ),
    "no timestamp": lambda body: (
        body,
        {k: v for k, v in signed_headers(SIGNING, body).items() if k != "X-Timestamp"},
    ),
    "a timestamp that is not a number": lambda body: (
        body,
        {**signed_headers(SIGNING, body), "X-Timestamp": "yesterday"},
    ),
    "a timestamp of five thousand digits": lambda body: (
        body,
        {**signed_headers(SIGNING, body), "X-Timestamp": "9" * 5000},
    ),
    "a bad signature": lambda body: (
        body,
        {**signed_headers(SIGNING, body), "X-Signature": "sha256=" + "0" * 64},
    ),
    "another secret": lambda body: (body, signed_headers("not-the-signing-secret", body)),
    "a tampered body": lambda body: (
        body.replace(b"approve_account", b"delete_account"),
        signed_headers(SIGNING, body),
    ),
    "a stale timestamp": lambda body: (body, signed_headers(SIGNING, body, _now() - 301)),
    "a future timestamp": lambda body: (body, signed_headers(SIGNING, body, _now() + 301)),
}


@pytest.mark.parametrize("how", list(SPOILED))
async def test_a_request_not_signed_right_is_refused_with_401_and_a_log_line(
    how: str, start: Start, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    taker = Taker()
    receiver = await start(taker.take)
    body, headers = SPOILED[how](request_body())
    with caplog.at_level(logging.WARNING, logger="crewtui.core.webhooks"):
        answer = await http.post(url_of(receiver), content=body, headers=headers)
    assert answer.status_code == 401
    assert taker.requests == []
    assert receiver.rejected == 1
    [line] = [r.getMessage() for r in caplog.records if "human-in-the-loop" in r.getMessage()]
    assert SIGNING not in line and "approve" not in line and "李雷" not in line


async def test_a_timestamp_within_five_minutes_either_way_is_accepted(
    start: Start, http: httpx.AsyncClient
) -> None:
    taker = Taker()
    receiver = await start(taker.take)
    for offset, request_id in ((-290, "old"), (290, "ahead")):
        body = request_body(request_id)
        headers = signed_headers(SIGNING, body, _now() + offset)
        answer = await http.post(url_of(receiver), content=body, headers=headers)
        assert answer.status_code == 200
    assert [request.request_id for request in taker.requests] == ["old", "ahead"]


async def test_without_a_signing_secret_the_route_is_not_served(
    start: Start, http: httpx.AsyncClient
) -> None:
    taker = Taker()
    receiver = await start(taker.take, hitl_secret=None)
    assert receiver.hitl_url is None
    body = request_body()
    url = f"{receiver.base_url}/hooks/{SECRET}/hitl"
    answer = await http.post(url, content=body, headers=signed_headers(SIGNING, body))
    assert answer.status_code == 404
    assert taker.requests == []


async def test_a_wrong_path_secret_is_a_404_even_when_signed(
    start: Start, http: httpx.AsyncClient
) -> None:
    taker = Taker()
    receiver = await start(taker.take)
    body = request_body()
    url = f"{receiver.base_url}/hooks/wrong-secret-0123456789abcdef/hitl"
    answer = await http.post(url, content=body, headers=signed_headers(SIGNING, body))
    assert answer.status_code == 404


@pytest.mark.parametrize(
    "callback", [None, "", "/relative/callback", "ftp://example.com/x", "https://", 42]
)
async def test_a_signed_request_without_a_usable_callback_url_is_a_400(
    callback: Any, start: Start, http: httpx.AsyncClient
) -> None:
    taker = Taker()
    receiver = await start(taker.take)
    body = request_body(callback_url=callback)
    answer = await http.post(url_of(receiver), content=body, headers=signed_headers(SIGNING, body))
    assert answer.status_code == 400
    assert taker.requests == []


async def test_another_event_is_taken_and_ignored(start: Start, http: httpx.AsyncClient) -> None:
    taker = Taker()
    receiver = await start(taker.take)
    body = request_body(event="request_cancelled")
    answer = await http.post(url_of(receiver), content=body, headers=signed_headers(SIGNING, body))
    assert answer.status_code == 200
    assert taker.requests == [] and receiver.ignored == 1


async def test_the_same_signed_request_sent_twice_is_handed_over_once(
    start: Start, http: httpx.AsyncClient
) -> None:
    taker = Taker()
    receiver = await start(taker.take)
    body = request_body()
    headers = signed_headers(SIGNING, body)
    first = await http.post(url_of(receiver), content=body, headers=headers)
    again = await http.post(url_of(receiver), content=body, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert len(taker.requests) == 1 and receiver.replayed == 1


# -- through the tracker and the history ----------------------------------------------------


def _history(path: Path) -> tuple[Store, Tracker]:
    store = Store.open(path)
    # A crew whose URL names the deployment: requests about unknown runs land in it.
    crew = CrewProfile(name="flows", url="http://127.0.0.1:9/onboarding")
    return store, Tracker([crew], store)


async def test_a_request_replayed_after_a_restart_changes_nothing(
    tmp_path: Path, start: Start, http: httpx.AsyncClient
) -> None:
    path = tmp_path / "history.sqlite3"
    body = request_body()
    store, tracker = _history(path)
    receiver = await start(tracker.hitl_requested)
    answer = await http.post(url_of(receiver), content=body, headers=signed_headers(SIGNING, body))
    assert answer.status_code == 200
    shown = tracker.get(FLOW)
    assert shown is not None and shown.state is RunState.PAUSED
    assert shown.crew == "flows" and shown.waiting_for is not None
    assert (shown.waiting_for.task_id, shown.waiting_for.request_id) == ("approve_account", "req-1")
    assert shown.waiting_for.since == datetime(2026, 12, 1, 10, tzinfo=UTC)
    await receiver.stop()
    # Meanwhile the run went on (answered elsewhere): a replay must not make it wait again.
    going = shown.model_copy(
        update={
            "state": RunState.RUNNING,
            "waiting_for": None,
            "updated_at": shown.updated_at + timedelta(seconds=1),
        }
    )
    store.save_kickoff(going)
    store.close()

    store, tracker = _history(path)
    events: list[TrackerEvent] = []
    tracker.listen(events.append)
    receiver = await start(tracker.hitl_requested)
    again = await http.post(url_of(receiver), content=body, headers=signed_headers(SIGNING, body))
    assert again.status_code == 200
    assert receiver.replayed == 1
    assert [e for e in events if isinstance(e, KickoffChanged)] == []
    stored = store.get_kickoff(FLOW)
    assert stored is not None and stored.state is RunState.RUNNING
    scraped = (await ServeMetrics(tracker, receiver).exposition()).decode()
    assert "crewtui_hitl_requests_replayed_total 1.0" in scraped
    store.close()


async def test_a_request_about_a_tracked_run_makes_that_run_wait(
    tmp_path: Path, start: Start, http: httpx.AsyncClient
) -> None:
    store, tracker = _history(tmp_path / "history.sqlite3")
    now = datetime.now(UTC)
    known = Kickoff(kickoff_id=FLOW, crew="flows", created_at=now, updated_at=now)
    store.save_kickoff(known)
    events: list[TrackerEvent] = []
    tracker.listen(events.append)
    receiver = await start(tracker.hitl_requested)
    body = request_body(deployment={"name": "someone-else"})
    answer = await http.post(url_of(receiver), content=body, headers=signed_headers(SIGNING, body))
    assert answer.status_code == 200
    changed = [e for e in events if isinstance(e, KickoffChanged)]
    assert changed[-1].kickoff.state is RunState.PAUSED
    assert changed[-1].kickoff.crew == "flows"  # the run's own crew, not the deployment name
    stored = store.get_kickoff(FLOW)
    assert stored is not None and stored.waiting_for is not None
    assert stored.waiting_for.request_id == "req-1"
    record = store.hitl_request("req-1")
    assert record is not None and record.kickoff_id == FLOW and record.answered_at is None
    store.close()


async def test_a_request_about_an_unknown_deployment_still_shows(
    tmp_path: Path, start: Start, http: httpx.AsyncClient
) -> None:
    store, tracker = _history(tmp_path / "history.sqlite3")
    receiver = await start(tracker.hitl_requested)
    body = request_body(deployment={"name": "billing"})
    answer = await http.post(url_of(receiver), content=body, headers=signed_headers(SIGNING, body))
    assert answer.status_code == 200
    shown = store.get_kickoff(FLOW)
    assert shown is not None and shown.crew == "billing" and shown.state is RunState.PAUSED
    assert shown.tracked_at is not None
    store.close()
