"""Fixtures for the API client tests: the hostile server, a fake sleep, a client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from client_support import FAST, FakeSleep, profile_for
from hostile_server import HostileServer

from crewtui.api.client import CrewClient


@pytest.fixture
async def hostile() -> AsyncIterator[HostileServer]:
    """A started hostile server; script its answers with ``hostile.script(...)``."""
    async with HostileServer() as server:
        yield server


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
async def client(hostile: HostileServer, fake_sleep: FakeSleep) -> AsyncIterator[CrewClient]:
    """A client of the hostile server with the fast policy and the fake sleep."""
    async with CrewClient(profile_for(hostile.url), FAST, sleep=fake_sleep) as crew_client:
        yield crew_client
