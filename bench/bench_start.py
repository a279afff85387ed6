"""Start: a new process to its first frame with the list in, and a headless status.

**First frame.** A history of 10,000 kickoffs (2,000 with ``--quick``), 200 running, over the
simulator's four crews; the config names those crews (at a closed local port: nothing
answers, so the history is not changed by the runs). crewtui (``python -m crewtui``) and
the floor, a bare Textual app with a Header, a DataTable of the same newest 200 kickoffs
and a Footer (``bare_app.py``), are each started in a new process on a pseudo-terminal of
120x40, in turn, ``--runs`` times. The clock runs from just before the process is spawned
to the moment the newest kickoff's id (the list's first row) arrives on the terminal. A
pty rather than an in-process hook: it is what a person sees (interpreter start, imports,
the real Linux driver, the bytes written), both apps are timed by the same outside
observer, and neither needs code of the benchmark inside it. The process's CPU time
(user + system, all threads, from /proc) is read at that same moment: on a shared machine
it is the steadier figure, and starting is CPU work (imports, compose, render; the history
is a local file), so the target is judged on it; wall time is shown beside it.

**Status.** ``crewtui status ID --json`` against the simulator (a kickoff it knows), and
the floor ``bare_status.py``, which imports httpx and pydantic and does the same GET; each
in a new process, in turn, to its exit. Wall and CPU time (of the child, from
``RUSAGE_CHILDREN``). A third process, ``bare_status.py --async``, does the same GET with
asyncio and ``httpx.AsyncClient``: two info rows split the judged ratio into what an async
client pays at all and what crewtui adds to it.

**Bytecode.** crewtui's modules are compiled to ``__pycache__`` before the runs, as ``pip
install`` compiles an installed package: the libraries both sides import (Textual,
pydantic, httpx) are timed from their compiled bytecode, so crewtui's are too. Without it,
an environment with ``PYTHONDONTWRITEBYTECODE`` set (this machine's sessions) compiled some
30,000 lines of crewtui from source in every measured process (about 170 ms of CPU), a
cost no installed crewtui pays.

    python bench/bench_start.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import compileall
import fcntl
import os
import pty
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from common import Row, emit, history_copy, median, percentile

from crewtui.sim import SimOptions, SimServer
from crewtui.sim.crews import CREWS

BENCH_DIR = Path(__file__).resolve().parent
KICKOFFS = 10_000
# A quick run's history: built in seconds when the cache is cold (a schema change).
QUICK_KICKOFFS = 2_000
RUNNING = 200
SIZE = (120, 40)
FRAME_TIMEOUT = 60.0
FIRST_FRAME_TARGET = 1.3
STATUS_TARGET = 1.2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Samples:
    """Wall and CPU seconds of each run of one command."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


# -- first frame -----------------------------------------------------------------------------


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def crewtui_home(root: Path) -> Path:
    """A home whose config names the history's crews, at an address that refuses."""
    home = root / "home"
    (home / "config").mkdir(parents=True)
    (home / "data").mkdir()
    url = f"http://127.0.0.1:{closed_port()}"
    lines = [f'[crews.{name}]\nurl = "{url}/{name}"\ntoken_env = "BENCH_TOKEN"\n' for name in CREWS]
    config = home / "config" / "config.toml"
    config.write_text("\n".join(lines))
    return home


def newest_id(store: Path) -> str:
    """The first 8 characters of the newest kickoff's id: the list's first row shows them."""
    import sqlite3

    with sqlite3.connect(store) as conn:
        row = conn.execute(
            "SELECT kickoff_id FROM kickoffs ORDER BY created_at DESC, kickoff_id DESC LIMIT 1"
        ).fetchone()
    return str(row[0])[:8]


def cpu_seconds(pid: int) -> float:
    """User + system time of a live process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def first_frame(command: Sequence[str], env: dict[str, str], marker: str) -> tuple[float, float]:
    """Start ``command`` on a new pty; wall and CPU seconds until ``marker`` is shown."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=BENCH_DIR.parent,
        start_new_session=True,
    )
    os.close(slave)
    seen = b""
    wanted = marker.encode()
    try:
        while True:
            left = FRAME_TIMEOUT - (time.monotonic() - started)
            ready, _, _ = select.select([master], [], [], max(left, 0))
            try:
                chunk = os.read(master, 65536) if ready else b""
            except OSError:  # EIO: the process ended and closed the terminal
                chunk = b""
            if not chunk:
                raise RuntimeError(
                    f"{' '.join(command[1:])} showed no {marker} (its screen ended with "
                    f"{seen[-400:]!r})"
                )
            seen = seen[-4096:] + chunk
            if wanted in seen:
                return time.monotonic() - started, cpu_seconds(process.pid)
    finally:
        stop(process, master)


def stop(process: subprocess.Popen[bytes], master: int) -> None:
    """End the app as a user's hang-up would, draining its output so it can finish."""
    process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while process.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                os.read(master, 65536)
            except OSError:
                break
    if process.poll() is None:
        process.kill()
    process.wait()
    os.close(master)


def compile_crewtui() -> None:
    """Compile the crewtui that the measured processes import (``-m crewtui`` from the
    repository's root) to bytecode, as an install does; quiet, and only what is stale."""
    if not compileall.compile_dir(BENCH_DIR.parent / "crewtui", quiet=1):
        raise RuntimeError("crewtui's modules did not all compile")


# -- status ----------------------------------------------------------------------------------


