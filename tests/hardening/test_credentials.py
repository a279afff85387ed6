"""The token never leaves the Authorization header: not in output, files, logs, reprs or errors.

A simulator that accepts only a distinctive token runs every headless command with the token
given each way (environment, config file, ``--token``); then every byte the commands wrote
(stdout, stderr, every file of the data directory: the SQLite file, its -wal and -shm) is
searched for it. In-process runs check the DEBUG logs of crewtui, httpx and httpcore, an
unexpected exception's message, and the reprs of everything that holds the token.
"""

from __future__ import annotations

import json
import logging
import struct
import subprocess
import sys
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from crewtui.api.client import CrewClient
from crewtui.api.errors import ApiError, AuthError, ConfigError, ExitCode
from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.config import Config
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.settings import PollSettings
from crewtui.sim import SimOptions, SimServer
from tests.cli_helpers import QUICK_POLLS
from tests.hardening.cli_support import NO_BACKOFF, Cli, Outcome, child_env, run_process
from tests.hardening.hostile_crew import HostileCrew

CANARY = "tok-CANARY-" + uuid.uuid4().hex
CREW = "research"


@pytest.fixture(scope="module")
def canary_sim() -> Iterator[SimServer]:
    """A live simulator that accepts only the canary token."""
    with SimServer(SimOptions(dialect="live", speed=100.0, token=CANARY)) as server:
        yield server


def token_forms(token: str) -> list[bytes]:
    """The token raw and written the ways a hostile echo spells it (``echo_coded``)."""
    return [
        token.encode(),
        "".join(f"\\u{ord(char):04x}" for char in token).encode(),
        "".join(f"%{byte:02X}" for byte in token.encode()).encode(),
    ]


def assert_no_token(*blobs: bytes | str) -> None:
    for blob in blobs:
        data = blob.encode("utf-8", "surrogatepass") if isinstance(blob, str) else blob
        for form in token_forms(CANARY):
            assert form not in data, data[:400]


def assert_data_dir_clean(home: Path) -> None:
    """No file crewtui wrote (history, its -wal and -shm, anything else) holds the token."""
    files = [path for path in (home / "data").rglob("*") if path.is_file()]
    assert any(path.name == "history.sqlite3" for path in files)
    for path in files:
        assert_no_token(path.read_bytes())


def write_config(home: Path, text: str, *, file_mode: int = 0o600, dir_mode: int = 0o700) -> Path:
    config_dir = home / "config"
    config_dir.mkdir(mode=dir_mode, exist_ok=True)
    config_dir.chmod(dir_mode)
    file = config_dir / "config.toml"
    file.write_text(text, encoding="utf-8")
    file.chmod(file_mode)
    return file


def token_source(sim: SimServer, home: Path, source: str) -> tuple[list[str], dict[str, str]]:
    """Flags and environment that give the canary token one way (env, config or flag)."""
    url = sim.crew_url(CREW)
    if source == "env":
        return [], {"CREWAI_API_URL": url, "CREWAI_BEARER_TOKEN": CANARY}
    if source == "config":
        write_config(home, f'[crews.{CREW}]\nurl = "{url}"\ntoken = "{CANARY}"\n')
        return ["--crew", CREW], {}
    return ["--url", url, "--token", CANARY], {}


def every_command(
    home: Path, sim: SimServer, flags: list[str], env: dict[str, str], *, all_of_them: bool
) -> list[Outcome]:
    """The headless commands (human and JSON) on one real run of the crew; with
    ``all_of_them`` false, the ones that send the token each way (kickoff, poll, inputs)."""
    pairs = sim.sample_inputs(CREW).items()
    inputs = [arg for key, value in pairs for arg in ("-i", f"{key}={value}")]

    def run(*args: str) -> Outcome:
        return run_process(home, *args, *flags, env=env)

    started = run("kickoff", *inputs, "--watch", "--json", *QUICK_POLLS)
    assert started.code == ExitCode.OK, started.err
    kickoff_id = json.loads(started.stdout.splitlines()[-1])["kickoff_id"]
    outcomes = [started, run("status", kickoff_id, "--json"), run("doctor")]
    if all_of_them:
        outcomes += [
            run("kickoff", *inputs, "--watch", "--exit-status", *QUICK_POLLS),
            run("watch", kickoff_id, "--exit-status", *QUICK_POLLS),
            run("status", kickoff_id),
            run("track", str(uuid.uuid4())),
            run("list"),
            run("list", "--json"),
            run("inputs"),
            run("doctor", "--json"),
        ]
    for outcome in outcomes:
        assert outcome.code in (ExitCode.OK, ExitCode.NOT_FOUND), outcome.err
    return outcomes


