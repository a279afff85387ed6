"""Transport policy for talking to a crew: deadlines, body caps, retries, Retry-After.

httpx gives per-socket timeouts and no body limit: a
server that drips a byte a second keeps a request alive forever, and a small gzip body can
inflate to gigabytes. This module wraps one request attempt in an overall deadline, reads
the body as a stream of *decompressed* bytes up to a cap, and retries only what is safe to
retry. It decompresses by itself: httpx's decoders inflate each network chunk whole, so one
64 KiB chunk of a gzip bomb became 64 MiB in memory before any cap could look at it.

It knows nothing of the crew API itself; ``crewtui.api.client`` gives the answers their
meaning and turns the failures below into typed, user-facing errors.
"""

from __future__ import annotations

import asyncio
import functools
import html
import math
import os
import random
import re
import ssl
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from crewtui import __version__
from crewtui.api.sanitize import inert_line

if TYPE_CHECKING:  # imported where first used: starting the app does not wait for it
    import httpx

USER_AGENT = f"crewtui/{__version__}"
# The only encodings asked for, and decoded here under the cap (see the module doc).
ACCEPT_ENCODING = "gzip, deflate"
_ZLIB_WBITS = {
    "gzip": 16 + zlib.MAX_WBITS,
    "x-gzip": 16 + zlib.MAX_WBITS,
    "deflate": zlib.MAX_WBITS,
}

# Answers a GET may be retried on: rate limiting, a crashed worker, and the gateway errors
# of a busy service. Other 5xx (501 Not Implemented, 505...) will answer the same again.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

_DELAY_SECONDS = re.compile(r"\d+(?:\.\d+)?")
_HTML_HIDDEN = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]*>")
_WHITESPACE = re.compile(r"\s+")
# Only this much of a body is looked at to make an excerpt, whatever its size.
_EXCERPT_SCAN = 4096

Sleep = Callable[[float], Awaitable[None]]

# How one attempt ended, as ``crewtui serve`` counts requests (the service sees each attempt).
Outcome = Literal[
    "ok",
    "not_found",
    "token_rejected",
    "rate_limited",
    "client_error",
    "server_error",
    "no_answer",
    "unreachable",
    "bad_answer",
]
OnAttempt = Callable[[Outcome], None]


def reply_outcome(status_code: int) -> Outcome:
    """The outcome a status code stands for (a 3xx is refused, so it counts as an error)."""
    if status_code < 300:
        return "ok"
    if status_code == 404:
        return "not_found"
    if status_code in (401, 403):
        return "token_rejected"
    if status_code == 429:
        return "rate_limited"
    return "server_error" if status_code >= 500 else "client_error"


@dataclass(frozen=True)
class ClientPolicy:
    """How long to wait, how much to read and how often to retry, per crew client."""

    deadline: float = 30.0  # overall seconds per request attempt, including body
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    # Lets a 20 MB output through, with a task's copy of it and the raw payload around it.
    max_body_bytes: int = 64 * 1024 * 1024
    max_retries: int = 4  # for GETs
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    retry_after_max: float = 60.0


@dataclass(frozen=True)
class Reply:
    """A complete answer: status, headers and the whole (decompressed, capped) body."""

    status_code: int
    headers: httpx.Headers
    body: bytes


class NotSent(Exception):
    """The request never left: connecting failed. Safe to retry, even a kickoff."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NoAnswer(Exception):
    """The request may have reached the server, but no complete answer came back.

    ``transient`` when the connection was cut (a reset, a close before the whole answer):
    asking again is worth it for a GET. A timeout is not: its wait was the patience.
    """

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


class BadBody(Exception):
    """An answer came back but its body cannot be used (over the cap, undecodable)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BodyTooLarge(BadBody):
    """The body grew past the policy's cap; reading stopped there."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"the body is larger than {_size(cap)}")
        self.cap = cap


def tls_context() -> ssl.SSLContext:
    """One verified TLS context for every crew: loading the CA store costs ~75 ms each time.

    Keyed on SSL_CERT_FILE and SSL_CERT_DIR, so a change of trusted CAs is honoured.
    """
    return _tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.cache
def _tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return ssl.create_default_context()


@functools.cache
def _trusting_nothing() -> ssl.SSLContext:
    """A context that verifies and trusts no CA: any TLS handshake through it fails."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def build_http_client(
    policy: ClientPolicy,
    transport: httpx.AsyncBaseTransport | None,
    max_connections: int,
    *,
    url: str,
) -> httpx.AsyncClient:
    """The one pooled client of a crew at ``url``; redirects are never followed (the token
    must stay).

    So the client only ever speaks ``url``'s scheme: a plain-http crew (the simulator, a
    crew on this machine) never does TLS, and its client does not load the CA store (about
    25 ms of CPU, a tenth of a headless ``status``); it gets a context that trusts nothing,
    so it would fail closed if TLS were ever attempted through it.
    """
    import httpx

    speaks_tls = urlsplit(url).scheme.lower() != "http"

    return httpx.AsyncClient(
        headers={
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
        },
        timeout=httpx.Timeout(
            connect=policy.connect_timeout,
            read=policy.read_timeout,
            write=policy.read_timeout,
            pool=policy.connect_timeout,
        ),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        follow_redirects=False,
        verify=tls_context() if speaks_tls else _trusting_nothing(),
        transport=transport,
    )


