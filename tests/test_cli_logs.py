"""``crewtui logs [-f]`` and ``--notify`` through a real subprocess, against the simulator.

Nothing sleeps: a follower's lines are read as they come, and each wait ends on a line.
"""

from __future__ import annotations

import json
import os
import pty
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crewtui.api.errors import ExitCode
from crewtui.api.models import Kickoff, Step, TaskResult
from crewtui.api.states import RunState, TaskState
from crewtui.config import resolve_paths
from crewtui.core.store import Store
from crewtui.sim import SimServer
from tests.cli_helpers import QUICK_POLLS, crew_env, inputs_args, run
from tests.hardening.cli_support import child_env
from tests.hardening.corpus import EVERYTHING, assert_inert

WAIT = 60.0
Line = dict[str, Any]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def kickoff(sim: SimServer, home: Path, *extra: str, crew: str = "content", **inputs: str) -> str:
    """``crewtui kickoff`` in another process: the new run's id."""
    given = inputs_args(sim, crew, **inputs)
    result = run(home, "kickoff", *given, *extra, env=crew_env(sim, crew))
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]  # the id, or (--watch) "started ID on CREW"
    return first.split()[1] if "--watch" in extra else first.strip()


class Follower:
    """A ``crewtui logs -f --json`` child and the lines it has printed so far."""

    def __init__(self, home: Path, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "crewtui", "logs", "-f", "--json", *args],
            env=child_env(home, env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[Line] = []
        self._arrived: queue.Queue[str | None] = queue.Queue()
        self._said: queue.Queue[str | None] = queue.Queue()
        self.said: list[str] = []
        threading.Thread(
            target=self._read, args=(self.process.stdout, self._arrived), daemon=True
        ).start()
        threading.Thread(
            target=self._read, args=(self.process.stderr, self._said), daemon=True
        ).start()

    @staticmethod
    def _read(stream: Any, into: queue.Queue[str | None]) -> None:
        for text in stream:
            into.put(text)
        into.put(None)

    def wait_to_say(self, words: str) -> None:
        """Until a line on stderr holds ``words``."""
        while not any(words in line for line in self.said):
            text = self._said.get(timeout=WAIT)
            assert text is not None, f"logs -f exited first: {self.said}"
            self.said.append(text)

    def wait_for(self, wanted: Callable[[Line], bool]) -> Line:
        """The first line (printed so far or next) that ``wanted`` accepts."""
        for line in self.lines:
            if wanted(line):
                return line
        deadline = time.monotonic() + WAIT
        while True:
            try:
                text = self._arrived.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"no such line; got {self.lines}") from None
            if text is None:
                raise AssertionError(f"logs -f exited without it: {self.said}")
            line: Line = json.loads(text)
            self.lines.append(line)
            if wanted(line):
                return line

    def interrupt(self, within: float = WAIT) -> tuple[int, str]:
        """Ctrl-C: the exit code and what it wrote on stderr."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=within)
        while (text := self._said.get(timeout=WAIT)) is not None:
            self.said.append(text)
        return code, "".join(self.said)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def following() -> Iterator[Callable[..., Follower]]:
    started: list[Follower] = []

    def start(home: Path, env: dict[str, str], *args: str) -> Follower:
        child = Follower(home, env, *args)
        started.append(child)
        return child

    yield start
    for child in started:
        child.kill()


def ended(kickoff_id: str) -> Callable[[Line], bool]:
    return lambda line: line["kickoff_id"] == kickoff_id and line["kind"] == "done"


# -- logs ------------------------------------------------------------------------------------


def test_logs_prints_what_the_history_remembers_of_a_run_and_exits(
    sim: SimServer, home: Path
) -> None:
    kickoff_id = kickoff(sim, home, "--watch", *QUICK_POLLS)
    result = run(home, "logs", env=crew_env(sim))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    short = kickoff_id[:8]
    assert all(short in line for line in lines)
    assert "started" in lines[0]
    assert any("task" in line and "(Senior Writer)" in line for line in lines)
    assert any(" done " in line and "completed in" in line for line in lines)
    assert "\x1b" not in result.stdout  # no colour when stdout is not a terminal

    as_json = run(home, "logs", "--json", short, env=crew_env(sim))
    entries = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert {entry["kickoff_id"] for entry in entries} == {kickoff_id}
    assert [entry["ts"] for entry in entries] == sorted(entry["ts"] for entry in entries)
    assert {"run", "task", "done"} <= {entry["kind"] for entry in entries}

    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert run(home, "logs", "--since", later, env=crew_env(sim)).stdout == ""
    assert run(home, "logs", "--since", "1h", env=crew_env(sim)).stdout == result.stdout


def test_logs_of_an_id_the_history_does_not_hold_is_one_sentence_and_exit_4(
    sim: SimServer, home: Path
) -> None:
    result = run(home, "logs", str(uuid.uuid4()), env=crew_env(sim))
    assert result.returncode == ExitCode.NOT_FOUND
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "is not in the history" in result.stderr


def test_logs_of_a_crew_nobody_knows_is_refused_but_followed_it_is_waited_for(
    home: Path, following: Callable[..., Follower]
) -> None:
    result = run(home, "logs", "--crew", "nobody")
    assert result.returncode == ExitCode.USAGE
    assert "No crew is called 'nobody'" in result.stderr
    follower = following(home, {}, "--crew", "nobody")
    follower.wait_to_say("`logs -f` waits for its runs.")
    code, err = follower.interrupt()
    assert code == 0, err
    assert "`logs -f` waits for its runs." in err


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """This process ignores SIGINT meanwhile, and the children it starts inherit that: so
    is a job a shell without job control starts in the background (a test run too)."""
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def test_sigint_stops_logs_follow_started_with_sigint_ignored(
    home: Path, following: Callable[..., Follower]
) -> None:
    with sigint_ignored():
        follower = following(home, {}, "--crew", "nobody")
    follower.wait_to_say("`logs -f` waits for its runs.")  # following: past its start
    code, err = follower.interrupt(within=15)
    assert code == 0, err


def test_a_since_that_is_no_time_is_refused_with_exit_2(home: Path) -> None:
    result = run(home, "logs", "--since", "yesterday")
    assert result.returncode == ExitCode.USAGE
    assert "neither a duration" in result.stderr


def test_logs_follow_polls_a_run_nobody_else_follows_and_ctrl_c_exits_0(
    sim: SimServer, home: Path, following: Callable[..., Follower]
) -> None:
    kickoff_id = kickoff(sim, home)  # started, then nobody polls it
    follower = following(home, crew_env(sim))
    done = follower.wait_for(ended(kickoff_id))
    assert done["state"] == "completed" and done["crew"] == "default"
    code, err = follower.interrupt()
    assert code == 0
    assert err == ""


def test_logs_follow_says_on_stderr_that_the_crew_refuses_its_token(
    sim: SimServer, home: Path, following: Callable[..., Follower]
) -> None:
    kickoff(sim, home)  # started, then nobody polls it
    follower = following(home, crew_env(sim, token="not-the-token"))
    follower.wait_to_say("`logs -f` goes on and tries again.")
    code, err = follower.interrupt()
    assert code == 0
    [said] = err.splitlines()
    assert said.startswith("crewtui: ") and "token" in said.lower()
    assert "not-the-token" not in err


def test_logs_follow_shows_a_run_another_crewtui_process_polls(
    sim: SimServer, home: Path, following: Callable[..., Follower]
) -> None:
    """The follower polls no crew: what it prints comes from the history another process
    writes (``kickoff --watch``, a separate process)."""
    follower = following(home, {}, "--crew", "default")
    kickoff_id = kickoff(sim, home, "--watch", *QUICK_POLLS)
    follower.wait_for(ended(kickoff_id))
    kinds = {line["kind"] for line in follower.lines if line["kickoff_id"] == kickoff_id}
    assert {"run", "done"} <= kinds
    code, err = follower.interrupt()
    assert code == 0
    assert "`logs -f` shows what other crewtui processes learn" in err


def test_hostile_text_in_the_history_stays_inert_on_the_terminal_and_faithful_in_json(
    home: Path,
) -> None:
    hostile = EVERYTHING.text
    store = Store.open(resolve_paths(home).store_file)
    now = datetime.now(UTC)
    kickoff_id = str(uuid.uuid4())
    store.save_kickoff(
        Kickoff(
            kickoff_id=kickoff_id,
            crew="travel",
            state=RunState.FAILED,
            created_at=now,
            updated_at=now,
            started_at=now,
            finished_at=now,
            error=hostile,
            tasks=[
                TaskResult(task_id=hostile, agent=hostile, state=TaskState.FAILED, finished_at=now)
            ],
        )
    )
    store.add_steps([Step(kickoff_id=kickoff_id, received_at=now, tool=hostile, result=hostile)])
    store.close()
    text = subprocess.run(
        [sys.executable, "-m", "crewtui", "logs"],
        env=child_env(home),
        capture_output=True,
        check=False,
    )
    assert text.returncode == 0, text.stderr
    assert_inert(text.stdout)
    assert EVERYTHING.shows.encode() in text.stdout
    as_json = run(home, "logs", "--json")
    assert any(hostile in json.loads(line)["text"] for line in as_json.stdout.splitlines())


# -- --notify --------------------------------------------------------------------------------


def written_config(home: Path, text: str) -> None:
    config = resolve_paths(home).config_file
    config.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    config.write_text(text)


def test_watch_notify_writes_an_osc9_notification_on_stderr_when_the_run_ends(
    sim: SimServer, home: Path
) -> None:
    kickoff_id = kickoff(sim, home)
    result = subprocess.run(
        [sys.executable, "-m", "crewtui", "watch", kickoff_id, "--notify", *QUICK_POLLS],
        env=child_env(home, crew_env(sim)),
        capture_output=True,
        check=False,
        timeout=WAIT,
    )
    assert result.returncode == 0, result.stderr
    expected = f"\x1b]9;Run completed: default {kickoff_id[:8]} completed in".encode()
    assert result.stderr.startswith(expected) and result.stderr.endswith(b"\x07")
    assert result.stderr.count(b"\x1b]9;") == 1
    assert b"\x1b" not in result.stdout  # the data stays clean


def test_kickoff_watch_notify_inside_tmux_wraps_an_osc777_in_passthrough(
    sim: SimServer, home: Path
) -> None:
    written_config(home, '[notify]\nform = "osc777"\n')
    args = ["kickoff", *inputs_args(sim, "content"), "--watch", "--notify", *QUICK_POLLS]
    result = subprocess.run(
        [sys.executable, "-m", "crewtui", *args],
        env=child_env(home, crew_env(sim) | {"TMUX": "/tmp/tmux-1/default,1,0"}),
        capture_output=True,
        check=False,
        timeout=WAIT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(b"\x1bPtmux;\x1b\x1b]777;notify;Run completed;default ")
    assert result.stderr.endswith(b"\x07\x1b\\")


def test_notify_is_refused_when_the_config_turned_notifications_off(
    sim: SimServer, home: Path
) -> None:
    written_config(home, '[notify]\nosc = "off"\n')
    result = run(
        home, "kickoff", *inputs_args(sim, "content"), "--watch", "--notify", env=crew_env(sim)
    )
    assert result.returncode == ExitCode.USAGE
    assert '[notify] osc names, and it is "off"' in result.stderr
    assert run(home, "list", "--json").stdout.strip() == "[]"  # nothing was sent


def test_watch_without_notify_writes_no_sequence(sim: SimServer, home: Path) -> None:
    kickoff_id = kickoff(sim, home)
    result = run(home, "watch", kickoff_id, *QUICK_POLLS, env=crew_env(sim))
    assert result.returncode == 0
    assert "\x1b" not in result.stderr


def test_kickoff_notify_needs_watch(sim: SimServer, home: Path) -> None:
    result = run(home, "kickoff", *inputs_args(sim, "content"), "--notify", env=crew_env(sim))
    assert result.returncode == ExitCode.USAGE
    assert "--notify needs --watch" in result.stderr


def test_watch_notify_tells_when_a_run_starts_waiting(sim: SimServer, home: Path) -> None:
    """A run that waits for a person never ends by itself: the notification comes while
    ``watch`` goes on (read as it arrives), once."""
    kickoff_id = kickoff(sim, home, crew="travel", hold="1")
    child = subprocess.Popen(
        [sys.executable, "-m", "crewtui", "watch", kickoff_id, "--notify", *QUICK_POLLS],
        env=child_env(home, crew_env(sim, "travel")),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    chunks: queue.Queue[bytes] = queue.Queue()

    def read() -> None:
        assert child.stderr is not None
        while chunk := child.stderr.read1(4096):
            chunks.put(chunk)
        chunks.put(b"")

    threading.Thread(target=read, daemon=True).start()
    written = b""
    try:
        while b"\x07" not in written:
            chunk = chunks.get(timeout=WAIT)
            assert chunk, f"watch exited first: {written!r}"
            written += chunk
    finally:
        child.kill()
        child.wait()
    assert written.startswith(
        f"\x1b]9;Run waits for input: default {kickoff_id[:8]} waits for input on ".encode()
    )
    assert written.count(b"\x1b]9;") == 1


def on_a_terminal(home: Path, *args: str, env: dict[str, str] | None = None) -> bytes:
    """What ``crewtui ARGS`` writes when its stdout is a terminal (a pty), to the end."""
    controller, terminal = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "crewtui", *args],
        env=child_env(home, env),
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=subprocess.PIPE,
    )
    os.close(terminal)
    written = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the child closed the terminal (EIO)
            break
        if not chunk:
            break
        written += chunk
    os.close(controller)
    assert child.wait(timeout=WAIT) == 0, child.stderr.read() if child.stderr else ""
    return written


def test_logs_colours_each_kind_on_a_terminal_and_never_with_no_color(
    sim: SimServer, home: Path
) -> None:
    kickoff(sim, home, "--watch", *QUICK_POLLS)
    coloured = on_a_terminal(home, "logs")
    assert b"\x1b[32mdone   \x1b[0m" in coloured  # green, the word still there
    assert b"\x1b[34mrun    \x1b[0m" in coloured
    plain = on_a_terminal(home, "logs", env={"NO_COLOR": "1"})
    assert b"\x1b" not in plain
    assert b"done" in plain


def test_logs_follow_tells_the_steps_another_process_stored(
    home: Path, following: Callable[..., Follower]
) -> None:
    """Another crewtui (here this test, writing the history as one would) polls the run and
    stores its steps: the follower reads them back when the run changes, each once."""
    # The other crewtui opens the history first: opening it migrates it, which waits for
    # the write lock, and a follower starting on a loaded machine may hold it a while.
    store = Store.open(resolve_paths(home).store_file)
    now = datetime.now(UTC)
    run_id = str(uuid.uuid4())
    pending = Kickoff(
        kickoff_id=run_id, crew="travel", state=RunState.PENDING, created_at=now, updated_at=now
    )
    try:
        follower = following(home, {})
        follower.wait_to_say("`logs -f` shows what other crewtui processes learn.")
        store.save_kickoff(pending)
        # Told live ("pending") or read with the history ("started"): it follows the run.
        follower.wait_for(lambda line: line["kickoff_id"] == run_id)
        search = Step(kickoff_id=run_id, received_at=now, tool="search", result="3 flights")
        store.add_steps([search])
        store.save_kickoff(
            pending.model_copy(
                update={
                    "state": RunState.RUNNING,
                    "current_task": "research",
                    "updated_at": now + timedelta(seconds=1),
                }
            )
        )
        tool = follower.wait_for(lambda line: line["kind"] == "tool")
        assert tool["text"] == "search() → 3 flights" and tool["task"] == "research"
        store.save_kickoff(
            pending.model_copy(
                update={
                    "state": RunState.COMPLETED,
                    "finished_at": now + timedelta(seconds=2),
                    "updated_at": now + timedelta(seconds=2),
                }
            )
        )
        follower.wait_for(ended(run_id))
    finally:
        store.close()
    assert [line["kind"] for line in follower.lines].count("tool") == 1


def test_logs_of_an_empty_history_say_so_on_stderr(home: Path) -> None:
    """Nothing at all on the screen read as a broken command: one sentence on stderr
    (stdout stays the stream of entries, empty), exit 0."""
    result = run(home, "logs")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == (
        "crewtui: No run in the history yet; start one with `crewtui kickoff -i KEY=VALUE`.\n"
    )
    since = run(home, "logs", "--since", "10m")
    assert since.stdout == "" and "No run in the history changed since " in since.stderr