@pytest.mark.parametrize("source", ["env", "config", "flag"])
def test_no_command_writes_the_token_anywhere(
    canary_sim: SimServer, home: Path, source: str
) -> None:
    flags, env = token_source(canary_sim, home, source)
    for outcome in every_command(home, canary_sim, flags, env, all_of_them=source == "env"):
        assert_no_token(outcome.stdout, outcome.stderr)
    assert_data_dir_clean(home)


def test_debug_logs_hold_no_token(
    canary_sim: SimServer, cli: Cli, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("crewtui", "httpx", "httpcore", "uvicorn", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    cli.setenv("CREWAI_API_URL", canary_sim.crew_url(CREW))
    cli.setenv("CREWAI_BEARER_TOKEN", CANARY)
    inputs = [f"{key}={value}" for key, value in canary_sim.sample_inputs(CREW).items()]
    started = cli("kickoff", *(arg for pair in inputs for arg in ("-i", pair)), "--watch")
    assert started.code == ExitCode.OK, started.err
    for args in (["status", started.out.split()[1]], ["inputs"], ["doctor"]):
        outcome = cli(*args)
        assert outcome.code == ExitCode.OK, outcome.err
        assert_no_token(outcome.stdout, outcome.stderr)
    assert any(record.name.startswith("httpcore") for record in caplog.records)
    assert_no_token(caplog.text)
    for record in caplog.records:
        assert_no_token(repr(record.args), str(record.msg))


@pytest.mark.parametrize("source", ["env", "config", "flag"])
def test_an_unexpected_error_quoting_the_token_is_redacted(
    canary_sim: SimServer, cli: Cli, home: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    flags, env = token_source(canary_sim, home, source)
    for name, value in env.items():
        cli.setenv(name, value)

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(f"connection string Bearer {CANARY} rejected")

    monkeypatch.setattr(Store, "list_kickoffs", explode)
    outcome = cli("list", *flags)
    assert outcome.code == 1
    assert "unexpected error" in outcome.err and "RuntimeError" in outcome.err
    assert_no_token(outcome.stdout, outcome.stderr)


def test_a_rejected_token_is_never_quoted(canary_sim: SimServer, home: Path) -> None:
    wrong = "tok-WRONG-" + uuid.uuid4().hex
    outcome = run_process(home, "inputs", "--url", canary_sim.crew_url(CREW), "--token", wrong)
    assert outcome.code == ExitCode.TOKEN_REJECTED
    assert "token" in outcome.err
    assert wrong not in outcome.out + outcome.err


@pytest.mark.parametrize("coded", [False, True], ids=["raw", "coded"])
@pytest.mark.parametrize("dialect", ["live", "documented"])
def test_a_server_echoing_the_token_gets_it_nowhere(
    hostile_crew: HostileCrew, cli: Cli, home: Path, dialect: str, coded: bool
) -> None:
    """Raw, or spelt in \\u escapes, percent-encoding and a bytes repr: in errors and 200s."""

    def crew(mode: str) -> list[str]:
        mode = mode.replace("echo", "echo_coded") if coded else mode
        return ["--url", hostile_crew.url(dialect, mode, "nul"), "--token", CANARY]

    failures = [
        cli("inputs", *crew("echo")),
        cli("status", str(uuid.uuid4()), *crew("echo")),
        cli("kickoff", "-i", "topic=x", *crew("echo")),
        cli("doctor", *crew("echo")),
    ]
    for outcome in failures:
        assert outcome.code == ExitCode.UNREACHABLE, outcome.err
        assert "bad credentials" in outcome.out + outcome.err
        assert_no_token(outcome.stdout, outcome.stderr)
    echoed = [
        cli("status", str(uuid.uuid4()), *crew("echo_ok")),
        cli("status", str(uuid.uuid4()), "--json", *crew("echo_ok")),
        cli("inputs", "--json", *crew("echo_ok")),
    ]
    for outcome in echoed:
        assert outcome.code == ExitCode.OK, outcome.err
        assert "you sent" in outcome.out
        assert "[redacted]" in outcome.out
        assert_no_token(outcome.stdout, outcome.stderr)
    assert_data_dir_clean(home)


def test_reprs_and_errors_hold_no_token() -> None:
    profile = CrewProfile(name="c", url="https://c.example", token=Secret(CANARY))
    config = Config(crews={"c": profile})
    client = CrewClient(profile)
    tracker = Tracker([profile], Store.in_memory(), PollSettings())
    holders: list[object] = [
        profile,
        config,
        client,
        tracker,
        tracker.crews,
        asdict(profile),
        asdict(config),
    ]
    for holder in holders:
        assert_no_token(repr(holder), str(holder))
    assert_no_token(json.dumps(asdict(config), default=str))
    for error in (AuthError("The c crew rejected the token (HTTP 401)."), ApiError("x")):
        assert_no_token(repr(error), str(error))


@pytest.mark.parametrize(
    "fields",
    [{"token": Secret(CANARY + "\r")}, {"url": f"https://user:{CANARY}@c.example"}],
    ids=["token with CR", "password in URL"],
)
def test_a_profile_refused_in_code_does_not_quote_its_input(fields: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        CrewProfile(**{"name": "c", "url": "https://c.example", **fields})
    assert_no_token(str(caught.value), repr(caught.value))


@pytest.mark.parametrize(
    ("file_mode", "dir_mode", "fix"),
    [
        (0o644, 0o700, "chmod 600"),
        (0o640, 0o700, "chmod 600"),
        (0o604, 0o700, "chmod 600"),
        (0o600, 0o755, "chmod 700"),
        (0o600, 0o750, "chmod 700"),
        (0o600, 0o705, "chmod 700"),
    ],
)
def test_a_token_file_others_can_read_is_refused_untouched(
    home: Path, file_mode: int, dir_mode: int, fix: str
) -> None:
    text = f'[crews.c]\nurl = "https://c.example"\ntoken = "{CANARY}"\n'
    file = write_config(home, text, file_mode=file_mode, dir_mode=dir_mode)
    outcome = run_process(home, "list")
    assert outcome.code == ExitCode.USAGE
    assert fix in outcome.err and str(file) in outcome.err
    assert len(outcome.err.strip().splitlines()) == 1
    assert_no_token(outcome.stdout, outcome.stderr)
    assert file.read_text(encoding="utf-8") == text
    assert not (home / "data").exists()


def test_plain_http_to_another_host_warns_before_sending(home: Path) -> None:
    outcome = run_process(
        home,
        *["inputs", "--url", "http://example.invalid:9/", "--token", CANARY],
        env=NO_BACKOFF,
        timeout=60,
    )
    assert outcome.code == ExitCode.UNREACHABLE
    warning = outcome.err.find("plain http")
    assert warning != -1, outcome.err
    assert warning < outcome.err.find("Could not reach")
    assert_no_token(outcome.stdout, outcome.stderr)


def test_plain_http_to_loopback_does_not_warn(canary_sim: SimServer, home: Path) -> None:
    outcome = run_process(home, "inputs", "--url", canary_sim.crew_url(CREW), "--token", CANARY)
    assert outcome.code == ExitCode.OK, outcome.err
    assert "plain http" not in outcome.err


SCREENSHOTS = Path(__file__).parents[2] / "screenshots"


def test_the_committed_screenshots_hold_no_token() -> None:
    """The screenshots are made from the simulator with its default tokens: neither may show."""
    shots = sorted(SCREENSHOTS.glob("*.svg"))
    assert shots, "screenshots/ is empty: run python -m crewtui.ui.screenshots"
    defaults = SimOptions()
    for shot in shots:
        text = shot.read_text(encoding="utf-8")
        assert defaults.token not in text, shot.name
        assert defaults.user_token not in text, shot.name


# A PNG's chunks that hold only pixels and how to show them (no words of anyone's).
PICTURE_CHUNKS = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"sRGB", b"gAMA", b"pHYs"})


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Every chunk of a PNG as (type, body), each checked against its CRC."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), "not a PNG"
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"chunk {kind!r} is damaged"
        chunks.append((kind, body))
        at += 12 + length
    return chunks


def words_in_png(data: bytes) -> list[bytes]:
    """What a PNG says besides its pixels: the bodies of every chunk that is not a picture's
    (tEXt, zTXt and iTXt, inflated where compressed; eXIf; anything unknown)."""
    said = []
    for kind, body in png_chunks(data):
        if kind in PICTURE_CHUNKS:
            continue
        if kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            body = key + b"\0" + zlib.decompress(rest[1:])
        elif kind == b"iTXt" and body.partition(b"\0")[2][:1] == b"\1":
            key, _, rest = body.partition(b"\0")
            language, _, rest = rest[2:].partition(b"\0")
            translated, _, text = rest.partition(b"\0")
            body = b"\0".join((key, language, translated, zlib.decompress(text)))
        said.append(body)
    return said


def test_the_browser_screenshot_carries_no_token_in_its_file() -> None:
    """``web.png`` is pixels: a token drawn into them would take reading the picture (the
    generator checks the page's text before it saves it, see ``make_browser_screenshot``).
    What the file can hide besides them is checked here: metadata chunks (a tool may write
    the page's address, with ``crewtui web``'s secret, into a tEXt chunk) and the bytes."""
    data = (SCREENSHOTS / "web.png").read_bytes()
    defaults = SimOptions()
    for token in (defaults.token, defaults.user_token):
        assert token.encode() not in data
        for said in words_in_png(data):
            assert token.encode() not in said, said[:80]
    assert not [said for said in words_in_png(data) if b"http" in said], "an address is saved"
    # The check has teeth: the same picture with the token in a text chunk is caught.
    end = data.rindex(b"IEND") - 4
    note = b"Comment\0" + defaults.token.encode()
    chunk = struct.pack(">I", len(note)) + b"tEXt" + note
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + note))
    assert defaults.token.encode() in b"".join(words_in_png(data[:end] + chunk + data[end:]))


