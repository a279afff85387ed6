"""Global options mean the same before and after the command's name, for every command.

``crewtui --help`` prints them before the command, so scripts write them there; argparse's
subparsers used to overwrite those values with their own defaults, silently.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from crewtui.api.errors import ExitCode
from crewtui.cli import OPTIONS_USED, build_parser, main
from crewtui.sim import SimServer
from tests.cli_helpers import QUICK_POLLS, inputs_args, run
from tests.hardening.cli_support import Cli, child_env

POSITIONS = ("before", "after")

# Every headless command with the arguments it needs: ``ID`` stands for a finished run's id.
COMMANDS: dict[str, list[str]] = {
    "inputs": [],
    "kickoff": ["INPUTS"],
    "status": ["ID"],
    "watch": ["ID", *QUICK_POLLS],
    "list": [],
    "track": ["ID"],
    "resume": ["ID", "--task", "research_task", "--feedback", "ok"],
    "cancel": ["ID", "--yes"],
    "doctor": [],
}
NEEDS_A_CREW = [name for name in COMMANDS if name != "list"]


def placed(position: str, options: list[str], command: str, rest: list[str]) -> list[str]:
    """``crewtui OPTIONS COMMAND REST`` or ``crewtui COMMAND REST OPTIONS``."""
    if position == "before":
        return [*options, command, *rest]
    return [command, *rest, *options]


@pytest.fixture(scope="module")
def finished_id(sim: SimServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A run the simulator knows, already completed (so `watch` of it returns at once)."""
    home = tmp_path_factory.mktemp("seed-home")
    url, token = sim.crew_url("content"), sim.options.token
    started = run(
        home,
        *["kickoff", *inputs_args(sim, "content"), "--watch", "--exit-status", *QUICK_POLLS],
        *["--url", url, "--token", token],
    )
    assert started.returncode == 0, started.stderr
    return started.stdout.split()[1]


@pytest.fixture
def homes(tmp_path: Path) -> tuple[Path, Path]:
    """The home given with --home, and the decoy CREWTUI_HOME that must stay untouched."""
    return tmp_path / "given", tmp_path / "decoy"


def arguments(sim: SimServer, kickoff_id: str, command: str) -> list[str]:
    rest: list[str] = []
    for arg in COMMANDS[command]:
        if arg == "INPUTS":
            rest += inputs_args(sim, "content")
        else:
            rest.append(kickoff_id if arg == "ID" else arg)
    return rest


# What each command answers when --home, --url, --token and --json all reach it (resume of
# a run that is not waiting is refused by the service, after the store and the token; cancel
# of a run that has completed says so with 1).
EXPECTED_EXIT = {name: ExitCode.OK for name in COMMANDS} | {
    "resume": ExitCode.USAGE,
    "cancel": ExitCode.RUN_FAILED,
}


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_home_url_token_and_json_reach_every_command(
    sim: SimServer, finished_id: str, homes: tuple[Path, Path], command: str, position: str
) -> None:
    given, decoy = homes
    options = ["--home", str(given), "--url", sim.crew_url("content")]
    options += ["--token", sim.options.token, "--json"]
    result = run(decoy, *placed(position, options, command, arguments(sim, finished_id, command)))
    assert result.returncode == EXPECTED_EXIT[command], result.stderr
    if result.returncode == ExitCode.OK:  # --json: anything else would not parse
        documents = result.stdout.splitlines() if command == "watch" else [result.stdout]
        for document in documents:
            json.loads(document)
    assert (given / "data" / "history.sqlite3").exists(), "--home was not used"
    assert not decoy.exists(), "the default home was used instead of --home"


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("command", NEEDS_A_CREW)
def test_an_unknown_crew_is_refused_in_both_places(
    sim: SimServer, tmp_path: Path, command: str, position: str
) -> None:
    rest = arguments(sim, str(uuid.uuid4()), command)
    result = run(tmp_path, *placed(position, ["--crew", "nope"], command, rest))
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert "'nope'" in result.stderr


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("command", ["status", "watch", "track"])
def test_a_wrong_token_is_used_in_both_places(
    sim: SimServer, finished_id: str, tmp_path: Path, command: str, position: str
) -> None:
    secret = "wrong-" + uuid.uuid4().hex
    options = ["--url", sim.crew_url("content"), "--token", secret]
    result = run(tmp_path, *placed(position, options, command, [finished_id]))
    assert result.returncode == ExitCode.TOKEN_REJECTED, result.stderr
    assert secret not in result.stdout + result.stderr


