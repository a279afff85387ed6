"""The client against a real hostile server: every fault becomes a typed error, in time."""

from __future__ import annotations

import gzip
import json
import time
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_support import FAST, TOKEN, FakeSleep, assert_clean_message, profile_for
from hostile_server import (
    HostileServer,
    Reply,
    close,
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

from crewtui import __version__
from crewtui.api.client import CrewClient, RedirectRefusedError
from crewtui.api.errors import (
    AuthError,
    BadResponseError,
    InputValidationError,
    KickoffUncertainError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from crewtui.api.states import Dialect, RunState

INPUTS = json_reply(200, {"inputs": ["budget", "interests"]})
KICKOFF_OK = json_reply(200, {"kickoff_id": "5f1c-0001"})


# -- what every request carries ---------------------------------------------------------------


async def test_inputs_sends_token_user_agent_and_accepts_compression(
    client: CrewClient, hostile: HostileServer
) -> None:
    hostile.script(INPUTS)
    assert await client.inputs() == ["budget", "interests"]
    [request] = hostile.requests
    assert (request.method, request.target) == ("GET", "/inputs")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["user-agent"] == f"crewtui/{__version__}"
    assert "gzip" in request.headers["accept-encoding"]


async def test_kickoff_posts_inputs_meta_and_only_the_given_webhooks(
    client: CrewClient, hostile: HostileServer
) -> None:
    hostile.script(KICKOFF_OK)
    kickoff_id = await client.kickoff(
        {"budget": "1000 USD"}, {"requestId": "r-1"}, task_webhook_url="https://h.test/t"
    )
    assert kickoff_id == "5f1c-0001"
    assert hostile.requests[0].json() == {
        "inputs": {"budget": "1000 USD"},
        "meta": {"requestId": "r-1"},
        "taskWebhookUrl": "https://h.test/t",
    }


async def test_a_profile_without_token_sends_no_authorization(
    hostile: HostileServer, fake_sleep: FakeSleep
) -> None:
    hostile.script(json_reply(401, {"detail": "Not authenticated"}))
    async with CrewClient(profile_for(hostile.url, token=None), FAST, sleep=fake_sleep) as client:
        with pytest.raises(AuthError) as caught:
            await client.inputs()
    assert "authorization" not in hostile.requests[0].headers
    assert "none is configured" in caught.value.message
    assert_clean_message(caught.value)


# -- deadlines ------------------------------------------------------------------------------


async def test_a_hanging_server_hits_the_deadline(
    client: CrewClient, hostile: HostileServer
) -> None:
    hostile.script(hang())
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        await client.inputs()
    assert time.monotonic() - started < FAST.read_timeout
    assert len(hostile.requests) == 1
    assert_clean_message(caught.value)


async def test_a_dripping_server_hits_the_overall_deadline(
    client: CrewClient, hostile: HostileServer
) -> None:
    # A byte every 50 ms never trips the 3 s read timeout; the whole answer would take
    # seconds: only the 0.5 s overall deadline can stop it.
    hostile.script(drip(json_reply(200, {"inputs": ["x" * 200]}), interval=0.05))
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        await client.inputs()
    elapsed = time.monotonic() - started
    assert FAST.deadline <= elapsed < FAST.read_timeout
    assert "0.5 s" in caught.value.message


# -- resets, truncation, junk ---------------------------------------------------------------


CUT_SHORT = [reset(), close(), truncated(INPUTS, 10)]
CUT_SHORT_IDS = ["reset", "close", "truncated"]


@pytest.mark.parametrize("fault", CUT_SHORT, ids=CUT_SHORT_IDS)
async def test_a_get_cut_short_once_is_retried_and_succeeds(
    client: CrewClient, hostile: HostileServer, fake_sleep: FakeSleep, fault: Reply
) -> None:
    hostile.script(fault, INPUTS)
    assert await client.inputs() == ["budget", "interests"]
    assert len(hostile.requests) == 2
    assert len(fake_sleep.waits) == 1


@pytest.mark.parametrize("fault", CUT_SHORT, ids=CUT_SHORT_IDS)
async def test_a_get_always_cut_short_is_a_transport_error_after_the_retries(
    client: CrewClient, hostile: HostileServer, fake_sleep: FakeSleep, fault: Reply
) -> None:
    hostile.fallback = fault
    with pytest.raises(TransportError) as caught:
        await client.inputs()
    assert len(hostile.requests) == FAST.max_retries + 1
    assert len(fake_sleep.waits) == FAST.max_retries
    assert_clean_message(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        b'{"inputs": ["budget", "inter',
        b"<html>oops</html>",
        b"",
        b'{"inputs": [' + b"9" * 5000 + b"]}",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"inputs": "budget"}',
        b"\xff\xfe\x00garbage",
    ],
    ids=["truncated", "html", "empty", "long-number", "deep-nesting", "wrong-shape", "binary"],
)
async def test_an_unusable_200_is_a_bad_response(
    client: CrewClient, hostile: HostileServer, body: bytes
) -> None:
    hostile.script(raw_reply(200, body, "application/json"))
    with pytest.raises(BadResponseError) as caught:
        await client.inputs()
    assert_clean_message(caught.value)


