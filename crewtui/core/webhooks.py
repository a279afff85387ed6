"""Receive the webhooks a crew pushes, in crewtui's own process, and hand them to the tracker.

Opt-in (``--webhooks HOST:PORT``). The service's webhooks carry no signature and anyone who
can reach the receiver can post to it (the API contract "Webhooks"), so the receiver:

- binds loopback unless a host is given explicitly (a tunnel or ``--public-url`` reaches it);
- answers only under ``/hooks/<secret>/<kind>``, a per-install random secret; anything else,
  a wrong secret included, is the same bare 404, so probing learns nothing;
- takes batched events only with the per-install bearer token the kickoff asked the service
  to send (``authentication`` in the ``webhooks`` object): without it or with another, 401;
- takes a flow's human-in-the-loop requests (``/hooks/<secret>/hitl``) only signed with the
  configured ``hitl_secret`` and dated within 5 minutes: otherwise 401 and a log line saying
  why (never the secret or the body); a request seen before (same id, or same signature) is
  answered 200 and changes nothing;
- refuses bodies over a size cap (by Content-Length and by counting a chunked stream) and
  bodies that are not JSON;
- bounds what each sender may cost (header and body deadlines, connections per client:
  ``crewtui.core.guarded_http``), so idle or slow connections never starve real webhooks;
- hands over only what concerns kickoffs the tracker tracks, and leaves idempotence and
  ordering to the merge, the one place that decides.

It serves on the caller's event loop: the same loop as the tracker, so ``on_push`` needs no
locking across threads.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, cast

from crewtui.api.client import EventsWebhook
from crewtui.api.errors import ConfigError
from crewtui.api.hitl import (
    MAX_CLOCK_SKEW,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    HitlRequest,
    InvalidRequest,
    parse_request,
    signature_problem,
)
from crewtui.api.models import Observation, Step
from crewtui.api.pushes import PUSH_KINDS, PushKind, parse_push
from crewtui.api.redact import redact_bytes, remember_secret
from crewtui.api.states import WebhookForm
from crewtui.api.validate import LOOPBACK
from crewtui.core.guarded_http import (
    Answer,
    BodyIncomplete,
    BodyTooLarge,
    GuardedServer,
    Limits,
    Request,
    bind_socket,
)
from crewtui.core.webhook_urls import WebhookUrls

logger = logging.getLogger(__name__)


DEFAULT_MAX_BODY_BYTES = 1_000_000
# A bounded wait: a receiver that cannot stop must not hang the app.
_STOP_TIMEOUT = 5.0

OnPush = Callable[[list[Observation | Step]], Awaitable[None]]
IsTracked = Callable[[str], bool]
# Takes a flow's request; False when it was seen before (a replay: nothing changed).
OnRequest = Callable[[HitlRequest], Awaitable[bool]]

# The path of a flow's human-in-the-loop requests, beside the push kinds.
HITL_KIND = "hitl"


class _Refused(Exception):
    """A request the receiver answers with ``status`` and hands nothing over."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


_BODIES = {
    200: b'{"ok":true}',
    400: b'{"detail":"Bad Request"}',
    401: b'{"detail":"Unauthorized"}',
    404: b'{"detail":"Not Found"}',
    413: b'{"detail":"Payload Too Large"}',
    500: b'{"detail":"Internal Server Error"}',
}


