"""Several real processes on one history: two writers, a killed writer (on SQLite and on
PostgreSQL), a full disk (SQLite's file).

Each child runs ``WORKER`` (below) with ``python -c`` and reports on a pipe, one line per
write, only after that write's transaction has committed. The parent never sleeps: it reads
those lines (with a timeout on the whole child).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from crewtui.api.states import RunState
from crewtui.core.store import Store
from tests.conftest import open_at

CHILD_TIMEOUT = 120.0
WRITES = 1000
SHARED = 5

WORKER = r"""
import json, os, resource, signal, sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from crewtui.api.errors import StoreError
from crewtui.api.models import Kickoff, Progress, RunState, Step, TaskResult
from crewtui.api.models import RunState
from crewtui.core.store import Store
from tests.conftest import open_at

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
mode, where, name = sys.argv[1], sys.argv[2], sys.argv[3]
path = Path(where)

def report(*words):
    print(*words, flush=True)

def kickoff(kickoff_id, **fields):
    fields.setdefault("updated_at", datetime.now(UTC))
    return Kickoff(kickoff_id=kickoff_id, crew=name, created_at=T0, **fields)

def mixed(store):
    report("ready")
    sys.stdin.readline()  # both writers start together
    for i in range(int(sys.argv[4])):
        shared = f"shared-{i % int(sys.argv[5])}"
        if i % 3 == 0:
            store.save_kickoff(kickoff(f"{name}-{i}", output=f"out {i}"))
        elif i % 3 == 1:
            task = TaskResult(task_id=f"{name}-{i}", output=f"task {i}")
            # Once, alice sees the end; every later save (stale polls) says running and must
            # not move the terminal state back.
            done = name == "alice" and 100 <= i < 200
            state = RunState.COMPLETED if done else RunState.RUNNING
            store.save_kickoff(kickoff(shared, state=state, tasks=[task]))
        else:
            step = Step(kickoff_id=shared, received_at=datetime.now(UTC), raw={"w": name, "i": i})
            store.add_steps([step])
    report("done")

def storm(store):
    for i in range(1_000_000):
        store.save_kickoff(kickoff(f"k{i}", output="x" * 2000, tasks=[TaskResult(task_id="t")]))
        report("k", i)
        poll = kickoff("poll", state=RunState.RUNNING, progress=Progress(completed=i),
                       updated_at=T0 + timedelta(seconds=i))
        store.save_kickoff(poll)
        report("p", i)
        store.add_steps([Step(kickoff_id="poll", received_at=T0, raw={"i": i})])
        report("s", i)

def full(store):
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a refused write fails instead of killing
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, hard))
    try:
        for i in range(1000):
            store.save_kickoff(kickoff(f"k{i}", output="y" * 20_000))
            report("k", i)
    except StoreError as error:
        report("error", json.dumps(error.message))
    report("readable", store.count_kickoffs())  # the open store still answers reads
    memory = Store.in_memory()  # and the app can carry on in memory
    memory.save_kickoff(kickoff("m"))
    report("memory", memory.count_kickoffs())
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))
    try:
        Store.open(path.with_name("fresh.sqlite3"))
    except StoreError as error:
        report("open-error", json.dumps(error.message))
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    store.close()

if where.startswith("postgresql://"):
    from crewtui.core.pg_store import PgStore
    store = PgStore.open(where)
