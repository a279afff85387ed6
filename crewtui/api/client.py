"""The async client of one deployed crew: /inputs, /kickoff, /status, /resume, /stop, GET /.

Every answer is read in whichever dialect it comes (``crewtui.api.dialects``), per
response. Every failure becomes one typed error from ``crewtui.api.errors`` whose message
names the crew, says what happened and what to do, and never holds the token. Transport
policy (deadline, body cap, retries) lives in ``crewtui.api.http``.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote

from crewtui.api import dialects
from crewtui.api.errors import (
    ApiError,
    AuthError,
    BadResponseError,
    ConfigError,
    CrewNotFoundError,
    InputValidationError,
    KickoffAnswerUnusableError,
    KickoffUncertainError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from crewtui.api.http import (
    BadBody,
    BodyTooLarge,
    ClientPolicy,
    NoAnswer,
    NotSent,
    Outcome,
    Reply,
    Sleep,
    body_excerpt,
    build_http_client,
    exchange_with_retries,
    looks_like_html,
    retry_after_seconds,
    same_origin,
)
from crewtui.api.models import Observation, Payload
from crewtui.api.profile import CrewProfile
from crewtui.api.pushes import SUBSCRIBED_EVENTS
from crewtui.api.redact import redact_bytes
from crewtui.api.sanitize import inert_line
from crewtui.api.states import RunState
from crewtui.api.validate import validate_kickoff_id

if TYPE_CHECKING:  # imported with the first request (see CrewClient._http)
    import httpx

__all__ = [
    "ClientPolicy",
    "CrewClient",
    "RedirectRefusedError",
    "RequestCounts",
    "ResumeResult",
    "StopResult",
    "retry_after_seconds",
]

# Gateway answers to a kickoff: the crew behind the gateway may have received it.
_KICKOFF_UNCERTAIN_STATUSES = frozenset({502, 503, 504})
_MESSAGE_LIMIT = 200


class RedirectRefusedError(ApiError):
    """A 3xx: crewtui follows no redirect, so the token never goes where it was not configured."""


@dataclass(frozen=True)
class ResumeResult:
    """POST /resume's answer: documented ``status``/``message`` or live ``kickoff_id``."""

    status: str | None
    message: str | None
    new_kickoff_id: str | None
    raw: Any = None


@dataclass(frozen=True)
class StopResult:
    """POST /stop's answer: the run was stopped now, or had already ended (``ended_as``,
    the state the service's 400 names, when it names one crewtui knows)."""

    stopped: bool
    ended_as: RunState | None = None
    raw: Any = None


@dataclass(frozen=True)
class KickoffAnswer:
    """POST /kickoff's answer: the new run's id, and the body as received (the Raw tab)."""

    kickoff_id: str
    payload: Payload


@dataclass
class RequestCounts:
    """What one client sent and how it went since it was made (``crewtui serve``'s metrics):
    every attempt by outcome (a retried request counts each time, as the service sees it),
    and the polls that ended in an error once their retries were spent."""

    attempts: Counter[Outcome] = field(default_factory=Counter)
    failed_polls: int = 0

    def count(self, outcome: Outcome) -> None:
        self.attempts[outcome] += 1

    def unusable(self) -> None:
        """The last attempt, counted by its 2xx status, brought what cannot be read (a
        proxy's web page): it is a bad answer, not an ok one."""
        self.attempts["ok"] -= 1
        self.attempts["bad_answer"] += 1