# -- status codes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, {"error": "Unauthorized", "message": "Invalid or missing bearer token"}),
        (401, {"detail": "Not authenticated"}),
        (401, {"detail": "Invalid or missing authentication credentials"}),
        (403, {"detail": "Forbidden"}),
    ],
)
async def test_a_rejected_token_is_an_auth_error_in_either_dialect(
    client: CrewClient, hostile: HostileServer, status: int, body: dict[str, str]
) -> None:
    hostile.script(json_reply(status, body))
    with pytest.raises(AuthError) as caught:
        await client.inputs()
    assert caught.value.status_code == status
    assert caught.value.message.startswith(f"The travel crew rejected the token (HTTP {status})")
    # A profile built in code has no recorded source (tests/hardening: the four real ones).
    assert "check the travel crew's token" in caught.value.message
    assert_clean_message(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        {
            "error": "Validation Error",
            "message": "Missing required inputs",
            "details": {"missing_inputs": ["budget", "interests"]},
        },
        {"detail": "Missing inputs: budget, interests"},
        {
            "detail": [
                {"loc": ["body", "inputs", "budget"], "msg": "field required", "type": "missing"},
                {"loc": ["body", "inputs", "interests"], "msg": "field required", "type": "x"},
            ]
        },
    ],
    ids=["documented", "live", "fastapi"],
)
async def test_422_lists_the_missing_inputs_from_any_dialect(
    client: CrewClient, hostile: HostileServer, body: object
) -> None:
    hostile.script(json_reply(422, body))
    with pytest.raises(InputValidationError) as caught:
        await client.kickoff({"age": "35"})
    assert caught.value.missing == ["budget", "interests"]
    assert "budget, interests" in caught.value.message
    assert_clean_message(caught.value)


async def test_400_carries_the_servers_message(client: CrewClient, hostile: HostileServer) -> None:
    hostile.script(json_reply(400, {"error": "Bad Request", "message": "Execution is not paused"}))
    with pytest.raises(InputValidationError) as caught:
        await client.resume("k-1", "review_task", "ok")
    assert caught.value.status_code == 400
    assert "Execution is not paused" in caught.value.message
    assert_clean_message(caught.value)


@pytest.mark.parametrize("method", ["inputs", "kickoff"])
async def test_404_on_an_endpoint_says_the_url_is_probably_wrong(
    client: CrewClient, hostile: HostileServer, method: str
) -> None:
    hostile.script(raw_reply(404, "<h1>Not Found</h1>", "text/html"))
    with pytest.raises(NotFoundError) as caught:
        await (client.inputs() if method == "inputs" else client.kickoff({"a": "b"}))
    assert "URL" in caught.value.message
    assert "dashboard" in caught.value.message
    assert_clean_message(caught.value)


