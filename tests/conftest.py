"""Fixtures shared by every test: simulators on real ports, and a throwaway crewtui home."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crewtui.core.pg_store import PgStore
from crewtui.core.store import Store
from crewtui.sim import SimOptions, SimServer
from tests.postgres import PostgresServer, ServerUnavailable, start_server

# Fast enough that a whole run takes about a second, slow enough to see it move.
TEST_SPEED = 100.0


def _serve(options: SimOptions) -> Iterator[SimServer]:
    with SimServer(options) as server:
        yield server


@pytest.fixture(scope="session")
def sim() -> Iterator[SimServer]:
    """A live-dialect simulator shared by the session: do not change its faults."""
    yield from _serve(SimOptions(dialect="live", speed=TEST_SPEED))


@pytest.fixture(scope="session")
def sim_documented() -> Iterator[SimServer]:
    """A documented-dialect simulator shared by the session: do not change its faults."""
    yield from _serve(SimOptions(dialect="documented", speed=TEST_SPEED))


@pytest.fixture(params=["live", "documented"])
def sim_any(request: pytest.FixtureRequest) -> SimServer:
    """Each test runs once per dialect (the shared simulators)."""
    name = "sim" if request.param == "live" else "sim_documented"
    server: SimServer = request.getfixturevalue(name)
    return server


@pytest.fixture
def fresh_sim() -> Iterator[SimServer]:
    """A live-dialect simulator of its own: a test may change its options and faults."""
    yield from _serve(SimOptions(dialect="live", speed=TEST_SPEED, seed=7))


@pytest.fixture(autouse=True)
def _isolated_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test ever reads or writes the real home, or picks up the developer's crews (or a
    backoff scale, which the tests of the backoff would not expect)."""
    monkeypatch.setenv("CREWTUI_HOME", str(tmp_path_factory.mktemp("isolated-home")))
    for name in (
        "CREWAI_API_URL",
        "CREWAI_BEARER_TOKEN",
        "CREWAI_USER_BEARER_TOKEN",
        "CREWTUI_HITL_SECRET",
        "CREWTUI_BACKOFF_SCALE",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def crewtui_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """CREWTUI_HOME pointed at an empty temporary directory."""
    home = tmp_path / "crewtui-home"
    home.mkdir()
    monkeypatch.setenv("CREWTUI_HOME", str(home))
    return home


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[Callable[[Path], None]]:
    """Makes paths immutable (chattr +i): unwritable even for root, unlike chmod."""
    changed: list[Path] = []

    def make(path: Path) -> None:
        if shutil.which("chattr") is None:
            pytest.skip("needs chattr")
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"chattr +i is not allowed here: {done.stderr.decode().strip()}")
        changed.append(path)

    yield make
    for path in reversed(changed):
        subprocess.run(["chattr", "-i", str(path)], check=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the session's own (skipped, saying why, without the binaries)."""
    try:
        server = start_server()
    except ServerUnavailable as why:
        pytest.skip(str(why))
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL (with its password) of an empty database of this test's own."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(scope="session")
def postgres_history_template(postgres_server: PostgresServer) -> str:
    """A database of the session's server that crewtui has opened (its schema is in): each
    test's history is a copy of it. Copying takes a tenth of a second; migrating an empty
    database took 0.3-0.5 s in every test. The migrations' own tests (test_pg_store.py)
    open empty databases (``postgres_url``)."""
    url = postgres_server.create_database()
    PgStore.open(url).close()
    return postgres_server.database_of(url)


@pytest.fixture
def postgres_history_url(
    postgres_server: PostgresServer, postgres_history_template: str
) -> Iterator[str]:
    """The URL (with its password) of a crewtui history of this test's own, schema in."""
    url = postgres_server.create_database(template=postgres_history_template)
    yield url
    postgres_server.drop_database(url)


HistoryOpener = Callable[..., Store]


@pytest.fixture(params=["sqlite", "postgresql"])
def open_history(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HistoryOpener]:
    """Opens one history per call, on each back end in turn: the store contract runs on both.

    Every call opens the same history (a second process's view of it); all are closed at
    the end.
    """
    opened: list[Store] = []
    url = request.getfixturevalue("postgres_history_url") if request.param == "postgresql" else None

    def open_one(**options: Any) -> Store:
        store = (
            Store.open(tmp_path / "data" / "history.sqlite3", **options)
            if url is None
            else PgStore.open(url, **options)
        )
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def history_at(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a history is, as child processes are told: a new SQLite file's path or a new
    PostgreSQL history's URL (``postgres_history_url``), each in turn."""
    if request.param == "sqlite":
        return str(tmp_path / "history.sqlite3")
    url: str = request.getfixturevalue("postgres_history_url")
    return url


def open_at(where: str) -> Store:
    """The history at ``where`` (see ``history_at``)."""
    return PgStore.open(where) if where.startswith("postgresql://") else Store.open(Path(where))