# -- a token that cannot go into a header is refused when it is loaded ----------------------

BAD_ENDINGS = {"CR": "\r", "CRLF": "\r\n", "LF": "\n", "NBSP": "\u00a0", "tab inside": "\t"}


def bad_token_source(
    sim: SimServer, home: Path, source: str, token: str
) -> tuple[list[str], dict[str, str], str]:
    """Flags and environment giving ``token`` one way, and how the message names that way."""
    url = sim.crew_url(CREW)
    toml_token = json.dumps(token)  # a TOML basic string takes JSON's escapes
    if source == "env":
        return [], {"CREWAI_API_URL": url, "CREWAI_BEARER_TOKEN": token}, "$CREWAI_BEARER_TOKEN"
    if source == "config":
        write_config(home, f'[crews.{CREW}]\nurl = "{url}"\ntoken = {toml_token}\n')
        return [], {}, f"crews.{CREW}.token in"
    if source == "token_env":
        write_config(home, f'[crews.{CREW}]\nurl = "{url}"\ntoken_env = "MY_CREW_TOKEN"\n')
        return [], {"MY_CREW_TOKEN": token}, "$MY_CREW_TOKEN"
    return ["--url", url, "--token", token], {}, "--token"


@pytest.mark.parametrize("ending", BAD_ENDINGS.values(), ids=BAD_ENDINGS.keys())
@pytest.mark.parametrize("source", ["env", "config", "token_env", "flag"])
def test_a_token_with_a_control_or_non_ascii_character_is_refused_unquoted(
    canary_sim: SimServer, cli: Cli, home: Path, source: str, ending: str
) -> None:
    token = CANARY[:12] + ending.join(["", CANARY[12:]]) if ending == "\t" else CANARY + ending
    flags, env, named = bad_token_source(canary_sim, home, source, token)
    for name, value in env.items():
        cli.setenv(name, value)
    outcome = cli("inputs", *flags)
    assert outcome.code == ExitCode.USAGE, outcome.err
    assert len(outcome.err.strip().splitlines()) == 1, outcome.err
    assert named in outcome.err and "control character" in outcome.err
    assert_no_token(outcome.stdout, outcome.stderr)
    assert CANARY[12:] not in outcome.err


