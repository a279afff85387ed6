"""``crewtui demo``: the app on the simulator, alive within a second, touching nothing real.

The simulator runs in-process on a free loopback port with its four crews; the config and
the history live in a throwaway home (removed at exit), never the user's. A few kickoffs
start as soon as the tracker does (one of them fails on purpose), so there is something to
watch at once.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from crewtui.api.errors import CrewtuiError
from crewtui.api.profile import CrewProfile
from crewtui.config import (
    Config,
    Paths,
    PollSettings,
    WebhookSettings,
    resolve_paths,
    write_config,
)
from crewtui.core.runtime import Runtime, assemble
from crewtui.core.store import Store
from crewtui.sim import SimOptions, SimServer
from crewtui.ui.app import CrewtuiApp

# (crew, extra inputs): the research run is told to fail, to show what failure looks like.
DEMO_RUNS: tuple[tuple[str, dict[str, str]], ...] = (
    ("travel", {}),
    ("content", {}),
    ("research", {"fail": "1"}),
    ("outreach", {}),
)


class DemoApp(CrewtuiApp):
    """The app, plus a few kickoffs launched once the tracker runs."""

    def __init__(self, sim: SimServer, runtime: Runtime, config: Config, paths: Paths) -> None:
        super().__init__(runtime.tracker, config, paths, receiver=runtime.receiver)
        self.sim = sim
        self.sub_title = f"demo · simulator on {sim.base_url}"

    def on_crewtui_app_started(self) -> None:
        self.run_worker(self.launch(), group="demo")

    async def launch(self) -> None:
        """Start the demo runs together; a refusal is shown, never fatal."""
        results = await asyncio.gather(
            *(
                self.tracker.kickoff(crew, {**self.sim.sample_inputs(crew), **extra})
                for crew, extra in DEMO_RUNS
            ),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, CrewtuiError):
                self.notify(result.message, severity="error", markup=False)


def demo_config(sim: SimServer) -> Config:
    """A config naming the simulator's crews, with its token, brisk polling and webhooks.

    The webhook receiver on a free loopback port lets the demo show pushed steps and every
    task, as a real setup with ``--webhooks`` does.
    """
    crews = {
        name: CrewProfile(name=name, url=sim.crew_url(name), token=SecretStr(sim.options.token))
        for name in sim.CREWS
    }
    return Config(
        crews=crews,
        poll=PollSettings(min_interval=0.5, max_interval=5.0),
        webhooks=WebhookSettings(listen="127.0.0.1:0"),
    )


def run_demo(
    dialect: Literal["live", "documented"] = "live",
    *,
    speed: float = 10.0,
    home: Path | None = None,
    webhooks_listen: str | None = None,
    public_url: str | None = None,
) -> int:
    """Run the demo until the user quits; everything it started is stopped and removed.

    ``webhooks_listen`` and ``public_url`` replace the receiver's address (a free loopback
    port) as ``--webhooks`` and ``--public-url`` do for the app.
    """
    own_home = home is None
    root = Path(tempfile.mkdtemp(prefix="crewtui-demo-")) if home is None else home
    sim = SimServer(SimOptions(dialect=dialect, speed=speed))
    store: Store | None = None
    try:
        sim.start()
        paths = resolve_paths(root)
        config = demo_config(sim)
        write_config(paths, config)
        store = Store.open(paths.store_file)
        runtime = assemble(
            list(config.crews.values()),
            config,
            paths,
            store=store,
            webhooks_listen=webhooks_listen,
            public_url=public_url,
        )
        code = DemoApp(sim, runtime, config, paths).run()
        return code if code is not None else 0
    finally:
        if store is not None:
            store.close()
        sim.stop()
        if own_home:
            shutil.rmtree(root, ignore_errors=True)
