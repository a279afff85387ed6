"""Fixtures shared by every test: simulators on real ports, and a throwaway crewtui home."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crewtui.sim import SimOptions, SimServer

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
    """No test ever reads or writes the real home, or picks up the developer's crews."""
    monkeypatch.setenv("CREWTUI_HOME", str(tmp_path_factory.mktemp("isolated-home")))
    for name in (
        "CREWAI_API_URL",
        "CREWAI_BEARER_TOKEN",
        "CREWAI_USER_BEARER_TOKEN",
        "CREWTUI_HITL_SECRET",
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