def test_a_windows_line_ending_read_with_cat_is_one_sentence(
    canary_sim: SimServer, home: Path
) -> None:
    """The report as filed: CREWAI_BEARER_TOKEN="$(cat token.txt)" keeps a CR."""
    env = {"CREWAI_API_URL": canary_sim.crew_url(CREW), "CREWAI_BEARER_TOKEN": CANARY + "\r"}
    outcome = run_process(home, "inputs", env=env)
    assert outcome.code == ExitCode.USAGE, outcome.err
    assert "Illegal header" not in outcome.err and "unexpected" not in outcome.err
    assert "$CREWAI_BEARER_TOKEN" in outcome.err
    assert_no_token(outcome.stdout, outcome.stderr)


# -- the token-rejected message points at where the token came from -------------------------


@pytest.mark.parametrize("source", ["env", "config", "token_env", "flag"])
def test_a_rejected_token_names_where_it_came_from(
    canary_sim: SimServer, cli: Cli, home: Path, source: str
) -> None:
    wrong = "tok-WRONG-" + uuid.uuid4().hex
    flags, env, named = bad_token_source(canary_sim, home, source, wrong)
    for name, value in env.items():
        cli.setenv(name, value)
    outcome = cli("inputs", *flags)
    assert outcome.code == ExitCode.TOKEN_REJECTED, outcome.err
    assert f"check {named}" in outcome.err
    if source != "env":
        assert "CREWAI_BEARER_TOKEN" not in outcome.err
    assert wrong not in outcome.err


