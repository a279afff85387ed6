"""``crewtui web``: the app in a browser, under a secret token, on loopback by default.

The server runs as a child process (``crewtui web --port 0``), over a history seeded
against the simulator. Requests without the token are refused; a busy port or a
non-loopback host is one sentence and exit 2; and in headless Chromium (Debian's
``chromium`` and ``chromium-driver``) the page shows the kickoff list, the inbox count and,
after a key, the detail of another run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
import pytest

from crewtui.api.errors import ExitCode
from crewtui.api.models import Kickoff
from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.api.states import RunState
from crewtui.config import resolve_paths
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.sim import SimServer
from crewtui.web_page import (
    browser_missing,
    headless_chromium,
    read_screen,
    serve_web,
    wait_for_screen,
)
from tests.cli_helpers import run
from tests.helpers import wait_until

pytestmark = pytest.mark.timeout(120)

NO_BROWSER = browser_missing()


@dataclass
class WebServer:
    url: str
    process: subprocess.Popen[str]
    home: Path
    token: str  # the crew's bearer token, given with --token


def child_env(home: Path) -> dict[str, str]:
    """The test's environment without any crew or home of the developer's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREWAI_", "CREWTUI_"))}
    return env | {"CREWTUI_HOME": str(home / "decoy")}


async def seed(home: Path, sim: SimServer) -> list[Kickoff]:
    """Two completed research runs (oldest first), then a travel run waiting for input."""
    crews = [
        CrewProfile(name=name, url=sim.crew_url(name), token=Secret(sim.options.token))
        for name in ("research", "travel")
    ]
    store = Store.open(resolve_paths(home).store_file)
    tracker = Tracker(crews, store)
    await tracker.start()

    def state(kickoff_id: str) -> RunState | None:
        kickoff = tracker.get(kickoff_id)
        return None if kickoff is None else kickoff.state

    async def start(crew: str, inputs: dict[str, str], until: RunState) -> Kickoff:
        started = await tracker.kickoff(crew, sim.sample_inputs(crew) | inputs)
        await wait_until(tracker, lambda: state(started.kickoff_id) is until)
        return started

    try:
        return [
            await start("research", {"topic": "crabs"}, RunState.COMPLETED),
            await start("research", {"topic": "lobsters"}, RunState.COMPLETED),
            await start("travel", {"hold": "1"}, RunState.PAUSED),
        ]
    finally:
        await tracker.stop()
        store.close()


@pytest.fixture(scope="module")
def seeded(sim: SimServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Kickoff]]:
    home = tmp_path_factory.mktemp("web-home")
    return home, asyncio.run(seed(home, sim))


@contextlib.contextmanager
def start_web(sim: SimServer, home: Path) -> Iterator[WebServer]:
    """``crewtui web`` on a free port, the travel crew given by --url and --token; stopped
    with SIGTERM at the end if still running."""
    options = [
        *["--port", "0", "--home", str(home)],
        *["--url", sim.crew_url("travel"), "--crew", "travel", "--token", sim.options.token],
    ]
    with serve_web(options, child_env(home)) as served:
        assert served.url.startswith("http://127.0.0.1:"), served.url
        yield WebServer(served.url, served.process, home, sim.options.token)
    assert served.process.returncode == 0


@pytest.fixture(scope="module")
def web(sim: SimServer, seeded: tuple[Path, list[Kickoff]]) -> Iterator[WebServer]:
    home, _runs = seeded
    with start_web(sim, home) as server:
        yield server


# -- the token -------------------------------------------------------------------------------


def test_requests_without_the_token_are_refused(web: WebServer) -> None:
    base = web.url.split("/", 3)
    root = "/".join(base[:3])
    with httpx.Client() as http:
        assert http.get(root + "/").status_code == 403
        assert http.get(root + "/static/js/textual.js").status_code == 403
        assert http.get(root + "/not-the-token/").status_code == 403
        assert http.get(web.url[:-6] + "/").status_code == 403  # a prefix of it is not it
        page = http.get(web.url)
        assert page.status_code == 200
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert f'data-session-websocket-url="ws://{base[2]}/{base[3]}ws"' in page.text
        assert http.get(web.url + "static/js/textual.js").status_code == 200
        # A page of another site cannot open the app's websocket, even knowing the address.
        foreign = http.get(
            web.url + "ws",
            headers={"Origin": "http://evil.test", "Connection": "Upgrade", "Upgrade": "websocket"},
        )
        assert foreign.status_code == 403


