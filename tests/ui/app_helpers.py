"""Build the app on a real simulator and a real SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from textual._compositor import Compositor
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget

from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.config import Config, Paths, resolve_paths
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.settings import PollSettings
from crewtui.sim import SimServer
from crewtui.ui.app import CrewtuiApp
from crewtui.ui.screens.main import MainScreen

# Brisk polling so a run at simulator speed 100 is seen moving within a test.
FAST_POLL = PollSettings(min_interval=0.05, max_interval=0.3)
# How long an app may take to start following runs before a test gives up.
STARTED_WITHIN = 30.0


@contextmanager
def refreshes_asked() -> Iterator[list[tuple[Widget, bool]]]:
    """The widgets asked to refresh meanwhile, each with whether it asked for a layout of
    the screen (which arranges every widget again)."""
    asked: list[tuple[Widget, bool]] = []
    refresh = Widget.refresh

    def spy(widget: Widget, *regions: object, **options: bool) -> Widget:
        asked.append((widget, bool(options.get("layout"))))
        return refresh(widget, *regions, **options)  # type: ignore[arg-type]

    Widget.refresh = spy  # type: ignore[method-assign]
    try:
        yield asked
    finally:
        Widget.refresh = refresh  # type: ignore[method-assign]


@contextmanager
def regions_repainted() -> Iterator[list[Region]]:
    """The screen regions painted meanwhile (what the compositor sends to the terminal)."""
    painted: list[Region] = []
    render_update = Compositor.render_update

    def spy(compositor: Compositor, *args: object, **options: object) -> object:
        painted.extend(compositor._dirty_regions)
        return render_update(compositor, *args, **options)  # type: ignore[arg-type]

    Compositor.render_update = spy  # type: ignore[assignment,method-assign]
    try:
        yield painted
    finally:
        Compositor.render_update = render_update  # type: ignore[method-assign]


@contextmanager
def layouts_asked() -> Iterator[list[str]]:
    """The widgets (``Type#id``) that ask for a layout of the screen meanwhile."""
    layouts: list[str] = []
    with refreshes_asked() as asked:
        yield layouts
    layouts.extend(f"{type(widget).__name__}#{widget.id}" for widget, layout in asked if layout)


def sim_crews(sim: SimServer, token: str | None = None) -> list[CrewProfile]:
    """Every crew of the simulator, with its token (or the one given)."""
    return [
        CrewProfile(name=name, url=sim.crew_url(name), token=Secret(token or sim.options.token))
        for name in sim.CREWS
    ]


class AppFactory:
    """Makes apps over one home; closes their stores at the end of the test."""

    def __init__(self, home: Path) -> None:
        self.paths: Paths = resolve_paths(home)
        self._stores: list[Store] = []
        self._apps: list[CrewtuiApp] = []

    def store(self) -> Store:
        store = Store.open(self.paths.store_file)
        self._stores.append(store)
        return store

    def __call__(
        self, crews: list[CrewProfile], *, keys: dict[str, str] | None = None, **kwargs: object
    ) -> CrewtuiApp:
        config = Config(crews={crew.name: crew for crew in crews}, poll=FAST_POLL, keys=keys or {})
        tracker = Tracker(crews, self.store(), FAST_POLL)
        app = CrewtuiApp(tracker, config, self.paths, **kwargs)  # type: ignore[arg-type]
        self._apps.append(app)
        return app

    def close(self) -> None:
        for store in self._stores:
            store.close()
        # The app survives a worker's unexpected error (a toast): a test must not.
        errors = [error for app in self._apps for error in app.unexpected_errors]
        if errors:
            raise AssertionError(f"a worker failed unexpectedly: {errors!r}") from errors[0]


async def main_screen(pilot: Pilot[int]) -> MainScreen:
    """The app's main screen, once the app follows runs: its tracker starts after the
    list's first frame (``CrewtuiApp.start_following``)."""
    app = pilot.app
    assert isinstance(app, CrewtuiApp)
    async with asyncio.timeout(STARTED_WITHIN):
        await app.following.wait()
    return app.main
