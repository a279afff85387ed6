"""Fixtures of the UI tests: an app factory over a throwaway crewtui home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ui.app_helpers import AppFactory


@pytest.fixture
def make_app(crewtui_home: Path) -> Iterator[AppFactory]:
    factory = AppFactory(crewtui_home)
    yield factory
    factory.close()