def test_a_plain_get_of_the_websocket_is_one_sentence_not_a_dropped_connection(
    web: WebServer,
) -> None:
    with httpx.Client() as http:
        answer = http.get(web.url + "ws")
    assert answer.status_code == 400
    assert (
        answer.text
        == "This address is the page's websocket: open the URL that crewtui web printed."
    )


def test_stopping_the_server_ends_the_open_sessions_apps(
    sim: SimServer, seeded: tuple[Path, list[Kickoff]]
) -> None:
    """SIGTERM with a browser session open: its app is told to quit, then the server exits 0."""
    home, _runs = seeded
    with start_web(sim, home) as server:
        apps = asyncio.run(open_session(server))
        assert apps, "the session started no app"
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
    assert all(ends_within(pid, 30) for pid in apps), "an app outlived the server"


async def open_session(server: WebServer) -> list[int]:
    """A browser's websocket: wait for the app's first frame; the app processes then."""
    async with aiohttp.ClientSession() as http:
        socket_url = "ws" + server.url.removeprefix("http") + "ws?width=100&height=30"
        async with http.ws_connect(socket_url) as session:
            frame = await session.receive(timeout=60)
            assert frame.type is aiohttp.WSMsgType.BINARY, frame
            return descendants(server.process.pid)


# -- refusals: one sentence, exit 2 --------------------------------------------------------


def test_a_busy_port_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(tmp_path, "web", "--port", str(port), "--url", "http://x.test")
    assert result.returncode == ExitCode.USAGE
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert f"crewtui web cannot listen on 127.0.0.1:{port}" in lines[0]
    assert result.stdout == ""


def test_a_non_loopback_host_needs_allow_remote(tmp_path: Path) -> None:
    result = run(tmp_path, "web", "--host", "0.0.0.0", "--port", "0", "--url", "http://x.test")
    assert result.returncode == ExitCode.USAGE
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--allow-remote" in result.stderr


def test_an_unusable_shared_history_is_refused_before_serving(tmp_path: Path) -> None:
    """As every command: one sentence and the README's code, not a page whose every
    session stops (6: a server that cannot be reached; 2: a URL that is not PostgreSQL's)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    for url, code in (
        (f"postgresql://crewtui@127.0.0.1:{port}/crewtui", ExitCode.UNREACHABLE),
        ("mysql://crewtui@127.0.0.1/crewtui", ExitCode.USAGE),
    ):
        env = {"CREWTUI_HISTORY_URL": url}
        result = run(tmp_path, "web", "--port", "0", "--url", "http://x.test", env=env, timeout=30)
        assert result.returncode == code, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stdout == "", "no address is printed for a server that cannot serve"


# -- in a browser ----------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (the app sessions textual-serve started)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


@pytest.mark.skipif(
    NO_BROWSER is not None, reason=f"{NO_BROWSER}; run the others with -k 'not browser'"
)
def test_the_browser_shows_the_list_and_opens_a_run(
    web: WebServer, seeded: tuple[Path, list[Kickoff]]
) -> None:
    from selenium.webdriver.common.by import By

    _home, (crabs, lobsters, paused) = seeded
    # Wide: the detail beside the list.
    with headless_chromium(1600, 900) as driver:
        driver.get(web.url)

        # The list of the seeded history, the run waiting for input counted, its crew polled
        # with the token handed over (not "token rejected").
        wait_for_screen(driver, crabs.short_id, lobsters.short_id, paused.short_id)
        wait_for_screen(driver, "1 waiting (i)", "● travel")
        assert "token rejected" not in read_screen(driver)
        # The session's app: the same history, and the crew's token not on its command line.
        apps = [line for pid in descendants(web.process.pid) if "crewtui" in (line := cmdline(pid))]
        assert apps
        assert all(f"--home {web.home}" in line and web.token not in line for line in apps), apps

        # The newest run is selected and shown; two rows down is the oldest: its detail.
        wait_for_screen(driver, f"travel · {paused.short_id} · ◐ paused")
        keys = driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea")
        keys.send_keys("jj")
        wait_for_screen(driver, f"research · {crabs.short_id} · ✓ completed")


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def ends_within(pid: int, seconds: float) -> bool:
    """Whether the process ends within ``seconds`` (woken by its end, through a pidfd)."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([handle], [], [], seconds)[0])
    finally:
        os.close(handle)
