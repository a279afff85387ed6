"""Memory: a long history costs what an empty one costs, and pushed steps do not pile up.

**History.** The app is started in a new process (headless, on the rendering driver that
draws every frame, 120x40, no crews: nothing is polled) over an empty history and over
10,000 kickoffs (2,000 with ``--quick``) whose outputs are 20 KB each, until its list
and the first kickoff's detail are painted; then the process's resident memory (VmRSS)
is read. The two are started in turn, ``--runs`` times; medians. Target: the full history
<= 1.5x the empty one.

**Pushed steps.** In the same kind of process, over a history with 4 running kickoffs of a
configured crew (at a closed local port: polls fail, the runs stay running), the detail
of one of them open on its Steps tab: ``--steps`` agent steps arrive as step webhooks
(one POST body per step, as the service sends them to a run's step webhook URL), parsed by
the receiver's parser and handed to ``Tracker.ingest``, the receiver's entry point, 50 at a
time, round robin over the 4 runs, with the app drawing as it goes. Target: RSS after
<= 1.5x RSS at the start (after the first frame and the detail). RSS, not Python
allocations: what the system gives the process is what the user pays for; it is also
steady on a busy machine, unlike time.

    python bench/bench_memory.py [--quick] [--runs N] [--steps N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import Row, emit, history_copy, make_kickoff, median, rendering_driver, rss_mib

BENCH_DIR = Path(__file__).resolve().parent
KICKOFFS = 10_000
# A quick run's history: built in seconds when the cache is cold (a schema change).
QUICK_KICKOFFS = 2_000
OUTPUT_BYTES = 20_000
HISTORY_TARGET = 1.5
STEPS_TARGET = 1.5
SIZE = (120, 40)
RUNNING_CREW = "research"
RUNNING = 4
STEPS_PER_BATCH = 50
CHILD_TIMEOUT = 600


# -- inside the measured process -------------------------------------------------------------


async def open_app(store_path: Path, home: Path, crews: list[Any]) -> tuple[Any, Any]:
    """The app over ``store_path`` (headless, drawing), its list and detail painted."""
    from crewtui.config import Config, resolve_paths
    from crewtui.core.store import Store
    from crewtui.core.tracker import Tracker
    from crewtui.ui.app import CrewtuiApp
    from crewtui.ui.pilot import workers_done

    store = Store.open(store_path)
    app = CrewtuiApp(Tracker(crews, store), Config(), resolve_paths(home))
    return app, workers_done


async def measure_open(store_path: Path, home: Path) -> dict[str, float]:
    """RSS once the list and the first kickoff's detail are painted."""
    app, workers_done = await open_app(store_path, home, [])
    async with app.run_test(size=SIZE) as pilot:
        await workers_done(app)
        screen = app.main
        while screen.kickoffs.selected_id is not None and screen.selected is None:
            await pilot.pause(0.05)
            await workers_done(app)
        await pilot.pause()
        gc.collect()
        rss = rss_mib()
    app.tracker.store.close()
    return {"rss": rss}


def step_bodies(kickoff_id: str, first: int, count: int) -> list[dict[str, Any]]:
    """``count`` step webhooks (one agent step each, as the service posts them to a run's
    ``stepWebhookUrl``), numbered from ``first``."""
    return [
        {
            "prompt": "Research the latest developments in agent frameworks.",
            "thought": f"Step {number}: I should look for more sources on the topic.",
            "tool": "search",
            "tool_input": f'{{"query": "agent frameworks, page {number}"}}',
            "result": "Found 12 results: " + "an abstract of a paper. " * 12,
            "kickoff_id": kickoff_id,
            "meta": {"requestId": "bench"},
        }
        for number in range(first, first + count)
    ]


