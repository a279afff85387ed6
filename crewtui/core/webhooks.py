"""Receive the webhooks a crew pushes, in crewtui's own process, and hand them to the tracker.

Opt-in (``--webhooks HOST:PORT``). The service's webhooks carry no signature and anyone who
can reach the receiver can post to it (CONTRACT.md "Webhooks"), so the receiver:

- binds loopback unless a host is given explicitly (a tunnel or ``--public-url`` reaches it);
- answers only under ``/hooks/<secret>/<kind>``, a per-install random secret; anything else,
  a wrong secret included, is the same bare 404, so probing learns nothing;
- refuses bodies over a size cap (by Content-Length and by counting a chunked stream) and
  bodies that are not JSON;
- hands over only what concerns kickoffs the tracker tracks, and leaves idempotence and
  ordering to the merge, the one place that decides.

It is a plain ASGI callable under a uvicorn server running as a task on the caller's event
loop: the same loop as the tracker, so ``on_push`` needs no locking across threads.
uvicorn is imported only when the receiver starts, keeping headless commands fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import re
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

from crewtui.api.errors import ConfigError
from crewtui.api.models import Observation, Step
from crewtui.api.pushes import PUSH_KINDS, PushKind, parse_push
from crewtui.api.redact import redact_bytes
from crewtui.api.validate import LOOPBACK

if TYPE_CHECKING:
    import uvicorn

logger = logging.getLogger(__name__)


DEFAULT_MAX_BODY_BYTES = 1_000_000
# Bounded waits: a receiver that cannot start or stop must not hang the app.
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0
# Concurrent connections beyond this get 503: caps memory at about this many bodies.
_MAX_CONNECTIONS = 32

OnPush = Callable[[list[Observation | Step]], Awaitable[None]]
IsTracked = Callable[[str], bool]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True, repr=False)
class WebhookUrls:
    """The three classic webhook URLs a kickoff carries; each holds the secret."""

    task: str
    step: str
    crew: str

    def __repr__(self) -> str:
        # The path is the receiver's only secret: keep it out of logs and tracebacks.
        return "WebhookUrls(<secret>)"


class _Refused(Exception):
    """A request the receiver answers with ``status`` and hands nothing over."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


_BODIES = {
    200: b'{"ok":true}',
    400: b'{"detail":"Bad Request"}',
    404: b'{"detail":"Not Found"}',
    413: b'{"detail":"Payload Too Large"}',
    500: b'{"detail":"Internal Server Error"}',
}