class WebhookReceiver:
    """The webhook endpoint and the server that runs it.

    Counters for ``doctor`` and the status line: ``received`` requests accepted,
    ``rejected`` requests refused (404, 401, 413, 400), ``ignored`` items dropped because their
    kickoff is not tracked (nor perhaps about to be), ``replayed`` flow requests taken before.
    """

    def __init__(
        self,
        on_push: OnPush,
        is_tracked: IsTracked,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        secret: str,
        token: str | None = None,
        form: WebhookForm = "events",
        public_url: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        limits: Limits = Limits(),  # noqa: B008 (frozen, so sharing is safe)
        hitl_secret: str | None = None,
        on_hitl: OnRequest | None = None,
    ) -> None:
        if not secret or max_body_bytes <= 0:
            raise ValueError("the receiver needs a secret and a positive body size cap")
        self._on_push = on_push
        self._is_tracked = is_tracked
        self._host = host
        self._port = port
        self._secret = secret.encode()
        self._authorization = f"Bearer {token}".encode() if token else None
        self._token = token
        self._form = form
        self._public_url = public_url.rstrip("/") if public_url else None
        self._max_body_bytes = max_body_bytes
        self._limits = limits
        self._server: GuardedServer | None = None
        # Flow requests: the signing secret (none: the route is not served) and where they go.
        self._hitl_secret = hitl_secret.encode() if hitl_secret and on_hitl else None
        self._on_hitl = on_hitl
        # Signatures taken within the clock skew (older ones fail the timestamp check anyway).
        self._signatures_seen: dict[str, float] = {}
        self.received = 0
        self.ignored = 0
        self.rejected = 0
        self.replayed = 0

    # -- addresses --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Where the service should post: ``public_url``, else the address listened on."""
        if self._public_url:
            return self._public_url
        if self._port == 0:
            raise RuntimeError("the receiver's port is known once it has started")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    def _hook_url(self, kind: str) -> str:
        return f"{self.base_url}/hooks/{self._secret.decode()}/{kind}"

    @property
    def urls(self) -> WebhookUrls:
        """What kickoffs send: the batched form when configured and a token is set."""
        events = None
        if self._form == "events" and self._token:
            events = EventsWebhook(url=self.events_url, token=self._token)
        return WebhookUrls(
            task=self._hook_url("task"),
            step=self._hook_url("step"),
            crew=self._hook_url("crew"),
            events=events,
        )

    @property
    def hitl_url(self) -> str | None:
        """Where a flow deployment sends its human-in-the-loop requests (set on the AMP side
        with the same signing secret); None when no secret is configured."""
        return self._hook_url(HITL_KIND) if self._hitl_secret else None

    @property
    def events_url(self) -> str:
        """For the batched form (a ``webhooks`` object at kickoff)."""
        return self._hook_url("events")

    @property
    def port(self) -> int:
        """The port listened on (the one picked by the system once started on port 0)."""
        return self._port

    @property
    def open_connections(self) -> int:
        """Connections open now (for ``doctor`` and tests); 0 when not started."""
        return 0 if self._server is None else self._server.open_connections

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on the current event loop; return once connections are being accepted.

        Raises ConfigError when the address cannot be bound.
        """
        if self._server is not None:
            return
        sock = await bind_socket(self._host, self._port, "The webhook receiver")
        self._port = sock.getsockname()[1]
        server = GuardedServer(self._answer, self._limits)
        try:
            await server.start(sock)
        except OSError as exc:
            sock.close()
            reason = exc.strerror or str(exc)
            raise ConfigError(
                f"The webhook receiver cannot listen on {self._host}:{self._port}: {reason}."
            ) from exc
        self._server = server

    async def stop(self) -> None:
        """Stop listening and let requests in flight finish, within a bounded wait."""
        server, self._server = self._server, None
        if server is not None:
            await server.stop(_STOP_TIMEOUT)

    # -- requests ------------------------------------------------------------------------------

    async def _answer(self, request: Request) -> Answer:
        status = await self._handle(request)
        return Answer(status, _BODIES[status])

    async def _handle(self, request: Request) -> int:
        """The status to answer; never raises, whatever the request."""
        try:
            route = self._route(request)
            if route == HITL_KIND:
                return await self._handle_request(request)
            kind = cast(PushKind, route)
            self._authenticate(kind, request)
            payload = _decode(await self._read_body(request))
        except _Refused as refused:
            self.rejected += 1
            return refused.status
        items = parse_push(kind, payload, datetime.now(UTC))
        self.received += 1
        try:
            tracked = [item for item in items if self._is_tracked(item.kickoff_id)]
            self.ignored += len(items) - len(tracked)
            if tracked:
                await self._on_push(tracked)
        except Exception:
            # The tracker's fault, not the sender's: say so, and let the service know.
            logger.exception("the tracker failed to take %d pushed item(s)", len(items))
            return 500
        return 200

    def _route(self, request: Request) -> str:
        """``POST /hooks/<secret>/<kind>``; everything else is the same 404 (the flow
        requests' path too, while no signing secret is configured)."""
        parts = request.path.split("/")
        if len(parts) != 4:
            raise _Refused(404)
        _, prefix, secret, kind = parts
        secret_ok = secrets.compare_digest(secret.encode("utf-8", "replace"), self._secret)
        served = kind in PUSH_KINDS or (kind == HITL_KIND and self._hitl_secret is not None)
        if not (secret_ok and prefix == "hooks" and served):
            if secret_ok and kind == HITL_KIND:
                logger.warning(
                    "refused a human-in-the-loop request: no [webhooks] hitl_secret is configured"
                )
            raise _Refused(404)
        if request.method != "POST":
            raise _Refused(404)
        return kind

    async def _handle_request(self, request: Request) -> int:
        """A flow's signed human-in-the-loop request: checked, then handed over once."""
        assert self._hitl_secret is not None and self._on_hitl is not None
        try:
            body = await self._read_body(request)
            signature = self._check_signature(request, body)
            payload = _decode(body)
            try:
                parsed = parse_request(payload, datetime.now(UTC))
            except InvalidRequest as invalid:
                logger.warning("refused a human-in-the-loop request: %s", invalid.reason)
                raise _Refused(400) from None
        except _Refused as refused:
            self.rejected += 1
            return refused.status
        self.received += 1
        if parsed is None:  # another event than new_request: nothing to show
            self.ignored += 1
            return 200
        if signature in self._signatures_seen:
            self.replayed += 1
            return 200
        self._remember_signature(signature)
        try:
            taken = await self._on_hitl(parsed)
        except Exception:
            logger.exception("the tracker failed to take a human-in-the-loop request")
            return 500
        if not taken:
            self.replayed += 1
        return 200

    def _check_signature(self, request: Request, body: bytes) -> str:
        """The request's signature once it proves the body was signed with the secret within
        the allowed skew; otherwise a 401 and a log line saying what was wrong."""
        assert self._hitl_secret is not None
        timestamp = _single_header(request, TIMESTAMP_HEADER)
        signature = _single_header(request, SIGNATURE_HEADER)
        problem = signature_problem(self._hitl_secret, timestamp, signature, body, time.time())
        if problem is not None or signature is None:
            logger.warning("refused a human-in-the-loop request: %s", problem)
            raise _Refused(401)
        return signature.strip().lower()

    def _remember_signature(self, signature: str) -> None:
        """Keep a taken signature while its timestamp could still pass; forget older ones."""
        now = time.monotonic()
        window = 2 * MAX_CLOCK_SKEW
        expired = [seen for seen, at in self._signatures_seen.items() if now - at > window]
        for seen in expired:
            del self._signatures_seen[seen]
        self._signatures_seen[signature] = now

    def _authenticate(self, kind: PushKind, request: Request) -> None:
        """Batched events must carry the bearer token the kickoff chose (classic ones cannot:
        the service sends them without any header)."""
        if kind != "events" or self._authorization is None:
            return
        given = [value for name, value in request.headers if name.lower() == b"authorization"]
        if len(given) != 1 or not secrets.compare_digest(given[0].strip(), self._authorization):
            raise _Refused(401)

    async def _read_body(self, request: Request) -> bytes:
        """The whole body, refused as soon as it is known to pass the cap."""
        declared = _content_length(request)
        if declared is not None and declared > self._max_body_bytes:
            raise _Refused(413)
        try:
            return await request.body(self._max_body_bytes)
        except BodyTooLarge:
            raise _Refused(413) from None
        except BodyIncomplete:
            raise _Refused(400) from None


def _single_header(request: Request, name: str) -> str | None:
    """A header's value when it is given exactly once (twice is as good as forged)."""
    values = [value for key, value in request.headers if key.lower() == name.encode()]
    if len(values) != 1:
        return None
    return values[0].decode("latin-1")


def _content_length(request: Request) -> int | None:
    for name, value in request.headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                raise _Refused(400) from None
    return None


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _decode(body: bytes) -> Any:
    """Strict JSON (no NaN or Infinity); anything else is a 400.

    A token quoted in the body, however it is spelt, is blanked first: nothing from here on
    (the tracker, the store, the screen) ever holds it.
    """
    try:
        return json.loads(redact_bytes(body), parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise _Refused(400) from None


# -- the secret and the address ------------------------------------------------------------

_SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,}")


def load_or_create_secret(path: Path) -> str:
    """The install's webhook secret, made once (0600 file, in a 0700 dir when made here).

    Reused across runs, so kickoffs started earlier still reach the receiver after a restart.
    Remembered for redaction like a token: anyone who reads a hook URL can post to it.
    """
    try:
        existing = _read_secret(path)
        secret = existing if existing is not None else _create_secret(path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"The webhook secret file {path} cannot be used: {reason}.") from exc
    remember_secret(secret)
    return secret


def _read_secret(path: Path) -> str | None:
    """The stored secret, tightened to 0600 if needed; None when absent or unusable."""
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except FileNotFoundError:
        return None
    if not _SECRET_SHAPE.fullmatch(text):
        return None
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return text


def _create_secret(path: Path) -> str:
    """Write a new secret; if another process wrote one meanwhile, use that one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(24)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(secret + "\n")
        if path.exists():
            os.replace(temporary, path)  # an unusable old file: replace it
        else:
            os.link(temporary, path)  # fails if another process just made one
    except FileExistsError:
        winner = _read_secret(path)
        if winner is None:
            raise
        return winner
    finally:
        temporary.unlink(missing_ok=True)
    return secret