async def test_status_parses_both_dialects_and_404_as_not_found(
    client: CrewClient, hostile: HostileServer
) -> None:
    hostile.script(
        json_reply(200, {"state": "RUNNING", "status": "Task is Running", "result": None}),
        json_reply(200, {"status": "completed", "result": {"output": "done", "tasks": []}}),
        json_reply(404, {"error": "Execution not found", "message": "No execution found"}),
        json_reply(200, {"state": "NOT FOUND"}),
    )
    before = datetime.now(UTC)
    live, documented, missing, live_missing = [await client.status("k-1") for _ in range(4)]
    assert (live.state, live.dialect) == (RunState.RUNNING, Dialect.LIVE)
    assert (documented.state, documented.output) == (RunState.COMPLETED, "done")
    assert documented.dialect is Dialect.DOCUMENTED
    assert missing.state is RunState.NOT_FOUND
    assert live_missing.state is RunState.NOT_FOUND
    assert before <= live.observed_at <= datetime.now(UTC)
    assert live.observed_at.tzinfo is not None


async def test_status_quotes_the_kickoff_id_into_one_path_segment(
    client: CrewClient, hostile: HostileServer
) -> None:
    hostile.script(json_reply(200, {"state": "PENDING"}))
    observation = await client.status("../inputs?x=1")
    assert hostile.requests[0].target == "/status/..%2Finputs%3Fx%3D1"
    assert observation.kickoff_id == "../inputs?x=1"


async def test_an_html_502_is_retried_then_a_server_error_with_a_clean_excerpt(
    client: CrewClient, hostile: HostileServer, fake_sleep: FakeSleep
) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1>\n<hr><center>nginx</center></body></html>"
    hostile.fallback = raw_reply(502, page, "text/html")
    with pytest.raises(ServerError) as caught:
        await client.inputs()
    assert len(hostile.requests) == FAST.max_retries + 1
    assert len(fake_sleep.waits) == FAST.max_retries
    assert caught.value.status_code == 502
    assert caught.value.excerpt == "502 Bad Gateway nginx"
    assert_clean_message(caught.value)


async def test_a_plain_text_500_is_retried_then_a_server_error(
    client: CrewClient, hostile: HostileServer, fake_sleep: FakeSleep
) -> None:
    hostile.fallback = raw_reply(500, "Internal Server Error\n\ntraceback...", "text/plain")
    with pytest.raises(ServerError) as caught:
        await client.status("k-1")
    assert len(hostile.requests) == FAST.max_retries + 1
    assert len(fake_sleep.waits) == FAST.max_retries
    assert caught.value.excerpt == "Internal Server Error traceback..."


async def test_a_get_succeeds_after_one_500(
    client: CrewClient, hostile: HostileServer, fake_sleep: FakeSleep
) -> None:
    hostile.script(raw_reply(500, "Internal Server Error", "text/plain"), INPUTS)
    assert await client.inputs() == ["budget", "interests"]
    assert len(hostile.requests) == 2
    assert len(fake_sleep.waits) == 1


@pytest.mark.parametrize("status", [501, 505])
async def test_a_5xx_that_will_not_change_is_not_retried(
    client: CrewClient, hostile: HostileServer, fake_sleep: FakeSleep, status: int
) -> None:
    hostile.script(raw_reply(status, "Not Implemented", "text/plain"), INPUTS)
    with pytest.raises(ServerError):
        await client.inputs()
    assert len(hostile.requests) == 1
    assert fake_sleep.waits == []


async def test_a_server_echoing_the_token_never_puts_it_in_a_message(
    client: CrewClient, hostile: HostileServer
) -> None:
    hostile.fallback = raw_reply(500, f"bad header Authorization: Bearer {TOKEN}", "text/plain")
    with pytest.raises(ServerError) as caught:
        await client.inputs()
    assert "[redacted]" in caught.value.excerpt
    assert_clean_message(caught.value)