def timed_run(command: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``command`` to its end; wall and CPU seconds (the child's, all threads)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(command, env=env, cwd=BENCH_DIR.parent, capture_output=True, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{command[1:]} failed ({done.returncode}): {done.stderr[-300:]!r}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def known_kickoff(sim: SimServer, crew: str) -> str:
    """Start a run on the simulator and return its id."""
    reply = httpx.post(
        f"{sim.crew_url(crew)}/kickoff",
        json={"inputs": sim.sample_inputs(crew)},
        headers={"Authorization": f"Bearer {sim.options.token}"},
        timeout=10,
    )
    reply.raise_for_status()
    return str(reply.json()["kickoff_id"])


# -- rows ------------------------------------------------------------------------------------


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def info_ratio(measure: str, values: list[float], floors: list[float]) -> Row:
    """A CPU median against another, shown (not judged): where a target's room goes."""
    value, base = median(values), median(floors)
    return Row(
        measure=measure,
        value=ms(value),
        unit="ms",
        target="info",
        passed=None,
        floor=ms(base),
        ratio=round(value / base, 2),
        note="",
    )


def compared(measure: str, app: Samples, floor: Samples, target: float, note: str) -> list[Row]:
    """CPU median (judged), wall median and wall p95 (shown), each against its floor."""
    rows = []
    picks = [
        ("CPU, median", app.cpu, floor.cpu, median, True),
        ("wall, median", app.wall, floor.wall, median, False),
        ("wall, p95", app.wall, floor.wall, lambda v: percentile(v, 0.95), False),
    ]
    for name, values, floors, pick, judged in picks:
        value, base = pick(values), pick(floors)
        ratio = value / base
        rows.append(
            Row(
                measure=f"{measure} ({name})",
                value=ms(value),
                unit="ms",
                target=f"<= {target}x" if judged else f"info (<= {target}x)",
                passed=ratio <= target if judged else None,
                floor=ms(base),
                ratio=round(ratio, 2),
                note=note if judged else "",
            )
        )
    return rows


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (under 35 s)")
    parser.add_argument("--runs", type=int, help="runs of each process (default 15, quick 3)")
    options = parser.parse_args(argv)
    if options.runs is None:
        options.runs = 3 if options.quick else 15
    return options


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(sys.argv[1:] if argv is None else argv)
    python = sys.executable
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor")
    for name in ("CREWAI_API_URL", "CREWAI_BEARER_TOKEN", "CREWAI_USER_BEARER_TOKEN"):
        env.pop(name, None)
    root = Path(tempfile.mkdtemp(prefix="crewtui-bench-start-"))
    kickoffs = QUICK_KICKOFFS if options.quick else KICKOFFS
    compile_crewtui()
    try:
        store = history_copy(root, kickoffs, running=RUNNING)
        home = crewtui_home(root)
        shutil.copyfile(store, home / "data" / "history.sqlite3")
        marker = newest_id(store)
        app_env = dict(env, CREWTUI_HOME=str(home), BENCH_TOKEN="bench-token")
        app_command = [python, "-m", "crewtui"]
        bare_command = [python, str(BENCH_DIR / "bare_app.py"), str(store)]
        app, bare = Samples(), Samples()
        for run in range(options.runs):
            print(f"first frame: run {run + 1}/{options.runs}", file=sys.stderr)
            for command, samples in ((app_command, app), (bare_command, bare)):
                wall, cpu = first_frame(command, app_env, marker)
                samples.wall.append(wall)
                samples.cpu.append(cpu)
        rows = compared(
            f"first frame, {kickoffs:,} kickoffs ({RUNNING} running) vs bare Textual app",
            app,
            bare,
            FIRST_FRAME_TARGET,
            f"{options.runs} runs each, interleaved, on a {SIZE[0]}x{SIZE[1]} pty",
        )

        with SimServer(SimOptions(speed=1.0)) as sim:
            crew = "content"
            kickoff_id = known_kickoff(sim, crew)
            status_env = dict(
                env, CREWTUI_HOME=str(root / "status-home"), CREWAI_BEARER_TOKEN=sim.options.token
            )
            url = sim.crew_url(crew)
            status_command = [python, "-m", "crewtui", "--url", url, "status", kickoff_id, "--json"]
            floor_command = [python, str(BENCH_DIR / "bare_status.py"), url, kickoff_id]
            async_command = [*floor_command[:2], "--async", *floor_command[2:]]
            status, floor, async_floor = Samples(), Samples(), Samples()
            commands = (
                (status_command, status),
                (floor_command, floor),
                (async_command, async_floor),
            )
            for run in range(options.runs):
                print(f"status: run {run + 1}/{options.runs}", file=sys.stderr)
                for command, samples in commands:
                    wall, cpu = timed_run(command, status_env)
                    samples.wall.append(wall)
                    samples.cpu.append(cpu)
        rows += compared(
            "`status ID --json` vs httpx + pydantic GET",
            status,
            floor,
            STATUS_TARGET,
            f"{options.runs} runs each, interleaved, against the simulator",
        )
        rows += [
            info_ratio(
                "the same GET with asyncio + httpx.AsyncClient vs the floor (CPU, median): "
                "what any async client pays",
                async_floor.cpu,
                floor.cpu,
            ),
            info_ratio(
                "`status ID --json` vs that async GET (CPU, median): crewtui's own share",
                status.cpu,
                async_floor.cpu,
            ),
        ]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    emit("start", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