else:
    store = Store.open(path)
{"mixed": mixed, "storm": storm, "full": full}[mode](store)
"""


def spawn(*args: str | int | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def expect_line(child: subprocess.Popen[str], expected: str) -> None:
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    if line != expected:
        _, err = child.communicate(timeout=CHILD_TIMEOUT)
        pytest.fail(f"child said {line!r}, expected {expected!r}; stderr: {err[-2000:]}")


def test_two_processes_writing_at_once_lose_nothing(history_at: str) -> None:
    # Both children create and migrate it at once.
    children = [spawn("mixed", history_at, name, WRITES, SHARED) for name in ("alice", "bob")]
    for child in children:
        expect_line(child, "ready")
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    for child in children:
        expect_line(child, "done")
        assert child.wait(timeout=CHILD_TIMEOUT) == 0

    store = open_at(history_at)
    names = ("alice", "bob")
    own = {f"{name}-{i}" for name in names for i in range(WRITES) if i % 3 == 0}
    shared_ids = {f"shared-{j}" for j in range(SHARED)}
    assert {s.kickoff_id for s in store.list_kickoffs(archived=None)} == own | shared_ids
    for kickoff_id in own:
        stored = store.get_kickoff(kickoff_id)
        assert stored is not None and stored.output == f"out {kickoff_id.split('-')[1]}"
    for j in range(SHARED):
        shared = store.get_kickoff(f"shared-{j}")
        assert shared is not None
        assert shared.state is RunState.COMPLETED
        wanted = {
            f"{n}-{i}" for n in names for i in range(WRITES) if i % 3 == 1 and i % SHARED == j
        }
        assert sorted(t.task_id for t in shared.tasks) == sorted(wanted)
        steps = Counter((s.raw["w"], s.raw["i"]) for s in store.list_steps(f"shared-{j}"))
        wanted_steps = {
            (n, i) for n in names for i in range(WRITES) if i % 3 == 2 and i % SHARED == j
        }
        assert set(steps) == wanted_steps
        assert set(steps.values()) == {1}
    assert store.count_kickoffs(archived=None) == len(own) + SHARED
    assert store.health()["quick_check"] == "ok"
    store.close()


def test_a_writer_killed_mid_storm_leaves_every_commit(history_at: str) -> None:
    child = spawn("storm", history_at, "storm")
    assert child.stdout is not None
    reported: list[tuple[str, int]] = []
    while len(reported) < 600:
        line = child.stdout.readline()
        if not line:
            pytest.fail(f"the writer stopped early: {child.communicate()[1][-2000:]}")
        kind, number = line.split()
        reported.append((kind, int(number)))
    os.kill(child.pid, signal.SIGKILL)
    rest, _ = child.communicate(timeout=CHILD_TIMEOUT)
    reported += [(kind, int(n)) for kind, n in (line.split() for line in rest.splitlines())]
    assert child.returncode == -signal.SIGKILL

    store = open_at(history_at)
    assert store.health()["quick_check"] == "ok"
    saved = {n for kind, n in reported if kind == "k"}
    assert set(store.resolve_id("k")) >= {f"k{n}" for n in saved}
    for n in saved:
        stored = store.get_kickoff(f"k{n}")
        assert stored is not None and stored.output == "x" * 2000 and len(stored.tasks) == 1
    poll = store.get_kickoff("poll")
    assert poll is not None and poll.progress is not None
    assert poll.progress.completed is not None
    assert poll.progress.completed >= max(n for kind, n in reported if kind == "p")
    steps = {step.raw["i"] for step in store.list_steps("poll")}
    assert steps >= {n for kind, n in reported if kind == "s"}
    store.close()


@pytest.mark.skipif(sys.platform == "win32", reason="needs RLIMIT_FSIZE")
def test_a_full_disk_is_one_clear_error_and_keeps_what_was_committed(tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes writes past a size fail, as a full disk does, even for root."""
    path = tmp_path / "history.sqlite3"
    child = spawn("full", path, "full")
    out, err = child.communicate(timeout=CHILD_TIMEOUT)
    assert child.returncode == 0, err[-2000:]
    lines = [line.split(" ", 1) for line in out.splitlines()]
    said = {word: rest for word, rest in lines if word != "k"}
    committed = {f"k{rest}" for word, rest in lines if word == "k"}

    assert committed, "some writes fit before the limit"
    assert json.loads(said["error"]) == (
        f"The history store at {path} cannot be written: the disk is full or failing."
    )
    assert int(said["readable"]) == len(committed)
    assert said["memory"] == "1"
    fresh = tmp_path / "fresh.sqlite3"
    assert json.loads(said["open-error"]).startswith(f"The history store at {fresh} cannot be")
    store = Store.open(path)
    assert set(store.resolve_id("k")) == committed
    assert store.health()["quick_check"] == "ok"
    store.close()