async def test_a_kickoff_answer_echoing_the_token_is_kept_without_it(
    client: CrewClient, hostile: HostileServer
) -> None:
    """The kickoff answer is kept for the Raw tab: never with the token in it."""
    hostile.script(json_reply(200, {"kickoff_id": "5f1c-0001", "echo": f"Bearer {TOKEN}"}))
    answer = await client.start({"a": "b"})
    assert answer.kickoff_id == "5f1c-0001"
    assert answer.payload.source == "kickoff"
    assert answer.payload.body == {"kickoff_id": "5f1c-0001", "echo": "Bearer [redacted]"}


# -- retries and Retry-After ----------------------------------------------------------------


def _http_date(seconds: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)


@pytest.mark.parametrize(
    ("retry_after", "low", "high"),
    [
        ("0", 0.0, FAST.backoff_max),
        ("5", 5.0, 5.0 + FAST.backoff_max),
        ("86400", 60.0, 60.0),
        ("date+30", 25.0, 30.0 + FAST.backoff_max),
        ("in a while", 0.0, FAST.backoff_max),
    ],
    ids=["zero", "five", "a-day", "http-date", "garbage"],
)
@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_honoured_but_clamped(
    client: CrewClient,
    hostile: HostileServer,
    fake_sleep: FakeSleep,
    status: int,
    retry_after: str,
    low: float,
    high: float,
) -> None:
    if retry_after == "date+30":  # made now, not at collection time
        retry_after = _http_date(30)
    hostile.fallback = json_reply(status, {"error": "slow down"}, ("Retry-After", retry_after))
    expected = RateLimitedError if status == 429 else ServerError
    with pytest.raises(expected) as caught:
        await client.inputs()
    assert len(hostile.requests) == FAST.max_retries + 1
    assert len(fake_sleep.waits) == FAST.max_retries
    assert all(low <= wait <= high for wait in fake_sleep.waits), fake_sleep.waits
    assert max(fake_sleep.waits) <= FAST.retry_after_max
    assert_clean_message(caught.value)


async def test_a_get_succeeds_after_a_503(
    client: CrewClient, hostile: HostileServer, fake_sleep: FakeSleep
) -> None:
    hostile.script(json_reply(503, {"error": "busy"}, ("Retry-After", "1")), INPUTS)
    assert await client.inputs() == ["budget", "interests"]
    assert len(hostile.requests) == 2
    assert len(fake_sleep.waits) == 1
    assert fake_sleep.waits[0] >= 1.0


async def test_a_connect_error_is_retried_until_the_server_comes_up(
    fake_sleep: FakeSleep,
) -> None:
    """Nothing listens at first; the fake sleep starts the server on the second wait."""
    async with HostileServer() as probe:
        port = probe.port
    server = HostileServer(port=port)
    server.script(KICKOFF_OK)

    async def sleep_then_start(seconds: float) -> None:
        await fake_sleep(seconds)
        if len(fake_sleep.waits) == 2:
            await server.__aenter__()

    profile = profile_for(f"http://127.0.0.1:{port}")
    try:
        async with CrewClient(profile, FAST, sleep=sleep_then_start) as client:
            assert await client.kickoff({"a": "b"}) == "5f1c-0001"
    finally:
        await server.stop()
    assert len(fake_sleep.waits) == 2
    assert len(server.requests) == 1


async def test_connect_errors_give_up_after_the_retries(fake_sleep: FakeSleep) -> None:
    async with HostileServer() as probe:
        url = probe.url
    async with CrewClient(profile_for(url), FAST, sleep=fake_sleep) as client:
        with pytest.raises(TransportError) as caught:
            await client.kickoff({"a": "b"})
    assert len(fake_sleep.waits) == FAST.max_retries
    assert "Could not reach the travel crew" in caught.value.message


