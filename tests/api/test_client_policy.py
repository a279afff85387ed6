"""The pure parts of the transport policy: Retry-After, backoff, origins, excerpts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crewtui.api.client import ClientPolicy, retry_after_seconds
from crewtui.api.http import (
    BACKOFF_SCALE_ENV,
    Reply,
    backoff_delay,
    body_excerpt,
    build_http_client,
    retry_wait,
    same_origin,
)
from tests.api.hostile_server import HostileServer, json_reply, self_signed_tls

NOW = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("5", 5.0),
        (" 7 ", 7.0),
        ("2.5", 2.5),
        ("86400", 60.0),
        ("9" * 5000, 60.0),  # int() would raise past 4300 digits
        (format_datetime(NOW + timedelta(seconds=12), usegmt=True), 12.0),
        (format_datetime(NOW - timedelta(hours=1), usegmt=True), 0.0),
        (format_datetime(NOW + timedelta(days=3), usegmt=True), 60.0),
        ("Sun, 06 Nov 1994 08:49:37", 0.0),  # a date without zone is read as UTC
        ("soon", None),
        ("-5", None),
        ("", None),
        ("nan", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_and_dates_and_clamps(
    value: str | None, expected: float | None
) -> None:
    assert retry_after_seconds(value, NOW, 60.0) == expected


@given(st.text(max_size=60))
def test_retry_after_never_raises_and_stays_in_bounds(value: str) -> None:
    seconds = retry_after_seconds(value, NOW, 60.0)
    assert seconds is None or 0.0 <= seconds <= 60.0


@given(st.integers(min_value=0, max_value=10_000))
def test_backoff_grows_with_jitter_and_never_passes_the_max(attempt: int) -> None:
    policy = ClientPolicy(backoff_base=0.5, backoff_max=8.0)
    ceiling = min(8.0, 0.5 * 2 ** min(attempt, 32))
    assert ceiling / 2 <= backoff_delay(attempt, policy) <= ceiling


@pytest.mark.parametrize(("scale", "factor"), [("0", 0.0), ("0.5", 0.5), ("-1", 1.0), ("x", 1.0)])
def test_the_backoff_scale_shortens_backoffs_but_never_a_retry_after(
    monkeypatch: pytest.MonkeyPatch, scale: str, factor: float
) -> None:
    monkeypatch.setenv(BACKOFF_SCALE_ENV, scale)
    policy = ClientPolicy(backoff_base=0.5, backoff_max=8.0)
    assert 2.0 * factor <= backoff_delay(3, policy) <= 4.0 * factor
    limited = Reply(429, httpx.Headers({"retry-after": "7"}), b"")
    assert retry_wait(limited, 3, policy, NOW) >= 7.0


@pytest.mark.parametrize(
    ("url", "origin", "same"),
    [
        ("https://travel.crewai.com/inputs", "https://travel.crewai.com", True),
        ("https://TRAVEL.crewai.com:443/status/x", "https://travel.crewai.com", True),
        ("http://travel.crewai.com/inputs", "https://travel.crewai.com", False),
        ("https://travel.crewai.com:8443/inputs", "https://travel.crewai.com", False),
        ("https://evil.example/inputs", "https://travel.crewai.com", False),
        ("https://travel.crewai.com.evil.example/", "https://travel.crewai.com", False),
        ("http://127.0.0.1:8000/inputs", "http://127.0.0.1:8000", True),
    ],
)
def test_same_origin_compares_scheme_host_and_port(url: str, origin: str, same: bool) -> None:
    assert same_origin(httpx.URL(url), origin) is same


def test_excerpt_of_an_html_page_is_its_visible_text_in_one_inert_line() -> None:
    page = (
        b"<html><head><style>body{color:red}</style><script>alert(1)</script></head>"
        b"<body>\n<h1>502 Bad&nbsp;Gateway</h1>\n\n<p>nginx \x1b]52;c;aGk=\x07</p></body></html>"
    )
    excerpt = body_excerpt(page, "text/html; charset=utf-8")
    assert excerpt.startswith("502 Bad Gateway nginx ")
    assert "<" not in excerpt
    assert "alert" not in excerpt
    assert "color" not in excerpt
    assert "\x1b" not in excerpt
    assert "\\x1b" in excerpt


def test_excerpt_is_short_whatever_the_body() -> None:
    excerpt = body_excerpt(b"x" * 1_000_000 + b"\xff\xfe", "text/plain")
    assert len(excerpt) == 200
    assert excerpt.endswith("…")


async def test_a_plain_http_crews_client_trusts_no_ca_and_an_https_crews_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain-http crew's client skips loading the CA store (a tenth of a headless
    ``status``): it never speaks TLS, since redirects are never followed, and if it ever
    did, it fails closed. The same request from an https crew's client, trusting the
    server's CA, is answered."""
    server_tls, _ = self_signed_tls(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
    async with HostileServer(ssl=server_tls) as secure:
        secure.fallback = json_reply(200, {"state": "SUCCESS"})
        plain = build_http_client(ClientPolicy(), None, 1, url="http://127.0.0.1:9/crew")
        https = build_http_client(ClientPolicy(), None, 1, url=secure.url)
        async with plain, https:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await plain.get(f"{secure.url}/status/x")
            assert (await https.get(f"{secure.url}/status/x")).status_code == 200
    assert len(secure.requests) == 1
