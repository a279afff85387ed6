"""A flow's human-in-the-loop request: its signature, and its body read as untrusted data.

A flow deployment configured for human-in-the-loop POSTs ``{"event": "new_request",
"request": {...}, "deployment": {...}, "callback_url", "assigned_to_email"}`` to a URL set on
the deployment (not at kickoff), signed with HMAC-SHA256 over ``"{X-Timestamp}.{body}"``
with a secret shared with the service (``X-Signature: sha256=<hex>``). It is sent once, with
no retry. Unlike the per-kickoff webhooks this one is authenticated, which is what lets the
receiver show a request about a run crewtui did not start.

Like the other parsers, nothing here raises on any JSON but :class:`InvalidRequest`, whose
reason never quotes the body; the text a request carries is kept as sent and made inert
where it is shown.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crewtui.api.dialects import as_dict, as_str
from crewtui.api.errors import ConfigError
from crewtui.api.models import Observation
from crewtui.api.rows import WaitingFor
from crewtui.api.states import RunState
from crewtui.api.timestamps import event_time
from crewtui.api.validate import check_webhook_url

SIGNATURE_HEADER = "x-signature"
TIMESTAMP_HEADER = "x-timestamp"
SIGNATURE_PREFIX = "sha256="
# How far a request's timestamp may be from this machine's clock, either way: a captured
# request replayed later is refused, and a clock a little off still works.
MAX_CLOCK_SKEW = 300
NEW_REQUEST = "new_request"
# Seconds since 1970 fit in 11 digits for millennia; a longer "number" is not a time (and
# int() of thousands of digits raises).
_TIMESTAMP_DIGITS = 12
# A request's text is a prompt for a person, not a document: anything longer is cut.
_MESSAGE_LIMIT = 20_000
_NAME_LIMIT = 200


def signature_problem(
    secret: bytes, timestamp: str | None, signature: str | None, body: bytes, now: float
) -> str | None:
    """Why a request's signature cannot be trusted, in a few words; None when it can.

    The reason is for a log line: it names what was wrong, never the secret or the body.
    """
    if timestamp is None:
        return "no X-Timestamp header"
    stamp = timestamp.strip()
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= _TIMESTAMP_DIGITS):
        return "an X-Timestamp that is not a whole number of seconds"
    age = now - int(stamp)
    if age > MAX_CLOCK_SKEW:
        return f"an X-Timestamp {age:.0f} s old (more than {MAX_CLOCK_SKEW} s)"
    if -age > MAX_CLOCK_SKEW:
        return f"an X-Timestamp {-age:.0f} s in the future (more than {MAX_CLOCK_SKEW} s)"
    if signature is None:
        return "no X-Signature header"
    expected = sign(secret, stamp, body)
    if not hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
        return "an X-Signature that does not match the body (check [webhooks] hitl_secret)"
    return None


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


class InvalidRequest(Exception):
    """A signed body that is not a usable request; ``reason`` never quotes the body."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class HitlRequest:
    """One request for a person's feedback, as read from a signed ``new_request``.

    ``callback_url`` is where the answer goes; it may hold the service's own credential in
    its path, so it stays out of the repr (and, in the history, out of every export).
    """

    request_id: str
    callback_url: str = field(repr=False)
    created_at: datetime
    flow_id: str | None = None
    method_name: str | None = None
    message: str | None = None
    emit_options: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict, repr=False)
    deployment_id: str | None = None
    deployment_name: str | None = None
    organization_id: str | None = None
    assigned_to_email: str | None = None

    @property
    def kickoff_candidates(self) -> list[str]:
        """The ids that may name the run waiting: the flow's id, then what metadata says."""
        said = [
            self.flow_id,
            as_str(self.metadata.get("kickoff_id")),
            as_str(self.metadata.get("execution_id")),
        ]
        return [text.strip() for text in said if text and text.strip()]

    def observation(self, kickoff_id: str) -> Observation:
        """What the request says about its run: paused, waiting on the method, since when."""
        waiting = WaitingFor(
            task_id=self.method_name,
            message=self.message,
            since=self.created_at,
            request_id=self.request_id,
        )
        return Observation(
            kickoff_id=kickoff_id,
            observed_at=self.created_at,
            source="webhook",
            state=RunState.PAUSED,
            waiting_for=waiting,
        )


def parse_request(body: Any, received_at: datetime) -> HitlRequest | None:
    """The request in a signed body; None for an event other than ``new_request`` (kept
    for a later version of the service, not an error). Raises InvalidRequest otherwise."""
    if not isinstance(body, dict):
        raise InvalidRequest("the body is not a JSON object")
    data = body
    event = as_str(data.get("event"))
    if event != NEW_REQUEST:
        return None
    request = as_dict(data.get("request"))
    request_id = _text(request.get("id"), _NAME_LIMIT)
    if request_id is None:
        raise InvalidRequest("request.id is missing")
    callback = as_str(data.get("callback_url"))
    if callback is None:
        raise InvalidRequest("callback_url is missing")
    try:
        callback = check_webhook_url(callback, "callback_url")
    except ConfigError:
        raise InvalidRequest("callback_url is not an absolute http(s) URL") from None
    if any(char.isspace() or not char.isprintable() for char in callback):
        raise InvalidRequest("callback_url has a space or a control character in it")
    deployment = as_dict(data.get("deployment"))
    options = request.get("emit_options")
    return HitlRequest(
        request_id=request_id,
        callback_url=callback,
        created_at=event_time(request.get("created_at"), received_at),
        flow_id=_text(request.get("flow_id"), _NAME_LIMIT),
        method_name=_text(request.get("method_name"), _NAME_LIMIT),
        message=_text(request.get("message"), _MESSAGE_LIMIT),
        emit_options=tuple(
            text
            for option in (options if isinstance(options, list) else [])
            if (text := _text(option, _NAME_LIMIT)) is not None
        ),
        metadata=as_dict(request.get("metadata")),
        deployment_id=_text(deployment.get("id"), _NAME_LIMIT),
        deployment_name=_text(deployment.get("name"), _NAME_LIMIT),
        organization_id=_text(deployment.get("organization_id"), _NAME_LIMIT),
        assigned_to_email=_text(data.get("assigned_to_email"), _NAME_LIMIT),
    )


def _text(value: Any, limit: int) -> str | None:
    """Non-blank text (an id given as a number counts), cut at ``limit`` characters."""
    text = as_str(value)
    if text is None or not text.strip():
        return None
    return text[:limit]
