"""A small HTTP/1.1 server (h11 over asyncio streams) that bounds what each client may cost.

Made for the webhook receiver, which anyone who can reach it may talk to; ``crewtui serve``
answers its health and metrics checks with it too. uvicorn, used before, starts no timer
until a request's headers are complete and counts idle connections against its
concurrency limit: 40 connections that sent only a request line
made it answer 503 to every real webhook (and write "Exceeded concurrency limit." onto
the terminal). Patching its private protocol class would break with its next release;
with h11 doing the parsing, each limit here is a few plain lines:

- a request's headers must be complete within ``header_timeout`` of the connection (or of
  the previous answer, on a kept-alive connection), its body within ``body_timeout``;
- one client (an IP address) holds at most ``max_per_client`` connections, the server
  ``max_connections``; when full, the oldest connection that has waited ``idle_grace``
  for its headers (an idle or a slow one, never a request being served nor a sender that
  just connected) is closed to make room; when there is none, the newcomer waits up to
  ``admit_wait`` for a place (a burst of real webhooks from one sender, or through one
  tunnel, is served, not refused: the service never sends a webhook twice), and only
  then, or when ``max_queued`` newcomers already wait, is it refused with a 503;
- a client's misbehaviour is logged at DEBUG only: it is its problem, not the user's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import NamedTuple
from urllib.parse import unquote

import h11

from crewtui.api.errors import ConfigError

logger = logging.getLogger(__name__)

_READ_SIZE = 64 * 1024
_REFUSED = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


@dataclass(frozen=True)
class Limits:
    """What one client may cost the server, in time and connections."""

    header_timeout: float = 10.0
    body_timeout: float = 10.0
    max_connections: int = 64
    max_per_client: int = 16
    admit_wait: float = 10.0
    max_queued: int = 1024
    idle_grace: float = 0.25
    max_header_bytes: int = 16 * 1024
    # After an answer sent before the body was read, how long its rest is read and dropped,
    # so closing does not reset the connection under the answer.
    linger: float = 2.0


class BodyTooLarge(Exception):
    """The body grew past the limit its reader gave."""


class BodyIncomplete(Exception):
    """The body did not arrive whole: the client went away or was too slow."""


@dataclass
class Request:
    """One request's head; its body is read on demand, under a size limit and a deadline."""

    method: str
    path: str
    headers: list[tuple[bytes, bytes]]
    _read_body: Callable[[int], Awaitable[bytes]] = field(repr=False)

    async def body(self, limit: int) -> bytes:
        """The whole body; BodyTooLarge past ``limit`` bytes, BodyIncomplete if cut or slow."""
        return await self._read_body(limit)


class Answer(NamedTuple):
    """The answer to a request: its status and body (JSON unless said otherwise)."""

    status: int
    body: bytes
    content_type: str = "application/json"


Handler = Callable[[Request], Awaitable[Answer]]


@dataclass(eq=False)
class _Client:
    """One open connection: whose it is, and whether it is waiting for a request's head."""

    host: str
    task: asyncio.Task[None] | None
    writer: asyncio.StreamWriter
    waiting: bool = True
    # When it began waiting for a request's head (loop time).
    waiting_since: float = field(default_factory=lambda: asyncio.get_running_loop().time())

    def idle_for(self, now: float) -> float:
        """How long it has waited for a request's head; 0 while a request is served."""
        return now - self.waiting_since if self.waiting else 0.0

    def drop(self) -> None:
        """Close at once. Its task then ends by itself: cancelling it would make Python
        3.11's stream callback log the CancelledError as an error."""
        self.writer.transport.abort()


async def bind_socket(host: str, port: int, what: str) -> socket.socket:
    """A bound socket, so a taken port is one clear sentence (naming ``what`` could not
    listen) before serving starts."""
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
        raise ConfigError(f"{what} cannot listen on {host}:{port}: {reason}.") from exc
    return sock