@pytest.fixture(scope="module")
def seeded_home(sim: SimServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose history holds one completed run of the content crew (only read)."""
    path = tmp_path_factory.mktemp("seeded-home")
    options = ["--url", sim.crew_url("content"), "--crew", "content", "--token", sim.options.token]
    started = run(path, "kickoff", *inputs_args(sim, "content"), "--watch", *QUICK_POLLS, *options)
    assert started.returncode == 0, started.stderr
    return path


def test_the_later_of_two_values_wins(seeded_home: Path, tmp_path: Path) -> None:
    full, empty = seeded_home, tmp_path / "empty"

    def listed(*args: str) -> list[dict[str, object]]:
        result = run(tmp_path / "decoy", *args)
        assert result.returncode == 0, result.stderr
        rows: list[dict[str, object]] = json.loads(result.stdout)
        return rows

    assert len(listed("--home", str(empty), "list", "--home", str(full), "--json")) == 1
    assert listed("--home", str(full), "list", "--home", str(empty), "--json") == []
    assert (
        len(listed("--home", str(full), "--crew", "nope", "list", "--crew", "content", "--json"))
        == 1
    )
    # The later --crew names no crew of the history: it is the one refused.
    later = run(
        tmp_path / "decoy", "--home", str(full), "--crew", "content", "list", "--crew", "nope"
    )
    assert later.returncode == ExitCode.USAGE and "'nope'" in later.stderr, later.stderr


@pytest.mark.parametrize("position", POSITIONS)
def test_list_filters_by_the_crew_given_in_either_place(seeded_home: Path, position: str) -> None:
    result = run(seeded_home, *placed(position, ["--crew", "content", "--json"], "list", []))
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 1
    # A crew with no run in this history and no config is a typo, said as such.
    elsewhere = run(seeded_home, *placed(position, ["--crew", "travel", "--json"], "list", []))
    assert elsewhere.returncode == ExitCode.USAGE and "'travel'" in elsewhere.stderr


# -- the app and the demo --------------------------------------------------------------------

HEADLESS_APP = {
    "TEXTUAL_DRIVER": "textual.drivers.headless_driver:HeadlessDriver",
    "TEXTUAL_PRESS": "q",  # quit as soon as the app is up
}


def test_the_app_gets_home_url_token_and_webhooks(sim: SimServer, tmp_path: Path) -> None:
    given, decoy = tmp_path / "given", tmp_path / "decoy"
    options = ["--home", str(given), "--url", sim.crew_url("content")]
    options += ["--token", sim.options.token, "--webhooks", "127.0.0.1:0"]
    # The app makes its tracker, and the receiver with it, after its first frame or when a
    # key needs it first: R (poll now) does, before q quits.
    result = run(decoy, *options, env={**HEADLESS_APP, "TEXTUAL_PRESS": "R,q"})
    assert result.returncode == 0, result.stderr
    assert (given / "data" / "history.sqlite3").exists()
    assert (given / "data" / "webhook-secret").exists(), "--webhooks did not start a receiver"
    assert not decoy.exists()


def test_the_app_refuses_an_unknown_crew_and_reads_the_given_home(tmp_path: Path) -> None:
    assert "'nope'" in run(tmp_path, "--crew", "nope").stderr
    broken = tmp_path / "broken"
    (broken / "config").mkdir(parents=True, mode=0o700)
    (broken / "config" / "config.toml").write_text("[crews.a]\nurl = \n")
    result = run(tmp_path / "decoy", "--home", str(broken), env=HEADLESS_APP)
    assert result.returncode == ExitCode.USAGE
    assert "config.toml:2:" in result.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def listens(process: subprocess.Popen[bytes], port: int, deadline: float) -> bool:
    """Whether ``port`` accepts a connection before ``process`` exits or time runs out."""
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return True
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.2)  # the pause between tries, and an early exit seen
            return False
    return False


@pytest.mark.parametrize("position", POSITIONS)
def test_the_demo_receives_webhooks_where_told_in_both_places(
    tmp_path: Path, position: str
) -> None:
    port = free_port()
    args = placed(position, ["--webhooks", f"127.0.0.1:{port}"], "demo", [])
    env = child_env(tmp_path, {"TEXTUAL_DRIVER": HEADLESS_APP["TEXTUAL_DRIVER"]})
    command = [sys.executable, "-m", "crewtui", *args]
    with subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    ) as demo:
        try:
            assert listens(demo, port, time.monotonic() + 60), "no receiver on the given port"
        finally:
            demo.terminate()


def test_the_demo_never_reads_the_users_config(tmp_path: Path) -> None:
    """The demo runs on its own crews: a broken config of the user's does not stop it."""
    (tmp_path / "config").mkdir(mode=0o700)
    (tmp_path / "config" / "config.toml").write_text("[crews.a]\nurl = \n")
    result = run(tmp_path, "demo", env=HEADLESS_APP)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "data").exists()


