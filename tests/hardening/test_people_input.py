"""What people type wrong gets one clear sentence, exit code 2, and nothing written.

"Nothing written" is checked on disk: the config file is byte for byte unchanged, and the
history either does not exist or holds no kickoff. And when the data directory cannot be
used at all, the commands still work, with one warning that history is not being saved.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from crewtui.api.errors import ExitCode
from crewtui.core.store import Store
from crewtui.sim import SimServer
from tests.cli_helpers import QUICK_POLLS
from tests.hardening.cli_support import Outcome, run_process

CREW = "research"


def crew_env(sim: SimServer) -> dict[str, str]:
    return {"CREWAI_API_URL": sim.crew_url(CREW), "CREWAI_BEARER_TOKEN": sim.options.token}


def one_sentence(outcome: Outcome) -> str:
    """The single ``crewtui:`` line of stderr (argparse may print its usage before it)."""
    lines = [line for line in outcome.err.splitlines() if line.startswith("crewtui:")]
    assert len(lines) == 1, outcome.err
    assert "Traceback" not in outcome.err
    return lines[0]


def assert_nothing_written(home: Path) -> None:
    """No history file, or one without a single kickoff."""
    store_file = home / "data" / "history.sqlite3"
    if not store_file.exists():
        return
    store = Store.open(store_file)
    try:
        assert store.count_kickoffs() == 0
    finally:
        store.close()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["kickoff", "-i", "topic"], "KEY=VALUE"),
        (["kickoff", "-i", "=value"], "KEY=VALUE"),
        (["kickoff", "-i", "topic=a", "-i", "topic=b"], "'topic' is given twice"),
        (["kickoff", "--meta", "k=1", "--meta", "k=2"], "'k' is given twice"),
        (["kickoff", "-i", "topic="], "'topic' is empty"),
        (["kickoff", "-i", "topic=   "], "'topic' is empty"),
        (["kickoff", "-i", "topic=", "-i", "extra="], "'topic', 'extra' are empty"),
        (["kickoff", "-i", "topic=x", "--task-webhook", "not a url"], "--task-webhook"),
        (["kickoff", "-i", "topic=x", "--crew-webhook", "ftp://x.example/h"], "--crew-webhook"),
        (["kickoff", "-i", "topic=x", "--crew", "nope"], "'nope'"),
        (["status", "--crew", "nope", str(uuid.uuid4())], "'nope'"),
        (["watch", "--crew", "nope", str(uuid.uuid4())], "'nope'"),
        (["status", "bad id!"], "not a kickoff id"),
        (["track", "../../etc/passwd"], "not a kickoff id"),
        (["watch", "\x1b]52;c;?\x07"], "not a kickoff id"),
        (["status", str(uuid.uuid4()), "--url", "ftp://x.example"], "--url"),
    ],
)
def test_bad_input_is_one_sentence_exit_two_and_nothing_written(
    sim: SimServer, home: Path, args: list[str], fragment: str
) -> None:
    outcome = run_process(home, *args, env=crew_env(sim))
    assert outcome.code == ExitCode.USAGE, outcome.err
    line = one_sentence(outcome)
    assert fragment in line
    assert "\x1b" not in outcome.err
    assert outcome.stdout == b""
    assert_nothing_written(home)


def test_an_empty_input_is_refused_before_anything_is_sent(sim: SimServer, home: Path) -> None:
    """Not even the service's 422: the refusal is local (no attempt stored and removed)."""
    outcome = run_process(home, "kickoff", "-i", "topic=", env=crew_env(sim))
    assert outcome.code == ExitCode.USAGE
    assert "crew refused" not in outcome.err
    assert not (home / "data").exists()


# Each broken file with a different command: every command reads the config first.
CONFIG_CASES = [
    ('[crews.a]\nurl = "https://a.example"\ntoken = \n', "config.toml:3:9", ["list"]),
    ('default_crew = "a"\n[poll\nmax_interval = 3\n', "config.toml:2:", ["status", "5f1c2d3e"]),
    (
        '[crews.a]\nurl = "https://a.example"\ntokn = "x"\n',
        "unknown key 'crews.a.tokn'",
        ["doctor"],
    ),
    ("[pol]\nmax_interval = 3\n", "unknown key 'pol'", ["kickoff", "-i", "topic=x"]),
    ("[poll]\nmax_intervall = 3\n", "unknown key 'poll.max_intervall'", ["watch", "5f1c2d3e"]),
    ('[crews.a]\nurl = "not a url"\n', "crews.a.url", ["inputs"]),
]


@pytest.mark.parametrize(("text", "fragment", "command"), CONFIG_CASES)
def test_a_broken_config_is_named_and_left_untouched(
    home: Path, text: str, fragment: str, command: list[str]
) -> None:
    config_dir = home / "config"
    config_dir.mkdir(mode=0o700)
    file = config_dir / "config.toml"
    file.write_text(text, encoding="utf-8")
    file.chmod(0o600)
    before = file.stat()
    outcome = run_process(home, *command)
    assert outcome.code == ExitCode.USAGE, outcome.err
    line = one_sentence(outcome)
    assert fragment in line and str(config_dir) in line
    assert file.read_text(encoding="utf-8") == text
    assert file.stat().st_mtime_ns == before.st_mtime_ns
    assert sorted(p.name for p in config_dir.iterdir()) == ["config.toml"]
    assert not (home / "data").exists()


# -- an unusable data directory --------------------------------------------------------------


@pytest.fixture
def blocked_home(home: Path) -> Path:
    """A home whose data directory is a regular file: unusable even for root."""
    (home / "data").write_text("not a directory")
    return home


def history_warning(outcome: Outcome) -> None:
    warnings = [line for line in outcome.err.splitlines() if "history will not be kept" in line]
    assert len(warnings) == 1, outcome.err
    assert "Traceback" not in outcome.err


def test_commands_work_without_a_usable_data_directory(sim: SimServer, blocked_home: Path) -> None:
    env = crew_env(sim)
    started = run_process(
        blocked_home,
        "kickoff",
        "-i",
        "topic=x",
        "--watch",
        "--exit-status",
        "--json",
        *QUICK_POLLS,
        env=env,
    )
    assert started.code == ExitCode.OK, started.err
    history_warning(started)
    kickoff_id = json.loads(started.stdout.splitlines()[-1])["kickoff_id"]
    assert json.loads(started.stdout.splitlines()[-1])["state"] == "completed"

    status = run_process(blocked_home, "status", kickoff_id, "--json", env=env)
    assert status.code == ExitCode.OK, status.err
    history_warning(status)
    assert json.loads(status.stdout)["state"] == "completed"

    listed = run_process(blocked_home, "list", env=env)
    assert listed.code == ExitCode.OK, listed.err
    history_warning(listed)
    assert "No kickoffs" in listed.out

    inputs = run_process(blocked_home, "inputs", env=env)
    assert inputs.code == ExitCode.OK and inputs.out.split() == ["topic"]

    doctor = run_process(blocked_home, "doctor", env=env)
    history_warning(doctor)
    assert "nothing is being saved" in doctor.out
    assert (blocked_home / "data").read_text() == "not a directory"