# -- kickoff is never retried once it may have been received ----------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        reset(),
        close(),
        hang(),
        truncated(KICKOFF_OK, 5),
        json_reply(502, {"error": "Bad Gateway"}),
        json_reply(503, {"error": "Unavailable"}, ("Retry-After", "1")),
        raw_reply(504, "<h1>Gateway Timeout</h1>", "text/html"),
        raw_reply(200, "not json", "text/plain"),
        json_reply(200, {"id": "no kickoff_id here"}),
    ],
    ids=[
        "reset",
        "close",
        "hang",
        "truncated",
        "502",
        "503",
        "504",
        "200-not-json",
        "200-no-id",
    ],
)
async def test_a_kickoff_that_may_have_started_is_uncertain_and_sent_once(
    client: CrewClient, hostile: HostileServer, fake_sleep: FakeSleep, fault: Reply
) -> None:
    hostile.script(fault, KICKOFF_OK)
    with pytest.raises(KickoffUncertainError) as caught:
        await client.kickoff({"budget": "1000 USD"})
    assert len(hostile.requests) == 1
    assert fake_sleep.waits == []
    assert "may have started" in caught.value.message
    assert_clean_message(caught.value)


async def test_a_kickoff_rate_limited_is_not_retried(
    client: CrewClient, hostile: HostileServer
) -> None:
    hostile.script(json_reply(429, {"error": "Too Many Requests"}, ("Retry-After", "86400")))
    with pytest.raises(RateLimitedError) as caught:
        await client.kickoff({"a": "b"})
    assert len(hostile.requests) == 1
    assert caught.value.retry_after == FAST.retry_after_max


# -- body caps ------------------------------------------------------------------------------


async def test_a_body_over_the_cap_is_refused(client: CrewClient, hostile: HostileServer) -> None:
    hostile.script(json_reply(200, {"inputs": ["x" * (FAST.max_body_bytes + 1)]}))
    with pytest.raises(BadResponseError) as caught:
        await client.inputs()
    assert "larger than" in caught.value.message
    # One sentence that says which setting lets such an answer through.
    assert "max_body_mb" in caught.value.message and "[poll]" in caught.value.message


async def test_a_small_gzip_body_that_inflates_past_the_cap_is_refused(
    client: CrewClient, hostile: HostileServer
) -> None:
    bomb = gzip_reply(200, b'{"inputs": ["' + b"0" * (50 * FAST.max_body_bytes) + b'"]}')
    assert len(bomb.body) < FAST.max_body_bytes // 4
    hostile.script(bomb)
    with pytest.raises(BadResponseError) as caught:
        await client.inputs()
    assert "larger than" in caught.value.message