def same_origin(url: httpx.URL, origin: str) -> bool:
    """True when ``url`` is on ``origin`` (scheme://host:port), the only place for a token.

    httpx normalizes scheme and host case and drops default ports, so comparing the parts
    is exact.
    """
    import httpx

    other = httpx.URL(origin)
    return (url.scheme, url.host, url.port) == (other.scheme, other.host, other.port)


def retry_after_seconds(value: str | None, now: datetime, cap: float) -> float | None:
    """The wait a Retry-After header asks for, clamped to [0, cap]; None when unreadable.

    Accepts delay-seconds and an HTTP date; anything else (negative, garbage) is None, so the
    caller falls back to its own backoff instead of trusting a nonsense value.
    """
    if value is None:
        return None
    text = value.strip()
    if _DELAY_SECONDS.fullmatch(text):
        # float() of a thousand-digit string is inf (int() would raise): clamped below.
        return _clamp(float(text), cap)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    reference = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    return _clamp((when - reference).total_seconds(), cap)


def _clamp(seconds: float, cap: float) -> float:
    if math.isnan(seconds):
        return cap
    return min(max(seconds, 0.0), cap)


# Multiplies every backoff (0: none), so that the tests of commands run as processes need
# not wait seconds between the attempts at a crew that keeps failing; every attempt is
# still made, and a Retry-After the service asks for is still waited for.
BACKOFF_SCALE_ENV = "CREWTUI_BACKOFF_SCALE"


def _backoff_scale() -> float:
    """``CREWTUI_BACKOFF_SCALE`` when it is a number >= 0, else 1."""
    try:
        scale = float(os.environ[BACKOFF_SCALE_ENV])
    except (KeyError, ValueError):
        return 1.0
    return scale if math.isfinite(scale) and scale >= 0 else 1.0


def backoff_delay(attempt: int, policy: ClientPolicy) -> float:
    """Exponential backoff with equal jitter: grows with ``attempt``, never above the max.

    Half the ceiling is fixed so waits really grow; the random half keeps many clients
    that failed together from retrying together.
    """
    ceiling = min(policy.backoff_max, policy.backoff_base * 2.0 ** min(attempt, 32))
    return (ceiling / 2 + random.uniform(0, ceiling / 2)) * _backoff_scale()


def retry_wait(reply: Reply, attempt: int, policy: ClientPolicy, now: datetime) -> float:
    """The wait before retrying ``reply``: Retry-After (clamped) as a floor over the backoff."""
    backoff = backoff_delay(attempt, policy)
    asked = retry_after_seconds(reply.headers.get("retry-after"), now, policy.retry_after_max)
    return backoff if asked is None else max(asked, min(backoff, policy.retry_after_max))


async def exchange(
    client: httpx.AsyncClient, request: httpx.Request, policy: ClientPolicy
) -> Reply:
    """One attempt: send, read the whole body under the cap, all within the overall deadline.

    Raises NotSent, NoAnswer or BadBody; never an httpx exception.
    """
    import httpx

    # Failures before the request leaves this machine: retrying cannot duplicate it.
    not_sent = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
    try:
        async with asyncio.timeout(policy.deadline):
            response = await client.send(request, stream=True)
            try:
                body = await _read_capped(response, policy.max_body_bytes)
            finally:
                await response.aclose()
    except TimeoutError:
        raise NoAnswer(f"no complete answer within {policy.deadline:g} s") from None
    except not_sent as exc:
        raise NotSent(_describe(exc)) from None
    except httpx.TimeoutException as exc:
        raise NoAnswer(_describe(exc)) from None
    except httpx.TransportError as exc:
        raise NoAnswer(_describe(exc), transient=True) from None
    return Reply(status_code=response.status_code, headers=response.headers, body=body)


async def exchange_with_retries(
    client: httpx.AsyncClient,
    request: httpx.Request,
    policy: ClientPolicy,
    sleep: Sleep,
    *,
    idempotent: bool,
    on_attempt: OnAttempt | None = None,
) -> Reply:
    """``exchange`` with the retry policy; ``on_attempt`` hears how each attempt ended.

    Any request is retried when it never left (connect errors). Only an idempotent one is
    retried on a transient failure (``RETRY_STATUSES``, a connection cut short); a POST that
    may have reached the server never is. A body that cannot be used (BadBody) is not
    transient: it is raised at once.
    """
    attempt = 0
    while True:
        try:
            reply = await _counted_exchange(client, request, policy, on_attempt)
        except (NotSent, NoAnswer) as failure:
            retryable = isinstance(failure, NotSent) or (idempotent and failure.transient)
            if not retryable or attempt >= policy.max_retries:
                raise
            await sleep(backoff_delay(attempt, policy))
            attempt += 1
            continue
        retryable = idempotent and reply.status_code in RETRY_STATUSES
        if not retryable or attempt >= policy.max_retries:
            return reply
        await sleep(retry_wait(reply, attempt, policy, datetime.now(UTC)))
        attempt += 1


