"""Fixtures of the hardening tests: the hostile crew, a home, the CLI in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hardening.cli_support import Cli
from tests.hardening.hostile_crew import HostileCrew


@pytest.fixture(scope="session")
def hostile_crew() -> Iterator[HostileCrew]:
    """The hostile crew on a free loopback port, shared by the session (it keeps no state)."""
    with HostileCrew() as crew:
        yield crew


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty crewtui home (config and data) for one test."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def cli(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> Cli:
    """``crewtui`` run in this process with ``home``; returns exit code and output bytes."""
    return Cli(home, monkeypatch, capsysbinary)
