"""Flow human-in-the-loop, as a deployment configured for it behaves.

When a run pauses for a person and the simulator was given a URL and a signing secret
(``crewtui sim --hitl-url URL --hitl-secret S``), it POSTs a signed ``new_request`` there,
once, without retry, like the service. The request's ``callback_url`` is served by the
simulator itself (``POST /{crew}/hitl/{request_id}/callback``): its feedback resumes the run
(a feedback that starts with "reject" runs the paused task again, anything else approves).

Any paused run qualifies, whatever made it pause: the sender watches the run's timeline for
its ``paused`` event (:func:`crewtui.sim.timeline.waiting_task`), the machinery every pause
goes through. A control route sends a request again, as is or spoiled (a bad signature, a
stale or future timestamp, none at all), so an integration's refusals can be tested too.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import httpx

from crewtui.sim.timeline import Run, timeline, waiting_task

logger = logging.getLogger("crewtui.sim")

SIM_ORGANIZATION = "sim-organization"
# What the control route can do to a request it sends again.
Resend = Literal["replay", "bad_signature", "stale", "future", "unsigned"]
RESENDS: frozenset[str] = frozenset(get_args(Resend))
# Far enough outside the receiver's five minutes either way.
_SKEW = 600


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``X-Signature``: HMAC-SHA256 of ``"{timestamp}.{body}"`` with the shared secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers of a request signed now (or at ``timestamp``)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": "application/json",
        "X-Timestamp": stamp,
        "X-Signature": sign(secret, stamp, body),
    }


@dataclass
class SentRequest:
    """A request the simulator sent: the run it is about, the exact body it signed, and
    where to (a resend goes to the same place with the same secret)."""

    request_id: str
    crew: str
    run: Run
    body: bytes
    url: str
    secret: str = field(repr=False)
    answered: bool = False


def request_body(run: Run, request_id: str, callback_url: str) -> bytes:
    """A ``new_request`` about the run's pause, as the service sends it."""
    task = waiting_task(run, time.monotonic())
    method = task.task_id if task is not None else None
    payload: dict[str, Any] = {
        "event": "new_request",
        "request": {
            "id": request_id,
            "flow_id": run.flow_id or run.kickoff_id,
            "method_name": method,
            "message": f"Review the output of {method} and approve or reject it.",
            "emit_options": ["approved", "rejected"],
            "state": {**dict(run.inputs), "id": run.flow_id or run.kickoff_id},
            "metadata": {"kickoff_id": run.kickoff_id},
            "created_at": datetime.now(UTC).isoformat(),
        },
        "deployment": {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"crewtui-sim/{run.crew.name}")),
            "name": run.crew.name,
            "organization_id": SIM_ORGANIZATION,
        },
        "callback_url": callback_url,
        "assigned_to_email": None,
    }
    return json.dumps(payload, ensure_ascii=False).encode()


class HitlSender:
    """Sends the requests of one simulator, and remembers them for their callbacks."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self.sent: dict[str, SentRequest] = {}

    async def watch(
        self,
        run: Run,
        crew: str,
        callback_base: str,
        target: tuple[str, str],
        current: Callable[[Run], bool],
    ) -> None:
        """Wait for the run's pause, then send its request to ``target`` (URL, secret):
        nothing if it never pauses, was stopped or answered meanwhile, or is no longer the
        ``current`` run of its kickoff id (another run replaced it)."""
        pause = next((event for event in timeline(run) if event.kind == "paused"), None)
        if pause is None:
            return
        await asyncio.sleep(max(0.0, run.mono_at(pause.at) - time.monotonic()))
        if waiting_task(run, time.monotonic()) is None or not current(run):
            return
        url, secret = target
        request_id = str(uuid.uuid4())
        callback = f"{callback_base.rstrip('/')}/{crew}/hitl/{request_id}/callback"
        body = request_body(run, request_id, callback)
        sent = SentRequest(request_id, crew, run, body, url, secret)
        self.sent[request_id] = sent
        await self._post(sent, signed_headers(secret, body))

    async def resend(self, request_id: str, how: Resend) -> int | None:
        """Send a request again, spoiled as asked; the receiver's status, None if unsent."""
        sent = self.sent.get(request_id)
        if sent is None:
            return None
        now = int(time.time())
        headers = signed_headers(sent.secret, sent.body)
        if how == "bad_signature":
            headers = signed_headers(sent.secret + "-not-it", sent.body)
        elif how == "stale":
            headers = signed_headers(sent.secret, sent.body, now - _SKEW)
        elif how == "future":
            headers = signed_headers(sent.secret, sent.body, now + _SKEW)
        elif how == "unsigned":
            del headers["X-Signature"]
        return await self._post(sent, headers)

    async def _post(self, sent: SentRequest, headers: dict[str, str]) -> int | None:
        """One POST, no retry (the service sends once); failures are logged, not raised."""
        try:
            answer = await self._client.post(sent.url, content=sent.body, headers=headers)
        except httpx.HTTPError as exc:
            logger.debug("human-in-the-loop request not delivered: %s", type(exc).__name__)
            return None
        return answer.status_code