async def _counted_exchange(
    client: httpx.AsyncClient,
    request: httpx.Request,
    policy: ClientPolicy,
    on_attempt: OnAttempt | None,
) -> Reply:
    """``exchange``, telling ``on_attempt`` how it ended."""
    if on_attempt is None:
        return await exchange(client, request, policy)
    try:
        reply = await exchange(client, request, policy)
    except NotSent:
        on_attempt("unreachable")
        raise
    except NoAnswer:
        on_attempt("no_answer")
        raise
    except BadBody:
        on_attempt("bad_answer")
        raise
    on_attempt(reply_outcome(reply.status_code))
    return reply


async def _read_capped(response: httpx.Response, cap: int) -> bytes:
    """The decompressed body, stopping as soon as it grows past ``cap`` bytes."""
    body = _CappedBody(response.headers.get("content-encoding"), cap)
    async for chunk in response.aiter_raw():
        body.feed(chunk)
    return body.finish()


class _CappedBody:
    """A body collected from raw network chunks, inflated here and never past ``cap + 1``.

    Each inflate step may produce at most what still fits, so memory stays about the cap
    whatever the compression ratio.
    """

    def __init__(self, content_encoding: str | None, cap: int) -> None:
        self._cap = cap
        self._chunks: list[bytes] = []
        self._total = 0
        self._coding = _single_coding(content_encoding)
        wbits = _ZLIB_WBITS.get(self._coding) if self._coding else None
        self._inflater = zlib.decompressobj(wbits) if wbits is not None else None
        self._fed = False

    def feed(self, raw: bytes) -> None:
        if self._inflater is None:
            self._keep(raw)
            return
        try:
            self._inflate(raw)
        except zlib.error:
            if self._coding != "deflate" or self._fed:
                raise BadBody("the body could not be decompressed") from None
            # Some servers send raw deflate without the zlib wrapper (httpx allows it too).
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            self.feed(raw)
        self._fed = True

    def finish(self) -> bytes:
        if self._inflater is not None:
            try:
                self._keep(self._inflater.flush())
            except zlib.error:
                raise BadBody("the body could not be decompressed") from None
        return b"".join(self._chunks)

    def _inflate(self, data: bytes) -> None:
        assert self._inflater is not None
        while data and not self._inflater.eof:
            self._keep(self._inflater.decompress(data, self._cap - self._total + 1))
            data = self._inflater.unconsumed_tail

    def _keep(self, piece: bytes) -> None:
        self._total += len(piece)
        if self._total > self._cap:
            raise BodyTooLarge(self._cap)
        self._chunks.append(piece)


def _single_coding(content_encoding: str | None) -> str | None:
    """The one content coding of a body (None: not encoded); refuses what was not asked for."""
    codings = [
        part.strip().lower()
        for part in (content_encoding or "").split(",")
        if part.strip() and part.strip().lower() != "identity"
    ]
    if not codings:
        return None
    if len(codings) > 1 or codings[0] not in _ZLIB_WBITS:
        shown = inert_line(content_encoding or "", 40)
        raise BadBody(f"it is in an encoding crewtui did not ask for ({shown})")
    return codings[0]


def looks_like_html(body: bytes, content_type: str | None) -> bool:
    """True for a web page (a login page, a proxy's error page) where an API answer was due."""
    return "html" in (content_type or "").lower() or body[:_EXCERPT_SCAN].lstrip().startswith(b"<")


def body_excerpt(body: bytes, content_type: str | None, limit: int = 200) -> str:
    """A short, single-line, inert excerpt of an error body (HTML reduced to its text)."""
    text = body[:_EXCERPT_SCAN].decode("utf-8", errors="replace")
    if looks_like_html(body, content_type):
        text = html.unescape(_HTML_TAG.sub(" ", _HTML_HIDDEN.sub(" ", text)))
    return inert_line(_WHITESPACE.sub(" ", text).strip(), limit)


def _describe(exc: httpx.HTTPError) -> str:
    """A short reason for a transport failure, without the request (it holds the token)."""
    import httpx

    kinds: dict[type[httpx.HTTPError], str] = {
        httpx.ConnectTimeout: "connect timeout",
        httpx.ReadTimeout: "read timeout",
        httpx.WriteTimeout: "write timeout",
        httpx.PoolTimeout: "no free connection",
        httpx.RemoteProtocolError: "connection closed before a complete answer",
        httpx.ReadError: "connection reset",
    }
    kind = kinds.get(type(exc))
    if kind:
        return kind
    detail = inert_line(str(exc), 120)
    return detail or type(exc).__name__


def _size(count: int) -> str:
    if count >= 1024 * 1024 and count % (1024 * 1024) == 0:
        return f"{count // (1024 * 1024)} MiB"
    return f"{count} bytes"
