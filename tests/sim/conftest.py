"""Fixtures for the simulator's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sim_helpers import Crews, Receiver, auth

from crewtui.sim import SimServer


@asynccontextmanager
async def _crews(server: SimServer) -> AsyncIterator[Crews]:
    async with httpx.AsyncClient(headers=auth(server.options.token), timeout=10) as http:
        yield Crews(server, http)


@pytest.fixture
async def crews(sim_any: SimServer) -> AsyncIterator[Crews]:
    """The shared simulators' crews, once per dialect."""
    async with _crews(sim_any) as clients:
        yield clients


@pytest.fixture
async def live_crews(sim: SimServer) -> AsyncIterator[Crews]:
    async with _crews(sim) as clients:
        yield clients


@pytest.fixture
async def documented_crews(sim_documented: SimServer) -> AsyncIterator[Crews]:
    async with _crews(sim_documented) as clients:
        yield clients


@pytest.fixture
async def fresh_crews(fresh_sim: SimServer) -> AsyncIterator[Crews]:
    """A simulator of the test's own (live), whose options and faults it may change."""
    async with _crews(fresh_sim) as clients:
        yield clients


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hooks = Receiver()
    with hooks.server:
        yield hooks
