"""``crewtui web``: the app in a browser, served by textual-serve.

Each browser session gets its own ``crewtui`` app process (textual-serve runs the command
with Textual's web driver and relays the screen to xterm.js), over the same config and
history as the command that serves it: the options given to ``crewtui web`` (``--home``,
``--crew``, ``--url``, ``--webhooks``, ``--public-url``) are handed on on the app's command
line, and a ``--token`` through the environment (``TOKEN_HANDOFF_ENV``), which other users
cannot read as they can read a command line in ``ps``.

Anyone who can reach the port could drive the app (start and cancel runs), so it listens on
loopback unless ``--allow-remote`` says otherwise, and every address lives under a random
token, printed once: ``http://127.0.0.1:8789/<token>/``. A request without it, or a page of
another site opening the app's websocket (its ``Origin`` is not this server), gets 403.
The token is never logged (the access log is off) and never sent on (no ``Referer``).
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import ipaddress
import os
import shlex
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from secrets import token_urlsafe
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

from crewtui.api.errors import ConfigError
from crewtui.api.validate import is_loopback
from crewtui.cli import TOKEN_HANDOFF_ENV
from crewtui.config import HOME_ENV, Config, Paths, history_url, select_crews
from crewtui.core.guarded_http import bind_socket
from crewtui.serve import StopSignals

REFUSED = "This address needs its secret token: open the URL that crewtui web printed."
NOT_A_WEBSOCKET = "This address is the page's websocket: open the URL that crewtui web printed."

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def app_command(args: argparse.Namespace) -> str:
    """The command line of each session's app: ``crewtui`` with the options given here."""
    argv = [sys.executable, "-m", "crewtui"]
    home = args.home or os.environ.get(HOME_ENV)
    if home:
        argv += ["--home", str(Path(home).expanduser().absolute())]
    for flag, value in (
        ("--crew", args.crew),
        ("--url", args.url),
        ("--webhooks", args.webhooks),
        ("--public-url", args.public_url),
    ):
        if value is not None:
            argv += [flag, value]
    return shlex.join(argv)


class TokenServer(Server):
    """textual-serve's server, every route of it under ``/<token>/``, refusing the rest."""

    def __init__(self, command: str, token: str) -> None:
        super().__init__(command, title="crewtui")
        self.token = token

    async def _make_app(self) -> web.Application:
        """textual-serve's routes, mounted under the token, behind the guard."""
        inner: web.Application = await super()._make_app()
        outer = web.Application(middlewares=[self._guard])
        outer.add_subapp(f"/{self.token}", inner)
        return outer

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        first = request.path.split("/", 2)[1]
        if not hmac.compare_digest(first.encode(), self.token.encode()):
            return web.Response(status=403, text=REFUSED)
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            return web.Response(status=403, text="Another site cannot open this app.")
        if request.path == f"/{self.token}":
            raise web.HTTPFound(f"/{self.token}/")
        response = await handler(request)
        if not response.prepared:
            response.headers["Referrer-Policy"] = "no-referrer"
            response.headers["X-Frame-Options"] = "DENY"
        return response

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """The page, its websocket and static URLs on the address the browser used (so a
        server on 0.0.0.0 or [::] works from another machine)."""
        self.public_url = f"{request.scheme}://{request.host}"
        response: web.StreamResponse = await super().handle_index(request)
        return response

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """A plain GET of the websocket's address (a link opened, a proxy's probe) is
        answered 400 with one sentence; textual-serve would drop the connection and print
        two tracebacks on the server's terminal."""
        if not web.WebSocketResponse().can_prepare(request).ok:
            raise web.HTTPBadRequest(text=NOT_A_WEBSOCKET)
        return await super().handle_websocket(request)

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints a banner here; ``run_web`` prints the address instead."""


def web_address(host: str, allow_remote: bool) -> str:
    """``--host``: loopback unless ``--allow-remote`` says another address is meant."""
    if not allow_remote and not is_loopback(host):
        raise ConfigError(
            f"--host {host} would let other machines drive crewtui (start and cancel runs) "
            "with the token; add --allow-remote if that is meant, or use 127.0.0.1."
        )
    return host


def run_web(args: argparse.Namespace, config: Config, paths: Paths, secrets: list[str]) -> int:
    """The command: check what the app will need, then serve until a signal."""
    host = web_address(args.host, args.allow_remote)
    # Each session would stop on a bad crew choice: say it once, here, instead.
    for crew in select_crews(config, crew=args.crew, url=args.url, token=args.token):
        token = crew.bearer()
        if token and token not in secrets:
            secrets.append(token)
    # A shared history that cannot be opened stops each session: refuse now, as every
    # command does (one sentence, exit 2 or 6), not after a browser opened the page.
    if history_url(config.history) is not None:
        from crewtui.core.runtime import open_store

        store, _ = open_store(paths, config.history)
        store.close()
    if args.token is not None:
        os.environ[TOKEN_HANDOFF_ENV] = args.token
    try:
        return asyncio.run(_serve(app_command(args), host, args.port))
    finally:
        os.environ.pop(TOKEN_HANDOFF_ENV, None)


def page_url(sock: socket.socket, token: str) -> str:
    """The address to open: the bound one, or this machine's name when bound to all."""
    host, port = sock.getsockname()[:2]
    if ipaddress.ip_address(host).is_unspecified:
        host = socket.gethostname()
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/{token}/"


async def _serve(command: str, host: str, port: int) -> int:
    """Listen first (a taken port is one sentence, exit 2), print the address, serve."""
    sock = await bind_socket(host, port, "crewtui web")
    stopping = StopSignals()
    server = TokenServer(command, token_urlsafe(24))
    runner = web.AppRunner(await server._make_app(), access_log=None, handle_signals=False)
    try:
        await runner.setup()
        await web.SockSite(runner, sock).start()
        sys.stdout.write(
            f"crewtui web: open {page_url(sock, server.token)} in a browser (ctrl+c stops it)\n"
        )
        sys.stdout.flush()
        await stopping.wait()
    finally:
        # aiohttp closes each browser's websocket: textual-serve then tells that session's
        # app to quit, and the app closes its history as on any quit.
        await runner.cleanup()
        stopping.close()
    return 0