def same_refusal(
    before: subprocess.CompletedProcess[str], after: subprocess.CompletedProcess[str]
) -> str:
    assert before.returncode == after.returncode == ExitCode.USAGE, (before.stderr, after.stderr)
    assert before.stderr.splitlines()[-1] == after.stderr.splitlines()[-1]
    return before.stderr


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--home", "elsewhere"], "drop --home"),
        (["--crew", "content"], "drop --crew"),
        (["--json"], "drop --json"),
        (["--webhooks", "not-an-address"], "HOST:PORT"),
        (["--public-url", "ftp://example.com"], "http(s)"),
    ],
)
def test_the_demo_treats_options_alike_in_both_places(
    tmp_path: Path, options: list[str], fragment: str
) -> None:
    before = run(tmp_path, *options, "demo", env=HEADLESS_APP)
    stderr = same_refusal(before, run(tmp_path, "demo", *options, env=HEADLESS_APP))
    assert fragment in stderr
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("command", [name for name in COMMANDS if name != "watch"])
def test_a_headless_command_refuses_the_webhook_receiver(
    sim: SimServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
    command: str,
    position: str,
) -> None:
    """In-process (the matrix is large); the receiver is for the app, the demo and the
    commands that follow runs (``watch``, ``kickoff --watch``: not ``kickoff`` alone)."""
    cli = Cli(tmp_path, monkeypatch, capsysbinary)
    rest = arguments(sim, str(uuid.uuid4()), command)
    for option in (["--webhooks", "127.0.0.1:8787"], ["--public-url", "https://x.example"]):
        options = ["--url", sim.crew_url("content"), "--token", sim.options.token, *option]
        outcome = cli(*placed(position, options, command, rest))
        assert outcome.code == ExitCode.USAGE, outcome.err
        assert f"drop {option[0]}" in outcome.err
        assert len(outcome.err.strip().splitlines()) == 1
    assert not (tmp_path / "data").exists(), "nothing is written for a refused command"