class WebhookReceiver:
    """The webhook endpoint: an ASGI app plus the uvicorn server that runs it.

    Counters for ``doctor`` and the status line: ``received`` requests accepted,
    ``rejected`` requests refused (404, 413, 400), ``ignored`` items dropped because their
    kickoff is not tracked.
    """

    def __init__(
        self,
        on_push: OnPush,
        is_tracked: IsTracked,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        secret: str,
        public_url: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        if not secret or max_body_bytes <= 0:
            raise ValueError("the receiver needs a secret and a positive body size cap")
        self._on_push = on_push
        self._is_tracked = is_tracked
        self._host = host
        self._port = port
        self._secret = secret.encode()
        self._public_url = public_url.rstrip("/") if public_url else None
        self._max_body_bytes = max_body_bytes
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.received = 0
        self.ignored = 0
        self.rejected = 0

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

    def _hook_url(self, kind: PushKind) -> str:
        return f"{self.base_url}/hooks/{self._secret.decode()}/{kind}"

    @property
    def urls(self) -> WebhookUrls:
        return WebhookUrls(
            task=self._hook_url("task"), step=self._hook_url("step"), crew=self._hook_url("crew")
        )

    @property
    def events_url(self) -> str:
        """For the batched form (a ``webhooks`` object at kickoff)."""
        return self._hook_url("events")

    @property
    def port(self) -> int:
        """The port listened on (the one picked by the system once started on port 0)."""
        return self._port

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on the current event loop; return once connections are being accepted.

        Raises ConfigError when the address cannot be bound or the server does not come up.
        """
        if self._task is not None:
            return
        sock = await _bind(self._host, self._port)
        self._port = sock.getsockname()[1]
        ready = asyncio.Event()
        server = _server_class()(_server_config(self), ready)
        self._server = server
        self._task = asyncio.create_task(_serve(server, sock), name="crewtui-webhooks")
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait(
            {waiter, self._task}, timeout=_START_TIMEOUT, return_when="FIRST_COMPLETED"
        )
        if not ready.is_set():
            waiter.cancel()
            await self.stop()
            raise ConfigError(f"The webhook receiver did not start on {self._host}:{self._port}.")

    async def stop(self) -> None:
        """Stop listening and let requests in flight finish, within a bounded wait."""
        task, server = self._task, self._server
        self._task = self._server = None
        if task is None or server is None:
            return
        server.should_exit = True
        done, _ = await asyncio.wait({task}, timeout=_STOP_TIMEOUT)
        if not done:
            server.force_exit = True
            task.cancel()
            await asyncio.wait({task})

    # -- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        status = await self._handle(scope, receive)
        await _respond(send, status)

    async def _handle(self, scope: Scope, receive: Receive) -> int:
        """The status to answer; never raises, whatever the request."""
        try:
            kind = self._route(scope)
            payload = _decode(await self._read_body(scope, receive))
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

    def _route(self, scope: Scope) -> PushKind:
        """``POST /hooks/<secret>/<kind>``; everything else is the same 404."""
        parts = str(scope.get("path", "")).split("/")
        if len(parts) != 4:
            raise _Refused(404)
        _, prefix, secret, kind = parts
        secret_ok = secrets.compare_digest(secret.encode("utf-8", "replace"), self._secret)
        if not (secret_ok and prefix == "hooks" and kind in PUSH_KINDS):
            raise _Refused(404)
        if scope.get("method") != "POST":
            raise _Refused(404)
        return cast(PushKind, kind)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        """The whole body, refused as soon as it is known to pass the cap."""
        declared = _content_length(scope)
        if declared is not None and declared > self._max_body_bytes:
            raise _Refused(413)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Refused(400)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body_bytes:
                raise _Refused(413)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
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


async def _respond(send: Send, status: int) -> None:
    body = _BODIES[status]
    # No "connection: close" on a refusal: closing with the body unread makes the kernel
    # reset the connection, and the sender gets a reset instead of the 413. uvicorn discards
    # the unread rest without keeping it.
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# -- the server ------------------------------------------------------------------------------


async def _bind(host: str, port: int) -> socket.socket:
    """A bound socket, so a taken port is a clear error here rather than uvicorn's exit."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        try:
            if os.name != "nt":  # on Windows this would let another process share the port
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
        except OSError:
            sock.close()
            raise
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(
            f"The webhook receiver cannot listen on {host}:{port}: {reason}."
        ) from exc
    return sock


def _server_config(app: WebhookReceiver) -> uvicorn.Config:
    import uvicorn

    return uvicorn.Config(
        app,
        log_config=None,  # never reconfigure the application's logging
        log_level="warning",
        access_log=False,  # request lines hold the secret
        lifespan="off",
        ws="none",
        http="h11",
        server_header=False,
        date_header=False,
        limit_concurrency=_MAX_CONNECTIONS,
        timeout_graceful_shutdown=2,
    )


@functools.cache
def _server_class() -> Callable[[uvicorn.Config, asyncio.Event], uvicorn.Server]:
    """uvicorn's server, embedded: it signals readiness and leaves signals to the app."""
    import uvicorn

    class EmbeddedServer(uvicorn.Server):
        def __init__(self, config: uvicorn.Config, ready: asyncio.Event) -> None:
            super().__init__(config)
            self._ready = ready

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # uvicorn would take over Ctrl+C for the whole process; the app owns it.
            yield

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            self._ready.set()

    return EmbeddedServer


async def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
    try:
        await server.serve(sockets=[sock])
    except SystemExit:
        # uvicorn exits the process when its startup fails; here that is start()'s error.
        logger.error("the webhook receiver could not start")
    finally:
        sock.close()


# -- the secret and the address ------------------------------------------------------------

_SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,}")


def load_or_create_secret(path: Path) -> str:
    """The install's webhook secret, made once (0600 file, in a 0700 dir when made here).

    Reused across runs, so kickoffs started earlier still reach the receiver after a restart.
    """
    try:
        existing = _read_secret(path)
        return existing if existing is not None else _create_secret(path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"The webhook secret file {path} cannot be used: {reason}.") from exc


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