class InflationMeter:
    """Counts every byte any zlib decompressor in the process hands out.

    It replaces ``zlib.decompressobj`` itself, so it sees crewtui's own inflater and httpx's
    decoders alike: whatever does the inflating, a bomb inflated whole shows in the count.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.inflated = 0
        real = zlib.decompressobj
        meter = self

        class Counting:
            def __init__(self, *args: Any) -> None:
                self._inner = real(*args)

            def decompress(self, data: bytes, max_length: int = 0) -> bytes:
                piece = self._inner.decompress(data, max_length)
                meter.inflated += len(piece)
                return piece

            def flush(self, *args: Any) -> bytes:
                piece = self._inner.flush(*args)
                meter.inflated += len(piece)
                return piece

            def __getattr__(self, name: str) -> Any:
                return getattr(self._inner, name)

        monkeypatch.setattr(zlib, "decompressobj", Counting)


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_inflating_a_bomb_stops_at_the_cap(
    client: CrewClient, hostile: HostileServer, monkeypatch: pytest.MonkeyPatch, coding: str
) -> None:
    """Refusing the body after inflating it whole would cost the whole bomb in memory."""
    content = b'{"inputs": ["' + b"0" * (50 * FAST.max_body_bytes) + b'"]}'
    compressed = gzip.compress(content, 9) if coding == "gzip" else zlib.compress(content, 9)
    headers = (("Content-Type", "application/json"), ("Content-Encoding", coding))
    hostile.script(Reply(200, headers, compressed))
    meter = InflationMeter(monkeypatch)
    with pytest.raises(BadResponseError) as caught:
        await client.inputs()
    assert "larger than" in caught.value.message
    assert 0 < meter.inflated <= FAST.max_body_bytes + 1


async def test_a_gzip_body_under_the_cap_is_read(
    client: CrewClient, hostile: HostileServer
) -> None:
    hostile.script(gzip_reply(200, json.dumps({"inputs": ["topic"]}).encode()))
    assert await client.inputs() == ["topic"]


# -- redirects and the token ----------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_to_another_origin_is_refused_and_the_token_stays(
    client: CrewClient, hostile: HostileServer, status: int
) -> None:
    async with HostileServer() as elsewhere:
        elsewhere.fallback = INPUTS
        hostile.script(redirect(status, f"{elsewhere.url}/inputs"))
        with pytest.raises(RedirectRefusedError) as caught:
            await client.inputs()
        assert elsewhere.requests == []
    assert f"{elsewhere.url}/inputs" in caught.value.message
    assert "won't send the token there" in caught.value.message
    assert_clean_message(caught.value)


async def test_an_https_crew_redirecting_to_http_never_sends_the_token_over_http(
    tmp_path: Path, fake_sleep: FakeSleep
) -> None:
    server_tls, client_tls = self_signed_tls(tmp_path)
    async with HostileServer() as plain, HostileServer(ssl=server_tls) as secure:
        plain.fallback = KICKOFF_OK
        secure.script(redirect(307, f"{plain.url}/kickoff"))
        transport = httpx.AsyncHTTPTransport(verify=client_tls)
        profile = profile_for(secure.url)
        async with CrewClient(profile, FAST, transport=transport, sleep=fake_sleep) as client:
            with pytest.raises(RedirectRefusedError):
                await client.kickoff({"a": "b"})
        assert secure.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
        assert plain.requests == []


# -- resume ---------------------------------------------------------------------------------


async def test_resume_sends_both_key_styles_and_reads_both_answers(
    client: CrewClient, hostile: HostileServer
) -> None:
    hostile.script(
        json_reply(200, {"status": "resumed", "message": "Execution resumed"}),
        json_reply(200, {"kickoff_id": "new-7"}),
        json_reply(200, {"unexpected": True}),
    )
    documented = await client.resume(
        "k-1", "review_task", "looks good", approve=False, crew_webhook_url="https://h.test/c"
    )
    live = await client.resume("k-1", "review_task", "looks good")
    with pytest.raises(BadResponseError):
        await client.resume("k-1", "review_task", "looks good")
    assert (documented.status, documented.message) == ("resumed", "Execution resumed")
    assert live.new_kickoff_id == "new-7"
    sent = hostile.requests[0].json()
    assert sent["execution_id"] == sent["executionId"] == "k-1"
    assert sent["task_id"] == sent["taskId"] == "review_task"
    assert sent["human_feedback"] == "looks good"
    assert sent["is_approve"] is False
    assert sent["crewWebhookUrl"] == "https://h.test/c"


async def test_resume_is_not_retried_after_a_reset(
    client: CrewClient, hostile: HostileServer
) -> None:
    hostile.script(reset(), json_reply(200, {"status": "resumed"}))
    with pytest.raises(TransportError):
        await client.resume("k-1", "t", "ok")
    assert len(hostile.requests) == 1


async def test_a_web_page_answered_with_200_is_counted_a_bad_answer_not_an_ok_one(
    hostile: HostileServer, client: CrewClient
) -> None:
    """What ``serve``'s requests metric shows: a proxy's login page is no success."""
    hostile.script(raw_reply(200, "<html><body>Sign in</body></html>", "text/html"))
    with pytest.raises(BadResponseError, match="web page"):
        await client.status("abc")
    assert client.counts.attempts == {"ok": 0, "bad_answer": 1}
