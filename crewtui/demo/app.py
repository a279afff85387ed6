"""``crewtui demo``: the app on the simulator, alive within a second, touching nothing real.

The simulator runs in-process on a free loopback port with its four crews; the config and
the history live in a throwaway home (removed at exit), never the user's. The history
starts with a few days of earlier runs (:mod:`crewtui.demo.history`), and new runs keep
starting while the app is open (:mod:`crewtui.demo.schedule`), both from one seed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from crewtui.api.errors import CrewtuiError
from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.api.states import Dialect
from crewtui.config import Config, Paths, resolve_paths, write_config
from crewtui.core.history import History
from crewtui.core.runtime import Runtime, assemble
from crewtui.core.store import Store
from crewtui.demo.history import seed_history
from crewtui.demo.schedule import Launch, Launcher, plan
from crewtui.settings import PollSettings, WebhookSettings
from crewtui.sim import SimOptions, SimServer
from crewtui.ui.app import CrewtuiApp

DEFAULT_SEED = 2026

log = logging.getLogger(__name__)


class DemoApp(CrewtuiApp):
    """The app, plus a launcher that keeps starting runs once the tracker runs."""

    def __init__(
        self,
        sim: SimServer,
        runtime: Runtime,
        config: Config,
        paths: Paths,
        launches: Iterable[Launch],
        **options: Any,
    ) -> None:
        super().__init__(runtime.tracker, config, paths, receiver=runtime.receiver, **options)
        self.sim = sim
        self._launching: asyncio.Task[None] | None = None
        self.launcher = Launcher(runtime.tracker, launches, speed=sim.options.speed)
        self.sub_title = f"demo · simulator on {sim.base_url}"

    def on_crewtui_app_started(self) -> None:
        # A task, not a worker: the launcher never ends, and waiting for the app's workers
        # (tests, screenshots) must not wait for it.
        self._launching = asyncio.create_task(self.launcher.run(self._refused), name="demo")
        self._launching.add_done_callback(self._launcher_stopped)

    async def on_unmount(self) -> None:
        """Stop launching before the app's own unmount (called after this) stops the tracker."""
        if self._launching is not None:
            self._launching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._launching

    def _refused(self, error: CrewtuiError) -> None:
        self.notify(error.message, severity="error", markup=False)

    def _launcher_stopped(self, task: asyncio.Task[None]) -> None:
        """The launcher only ends when cancelled; anything else is shown, not lost."""
        if task.cancelled() or task.exception() is None:
            return
        log.error("the demo stopped starting runs", exc_info=task.exception())
        self.notify("The demo stopped starting new runs; see the log.", severity="error")


def demo_config(sim: SimServer, poll: PollSettings | None = None) -> Config:
    """A config naming the simulator's crews and flow, with its token, brisk polling and
    webhooks.

    The webhook receiver on a free loopback port lets the demo show pushed steps and every
    task, as a real setup with ``--webhooks`` does.
    """
    crews = {
        name: CrewProfile(name=name, url=sim.crew_url(name), token=Secret(sim.options.token))
        for name in (*sim.CREWS, *sim.FLOWS)
    }
    return Config(
        crews=crews,
        poll=poll or PollSettings(min_interval=0.5, max_interval=5.0),
        webhooks=WebhookSettings(listen="127.0.0.1:0"),
    )


def build_demo(
    sim: SimServer,
    paths: Paths,
    store: History,
    *,
    seed: int = DEFAULT_SEED,
    now: datetime | None = None,
    launches: Iterable[Launch] | None = None,
    poll: PollSettings | None = None,
    webhooks_listen: str | None = None,
    public_url: str | None = None,
    **options: Any,
) -> DemoApp:
    """The demo over ``store``: the seed's history written in, the runtime assembled.

    ``launches`` defaults to the seed's endless plan; the screenshots pass a few of them.
    ``webhooks_listen`` and ``public_url`` replace the receiver's address (a free loopback
    port) as ``--webhooks`` and ``--public-url`` do for the app. ``options`` go to the app
    (clock, time zone, notifications).
    """
    config = demo_config(sim, poll)
    write_config(paths, config)
    seed_history(store, seed=seed, now=now, dialect=Dialect(sim.options.dialect))
    runtime = assemble(
        list(config.crews.values()),
        config,
        paths,
        store=store,
        webhooks_listen=webhooks_listen,
        public_url=public_url,
    )
    chosen = plan(seed) if launches is None else launches
    return DemoApp(sim, runtime, config, paths, chosen, **options)


def run_demo(
    dialect: Literal["live", "documented"] = "live",
    *,
    speed: float = 10.0,
    seed: int | None = None,
    home: Path | None = None,
    webhooks_listen: str | None = None,
    public_url: str | None = None,
) -> int:
    """Run the demo until the user quits; everything it started is stopped and removed.

    Without a ``seed``, the demo's own: every demo shows the same day.
    """
    seed = DEFAULT_SEED if seed is None else seed
    own_home = home is None
    root = Path(tempfile.mkdtemp(prefix="crewtui-demo-")) if home is None else home
    sim = SimServer(SimOptions(dialect=dialect, speed=speed, seed=seed))
    store: Store | None = None
    try:
        sim.start()
        paths = resolve_paths(root)
        store = Store.open(paths.store_file)
        app = build_demo(
            sim, paths, store, seed=seed, webhooks_listen=webhooks_listen, public_url=public_url
        )
        code = app.run()
        return code if code is not None else 0
    finally:
        if store is not None:
            store.close()
        sim.stop()
        if own_home:
            shutil.rmtree(root, ignore_errors=True)
