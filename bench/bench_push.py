"""Push to screen: a webhook POST → the frame that shows it in the list row and the open detail.

The real app runs headless on the rendering driver (every frame is rendered to terminal
bytes, as for a terminal), with its real webhook receiver, following one run of the
simulator that is open in the detail. A thread then POSTs batched crewai events to the
receiver, as a crew does: each time a ``human_feedback_requested`` naming a task never seen
before (so the run's row and its detail both say "waits for input on <that task>"), then a
``human_feedback_received``. The time is from just before the POST to the end of writing
the first frame in which both the row and the detail show the new task's name: the
terminal output is read line by line (cursor moves say which screen line is written) and
a line counts for the list or the detail by where those widgets are on the screen.

    python bench/bench_push.py           # 200 pushes
    python bench/bench_push.py --quick   # 40 pushes
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from common import Row, emit, frame_listeners, median, percentile, rendering_driver
from textual.geometry import Region

from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.config import Config, resolve_paths
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.core.webhooks import WebhookReceiver
from crewtui.settings import PollSettings
from crewtui.sim import SimOptions, SimServer
from crewtui.sim.crews import CREWS
from crewtui.ui.app import CrewtuiApp
from crewtui.ui.pilot import settle

SIZE = (120, 36)
CURSOR_MOVE = re.compile(r"\x1b\[(\d+);(\d+)H")
ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PUSH_TIMEOUT = 10.0


@dataclass
class Watch:
    """Reads each piece of terminal output for a marker, in the list's and detail's lines."""

    list_lines: range = range(0)
    detail_lines: range = range(0)
    marker: str | None = None
    seen: set[str] = field(default_factory=set)
    shown_at: float | None = None
    shown: threading.Event = field(default_factory=threading.Event)

    def arm(self, marker: str) -> None:
        self.marker, self.seen, self.shown_at = marker, set(), None
        self.shown.clear()

    def __call__(self, data: str) -> None:
        if self.marker is None or self.marker not in data:
            return
        moves = list(CURSOR_MOVE.finditer(data))
        for index, move in enumerate(moves):
            end = moves[index + 1].start() if index + 1 < len(moves) else len(data)
            if self.marker not in ESCAPE.sub("", data[move.end() : end]):
                continue
            line = int(move.group(1)) - 1
            if line in self.list_lines:
                self.seen.add("row")
            elif line in self.detail_lines:
                self.seen.add("detail")
        if self.seen == {"row", "detail"} and self.shown_at is None:
            self.shown_at = time.perf_counter()
            self.shown.set()


def event(kickoff_id: str, kind: str, data: dict[str, object]) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "execution_id": kickoff_id,
        "timestamp": datetime.now(UTC).isoformat(),
        "type": kind,
        "data": data,
    }


def post(url: str, token: str, events: list[dict[str, object]]) -> float:
    """POST one batch as a crew would (from another thread); returns when it was sent."""
    with httpx.Client(timeout=10) as http:
        sent = time.perf_counter()
        headers = {"Authorization": f"Bearer {token}"}
        answer = http.post(url, json={"events": events}, headers=headers)
        answer.raise_for_status()
    return sent


async def measure(pushes: int) -> list[float]:
    with SimServer(SimOptions(speed=1.0)) as sim, tempfile.TemporaryDirectory() as home:
        crew = CrewProfile(
            name="content", url=sim.crew_url("content"), token=Secret(sim.options.token)
        )
        config = Config(crews={"content": crew})
        store = Store.open(Path(home) / "history.sqlite3")
        tracker = Tracker([crew], store, PollSettings())
        token = uuid.uuid4().hex
        receiver = WebhookReceiver(
            tracker.ingest, tracker.is_tracked, secret=uuid.uuid4().hex, token=token
        )
        app = CrewtuiApp(tracker, config, resolve_paths(Path(home)), receiver=receiver)
        watch = Watch()
        frame_listeners.append(watch)
        delays: list[float] = []
        try:
            async with app.run_test(size=SIZE) as pilot:
                # Pending for a second, then in its first task for an hour.
                long_first = {"duration_scale": "2", "task_scales": "100,1,1"}
                inputs = dict(CREWS["content"].sample_inputs) | long_first
                run = await tracker.kickoff("content", inputs)
                screen = app.main
                await settle(pilot, lambda: has_task(tracker, run.kickoff_id))
                watch.list_lines = region_lines(screen.kickoffs.region)
                watch.detail_lines = region_lines(screen.detail.region)
                # The run is open in the detail once both show its task.
                watch.arm(CREWS["content"].tasks[0].task_id)
                await pilot.resize_terminal(SIZE[0], SIZE[1] - 1)  # a full repaint
                await pilot.resize_terminal(*SIZE)
                await asyncio.wait_for(asyncio.to_thread(watch.shown.wait), PUSH_TIMEOUT)
                url = receiver.events_url
                for number in range(pushes):
                    marker = f"bench{number:04d}"
                    watch.arm(marker)
                    asked = event(
                        run.kickoff_id,
                        "human_feedback_requested",
                        {"task_name": marker, "agent_role": "Editor", "message": "approve?"},
                    )
                    sent = await asyncio.to_thread(post, url, token, [asked])
                    await asyncio.wait_for(asyncio.to_thread(watch.shown.wait), PUSH_TIMEOUT)
                    assert watch.shown_at is not None
                    delays.append(watch.shown_at - sent)
                    watch.arm("")
                    answered = event(run.kickoff_id, "human_feedback_received", {"feedback": "ok"})
                    await asyncio.to_thread(post, url, token, [answered])
                    await pilot.pause(0.05)  # the next push starts from a quiet screen
        finally:
            frame_listeners.remove(watch)
            store.close()
    return delays


def has_task(tracker: Tracker, kickoff_id: str) -> bool:
    kickoff = tracker.get(kickoff_id)
    return kickoff is not None and kickoff.current_task is not None


def region_lines(region: Region) -> range:
    return range(region.y, region.y + region.height)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 pushes instead of 200")
    args = parser.parse_args()
    pushes = 40 if args.quick else 200
    print(f"{pushes} pushes to a run open in the detail", file=sys.stderr, flush=True)
    with rendering_driver():
        delays = asyncio.run(measure(pushes))
    p95 = percentile(delays, 0.95) * 1000
    rows = [
        Row(
            "push to screen p95",
            round(p95, 1),
            "ms",
            "<= 33 ms",
            p95 <= 33.0,
            note=(
                f"{len(delays)} pushes; median {median(delays) * 1000:.1f} ms, "
                f"p99 {percentile(delays, 0.99) * 1000:.1f} ms; "
                f"row and open detail, {SIZE[0]}x{SIZE[1]}"
            ),
        )
    ]
    emit("push", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
