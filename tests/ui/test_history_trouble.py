"""A history that stops taking writes mid-session (a full disk, a file made immutable)
is announced once in the app, and the app keeps tracking in memory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.message import Message
from textual.notifications import Notify

from crewtui.sim import SimServer
from crewtui.ui.pilot import settle
from tests.ui.app_helpers import AppFactory, sim_crews


async def test_a_history_that_stops_taking_writes_is_announced_once(
    sim: SimServer, make_app: AppFactory, immutable: Callable[[Path], None]
) -> None:
    notes: list[Message] = []
    app = make_app(sim_crews(sim))
    store_file = make_app.paths.store_file

    def warnings() -> list[str]:
        return [
            note.notification.message
            for note in notes
            if isinstance(note, Notify) and note.notification.title == "History not saved"
        ]

    async with app.run_test(size=(120, 36), notifications=True, message_hook=notes.append) as pilot:
        await settle(pilot, lambda: app.tracker.store is not None)
        # Not the -shm: SQLite writes it through a shared mapping, and the kernel answers a
        # write into an immutable mapped file with SIGBUS, which no full disk does.
        for path in sorted(store_file.parent.iterdir()):
            if not path.name.endswith("-shm"):
                immutable(path)
        immutable(store_file.parent)
        first = await app.tracker.kickoff("travel", sim.sample_inputs("travel"))
        second = await app.tracker.kickoff("travel", sim.sample_inputs("travel"))
        await settle(pilot, lambda: bool(warnings()))
        await settle(pilot, lambda: len(app.main.rows()) == 2)
    assert len(warnings()) == 1, warnings()
    assert {row.kickoff_id for row in app.main.rows()} == {first.kickoff_id, second.kickoff_id}