async def measure_push(store_path: Path, home: Path, url: str, steps: int) -> dict[str, float]:
    """RSS after the first frame and the detail, then after ``steps`` pushed steps."""
    from crewtui.api.profile import CrewProfile
    from crewtui.api.pushes import parse_push
    from crewtui.api.secret import Secret

    crew = CrewProfile(name=RUNNING_CREW, url=url, token=Secret("bench-token"))
    app, workers_done = await open_app(store_path, home, [crew])
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main
        await workers_done(app)
        while screen.selected is None:
            await pilot.pause(0.05)
            await workers_done(app)
        running = [k for k in app.tracker.store.active_kickoffs() if k.crew == RUNNING_CREW]
        shown = screen.selected.kickoff_id
        ids = [shown, *[k.kickoff_id for k in running if k.kickoff_id != shown]][:RUNNING]
        print(f"  following {ids}", file=sys.__stderr__)
        while not all(app.tracker.is_tracked(kickoff_id) for kickoff_id in ids):
            await pilot.pause(0.05)
        screen.detail.focus_tab("steps")
        await pilot.pause()
        gc.collect()
        start = rss_mib()
        started = time.process_time()
        for first in range(0, steps, STEPS_PER_BATCH):
            kickoff_id = ids[(first // STEPS_PER_BATCH) % len(ids)]
            now = datetime.now(UTC)
            items = [
                item
                for body in step_bodies(kickoff_id, first, STEPS_PER_BATCH)
                for item in parse_push("step", body, now)
            ]
            await app.tracker.ingest(items)
            if first % 2000 == 0:
                await pilot.pause()
                print(f"  {first:,} steps pushed, {rss_mib():.0f} MiB", file=sys.__stderr__)
        await workers_done(app)
        await pilot.pause()
        cpu = time.process_time() - started
        gc.collect()
        after = rss_mib()
    app.tracker.store.close()
    return {"rss_start": start, "rss_after": after, "cpu": cpu}


def child(argv: Sequence[str]) -> int:
    """``--child open STORE HOME`` or ``--child push STORE HOME URL STEPS``: one JSON line."""
    mode, store, home = argv[0], Path(argv[1]), Path(argv[2])
    with rendering_driver():
        if mode == "open":
            result = asyncio.run(measure_open(store, home))
        else:
            result = asyncio.run(measure_push(store, home, argv[3], int(argv[4])))
    print(json.dumps(result))
    return 0


# -- the benchmark ---------------------------------------------------------------------------


def run_child(*args: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        stdout=subprocess.PIPE,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def closed_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/{RUNNING_CREW}"


def running_history(path: Path) -> None:
    """Twenty finished kickoffs and ``RUNNING`` running ones of ``RUNNING_CREW``."""
    import random

    from crewtui.api.states import RunState
    from crewtui.core.store import Store

    rng = random.Random(7)
    now = datetime.now(UTC)
    store = Store.open(path)
    try:
        for number in range(20 + RUNNING):
            state = RunState.RUNNING if number < RUNNING else RunState.COMPLETED
            kickoff, _ = make_kickoff(rng, number, now, state)
            store.save_kickoff(kickoff.model_copy(update={"crew": RUNNING_CREW}))
    finally:
        store.close()


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and steps (under 35 s)")
    parser.add_argument("--runs", type=int, help="opens of each history (default 5, quick 2)")
    parser.add_argument("--steps", type=int, help="pushed steps (default 100,000, quick 4,000)")
    options = parser.parse_args(argv)
    if options.runs is None:
        options.runs = 2 if options.quick else 5
    if options.steps is None:
        options.steps = 4_000 if options.quick else 100_000
    return options


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--child"]:
        return child(args[1:])
    options = parse(args)
    kickoffs = QUICK_KICKOFFS if options.quick else KICKOFFS
    with tempfile.TemporaryDirectory(prefix="crewtui-bench-memory-") as tmp:
        root = Path(tmp)
        full = history_copy(root, kickoffs, output_bytes=OUTPUT_BYTES)
        empty = root / "empty.sqlite3"
        home = root / "home"
        home.mkdir()
        opens: dict[str, list[float]] = {"empty": [], "full": []}
        for run in range(options.runs):
            print(f"history: run {run + 1}/{options.runs}", file=sys.__stderr__)
            for name, path in (("empty", empty), ("full", full)):
                opens[name].append(run_child("open", str(path), str(home))["rss"])
        pushed_store = root / "running.sqlite3"
        running_history(pushed_store)
        print(f"pushing {options.steps:,} steps", file=sys.__stderr__)
        pushed = run_child("push", str(pushed_store), str(home), closed_url(), str(options.steps))
    empty_rss, full_rss = median(opens["empty"]), median(opens["full"])
    rows = [
        Row(
            measure=f"RSS, {kickoffs:,} kickoffs of {OUTPUT_BYTES // 1000} KB output vs empty",
            value=round(full_rss, 1),
            unit="MiB",
            target=f"<= {HISTORY_TARGET}x",
            passed=full_rss / empty_rss <= HISTORY_TARGET,
            floor=round(empty_rss, 1),
            ratio=round(full_rss / empty_rss, 2),
            note=f"list and detail painted, median of {options.runs} starts each",
        ),
        Row(
            measure=f"RSS after {options.steps:,} pushed steps vs at start",
            value=round(pushed["rss_after"], 1),
            unit="MiB",
            target=f"<= {STEPS_TARGET}x",
            passed=pushed["rss_after"] / pushed["rss_start"] <= STEPS_TARGET,
            floor=round(pushed["rss_start"], 1),
            ratio=round(pushed["rss_after"] / pushed["rss_start"], 2),
            note=f"{RUNNING} running kickoffs, one open on its Steps tab; "
            f"CPU {pushed['cpu']:.1f} s for the pushes",
        ),
    ]
    emit("memory", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
