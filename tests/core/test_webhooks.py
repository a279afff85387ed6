"""The webhook receiver over real HTTP on the test's own loop: what it takes, what it refuses.

Anyone who can reach the receiver can post to it, so the refusals matter as much as the
hand-over: a wrong secret looks like any unknown path, big bodies stop at the cap even when
chunked, and pushes about kickoffs nobody tracks go nowhere.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import stat
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from crewtui.api.errors import ConfigError
from crewtui.api.models import Kickoff, Observation, Step
from crewtui.api.pushes import SUBSCRIBED_EVENTS
from crewtui.api.redact import redact, remember_secret
from crewtui.api.states import RunState, TaskState, WebhookForm
from crewtui.api.validate import LOOPBACK, parse_listen
from crewtui.config import Config, resolve_paths
from crewtui.core.guarded_http import Limits
from crewtui.core.merge import apply_observation
from crewtui.core.runtime import webhook_receiver
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker as Tracker_
from crewtui.core.webhooks import WebhookReceiver, load_or_create_secret
from crewtui.settings import WebhookSettings
from crewtui.sim import SimServer
from crewtui.sim.timeline import SIM_MODEL
from tests.core.live_runtime import simulated_usage, webhook_runtime
from tests.helpers import wait_until

SECRET = "test-secret-0123456789abcdefghij"
TRACKED = "5f1c2a9e-0d4b-4c1e-9a53-7b0f6f1d2c3a"
CAP = 2_000

Pushed = list[Observation | Step]


class Tracker:
    """Stands where the tracker stands: knows some kickoffs, collects what is handed over."""

    def __init__(self, *tracked: str) -> None:
        self.tracked = set(tracked)
        self.pushes: list[Pushed] = []
        self.arrived = asyncio.Event()
        self.fail = False

    def is_tracked(self, kickoff_id: str) -> bool:
        return kickoff_id in self.tracked

    async def on_push(self, items: Pushed) -> None:
        if self.fail:
            raise RuntimeError("store is gone")
        self.pushes.append(items)
        self.arrived.set()

    @property
    def items(self) -> Pushed:
        return [item for push in self.pushes for item in push]


Start = Callable[..., Awaitable[WebhookReceiver]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """Start receivers on port 0 of the test's loop; every one is stopped afterwards."""
    started: list[WebhookReceiver] = []

    async def start_receiver(tracker: Tracker, **options: Any) -> WebhookReceiver:
        settings: dict[str, Any] = {"secret": SECRET, "max_body_bytes": CAP} | options
        receiver = WebhookReceiver(tracker.on_push, tracker.is_tracked, **settings)
        await receiver.start()
        started.append(receiver)
        return receiver

    yield start_receiver
    await asyncio.gather(*(receiver.stop() for receiver in started))


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def task_body(kickoff_id: str = TRACKED, output: str = "东京") -> dict[str, Any]:
    return {
        "kickoff_id": kickoff_id,
        "name": "research_task",
        "agent": "旅行研究员",
        "output": output,
    }


# -- accepted --------------------------------------------------------------------------------


async def test_a_task_webhook_is_handed_to_the_tracker(
    start: Start, http: httpx.AsyncClient
) -> None:
    tracker = Tracker(TRACKED)
    receiver = await start(tracker)
    answer = await http.post(receiver.urls.task, json=task_body())
    assert (answer.status_code, answer.json()) == (200, {"ok": True})
    [[observation]] = tracker.pushes
    assert isinstance(observation, Observation)
    assert (observation.kickoff_id, observation.source) == (TRACKED, "webhook")
    assert [(t.task_id, t.agent, t.output) for t in observation.tasks] == [
        ("research_task", "旅行研究员", "东京")
    ]
    assert (receiver.received, receiver.ignored, receiver.rejected) == (1, 0, 0)


