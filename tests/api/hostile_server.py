"""A small, real, hostile HTTP/1.1 server for fault tests: raw asyncio TCP on 127.0.0.1.

A test scripts the next answers (``server.script(...)``), then points a client at
``server.url``. Every request is recorded (method, target, lower-cased headers, body), so a
test can count attempts and check what was sent. Besides ordinary answers it can hang,
drip one byte at a time, reset the connection after reading the request, close early,
send a Content-Length it never fulfils, gzip bombs and redirects. With ``ssl=`` it serves
HTTPS (see ``self_signed_tls``), for tests about https → http redirects.

Made for the API client tests and for the hardening tests; import it from anywhere under
``tests/`` as ``hostile_server`` (tests/api is on sys.path through its conftest).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import shutil
import socket
import ssl as ssl_module
import struct
import subprocess
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Any, Self


class Action(Enum):
    """What the server does with a request once it has read it."""

    RESPOND = "respond"  # an ordinary answer
    HANG = "hang"  # never answer (until the server stops)
    DRIP = "drip"  # the whole answer, one byte per ``interval``
    RESET = "reset"  # TCP RST after reading the request (a reset after send)
    CLOSE = "close"  # close cleanly without a byte of answer


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    action: Action = Action.RESPOND
    interval: float = 0.05
    # Announce this length instead of the real one (larger: a body cut short).
    content_length: int | None = None

    def encode(self) -> bytes:
        """The bytes on the wire: status line, headers, body."""
        length = len(self.body) if self.content_length is None else self.content_length
        lines = [f"HTTP/1.1 {self.status} Scripted"]
        names = {name.lower() for name, _ in self.headers}
        lines += [f"{name}: {value}" for name, value in self.headers]
        if "content-length" not in names:
            lines.append(f"Content-Length: {length}")
        lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


@dataclass(frozen=True)
class Recorded:
    """One request as the server read it."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


# -- reply builders ------------------------------------------------------------------------


def json_reply(status: int, payload: Any, *headers: tuple[str, str]) -> Reply:
    body = json.dumps(payload).encode()
    return Reply(status, (("Content-Type", "application/json"), *headers), body)


def raw_reply(
    status: int, body: bytes | str, content_type: str, *headers: tuple[str, str]
) -> Reply:
    data = body.encode() if isinstance(body, str) else body
    return Reply(status, (("Content-Type", content_type), *headers), data)


def gzip_reply(status: int, body: bytes, content_type: str = "application/json") -> Reply:
    """A gzip-encoded answer (``body`` is the decompressed content)."""
    compressed = gzip.compress(body, compresslevel=9)
    headers = (("Content-Type", content_type), ("Content-Encoding", "gzip"))
    return Reply(status, headers, compressed)


def redirect(status: int, location: str) -> Reply:
    return Reply(status, (("Location", location),))


def hang() -> Reply:
    return Reply(action=Action.HANG)


def reset() -> Reply:
    return Reply(action=Action.RESET)


def close() -> Reply:
    return Reply(action=Action.CLOSE)


def drip(reply: Reply, interval: float = 0.05) -> Reply:
    return Reply(
        reply.status, reply.headers, reply.body, Action.DRIP, interval, reply.content_length
    )


def truncated(reply: Reply, cut: int) -> Reply:
    """``reply`` announcing its full length but closing after ``cut`` bytes of body."""
    return Reply(reply.status, reply.headers, reply.body[:cut], content_length=len(reply.body))


# -- the server ----------------------------------------------------------------------------


@dataclass
class HostileServer:
    """Scripted answers in order; once they run out, ``fallback``."""

    port: int = 0
    ssl: ssl_module.SSLContext | None = None
    fallback: Reply = field(
        default_factory=lambda: raw_reply(500, "no scripted reply", "text/plain")
    )
    requests: list[Recorded] = field(default_factory=list)
    _queue: list[Reply] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _seen: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def script(self, *replies: Reply) -> None:
        """Queue the next answers, in order."""
        self._queue.extend(replies)

    async def wait_for_requests(self, count: int, timeout: float = 5.0) -> None:
        """Return once ``count`` requests were read (no sleeping: a condition)."""
        async with asyncio.timeout(timeout), self._seen:
            await self._seen.wait_for(lambda: len(self.requests) >= count)

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, ssl=self.ssl
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Stop listening and end every connection, hanging ones included."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            recorded = await _read_request(reader)
            if recorded is None:
                return
            async with self._seen:
                self.requests.append(recorded)
                self._seen.notify_all()
            reply = self._queue.pop(0) if self._queue else self.fallback
            await _act(reply, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl_module.SSLError):
            pass  # the client went away: that is its right
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()


async def _read_request(reader: asyncio.StreamReader) -> Recorded | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, _version = request_line.split(" ", 2)
    headers: dict[str, str] = {}
    for line in header_lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Recorded(method, target, headers, body)


async def _act(reply: Reply, writer: asyncio.StreamWriter) -> None:
    if reply.action is Action.HANG:
        await asyncio.Event().wait()  # until the server stops and cancels this task
    elif reply.action is Action.RESET:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    elif reply.action is Action.CLOSE:
        writer.close()
    elif reply.action is Action.DRIP:
        for byte in reply.encode():
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(reply.interval)  # the fault under test: a slow server
    else:
        writer.write(reply.encode())
        await writer.drain()


def self_signed_tls(directory: Path) -> tuple[ssl_module.SSLContext, ssl_module.SSLContext]:
    """(server context, client context trusting it) for 127.0.0.1, made with openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl is needed to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server = ssl_module.create_default_context(ssl_module.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl_module.create_default_context(cafile=str(cert))
    return server, client
