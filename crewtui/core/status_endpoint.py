"""``crewtui serve``'s health and metrics endpoint: ``GET /healthz`` and ``GET /metrics``.

It runs on the guarded server the webhook receiver uses (``crewtui.core.guarded_http``):
a scraper or a probe that stalls cannot hold it. It binds loopback by default and answers
without a token there; ``serve`` refuses another address unless told it is meant. Neither
answer holds a secret: crews appear by name, never by URL.

``/healthz`` answers 200 while the history takes writes, even when a crew is down (the
process is doing its job: the body says which crew is not answering), and 503 when the
history cannot keep what is polled: read-only, or failing to write.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from crewtui.api.errors import ConfigError
from crewtui.core.guarded_http import Answer, GuardedServer, Limits, Request, bind_socket
from crewtui.core.tracker import Tracker

HistoryHealth = Literal["ok", "readonly", "failing"]
# Probes and scrapers send small requests quickly; a slow one is not worth waiting for.
_LIMITS = Limits(header_timeout=5.0, body_timeout=5.0, max_connections=32, max_per_client=8)
_STOP_GRACE = 2.0
_NOT_FOUND = Answer(404, b'{"detail":"Not Found"}')
_NOT_ALLOWED = Answer(405, b'{"detail":"Method Not Allowed"}')


def history_health(tracker: Tracker) -> HistoryHealth:
    """Whether the history keeps what this process learns."""
    if tracker.store.read_only is not None:
        return "readonly"
    return "failing" if tracker.store_error is not None else "ok"


def health_report(tracker: Tracker, started: float) -> tuple[int, dict[str, object]]:
    """``/healthz``'s status code and body: the crews' health, the history's, the uptime."""
    crews = {health.crew: health.state for health in tracker.healths()}
    history = history_health(tracker)
    if history != "ok":
        status = "unavailable"
    elif all(state in ("ok", "unknown") for state in crews.values()):
        status = "ok"
    else:
        status = "degraded"
    body: dict[str, object] = {
        "status": status,
        "crews": crews,
        "history": history,
        "uptime": round(time.monotonic() - started, 3),
    }
    return (200 if history == "ok" else 503), body


def _starting() -> tuple[int, dict[str, object]]:
    return 503, {"status": "starting"}


class StatusEndpoint:
    """Serves ``/healthz`` and ``/metrics`` on ``host:port`` until stopped."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._health: Callable[[], tuple[int, dict[str, object]]] = _starting
        self._metrics: Callable[[], Awaitable[bytes]] | None = None
        self._metrics_type = "text/plain"
        self._server: GuardedServer | None = None

    def serve(
        self,
        health: Callable[[], tuple[int, dict[str, object]]],
        metrics: Callable[[], Awaitable[bytes]],
        metrics_type: str,
    ) -> None:
        """Answer from these from now on (until then: 503, starting)."""
        self._health = health
        self._metrics = metrics
        self._metrics_type = metrics_type

    @property
    def url(self) -> str:
        """Where it listens (the real port once started on port 0)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    async def start(self) -> None:
        """Listen; a taken port or an unknown host is one sentence (ConfigError)."""
        sock = await bind_socket(self._host, self._port, "The health and metrics endpoint")
        self._port = sock.getsockname()[1]
        server = GuardedServer(self._answer, _LIMITS)
        try:
            await server.start(sock)
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"The health and metrics endpoint cannot listen on {self.url}: "
                f"{exc.strerror or exc}."
            ) from exc
        self._server = server

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop(_STOP_GRACE)

    async def _answer(self, request: Request) -> Answer:
        if request.path not in ("/healthz", "/metrics"):
            return _NOT_FOUND
        if request.method != "GET":
            return _NOT_ALLOWED
        if request.path == "/metrics":
            if self._metrics is None:
                return Answer(503, b"", "text/plain")
            return Answer(200, await self._metrics(), self._metrics_type)
        status, body = self._health()
        return Answer(status, json.dumps(body, ensure_ascii=True).encode())
