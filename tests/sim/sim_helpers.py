"""Helpers for the simulator's tests: clients per crew, bounded polling, a webhook receiver."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response

from crewtui.sim import SimServer, ThreadedServer

StatusBody = dict[str, Any]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def is_terminal(body: StatusBody) -> bool:
    """Finished in either dialect (success or failure)."""
    return body.get("state") in ("SUCCESS", "FAILED") or body.get("status") in (
        "completed",
        "error",
    )


@dataclass
class Crews:
    """Async clients for one simulator's crews, authenticated with its Bearer Token."""

    server: SimServer
    http: httpx.AsyncClient

    def url(self, crew: str, path: str) -> str:
        return self.server.crew_url(crew) + path

    async def kickoff(self, crew: str, **extra_inputs: str) -> str:
        inputs = self.server.sample_inputs(crew) | extra_inputs
        answer = await self.http.post(self.url(crew, "/kickoff"), json={"inputs": inputs})
        assert answer.status_code == 200, answer.text
        kickoff_id: str = answer.json()["kickoff_id"]
        return kickoff_id

    async def status(self, crew: str, kickoff_id: str) -> StatusBody:
        answer = await self.http.get(self.url(crew, f"/status/{kickoff_id}"))
        assert answer.status_code == 200, answer.text
        body: StatusBody = answer.json()
        return body

    async def poll(
        self,
        crew: str,
        kickoff_id: str,
        done: Callable[[StatusBody], bool] = is_terminal,
        timeout: float = 15.0,
    ) -> list[StatusBody]:
        """Every status seen until ``done`` holds; fails the test past the deadline."""
        seen: list[StatusBody] = []
        async with asyncio.timeout(timeout):
            while True:
                seen.append(await self.status(crew, kickoff_id))
                if done(seen[-1]):
                    return seen
                await asyncio.sleep(0.02)  # a pause between polls, not a wait for the result


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: Any
    # The body's bytes as sent (what a signature covers).
    raw: bytes = b""


class Receiver:
    """A real HTTP server recording every POST, which tests wait on with a deadline."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self._changed = threading.Condition()
        app = FastAPI()
        app.add_api_route("/{path:path}", self._record, methods=["POST"])
        self.server = ThreadedServer(app)

    async def _record(self, path: str, request: Request) -> Response:
        raw = await request.body()
        delivery = Delivery(path, dict(request.headers), await request.json(), raw)
        with self._changed:
            self.deliveries.append(delivery)
            self._changed.notify_all()
        return Response(status_code=204)

    def url(self, path: str) -> str:
        return f"{self.server.base_url}/{path}"

    def at(self, path: str) -> list[Delivery]:
        with self._changed:
            return [delivery for delivery in self.deliveries if delivery.path == path]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(predicate, timeout)

        assert await asyncio.to_thread(wait), f"timed out; received {self.deliveries!r}"


def wall(crews: Crews, simulated: float) -> float:
    """A reference duration as the simulator reports it: scaled to the wall clock."""
    return round(simulated / crews.server.options.speed, 3)