@pytest.mark.parametrize("position", POSITIONS)
def test_sim_takes_the_global_options_in_both_places(tmp_path: Path, position: str) -> None:
    """``crewtui --home D sim --speed 3`` (an alias that sets a home) and ``crewtui sim
    --speed 3 --home D`` serve the crews: ``--home`` changes nothing for it and ``--token``
    is its crews' token. sim's own parser used to refuse a ``--home`` after its name."""
    given = tmp_path / "given"
    options = ["--home", str(given), "--token", "tok-given"]
    argv = placed(position, options, "sim", ["--speed", "3", "--port", "0"])
    with subprocess.Popen(
        [sys.executable, "-m", "crewtui", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(tmp_path),
    ) as served:
        assert served.stdout is not None
        try:
            banner = [served.stdout.readline() for _ in range(10)]
        finally:
            served.terminate()
        _, err = served.communicate(timeout=30)
    assert banner[0].startswith("crewtui simulator: live dialect, speed 3x"), (banner, err)
    assert any(line.startswith("Bearer Token:      tok-given") for line in banner), banner
    assert served.returncode == 0, err
    assert not given.exists(), "sim keeps nothing on disk"


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("option", [["--json"], ["--url", "https://c.example"], ["--crew", "c"]])
def test_a_global_option_sim_cannot_use_gets_one_sentence(
    tmp_path: Path, option: list[str], position: str
) -> None:
    result = run(tmp_path, *placed(position, option, "sim", ["--speed", "3"]))
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.strip() == (
        f"crewtui: `crewtui sim` serves its own example crews and prints no results: "
        f"drop {option[0]}."
    )


def test_a_global_option_after_sim_without_its_value_is_refused(tmp_path: Path) -> None:
    """Its value is not taken from the words around it (``sim`` became the home once)."""
    result = run(tmp_path, "sim", "--port", "0", "--home")
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.splitlines()[-1] == "crewtui: argument --home: expected one argument"
    assert not (tmp_path / "sim").exists()


# -- the parser itself: one namespace whatever the order -------------------------------------

VALUES: dict[str, list[str]] = {
    "crew": ["--crew", "c"],
    "url": ["--url", "https://c.example"],
    "token": ["--token", "t"],
    "home": ["--home", "h"],
    "json": ["--json"],
    "webhooks": ["--webhooks", ":8787"],
    "public_url": ["--public-url", "https://hooks.example"],
}


def parsed(argv: list[str]) -> dict[str, object]:
    return vars(build_parser().parse_args(argv))


@pytest.mark.parametrize("command", [name for name in OPTIONS_USED if name is not None])
def test_every_global_option_parses_the_same_in_both_places(command: str) -> None:
    rest = ["x"] if command in ("status", "watch", "track", "cancel") else []
    rest += ["x", "--task", "t", "--feedback", "f"] if command == "resume" else []
    rest += ["x", "y"] if command == "diff" else []
    options = [arg for values in VALUES.values() for arg in values]
    assert parsed([*options, command, *rest]) == parsed([command, *rest, *options])


def test_a_public_url_flag_gets_the_sentence_of_what_is_wrong(tmp_path: Path) -> None:
    result = run(tmp_path, "--public-url", "https://hook:s3cret@hooks.example.com", "list")
    assert result.returncode == ExitCode.USAGE
    assert "user name or password" in result.stderr and "s3cret" not in result.stderr


@pytest.mark.parametrize("command", [name for name in OPTIONS_USED if name is not None])
def test_every_command_s_help_says_what_it_does(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    usage, _, rest = capsys.readouterr().out.partition("\n\n")
    assert usage.startswith(f"usage: crewtui {command}")
    assert not rest.startswith(("positional arguments:", "options:")), "no description"


def _own_options(command: str) -> list[argparse.Action]:
    """The options ``crewtui COMMAND --help`` lists that are the command's own (not global)."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    shared = parser._option_string_actions
    return [
        action
        for action in commands.choices[command]._actions
        if action.option_strings and not set(action.option_strings) & set(shared)
    ]


@pytest.mark.parametrize("command", [name for name in OPTIONS_USED if name is not None])
def test_a_command_s_own_option_before_its_name_gets_one_sentence(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for action in _own_options(command):
        for option in action.option_strings:
            value = [] if action.nargs == 0 else ["v"]
            with pytest.raises(SystemExit) as stopped:
                main([option, *value, command])
            assert stopped.value.code == ExitCode.USAGE
            said = capsys.readouterr().err.splitlines()[-1]
            assert said == (
                f"crewtui: {option} is an option of `crewtui {command}`: give it after the "
                f"command, as in `crewtui {command} {option} ...`."
            )


def test_serve_s_listen_before_the_command_says_where_it_goes(tmp_path: Path) -> None:
    result = run(tmp_path, "--listen", "127.0.0.1:9", "serve")
    assert result.returncode == ExitCode.USAGE
    assert "invalid choice" not in result.stderr
    assert "--listen is an option of `crewtui serve`" in result.stderr
    assert not (tmp_path / "data").exists(), "nothing starts for a refused command"


def test_sim_s_own_option_before_its_name_gets_one_sentence(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``sim`` parses its own options: before its name they read as the command ("3")."""
    with pytest.raises(SystemExit) as stopped:
        main(["--speed", "3", "sim"])
    assert stopped.value.code == ExitCode.USAGE
    assert capsys.readouterr().err.splitlines()[-1] == (
        "crewtui: --speed is an option of `crewtui sim`: give it after the command, "
        "as in `crewtui sim --speed ...`."
    )
