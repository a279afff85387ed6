"""Transient errors are retried by every command; exit 6 only once retries ran out.

The real ``crewtui`` command in a child process against the scriptable hostile server:
one HTTP 500 or one reset on the first request is a blip every read-only command rides
out (exit 0); a crew that keeps failing is "unreachable after retries" (exit 6); a crew
that answers a web page instead of JSON was reached, so it gets its own sentence and exit 7.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from crewtui.api.errors import ExitCode
from crewtui.api.http import ClientPolicy
from crewtui.headless import GIVE_UP_ENV
from tests.api.hostile_server import HostileServer, Reply, json_reply, raw_reply, reset
from tests.hardening.cli_support import NO_BACKOFF, child_env

TOKEN = "transient-crew-token-41c9d2"
# One body that is both a good GET /inputs and a finished run's GET /status (live dialect),
# so the same fallback answers whatever a command asks.
GOOD = json_reply(
    200,
    {
        "inputs": ["topic"],
        "state": "SUCCESS",
        "status": None,
        "result": "the final answer",
        "result_json": None,
    },
)
SERVER_ERROR = raw_reply(500, "Internal Server Error", "text/plain")
WEB_PAGE = raw_reply(200, "<!doctype html><html><body>Sign in</body></html>", "text/html")


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


@pytest.fixture
async def hostile() -> AsyncIterator[HostileServer]:
    async with HostileServer() as server:
        yield server


async def crewtui(
    home: Path, server: HostileServer, *args: str, env: Mapping[str, str] | None = None
) -> Outcome:
    """``python -m crewtui ARGS --url SERVER``, without blocking the server's event loop."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "crewtui",
        *args,
        "--url",
        server.url,
        "--token",
        TOKEN,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=child_env(home, env),
    )
    async with asyncio.timeout(90):
        out, err = await process.communicate()
    assert process.returncode is not None
    return Outcome(process.returncode, out.decode(), err.decode())


def command(name: str) -> list[str]:
    kickoff_id = str(uuid.uuid4())
    return {
        "inputs": ["inputs"],
        "status": ["status", kickoff_id],
        "track": ["track", kickoff_id],
        "watch": ["watch", kickoff_id],
        "doctor": ["doctor"],
    }[name]


COMMANDS = ["inputs", "status", "track", "watch", "doctor"]


@pytest.mark.parametrize("blip", [SERVER_ERROR, reset()], ids=["http500", "reset"])
@pytest.mark.parametrize("name", COMMANDS)
async def test_one_transient_error_on_the_first_request_is_ridden_out(
    home: Path, hostile: HostileServer, name: str, blip: Reply
) -> None:
    hostile.script(blip)
    hostile.fallback = GOOD
    outcome = await crewtui(home, hostile, *command(name))
    assert outcome.code == ExitCode.OK, outcome.err
    assert len(hostile.requests) >= 2
    assert "Traceback" not in outcome.err


async def test_a_crew_that_keeps_failing_is_unreachable_after_the_retries(
    home: Path, hostile: HostileServer
) -> None:
    hostile.fallback = SERVER_ERROR
    outcome = await crewtui(home, hostile, *command("watch"), env=NO_BACKOFF)
    assert outcome.code == ExitCode.UNREACHABLE, outcome.err
    assert len(hostile.requests) >= ClientPolicy().max_retries + 1
    assert "HTTP 500" in outcome.err
    assert len(outcome.err.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["inputs", "status", "watch"])
async def test_a_web_page_instead_of_json_has_its_own_sentence_and_exit_code(
    home: Path, hostile: HostileServer, name: str
) -> None:
    hostile.fallback = WEB_PAGE
    outcome = await crewtui(home, hostile, *command(name))
    assert outcome.code == ExitCode.UNUSABLE_ANSWER, outcome.err
    assert len(hostile.requests) == 1  # not transient: asking again gets the same page
    assert "web page" in outcome.err
    assert "check that the URL is the crew's own" in outcome.err
    assert len(outcome.err.strip().splitlines()) == 1


async def test_a_watch_whose_polls_keep_getting_a_web_page_gives_up_with_exit_7(
    home: Path, hostile: HostileServer
) -> None:
    """The first poll is good, then only web pages: the run is stale, and the watch ends."""
    running = json_reply(200, {"state": "STARTED", "status": None, "result": None})
    hostile.script(running)
    hostile.fallback = WEB_PAGE
    outcome = await crewtui(home, hostile, *command("watch"), env={GIVE_UP_ENV: "0.5"})
    assert outcome.code == ExitCode.UNUSABLE_ANSWER, outcome.err
    assert len(hostile.requests) >= 2
    assert "web page" in outcome.err
    assert "Gave up" in outcome.err
    assert len(outcome.err.strip().splitlines()) == 1


async def test_a_kickoff_answered_with_a_web_page_exits_7_and_may_have_started(
    home: Path, hostile: HostileServer
) -> None:
    """Something answered, so it is not "unreachable" (6): it is an answer crewtui cannot
    use (7). A proxy's page may stand in front of a crew that took the run: the attempt is
    kept as "may have started", said so, and never sent again."""
    hostile.fallback = WEB_PAGE
    outcome = await crewtui(home, hostile, "kickoff", "-i", "topic=x")
    assert outcome.code == ExitCode.UNUSABLE_ANSWER, outcome.err
    assert len(hostile.requests) == 1
    [said] = outcome.err.strip().splitlines()
    assert "a web page" in said and "check that the URL is the crew's own" in said
    assert "may have started" in said
    listed = await crewtui(home, hostile, "list", "--json")
    assert [row["submission"] for row in json.loads(listed.out)] == ["uncertain"]


@pytest.mark.parametrize("given", ["soon", "0", "-5", "nan", "inf"])
async def test_a_bad_give_up_budget_is_refused_before_anything_is_sent(
    home: Path, hostile: HostileServer, given: str
) -> None:
    hostile.fallback = GOOD
    outcome = await crewtui(home, hostile, "kickoff", "-i", "topic=x", env={GIVE_UP_ENV: given})
    assert outcome.code == ExitCode.USAGE, outcome.err
    assert hostile.requests == []
    [said] = outcome.err.strip().splitlines()
    assert f"{GIVE_UP_ENV} is '{given}', not a number of seconds above 0" in said
