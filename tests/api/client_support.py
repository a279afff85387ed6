"""Shared helpers of the API client tests (importable as ``client_support``)."""

from __future__ import annotations

from crewtui.api.client import ClientPolicy
from crewtui.api.errors import CrewtuiError
from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret

TOKEN = "tok-3f9c2a-very-secret"

# Short enough that deadline tests finish fast; the read timeout is longer than the
# deadline so that only the overall deadline can stop a dripping server.
FAST = ClientPolicy(
    deadline=0.5,
    connect_timeout=0.5,
    read_timeout=3.0,
    max_body_bytes=64 * 1024,
    max_retries=3,
    backoff_base=0.5,
    backoff_max=8.0,
    retry_after_max=60.0,
)


class FakeSleep:
    """Records every wait the client asks for and returns at once (no real waiting)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def profile_for(url: str, token: str | None = TOKEN, name: str = "travel") -> CrewProfile:
    return CrewProfile(name=name, url=url, token=Secret(token) if token else None)


def assert_clean_message(error: CrewtuiError, crew: str = "travel") -> None:
    """Every error names the crew, is one line, and never holds the token."""
    assert crew in error.message
    assert TOKEN not in error.message
    assert TOKEN not in repr(error)
    assert "\n" not in error.message
    assert "\x1b" not in error.message