class GuardedServer:
    """Serves ``handler`` on a bound socket, on the running loop, within ``limits``."""

    def __init__(self, handler: Handler, limits: Limits) -> None:
        self._handler = handler
        self._limits = limits
        self._server: asyncio.Server | None = None
        # In order of arrival: the first waiting one is the oldest.
        self._clients: dict[_Client, None] = {}
        # Newcomers waiting for a place, woken each time a connection ends.
        self._room = asyncio.Condition()
        self._queued = 0
        # Set by stop: requests still being served are answered, then their connections close.
        self._stopping = False

    async def start(self, sock: socket.socket) -> None:
        """Accept connections on ``sock`` (bound, not yet listening) from now on."""
        self._server = await asyncio.start_server(self._serve, sock=sock, limit=_READ_SIZE)

    async def stop(self, grace: float) -> None:
        """Stop listening; requests being served get ``grace`` seconds, idle ones none.

        A kept-alive connection whose request is answered meanwhile closes with its answer
        (``connection: close``): waiting for a next request would hold stop for the whole
        grace, as the simulator's sender did after a run's last webhook.
        """
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping = True
        server.close()
        async with self._room:
            self._room.notify_all()
        for client in list(self._clients):
            if client.waiting:
                client.drop()
        tasks = {client.task for client in self._clients if client.task is not None}
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for client in list(self._clients):
                client.drop()
            if pending:  # a handler that outlived its connection
                _, stuck = await asyncio.wait(pending, timeout=grace)
                for task in stuck:
                    task.cancel()
                if stuck:
                    await asyncio.wait(stuck)
        await server.wait_closed()

    @property
    def open_connections(self) -> int:
        return len(self._clients)

    # -- admission --------------------------------------------------------------------------

    def _admit(self, host: str, writer: asyncio.StreamWriter) -> _Client | None:
        """A place for a new connection from ``host``, making room if needed; None if full."""
        limits = self._limits
        mine = [client for client in self._clients if client.host == host]
        if len(mine) >= limits.max_per_client and not self._evict(mine):
            return None
        if len(self._clients) >= limits.max_connections and not self._evict(list(self._clients)):
            return None
        client = _Client(host=host, task=asyncio.current_task(), writer=writer)
        self._clients[client] = None
        return client

    def _evict(self, candidates: list[_Client]) -> bool:
        """Close the oldest of ``candidates`` that has waited for a request's head for
        ``idle_grace``: a sender that just connected is about to speak, not idle."""
        now = asyncio.get_running_loop().time()
        for client in candidates:
            if client.idle_for(now) >= self._limits.idle_grace:
                logger.debug("closing an idle connection from %s to make room", client.host)
                del self._clients[client]
                client.drop()
                return True
        return False

    # -- one connection ---------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        client = self._admit(host, writer) or await self._wait_for_room(host, writer)
        if client is None:
            logger.debug("refused a connection from %s: no room", host)
            with contextlib.suppress(OSError):
                writer.write(_REFUSED)
            writer.close()
            return
        try:
            await self._exchange(client, _Wire(reader, writer, self._limits))
        except (OSError, h11.ProtocolError, BodyIncomplete, TimeoutError) as error:
            logger.debug("connection from %s ended: %s", host, type(error).__name__)
        except Exception:
            logger.exception("the webhook server failed on a connection")
        finally:
            self._clients.pop(client, None)
            writer.close()
            async with self._room:
                self._room.notify_all()

    async def _wait_for_room(self, host: str, writer: asyncio.StreamWriter) -> _Client | None:
        """Wait (a bounded while, a bounded number of newcomers) for a connection to end."""
        if self._queued >= self._limits.max_queued:
            return None
        self._queued += 1
        admitted: list[_Client] = []

        def admit() -> bool:
            if self._stopping:
                return True  # no more newcomers
            client = self._admit(host, writer)
            if client is not None:
                admitted.append(client)
            return client is not None

        recheck = self._limits.idle_grace / 4  # a waiting connection may become evictable
        try:
            async with asyncio.timeout(self._limits.admit_wait):
                while not admit():
                    async with self._room:
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(recheck):
                                await self._room.wait()
        except TimeoutError:
            return None
        finally:
            self._queued -= 1
        return admitted[0] if admitted else None

    async def _exchange(self, client: _Client, wire: _Wire) -> None:
        """Requests and answers on one connection until it closes, times out or errs."""
        while not self._stopping:
            client.waiting = True
            client.waiting_since = asyncio.get_running_loop().time()
            try:
                async with asyncio.timeout(self._limits.header_timeout):
                    event = await wire.next_event()
            except h11.RemoteProtocolError as error:
                await wire.answer(error.error_status_hint, b"", "application/json")
                return
            if not isinstance(event, h11.Request):
                return  # closed, or too slow to say what it wants
            client.waiting = False
            request = Request(
                method=event.method.decode("ascii", "replace"),
                path=unquote(event.target.decode("latin-1").partition("?")[0]),
                headers=list(event.headers),
                _read_body=wire.read_body,
            )
            status, body, content_type = await self._handler(request)
            await wire.answer(status, body, content_type, closing=self._stopping)
            if wire.body_unread:
                await wire.linger()
                return
            if wire.conn.our_state is h11.MUST_CLOSE:
                return
            wire.conn.start_next_cycle()


class _Wire:
    """One connection's bytes through h11."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limits: Limits
    ) -> None:
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=limits.max_header_bytes)
        self._reader = reader
        self._writer = writer
        self._limits = limits

    @property
    def body_unread(self) -> bool:
        return self.conn.their_state is h11.SEND_BODY

    async def next_event(self) -> object:
        """The next h11 event (a Request, Data, EndOfMessage, ConnectionClosed...)."""
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            self.conn.receive_data(await self._reader.read(_READ_SIZE))

    async def read_body(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self._limits.body_timeout):
                while True:
                    event = await self.next_event()
                    if isinstance(event, h11.Data):
                        size += len(event.data)
                        if size > limit:
                            raise BodyTooLarge
                        chunks.append(bytes(event.data))
                    elif isinstance(event, h11.EndOfMessage):
                        return b"".join(chunks)
                    else:
                        raise BodyIncomplete
        except (TimeoutError, h11.RemoteProtocolError, OSError):
            raise BodyIncomplete from None

    async def answer(
        self, status: int, body: bytes, content_type: str, closing: bool = False
    ) -> None:
        """Send the answer; with ``closing`` (or a request not read whole) the connection
        closes after it, and the header says so."""
        if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        headers = [("content-type", content_type), ("content-length", str(len(body)))]
        if closing or self.body_unread or self.conn.their_state is h11.ERROR:
            headers.append(("connection", "close"))
        reason = HTTPStatus(status).phrase.encode()
        data = self.conn.send(h11.Response(status_code=status, headers=headers, reason=reason))
        data = (data or b"") + (self.conn.send(h11.Data(data=body)) or b"")
        data += self.conn.send(h11.EndOfMessage()) or b""
        self._writer.write(data)
        await self._writer.drain()

    async def linger(self) -> None:
        """Say we are done, then drop what the client still sends, for a little while.

        Closing with unread bytes makes the kernel reset the connection, and the client may
        lose the answer already sent (a 413) to the reset.
        """
        with contextlib.suppress(OSError, TimeoutError):
            if self._writer.can_write_eof():
                self._writer.write_eof()
            async with asyncio.timeout(self._limits.linger):
                while await self._reader.read(_READ_SIZE):
                    pass