class CrewClient:
    """One crew's API, over one pooled ``httpx.AsyncClient`` reused for every request."""

    def __init__(
        self,
        profile: CrewProfile,
        policy: ClientPolicy = ClientPolicy(),  # noqa: B008 (frozen, so sharing is safe)
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        max_connections: int = 10,
    ) -> None:
        self.profile = profile
        self._policy = policy
        self._sleep = sleep
        self._transport = transport
        self._max_connections = max_connections
        self._pool: httpx.AsyncClient | None = None
        self._crew = inert_line(profile.name, 60)
        self.counts = RequestCounts()

    @property
    def _http(self) -> httpx.AsyncClient:
        """The pooled client, made for the first request: the app's first frame does not
        wait for httpx to be imported."""
        if self._pool is None:
            self._pool = build_http_client(
                self._policy, self._transport, self._max_connections, url=self.profile.url
            )
        return self._pool

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        if self._pool is not None:
            await self._pool.aclose()

    # -- endpoints -----------------------------------------------------------------------------

    async def inputs(self) -> list[str]:
        """The crew's required input names; also the health and token check (GET / is 404)."""
        path = "/inputs"
        reply = await self._get(path)
        self._raise_for_status(reply, "GET", path)
        names = dialects.parse_inputs(self._json(reply, "GET", path))
        if names is None:
            raise self._bad_response("GET", path, "it has no list of inputs")
        return names

    async def kickoff(
        self,
        inputs: Mapping[str, str],
        meta: Mapping[str, Any] | None = None,
        *,
        task_webhook_url: str | None = None,
        step_webhook_url: str | None = None,
        crew_webhook_url: str | None = None,
        events: EventsWebhook | None = None,
    ) -> str:
        """Start a run and return its kickoff id (see :meth:`start`)."""
        answer = await self.start(
            inputs,
            meta,
            task_webhook_url=task_webhook_url,
            step_webhook_url=step_webhook_url,
            crew_webhook_url=crew_webhook_url,
            events=events,
        )
        return answer.kickoff_id

    async def start(
        self,
        inputs: Mapping[str, str],
        meta: Mapping[str, Any] | None = None,
        *,
        task_webhook_url: str | None = None,
        step_webhook_url: str | None = None,
        crew_webhook_url: str | None = None,
        events: EventsWebhook | None = None,
        restore_from: str | None = None,
    ) -> KickoffAnswer:
        """Start a run: its kickoff id and the answer as received.

        ``events`` asks for the batched form (a ``webhooks`` object) beside any classic URL;
        ``restore_from`` asks a flow to start from a saved state (``restoreFromStateId``).

        Never retried once it may have reached the server: any doubt raises
        ``KickoffUncertainError`` (the run may have started; a retry could start a second).
        """
        path = "/kickoff"
        payload: dict[str, Any] = {"inputs": dict(inputs)}
        if meta is not None:
            payload["meta"] = dict(meta)
        payload.update(_webhooks(task_webhook_url, step_webhook_url, crew_webhook_url))
        if events is not None:
            payload["webhooks"] = events.body()
        if restore_from is not None:
            payload["restoreFromStateId"] = restore_from
        request = self._request("POST", path, payload)
        try:
            reply = await exchange_with_retries(
                self._http,
                request,
                self._policy,
                self._sleep,
                idempotent=False,
                on_attempt=self.counts.count,
            )
        except NotSent as exc:
            raise self._unreachable(exc.reason) from None
        except NoAnswer as exc:
            raise self._kickoff_uncertain(exc.reason) from None
        except BadBody as exc:
            raise self._kickoff_unusable(exc.reason) from None
        if reply.status_code in _KICKOFF_UNCERTAIN_STATUSES:
            raise self._kickoff_uncertain(f"HTTP {reply.status_code} from a gateway")
        self._raise_for_status(reply, "POST", path)
        try:
            # Kept for the Raw tab: without any echo of the token.
            body = _decode_json(self._redact(reply).body)
        except ValueError:
            body = None
        kickoff_id = dialects.parse_kickoff_id(body)
        if kickoff_id is None:
            if looks_like_html(reply.body, reply.headers.get("content-type")):
                raise self._kickoff_unusable(f"HTTP {reply.status_code}: a web page, not JSON")
            raise self._kickoff_unusable(f"HTTP {reply.status_code} without a kickoff id")
        try:
            kickoff_id = validate_kickoff_id(kickoff_id)
        except ConfigError:
            raise self._kickoff_unusable("a kickoff id that is not an id") from None
        received = Payload(source="kickoff", received_at=datetime.now(UTC), body=body)
        return KickoffAnswer(kickoff_id, received)

    async def status(self, kickoff_id: str) -> Observation:
        """One poll. 200 and 404 are both observations (404 is NOT_FOUND); the rest raises."""
        try:
            return await self._status(kickoff_id)
        except ApiError:
            self.counts.failed_polls += 1
            raise

    async def _status(self, kickoff_id: str) -> Observation:
        path = f"/status/{quote(kickoff_id, safe='')}"
        reply = await self._get(path)
        observed_at = datetime.now(UTC)
        if reply.status_code == 404:
            body = _json_or_text(reply)
        else:
            self._raise_for_status(reply, "GET", path)
            body = self._json(reply, "GET", path)
        return dialects.parse_status(kickoff_id, reply.status_code, body, observed_at)

    async def resume(
        self,
        kickoff_id: str,
        task_id: str,
        feedback: str,
        *,
        approve: bool = True,
        task_webhook_url: str | None = None,
        step_webhook_url: str | None = None,
        crew_webhook_url: str | None = None,
    ) -> ResumeResult:
        """Answer a crew waiting for human input (experimental: the service is unreliable).

        Both key styles are sent: the documented API wants ``execution_id``/``task_id``, the
        live one requires ``executionId``/``taskId``. The webhook URLs must be sent again.
        """
        path = "/resume"
        payload: dict[str, Any] = {
            "execution_id": kickoff_id,
            "executionId": kickoff_id,
            "task_id": task_id,
            "taskId": task_id,
            "human_feedback": feedback,
            "humanFeedback": feedback,
            "is_approve": approve,
            "isApprove": approve,
        }
        payload.update(_webhooks(task_webhook_url, step_webhook_url, crew_webhook_url))
        reply = await self._send(self._request("POST", path, payload), "POST", path)
        self._raise_for_status(reply, "POST", path)
        body = self._json(reply, "POST", path)
        data = dialects.as_dict(body)
        result = ResumeResult(
            status=dialects.as_str(data.get("status")),
            message=dialects.as_str(data.get("message")),
            new_kickoff_id=dialects.parse_kickoff_id(data),
            raw=body,
        )
        if result.status is None and result.new_kickoff_id is None:
            raise self._bad_response("POST", path, "it has neither a status nor a kickoff id")
        return result

    async def stop(self, kickoff_id: str) -> StopResult:
        """Cancel a run (experimental: served, not in the published reference).

        A 400 means the run had already ended: not an error, an answer. Never retried on a
        lost answer, like a kickoff: the caller polls to learn what happened.
        """
        path = f"/stop/{quote(kickoff_id, safe='')}"
        reply = await self._send(self._request("POST", path), "POST", path)
        if reply.status_code == 400:
            body = _json_or_text(reply)
            return StopResult(stopped=False, ended_as=dialects.parse_stop_refusal(body), raw=body)
        self._raise_for_status(reply, "POST", path)
        return StopResult(stopped=True, raw=self._json(reply, "POST", path))

    async def health(self) -> str | None:
        """``GET /``: what the crew's health check says ("Healthy"), or None when the
        deployment has none (404); /inputs stays the token check."""
        reply = await self._get("/")
        if reply.status_code == 404:
            return None
        self._raise_for_status(reply, "GET", "/")
        return body_excerpt(reply.body, reply.headers.get("content-type")) or None

    # -- requests ------------------------------------------------------------------------------

    def _request(self, method: str, path: str, payload: Any = None) -> httpx.Request:
        """A request to the crew; the token goes only to the configured origin."""
        import httpx

        url = httpx.URL(self.profile.url + path)
        headers: dict[str, str] = {}
        token = self.profile.bearer()
        if token and same_origin(url, self.profile.origin):
            headers["Authorization"] = f"Bearer {token}"
        if payload is None:
            return self._http.build_request(method, url, headers=headers)
        # ASCII JSON: a lone surrogate (an input name a crew sent back, valid in JSON) goes
        # out as ``\ud800`` instead of failing httpx's UTF-8 encoding.
        headers["Content-Type"] = "application/json"
        body = json.dumps(payload, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
        return self._http.build_request(method, url, headers=headers, content=body.encode())

    async def _get(self, path: str) -> Reply:
        return await self._send(self._request("GET", path), "GET", path, idempotent=True)

    async def _send(
        self, request: httpx.Request, method: str, path: str, *, idempotent: bool = False
    ) -> Reply:
        """Send with the retry policy; transport failures become typed errors."""
        try:
            reply = await exchange_with_retries(
                self._http,
                request,
                self._policy,
                self._sleep,
                idempotent=idempotent,
                on_attempt=self.counts.count,
            )
        except NotSent as exc:
            raise self._unreachable(exc.reason) from None
        except NoAnswer as exc:
            raise TransportError(
                f"The {self._crew} crew gave no answer to {method} {_show(path)} ({exc.reason}): "
                "the service may be slow or down, try again later."
            ) from None
        except BodyTooLarge as exc:
            raise BadResponseError(
                f"The {self._crew} crew's answer to {method} {_show(path)} is larger than "
                f"{exc.cap / (1 << 20):g} MB, the most crewtui reads; raise max_body_mb in the "
                "[poll] section of the config file to let it through."
            ) from None
        except BadBody as exc:
            raise self._bad_response(method, path, exc.reason) from None
        return self._redact(reply)

    def _redact(self, reply: Reply) -> Reply:
        """The reply, error or success, with any echo of the token blanked in any encoding.

        Done on the raw body, before it is parsed, so no field of an answer (JSON with the
        token spelt in ``\\u`` escapes included) can carry the token to a message, the
        tracker or the store.
        """
        token = self.profile.bearer()
        body = redact_bytes(reply.body, [token] if token else [])
        if body == reply.body:
            return reply
        return Reply(status_code=reply.status_code, headers=reply.headers, body=body)

    # -- answers -------------------------------------------------------------------------------

    def _json(self, reply: Reply, method: str, path: str) -> Any:
        try:
            return _decode_json(reply.body)
        except ValueError as exc:
            if 200 <= reply.status_code < 300:
                self.counts.unusable()
            if looks_like_html(reply.body, reply.headers.get("content-type")):
                reason = "it is a web page, not the API's JSON"
            else:
                reason = f"it is not valid JSON: {exc}"
            raise self._bad_response(method, path, reason) from None

    def _raise_for_status(self, reply: Reply, method: str, path: str) -> None:
        """Raise the typed error for any answer that is not a 2xx."""
        code = reply.status_code
        if 200 <= code < 300:
            return
        where = f"{method} {_show(path)}"
        if 300 <= code < 400:
            raise self._redirect(reply, where)
        if code in (401, 403):
            raise self._auth_error(code)
        body = _json_or_text(reply)
        said = _said(reply, body)
        if code == 422:
            raise self._validation_error(where, dialects.missing_inputs(body), said)
        if code == 400:
            raise InputValidationError(
                f"The {self._crew} crew refused {where} (HTTP 400: {said}): "
                "check the request and try again.",
                status_code=400,
            )
        if code == 404:
            raise self._not_found(method, path)
        if code == 429:
            raise self._rate_limited(reply)
        raise ServerError(
            f"The {self._crew} crew failed {where} with HTTP {code} ({said}): "
            "try again later, or check the crew's logs on its dashboard.",
            status_code=code,
            excerpt=said,
        )

    def _auth_error(self, code: int) -> AuthError:
        if self.profile.bearer() is None:
            message = (
                f"The {self._crew} crew asked for a token (HTTP {code}) and none is configured: "
                "set CREWAI_BEARER_TOKEN or the crew's token in the config."
            )
        else:
            hint = " (a User Bearer Token may lack this permission)" if code == 403 else ""
            message = (
                f"The {self._crew} crew rejected the token (HTTP {code}): check "
                f"{inert_line(self.profile.token_hint, 200)}{hint}."
            )
        return AuthError(message, status_code=code)

    def _validation_error(self, where: str, missing: list[str], said: str) -> InputValidationError:
        if where.endswith("/resume"):
            # /resume's required fields are the run's webhook URLs, not inputs of the crew.
            names = inert_line(", ".join(missing) or said, _MESSAGE_LIMIT)
            message = (
                f"The {self._crew} crew refused {where}: it wants the webhook URLs the run was "
                f"started with ({names}), which this history does not hold; answer from the "
                "crewtui that started the run, or on the service's dashboard."
            )
        elif missing:
            names = inert_line(", ".join(missing), _MESSAGE_LIMIT)
            message = (
                f"The {self._crew} crew refused {where} because inputs are missing ({names}): "
                "provide them and try again."
            )
        else:
            message = (
                f"The {self._crew} crew refused {where} (HTTP 422: {said}): "
                "check the inputs and try again."
            )
        return InputValidationError(message, missing=missing, status_code=422)

    def _not_found(self, method: str, path: str) -> NotFoundError:
        if path.startswith("/stop/"):
            return NotFoundError(
                f"The {self._crew} crew knows no kickoff {_show(path.removeprefix('/stop/'))} "
                "to stop (HTTP 404): check the kickoff id and the crew.",
                status_code=404,
            )
        if path == "/resume":
            return NotFoundError(
                f"The {self._crew} crew knows no such execution or task to resume (HTTP 404): "
                "check the kickoff id and the task id.",
                status_code=404,
            )
        return CrewNotFoundError(
            f"The {self._crew} crew answered HTTP 404 to {method} {_show(path)}, so its URL "
            f"({inert_line(self.profile.url, 120)}) is probably wrong: "
            "copy the crew's URL from its CrewAI AMP dashboard.",
            status_code=404,
        )

    def _rate_limited(self, reply: Reply) -> RateLimitedError:
        wait = retry_after_seconds(
            reply.headers.get("retry-after"), datetime.now(UTC), self._policy.retry_after_max
        )
        when = f"wait {wait:.0f} s" if wait is not None else "wait a moment"
        return RateLimitedError(
            f"The {self._crew} crew is still rate limiting crewtui (HTTP 429) after retries: "
            f"{when} and try again.",
            retry_after=wait,
        )

    def _redirect(self, reply: Reply, where: str) -> RedirectRefusedError:
        location = reply.headers.get("location")
        target = f"to {inert_line(location, 120)}" if location else "without saying where"
        return RedirectRefusedError(
            f"The {self._crew} crew redirected {where} {target} (HTTP {reply.status_code}), and "
            "crewtui won't send the token there: if that is the crew's real address, put it "
            "in the config.",
            status_code=reply.status_code,
        )

    def _unreachable(self, reason: str) -> TransportError:
        return TransportError(
            f"Could not reach the {self._crew} crew at {inert_line(self.profile.origin, 120)} "
            f"({reason}): check the URL and the network, then try again."
        )

    def _bad_response(self, method: str, path: str, reason: str) -> BadResponseError:
        return BadResponseError(
            f"The {self._crew} crew sent an unusable answer to {method} {_show(path)} "
            f"({inert_line(reason, _MESSAGE_LIMIT)}): try again later, and check that the URL "
            "is the crew's own."
        )

    def _kickoff_unusable(self, reason: str) -> KickoffAnswerUnusableError:
        """Something answered, with nothing crewtui can use: likely not the crew at all, but
        a run may have started behind it all the same."""
        return KickoffAnswerUnusableError(
            f"The {self._crew} crew answered the kickoff with something crewtui cannot use "
            f"({reason}): check that the URL is the crew's own. The run may have started "
            "all the same: check the crew's dashboard before starting it again."
        )

    def _kickoff_uncertain(self, reason: str) -> KickoffUncertainError:
        return KickoffUncertainError(
            f"The kickoff of the {self._crew} crew may have started but its answer was lost "
            f"({reason}): check the crew's dashboard before starting it again."
        )


@dataclass(frozen=True, repr=False)
class EventsWebhook:
    """Where the service should POST batched events, and the bearer token they carry."""

    url: str
    token: str

    def body(self) -> dict[str, Any]:
        """The kickoff's ``webhooks`` object (webhooks in the API contract), sent as they happen."""
        return {
            "events": list(SUBSCRIBED_EVENTS),
            "url": self.url,
            "realtime": True,
            "authentication": {"strategy": "bearer", "token": self.token},
        }

    def __repr__(self) -> str:
        # The URL holds the receiver's secret path, and the token is a credential.
        return "EventsWebhook(<secret>)"


def _webhooks(task: str | None, step: str | None, crew: str | None) -> dict[str, str]:
    """The webhook URL fields of /kickoff and /resume, only those given."""
    urls = {"taskWebhookUrl": task, "stepWebhookUrl": step, "crewWebhookUrl": crew}
    return {key: value for key, value in urls.items() if value is not None}


def _decode_json(body: bytes) -> Any:
    """JSON from bytes; every way it can fail is a ValueError (too deep nesting included)."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _json_or_text(reply: Reply) -> Any:
    """An error body as JSON when it is JSON, else a short inert excerpt of its text."""
    try:
        return _decode_json(reply.body)
    except ValueError:
        return body_excerpt(reply.body, reply.headers.get("content-type"))


def _said(reply: Reply, body: Any) -> str:
    """What the server said, in one short inert line: its message, else an excerpt."""
    message = dialects.error_message(body)
    if message:
        return inert_line(message, _MESSAGE_LIMIT)
    if isinstance(body, str) and body:
        return body
    return body_excerpt(reply.body, reply.headers.get("content-type")) or "an empty body"


def _show(path: str) -> str:
    return inert_line(path, 120)