# -- a crew URL: one check wherever it comes from ---------------------------------------------

PASSWORD = "pa55-" + uuid.uuid4().hex[:8]
BAD_URLS = {
    "user and password": f"https://someone:{PASSWORD}@crew.example.com",
    "user only": f"https://{PASSWORD}@crew.example.com",
    "port out of range": "http://127.0.0.1:99999/x",
    "port not a number": "http://127.0.0.1:http/x",
    "query": "https://crew.example.com/?team=a",
    "fragment": "https://crew.example.com/#top",
    "not http": "ftp://crew.example.com",
}


def url_source(home: Path, source: str, url: str) -> tuple[list[str], dict[str, str], str]:
    if source == "env":
        return [], {"CREWAI_API_URL": url, "CREWAI_BEARER_TOKEN": CANARY}, "CREWAI_API_URL"
    if source == "config":
        write_config(home, f'[crews.{CREW}]\nurl = "{url}"\ntoken = "{CANARY}"\n')
        return [], {}, f"crews.{CREW}.url"
    return ["--url", url, "--token", CANARY], {}, "--url"


@pytest.mark.parametrize("url", BAD_URLS.values(), ids=BAD_URLS.keys())
@pytest.mark.parametrize("source", ["env", "config", "flag"])
def test_a_bad_crew_url_is_one_sentence_without_its_password(
    cli: Cli, home: Path, source: str, url: str
) -> None:
    flags, env, named = url_source(home, source, url)
    for name, value in env.items():
        cli.setenv(name, value)
    for command in (["inputs"], ["doctor"]):
        outcome = cli(*command, *flags)
        assert outcome.code == ExitCode.USAGE, outcome.err
        sentences = outcome.err.strip().splitlines()
        if command == ["doctor"] and not sentences:
            # doctor reports a crew it could not choose as one problem of its report
            sentences = [line for line in outcome.out.splitlines() if line.startswith("✖")]
        assert len(sentences) == 1, outcome.out + outcome.err
        assert named in sentences[0]
        assert "unexpected" not in outcome.out + outcome.err
        assert PASSWORD not in outcome.out + outcome.err
        assert_no_token(outcome.stdout, outcome.stderr)


def test_a_name_that_only_looks_like_loopback_gets_the_plain_http_warning(home: Path) -> None:
    outcome = run_process(
        home,
        *["inputs", "--url", "http://127.example.invalid:9/", "--token", CANARY],
        env=NO_BACKOFF,
        timeout=60,
    )
    assert outcome.code == ExitCode.UNREACHABLE
    assert "plain http" in outcome.err
    assert_no_token(outcome.stdout, outcome.stderr)


def test_a_debug_traceback_is_kept_but_redacted(canary_sim: SimServer, home: Path) -> None:
    """CREWTUI_DEBUG=1 prints the whole traceback of an unexpected error, without the token.

    A child process runs ``cli.main`` with ``Store.list_kickoffs`` made to raise with the
    token in its message, as the in-process test above does.
    """
    script = (
        "import sys\n"
        "from crewtui import cli\n"
        "from crewtui.core.store import Store\n"
        "def explode(*args, **kwargs):\n"
        f"    raise RuntimeError('connection string Bearer {CANARY} rejected')\n"
        "Store.list_kickoffs = explode\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    flags, _ = token_source(canary_sim, home, "flag")
    result = subprocess.run(
        [sys.executable, "-c", script, "list", *flags],
        capture_output=True,
        env=child_env(home, {"CREWTUI_DEBUG": "1"}),
        timeout=90,
        check=False,
    )
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "Traceback (most recent call last)" in err, err
    assert "in explode" in err and "RuntimeError: connection string Bearer" in err
    assert_no_token(result.stdout, result.stderr)
