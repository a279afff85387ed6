"""``crewtui serve``: the tracker and the webhook receiver as a long-running service.

For a server, with no terminal: it follows every active kickoff of the history for the
configured crews (those other processes add too, through the store), receives webhooks
when ``--webhooks`` or ``[webhooks] listen`` says where, logs to stderr (text or JSON
lines, ``crewtui.core.service_logs``) and answers ``/healthz`` and ``/metrics`` on a
loopback port (``crewtui.core.status_endpoint``, ``crewtui.core.metrics``). It is wired
by ``crewtui.core.runtime`` like the app and the other commands.

Stopping: SIGTERM or SIGINT stops accepting (the endpoint, then the receiver, whose
requests in flight finish), stops polling, waits for the history writes under way, closes
the history and exits 0. A second signal exits at once: what was committed is safe, SQLite
does not lose a commit to a killed process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Sequence

from crewtui import __version__
from crewtui.api.errors import ApiError, ConfigError, CrewtuiError, StoreError
from crewtui.api.profile import CrewProfile
from crewtui.api.validate import is_loopback, parse_listen
from crewtui.cli import LISTEN_WHAT
from crewtui.config import Config, Paths, plain_http_warning, select_crews
from crewtui.core import service_logs
from crewtui.core.metrics import CONTENT_TYPE, ServeMetrics
from crewtui.core.runtime import NOT_KEPT, Runtime, assemble
from crewtui.core.service_logs import EventLog, fields
from crewtui.core.status_endpoint import StatusEndpoint, health_report
from crewtui.core.tracker import Tracker

log = logging.getLogger("crewtui.serve")

# Documented in the README: the health and metrics endpoint's address when not told.
DEFAULT_LISTEN = "127.0.0.1:8788"
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# How often a crew that is down or refuses the token is asked again, runs or no runs.
RECHECK_EVERY = 60.0


def status_address(text: str, allow_remote: bool) -> tuple[str, int]:
    """``--listen``: loopback, unless ``--allow-remote`` says another address is meant."""
    host, port = parse_listen(text, LISTEN_WHAT)
    if not allow_remote and not is_loopback(host):
        raise ConfigError(
            f"--listen {text} would let other machines read the health and metrics of your "
            "crews; add --allow-remote if that is meant, or listen on 127.0.0.1."
        )
    return host, port


def run_serve(args: argparse.Namespace, config: Config, paths: Paths, secrets: list[str]) -> int:
    """The command: logs set up first, so that every later line has the chosen form."""
    service_logs.configure(args.log_format, secrets)
    try:
        address = status_address(args.listen or DEFAULT_LISTEN, args.allow_remote)
        if args.public_url and not (args.webhooks or config.webhooks.listen):
            raise ConfigError(
                "--public-url needs --webhooks HOST:PORT (or [webhooks] listen in the config), "
                "the address the receiver listens on."
            )
        crews = select_crews(config, crew=args.crew, url=args.url, token=args.token)
        for crew in crews:
            token = crew.bearer()
            if token and token not in secrets:
                secrets.append(token)
        return asyncio.run(_serve(args, config, paths, crews, address))
    except CrewtuiError as error:
        log.error("%s", error.message)
        return int(error.exit_code)


async def _serve(
    args: argparse.Namespace,
    config: Config,
    paths: Paths,
    crews: Sequence[CrewProfile],
    address: tuple[str, int],
) -> int:
    """Listen first (a taken port stops everything before the history is opened), then
    assemble, run until a signal, and close the history last."""
    started = time.monotonic()
    stopping = StopSignals()  # a signal while starting stops it as soon as it has started
    endpoint = StatusEndpoint(*address)
    try:
        await endpoint.start()
        for crew in crews:
            warning = plain_http_warning(crew)
            if warning:
                log.warning("%s", warning, extra=fields(crew=crew.name))
        runtime = assemble(
            crews, config, paths, webhooks_listen=args.webhooks, public_url=args.public_url
        )
        try:
            log.info(
                "crewtui serve %s starting for %s",
                __version__,
                ", ".join(crew.name for crew in crews),
                extra=fields(crews=len(crews), history=runtime.store.location),
            )
            _refuse_unkept_history(runtime)
            for note in runtime.notes:
                log.error("%s", note)
            return await _run(runtime, endpoint, stopping, started)
        except CrewtuiError as error:
            log.error("%s", error.message)
            return int(error.exit_code)
        finally:
            runtime.store.close()
            log.info("stopped")
    finally:
        await endpoint.stop()
        stopping.close()


def _refuse_unkept_history(runtime: Runtime) -> None:
    """A service that cannot open its history would poll for nobody: it does not start."""
    if not runtime.store.persistent:
        why = " ".join(runtime.notes).replace(NOT_KEPT, "").strip()
        raise StoreError(f"{why} crewtui serve needs its history: fix that and start it again.")


async def _run(
    runtime: Runtime, endpoint: StatusEndpoint, stopping: StopSignals, started: float
) -> int:
    """Receive, poll and answer until SIGTERM or SIGINT; then stop in the order that loses
    nothing: stop accepting, stop polling, let the writes under way finish."""
    tracker, receiver = runtime.tracker, runtime.receiver
    metrics = ServeMetrics(tracker, receiver)
    checks: list[asyncio.Task[None]] = []
    try:
        endpoint.serve(lambda: health_report(tracker, started), metrics.exposition, CONTENT_TYPE)
        log.info("listening on %s for /healthz and /metrics", endpoint.url)
        if receiver is not None:
            await receiver.start()
            tracker.webhook_urls = receiver.urls
            # The base only: the hook paths hold the receiver's secret.
            log.info("receiving webhooks on %s", receiver.base_url)
        tracker.listen(EventLog(tracker, log))
        await tracker.start(resume=True)
        followed = [kickoff for kickoff in tracker.tracked() if not kickoff.is_terminal]
        log.info("started: following %d active kickoffs", len(followed))
        checks = [asyncio.create_task(check_crew(tracker, name)) for name in tracker.crews]
        signum = await stopping.wait()
        log.info("stopping on %s", signal.Signals(signum).name)
    finally:
        for task in checks:
            task.cancel()
        await endpoint.stop()
        if receiver is not None:
            await receiver.stop()
        await tracker.stop()
        # Writes handed to threads finish before the history closes.
        await asyncio.get_running_loop().shutdown_default_executor()
    return 0


async def check_crew(tracker: Tracker, crew: str, every: float = RECHECK_EVERY) -> None:
    """Ask a crew at start (GET /inputs, which needs the token), and again every ``every``
    seconds while it is not answering well: its health is then known at once, and its
    recovery seen, even when no run of it is being polled."""
    while True:
        if tracker.health(crew).state != "ok":
            with contextlib.suppress(ApiError):
                await tracker.inputs(crew)
        await asyncio.sleep(every)


class StopSignals:
    """SIGTERM and SIGINT: the first asks for a graceful stop, a second one forces it."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._received: asyncio.Future[int] = self._loop.create_future()
        for signum in _STOP_SIGNALS:
            self._loop.add_signal_handler(signum, self._on_signal, signum)

    def _on_signal(self, signum: int) -> None:
        if self._received.done():
            log.warning("second %s: exiting at once", signal.Signals(signum).name)
            logging.shutdown()
            os._exit(128 + signum)
        self._received.set_result(signum)

    async def wait(self) -> int:
        return await self._received

    def close(self) -> None:
        for signum in _STOP_SIGNALS:
            self._loop.remove_signal_handler(signum)