async def test_a_token_quoted_in_a_push_reaches_no_one(
    start: Start, http: httpx.AsyncClient
) -> None:
    """A crew's token, echoed into a webhook spelt in \\u escapes, is blanked on arrival."""
    token = "tok-pushed-" + uuid.uuid4().hex
    remember_secret(token)
    escaped = "".join(f"\\u{ord(char):04x}" for char in token)
    body = json.dumps(task_body(output="you sent @")).replace("@", escaped)
    tracker = Tracker(TRACKED)
    receiver = await start(tracker)
    answer = await http.post(
        receiver.urls.task, content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 200
    [[observation]] = tracker.pushes
    assert isinstance(observation, Observation)
    assert [task.output for task in observation.tasks] == ["you sent [redacted]"]


async def test_each_kind_has_its_url(start: Start, http: httpx.AsyncClient) -> None:
    tracker = Tracker(TRACKED)
    receiver = await start(tracker)
    step = {"kickoff_id": TRACKED, "thought": "search first", "tool": "search"}
    crew = {"kickoff_id": TRACKED, "result": "为期 7 天", "result_json": None}
    events = {
        "events": [{"execution_id": TRACKED, "type": "task_started", "data": {"task_name": "t"}}]
    }
    for url, body in (
        (receiver.urls.step, step),
        (receiver.urls.crew, crew),
        (receiver.events_url, events),
    ):
        assert (await http.post(url, json=body)).status_code == 200
    step_push, crew_push, events_push = tracker.pushes
    assert [type(item) for item in step_push] == [Step]
    assert [getattr(item, "state", None) for item in crew_push] == [RunState.COMPLETED]
    assert [type(item) for item in events_push] == [Observation, Step]


async def test_pushes_about_untracked_kickoffs_are_ignored(
    start: Start, http: httpx.AsyncClient
) -> None:
    tracker = Tracker(TRACKED)
    receiver = await start(tracker)
    stranger = str(uuid.uuid4())
    alone = await http.post(receiver.urls.task, json=task_body(stranger))
    mixed = {
        "events": [
            {"execution_id": stranger, "type": "crew_kickoff_started", "data": {}},
            {"execution_id": TRACKED, "type": "crew_kickoff_started", "data": {}},
        ]
    }
    together = await http.post(receiver.events_url, json=mixed)
    assert (alone.status_code, together.status_code) == (200, 200)
    assert {item.kickoff_id for item in tracker.items} == {TRACKED}
    assert len(tracker.pushes) == 1
    # The stranger's task, and its event as an observation and a step.
    assert (receiver.received, receiver.ignored) == (2, 3)


async def test_a_tracker_failure_is_a_500_and_the_receiver_goes_on(
    start: Start, http: httpx.AsyncClient
) -> None:
    tracker = Tracker(TRACKED)
    receiver = await start(tracker)
    tracker.fail = True
    failed = await http.post(receiver.urls.task, json=task_body())
    tracker.fail = False
    retried = await http.post(receiver.urls.task, json=task_body())
    assert (failed.status_code, retried.status_code) == (500, 200)
    assert len(tracker.pushes) == 1


# -- refused -----------------------------------------------------------------------------------


async def test_a_wrong_secret_looks_like_any_unknown_path(
    start: Start, http: httpx.AsyncClient
) -> None:
    tracker = Tracker(TRACKED)
    receiver = await start(tracker)
    base = f"http://127.0.0.1:{receiver.port}"
    wrong = [
        f"{base}/hooks/{SECRET[:-1]}x/task",
        f"{base}/hooks/{SECRET}/nope",
        f"{base}/hooks/{SECRET}",
        f"{base}/hooks/{SECRET}/task/extra",
        f"{base}/hooks/é/task",
        f"{base}/",
    ]
    answers = [await http.post(url, json=task_body()) for url in wrong]
    answers.append(await http.get(receiver.urls.task))
    assert {(a.status_code, a.content) for a in answers} == {(404, b'{"detail":"Not Found"}')}
    assert all("server" not in a.headers and "date" not in a.headers for a in answers)
    assert tracker.pushes == []
    assert (receiver.rejected, receiver.received) == (len(answers), 0)


async def test_a_body_over_the_cap_is_refused_by_its_content_length(
    start: Start, http: httpx.AsyncClient
) -> None:
    tracker = Tracker(TRACKED)
    receiver = await start(tracker)
    padded = task_body(output="x" * CAP)
    answer = await http.post(receiver.urls.task, json=padded)
    assert int(answer.request.headers["content-length"]) > CAP
    assert answer.status_code == 413
    assert tracker.pushes == []
    assert receiver.rejected == 1


async def test_a_chunked_body_over_the_cap_is_refused_while_it_streams(
    start: Start, http: httpx.AsyncClient
) -> None:
    tracker = Tracker(TRACKED)
    receiver = await start(tracker)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"kickoff_id": "' + TRACKED.encode() + b'", "output": "'
        for _ in range(CAP // 100 + 1):
            yield b"x" * 100
        yield b'"}'

    answer = await http.post(receiver.urls.task, content=chunks())
    assert answer.request.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in answer.request.headers
    assert answer.status_code == 413
    assert tracker.pushes == []


async def test_a_chunked_body_within_the_cap_is_taken(
    start: Start, http: httpx.AsyncClient
) -> None:
    tracker = Tracker(TRACKED)
    receiver = await start(tracker)
    encoded = httpx.Request("POST", "http://x", json=task_body(output="x" * 500)).content

    async def chunks() -> AsyncIterator[bytes]:
        for index in range(0, len(encoded), 100):
            yield encoded[index : index + 100]

    answer = await http.post(receiver.urls.task, content=chunks())
    assert answer.status_code == 200
    [observation] = tracker.items
    assert isinstance(observation, Observation)
    assert observation.tasks[0].output == "x" * 500


async def test_a_body_exactly_at_the_cap_is_taken(start: Start, http: httpx.AsyncClient) -> None:
    tracker = Tracker(TRACKED)
    receiver = await start(tracker)
    body = b'{"kickoff_id": "%s", "name": "t", "output": "' % TRACKED.encode()
    body += b"x" * (CAP - len(body) - 2) + b'"}'
    assert len(body) == CAP
    answer = await http.post(receiver.urls.task, content=body)
    assert answer.status_code == 200


async def test_what_is_not_json_is_a_400(start: Start, http: httpx.AsyncClient) -> None:
    tracker = Tracker(TRACKED)
    receiver = await start(tracker, max_body_bytes=10_000)
    garbage = [b"", b"not json", b'{"kickoff_id": ', b"\xff\xfe\x00x", b'{"x": NaN}', b"[" * 5000]
    for body in garbage:
        answer = await http.post(receiver.urls.task, content=body)
        assert answer.status_code == 400, body[:20]
    assert tracker.pushes == []
    assert receiver.rejected == len(garbage)
    # Still serving.
    assert (await http.post(receiver.urls.task, json=task_body())).status_code == 200


async def test_json_of_the_wrong_shape_is_accepted_and_says_nothing(
    start: Start, http: httpx.AsyncClient
) -> None:
    tracker = Tracker(TRACKED)
    receiver = await start(tracker)
    for body in (b"[1, 2]", b'"text"', b"null", b'{"kickoff_id": {"nested": true}}'):
        assert (await http.post(receiver.urls.crew, content=body)).status_code == 200
    assert tracker.pushes == []
    assert receiver.received == 4


# -- addresses and life cycle ----------------------------------------------------------------


async def test_urls_use_the_bound_address_or_the_public_url(start: Start) -> None:
    tracker = Tracker()
    local = await start(tracker)
    public = await start(tracker, public_url="https://hooks.example.test/crewtui/")
    assert local.port != 0
    assert local.urls.task == f"http://127.0.0.1:{local.port}/hooks/{SECRET}/task"
    assert local.urls.step.endswith(f"/hooks/{SECRET}/step")
    assert local.urls.crew.endswith(f"/hooks/{SECRET}/crew")
    assert public.urls.crew == f"https://hooks.example.test/crewtui/hooks/{SECRET}/crew"
    assert public.events_url == f"https://hooks.example.test/crewtui/hooks/{SECRET}/events"
    assert SECRET not in repr(local.urls)


async def test_ipv6_loopback_urls_are_bracketed(start: Start, http: httpx.AsyncClient) -> None:
    tracker = Tracker(TRACKED)
    try:
        receiver = await start(tracker, host="::1")
    except ConfigError:
        pytest.skip("no IPv6 loopback here")
    assert receiver.urls.task.startswith(f"http://[::1]:{receiver.port}/hooks/")
    assert (await http.post(receiver.urls.task, json=task_body())).status_code == 200


async def test_it_listens_on_loopback_by_default() -> None:
    tracker = Tracker()
    receiver = WebhookReceiver(tracker.on_push, tracker.is_tracked, secret=SECRET)
    await receiver.start()
    try:
        assert receiver.urls.task.startswith("http://127.0.0.1:")
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient() as client:
                # Not reachable through another local address than loopback.
                await client.post(f"http://127.0.0.2:{receiver.port}/", json={})
    finally:
        await receiver.stop()


async def test_a_taken_port_is_a_clear_error(start: Start) -> None:
    first = await start(Tracker())
    with pytest.raises(ConfigError, match=rf"cannot listen on 127.0.0.1:{first.port}"):
        await start(Tracker(), port=first.port)


async def test_the_receiver_leaves_the_process_signals_alone(start: Start) -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    await start(Tracker())
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


async def test_stop_closes_the_port(http: httpx.AsyncClient) -> None:
    tracker = Tracker(TRACKED)
    receiver = WebhookReceiver(tracker.on_push, tracker.is_tracked, secret=SECRET)
    await receiver.start()
    url = receiver.urls.task
    assert (await http.post(url, json=task_body())).status_code == 200
    await receiver.stop()
    await receiver.stop()  # twice is harmless
    async with httpx.AsyncClient() as fresh:
        with pytest.raises(httpx.ConnectError):
            await fresh.post(url, json=task_body())


def test_the_port_of_an_unstarted_receiver_on_port_0_is_not_known() -> None:
    tracker = Tracker()
    receiver = WebhookReceiver(tracker.on_push, tracker.is_tracked, secret=SECRET)
    with pytest.raises(RuntimeError):
        _ = receiver.urls


# -- senders that cost time: idle, slow, many ----------------------------------------------

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def until(predicate: Callable[[], bool]) -> None:
    """Let the loop run (accepting connections) until ``predicate`` holds."""
    async with asyncio.timeout(5):
        while not predicate():
            await asyncio.sleep(0)


async def idle_connection(receiver: WebhookReceiver, source: str = LOOPBACK) -> Connection:
    """A connection that sends a request line and nothing more (slowloris)."""
    reader, writer = await asyncio.open_connection(LOOPBACK, receiver.port, local_addr=(source, 0))
    writer.write(b"POST /hooks/x/task HTTP/1.1\r\n")
    await writer.drain()
    return reader, writer


async def closed_by_server(connection: Connection) -> bool:
    """True once the server closed it (EOF or reset), whatever it answered first."""
    reader, _ = connection
    async with asyncio.timeout(5):
        try:
            while await reader.read(1024):
                pass
        except ConnectionResetError:
            pass
    return True


def close_all(connections: list[Connection]) -> None:
    for _, writer in connections:
        writer.close()


async def test_forty_idle_connections_never_starve_a_real_webhook(
    start: Start, http: httpx.AsyncClient, capfd: pytest.CaptureFixture[str]
) -> None:
    tracker = Tracker(TRACKED)
    receiver = await start(tracker)  # the default limits: 10 s to send the headers
    idle = [await idle_connection(receiver) for _ in range(40)]
    try:
        await until(lambda: receiver.open_connections >= 16)
        async with asyncio.timeout(5):  # well within the idle ones' header deadline
            answer = await http.post(receiver.urls.task, json=task_body())
        assert answer.status_code == 200
        assert len(tracker.pushes) == 1
    finally:
        close_all(idle)
    assert capfd.readouterr().err == ""


async def test_idle_connections_from_many_clients_never_starve_a_real_webhook(
    start: Start, http: httpx.AsyncClient
) -> None:
    tracker = Tracker(TRACKED)
    limits = Limits(max_connections=8, max_per_client=4)
    receiver = await start(tracker, limits=limits)
    idle = [
        await idle_connection(receiver, source=f"127.0.0.{client}")
        for client in range(2, 6)
        for _ in range(4)
    ]
    try:
        await until(lambda: receiver.open_connections >= limits.max_connections)
        answer = await http.post(receiver.urls.task, json=task_body())
        assert answer.status_code == 200
        assert receiver.open_connections <= limits.max_connections
    finally:
        close_all(idle)


async def test_the_oldest_idle_connection_of_a_client_makes_room(
    start: Start, http: httpx.AsyncClient
) -> None:
    loop = asyncio.get_running_loop()
    loop_errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
    receiver = await start(Tracker(TRACKED), limits=Limits(max_per_client=2, admit_wait=0.3))
    oldest, newer = await idle_connection(receiver), await idle_connection(receiver)
    try:
        await until(lambda: receiver.open_connections == 2)
        assert (await http.post(receiver.urls.task, json=task_body())).status_code == 200
        assert await closed_by_server(oldest)
        assert not newer[0].at_eof()
    finally:
        close_all([oldest, newer])
        loop.set_exception_handler(None)
    assert loop_errors == []  # closing one makes no noise (nothing for the log)


async def test_a_burst_of_webhooks_from_one_sender_is_served_not_refused(
    start: Start, http: httpx.AsyncClient
) -> None:
    """The service (or a tunnel in front of crewtui) may open many connections at once and
    never sends a webhook twice: newcomers wait for a place instead of getting a 503."""
    tracker = Tracker(TRACKED)
    receiver = await start(tracker, limits=Limits(max_per_client=4, max_connections=8))
    answers = await asyncio.gather(
        *(http.post(receiver.urls.task, json=task_body()) for _ in range(40))
    )
    assert [answer.status_code for answer in answers] == [200] * 40
    assert len(tracker.pushes) == 40


async def test_a_client_with_every_place_busy_is_refused_with_a_503(start: Start) -> None:
    receiver = await start(Tracker(TRACKED), limits=Limits(max_per_client=2, admit_wait=0.3))
    head = f"POST {receiver.urls.task.split(str(receiver.port))[1]} HTTP/1.1\r\n"
    busy: list[Connection] = []
    for _ in range(2):  # each sends its headers and part of its body, then stalls
        reader, writer = await asyncio.open_connection(LOOPBACK, receiver.port)
        writer.write(f"{head}host: x\r\ncontent-length: 100\r\n\r\n{{".encode())
        busy.append((reader, writer))
    try:
        await until(lambda: receiver.open_connections == 2)
        reader, writer = await asyncio.open_connection(LOOPBACK, receiver.port)
        async with asyncio.timeout(5):
            answer = await reader.read()
        writer.close()
        assert answer.startswith(b"HTTP/1.1 503 ")
    finally:
        close_all(busy)


class HeldTracker(Tracker):
    """Holds each push until released, as a tracker busy writing to its store does."""

    def __init__(self, *tracked: str) -> None:
        super().__init__(*tracked)
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def on_push(self, items: Pushed) -> None:
        self.holding.set()
        await self.release.wait()
        await super().on_push(items)


async def test_stop_answers_a_push_in_flight_then_closes_its_kept_alive_connection(
    start: Start,
) -> None:
    """A sender keeps its connection alive (the simulator's httpx client does). When the
    receiver stops while one of its pushes is being taken, the push is still taken and
    answered, and the connection closes with that answer: waiting on it for a next request
    held stop for its whole grace, and ``kickoff --watch --webhooks`` 5 s past the run."""
    tracker = HeldTracker(TRACKED)
    receiver = await start(tracker)
    path = receiver.urls.task.split(str(receiver.port), 1)[1]
    body = json.dumps(task_body()).encode()
    head = f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {len(body)}\r\n\r\n"
    reader, writer = await asyncio.open_connection(LOOPBACK, receiver.port)
    writer.write(head.encode() + body)
    try:
        await tracker.holding.wait()
        stopping = asyncio.create_task(receiver.stop())
        await asyncio.sleep(0)  # stop's first step (the port closes) while the push is held
        tracker.release.set()
        answer = await reader.readuntil(b"\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert b"\r\nconnection: close\r\n" in answer.lower()
        assert await closed_by_server((reader, writer))
        await stopping
    finally:
        writer.close()
    assert len(tracker.pushes) == 1


async def test_a_client_slow_to_send_its_headers_is_closed_after_the_timeout(
    start: Start,
) -> None:
    receiver = await start(Tracker(TRACKED), limits=Limits(header_timeout=0.3))
    reader, writer = await idle_connection(receiver)
    writer.write(b"host: x\r\n")  # a header, then nothing: never the end of the head
    try:
        assert await closed_by_server((reader, writer))
    finally:
        writer.close()
    assert receiver.open_connections == 0


async def test_a_body_that_stalls_is_refused_after_the_timeout(start: Start) -> None:
    receiver = await start(Tracker(TRACKED), limits=Limits(body_timeout=0.3))
    path = receiver.urls.task.split(str(receiver.port))[1]
    reader, writer = await asyncio.open_connection(LOOPBACK, receiver.port)
    writer.write(f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{{".encode())
    try:
        async with asyncio.timeout(5):
            answer = await reader.read()
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert receiver.rejected == 1


# -- end to end with the simulator -----------------------------------------------------------


async def test_a_simulated_run_pushed_through_every_form_merges_into_a_finished_run(
    start: Start, sim: SimServer
) -> None:
    """The simulator posts what a deployed crew posts; pushes alone tell the whole run."""
    tracker = Tracker()
    receiver = await start(tracker, max_body_bytes=1_000_000)
    urls = receiver.urls
    async with httpx.AsyncClient(
        timeout=10, headers={"Authorization": f"Bearer {sim.options.token}"}
    ) as client:
        answer = await client.post(
            sim.crew_url("travel") + "/kickoff",
            json={
                "inputs": sim.sample_inputs("travel"),
                "taskWebhookUrl": urls.task,
                "stepWebhookUrl": urls.step,
                "crewWebhookUrl": urls.crew,
                "webhooks": {"url": receiver.events_url, "realtime": False},
            },
        )
    kickoff_id = answer.json()["kickoff_id"]
    tracker.tracked.add(kickoff_id)
    now = datetime.now(UTC)
    kickoff = Kickoff(kickoff_id=kickoff_id, crew="travel", created_at=now, updated_at=now)
    async with asyncio.timeout(20):
        while not kickoff.is_terminal:
            tracker.arrived.clear()
            await tracker.arrived.wait()
            for item in tracker.items:
                if isinstance(item, Observation):
                    kickoff = apply_observation(kickoff, item)
    assert kickoff.state is RunState.COMPLETED
    assert kickoff.output
    assert [(t.task_id, t.agent, t.state) for t in kickoff.tasks] == [
        ("research_task", "旅行研究员", TaskState.COMPLETED),
        ("planning_task", "行程规划师", TaskState.COMPLETED),
    ]
    kinds = {item.kind for item in tracker.items if isinstance(item, Step)}
    assert {"step", "crew_kickoff_started", "task_completed"} <= kinds


# -- the secret and the listen address -------------------------------------------------------


def test_the_secret_is_made_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "webhook-secret"
    secret = load_or_create_secret(path)
    assert len(secret) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_or_create_secret(path) == secret
    assert load_or_create_secret(tmp_path / "other" / "webhook-secret") != secret
    assert [p.name for p in path.parent.iterdir()] == ["webhook-secret"]


def test_a_readable_secret_file_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "webhook-secret"
    path.write_text("a-secret-someone-wrote-by-hand\n")
    path.chmod(0o644)
    assert load_or_create_secret(path) == "a-secret-someone-wrote-by-hand"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("made", [True, False], ids=["created", "read"])
def test_a_loaded_secret_is_redacted_from_logs_and_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, made: bool
) -> None:
    """The secret is the receiver's password: a hook URL in a log line or error hides it."""
    path = tmp_path / "webhook-secret"
    if not made:
        path.write_text(f"hand-written-{uuid.uuid4().hex}\n")
    secret = load_or_create_secret(path)
    hook = f"https://hooks.example.test/hooks/{secret}/task"
    caplog.set_level(logging.WARNING, logger="crewtui.test")
    logging.getLogger("crewtui.test").warning("the service could not post to %s", hook)
    assert secret not in caplog.text
    assert "/hooks/[redacted]/task" in caplog.text
    assert secret not in redact(f"Could not reach {hook}")


@pytest.mark.parametrize("content", ["", "short", "has spaces in it, not a token", "\x00" * 40])
def test_an_unusable_secret_file_is_replaced(tmp_path: Path, content: str) -> None:
    path = tmp_path / "webhook-secret"
    path.write_text(content)
    secret = load_or_create_secret(path)
    assert secret != content.strip()
    assert path.read_text().strip() == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_secret_that_cannot_be_written_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="webhook secret file"):
        load_or_create_secret(blocker / "webhook-secret")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8787", ("127.0.0.1", 8787)),
        ("  localhost:9000 ", ("localhost", 9000)),
        ("[::1]:8787", ("::1", 8787)),
        (":8787", (LOOPBACK, 8787)),
        ("8787", (LOOPBACK, 8787)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("hooks.example-host.test:0", ("hooks.example-host.test", 0)),
        ("[fe80::1]:65535", ("fe80::1", 65535)),
    ],
)
def test_listen_addresses(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        ":",
        "localhost",
        "localhost:",
        "localhost:65536",
        "localhost:-1",
        "localhost:８７",
        "::1:8787",
        "[127.0.0.1]:8787",
        "[::1]",
        "[]:8787",
        "http://localhost:8787",
        "bad host:8787",
        "-bad:8787",
        "a..b:8787",
    ],
)
def test_garbage_listen_addresses_are_config_errors(value: str) -> None:
    with pytest.raises(ConfigError, match="HOST:PORT"):
        parse_listen(value)


# -- the batched form's bearer token --------------------------------------------------------

TOKEN = "push-token-0123456789abcdefghij"


def events_body(kickoff_id: str = TRACKED) -> dict[str, Any]:
    data = {"task_name": "research_task", "agent_role": "旅行研究员"}
    return {
        "events": [
            {
                "id": "e1",
                "execution_id": kickoff_id,
                "timestamp": "2026-11-23T10:00:00Z",
                "type": "task_started",
                "data": data,
            }
        ]
    }


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token-0123456789abcdef", f"Bearer {TOKEN}x", TOKEN, f"Basic {TOKEN}"],
)
async def test_batched_events_without_the_receivers_token_are_refused(
    start: Start, http: httpx.AsyncClient, authorization: str | None
) -> None:
    tracker = Tracker(TRACKED)
    receiver = await start(tracker, token=TOKEN)
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = await http.post(receiver.events_url, json=events_body(), headers=headers)
    assert (answer.status_code, answer.json()) == (401, {"detail": "Unauthorized"})
    assert (tracker.pushes, receiver.rejected) == ([], 1)


async def test_batched_events_with_the_receivers_token_are_taken(
    start: Start, http: httpx.AsyncClient
) -> None:
    tracker = Tracker(TRACKED)
    receiver = await start(tracker, token=TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    answer = await http.post(receiver.events_url, json=events_body(), headers=headers)
    assert answer.status_code == 200
    assert tracker.items and receiver.rejected == 0
    # The service sends the classic webhooks without any header: they stay open.
    assert (await http.post(receiver.urls.task, json=task_body())).status_code == 200


async def test_a_wrong_secret_is_a_404_before_any_token_is_asked_for(
    start: Start, http: httpx.AsyncClient
) -> None:
    receiver = await start(Tracker(TRACKED), token=TOKEN)
    probe = receiver.events_url.replace(SECRET, "x" * len(SECRET))
    assert (await http.post(probe, json=events_body())).status_code == 404


async def test_kickoffs_ask_for_the_batched_form_with_the_token_unless_classic(
    start: Start,
) -> None:
    events = await start(Tracker(), token=TOKEN)
    asked = events.urls.events
    assert asked is not None and TOKEN not in repr(asked)
    assert asked.body() == {
        "events": list(SUBSCRIBED_EVENTS),
        "url": events.events_url,
        "realtime": True,
        "authentication": {"strategy": "bearer", "token": TOKEN},
    }
    assert {"task_completed", "llm_call_completed", "tool_usage_finished"} <= set(
        asked.body()["events"]
    )
    classic = await start(Tracker(), token=TOKEN, form="classic")
    assert classic.urls.events is None


def test_the_push_token_is_private_and_redacted(tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path)
    config = Config(webhooks=WebhookSettings(listen="127.0.0.1:0"))
    store = Store.in_memory()
    try:
        receiver = webhook_receiver(Tracker_([], store), config, paths)
    finally:
        store.close()
    assert receiver is not None
    token = paths.webhook_token_file.read_text().strip()
    assert stat.S_IMODE(paths.webhook_token_file.stat().st_mode) == 0o600
    assert token not in redact(f"Authorization: Bearer {token}")
    assert token != paths.webhook_secret_file.read_text().strip()


@pytest.mark.parametrize(
    ("form", "pushed_by", "not_pushed_by"),
    [("events", "events webhook", "task webhook"), ("classic", "task webhook", "events webhook")],
)
async def test_a_run_started_with_the_receiver_on_pushes_in_the_configured_form(
    sim_any: SimServer, tmp_path: Path, form: WebhookForm, pushed_by: str, not_pushed_by: str
) -> None:
    """No patching: the tracker's own kickoff asks; only the events form carries usage."""
    inputs = sim_any.sample_inputs("travel")
    async with webhook_runtime(sim_any, tmp_path, "travel", form=form) as runtime:
        tracker = runtime.tracker
        kickoff_id = (await tracker.kickoff("travel", inputs)).kickoff_id

        def pushed() -> bool:
            kickoff = tracker.get(kickoff_id)
            return kickoff is not None and kickoff.is_terminal and kickoff.usage is not None

        await wait_until(tracker, pushed)
        kickoff = tracker.get(kickoff_id)
        assert runtime.receiver is not None and runtime.receiver.rejected == 0
    assert kickoff is not None and kickoff.state is RunState.COMPLETED
    sources = {payload.source for payload in kickoff.raw_by_source}
    assert pushed_by in sources and not_pushed_by not in sources
    if form == "events":
        per_task, _ = simulated_usage("travel", inputs)
        per_task_seen = {task.task_id: task.usage for task in kickoff.tasks}
        assert per_task_seen == per_task
        assert kickoff.model == SIM_MODEL
