"""Answer a flow's human-in-the-loop request: ``POST callback_url {"feedback", "source"}``.

The callback URL came in the request the flow signed; it is not a crew's URL, so no token
of crewtui's is ever sent to it (the URL itself is the service's credential, if any), and
no redirect is followed. The answer is a POST that may have arrived when no reply came back,
so it is never retried: the caller says so instead.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from crewtui.api.errors import NotFoundError, ServerError, TransportError
from crewtui.api.http import (
    BadBody,
    ClientPolicy,
    NoAnswer,
    NotSent,
    body_excerpt,
    build_http_client,
    exchange,
)
from crewtui.api.sanitize import inert_line

if TYPE_CHECKING:  # only a type here; the app's first frame does not wait for httpx
    import httpx

SOURCE = "crewtui"


async def post_feedback(
    url: str,
    feedback: str,
    *,
    policy: ClientPolicy = ClientPolicy(),  # noqa: B008 (frozen, so sharing is safe)
    transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """Send ``feedback`` to the flow; raises an ApiError with one sentence if it was not
    taken (not reached, no reply, or an answer other than 2xx)."""
    where = _host(url)
    body = json.dumps({"feedback": feedback, "source": SOURCE}, ensure_ascii=True)
    async with build_http_client(policy, transport, max_connections=1, url=url) as client:
        request = client.build_request(
            "POST", url, headers={"Content-Type": "application/json"}, content=body.encode()
        )
        try:
            reply = await exchange(client, request, policy)
        except NotSent as exc:
            raise TransportError(
                f"The flow's callback at {where} could not be reached ({exc.reason}): "
                "check the network and answer again."
            ) from None
        except NoAnswer as exc:
            raise TransportError(
                f"The flow's callback at {where} gave no answer ({exc.reason}): the answer may "
                "have arrived; look at the run before answering again."
            ) from None
        except BadBody as exc:
            raise ServerError(
                f"The flow's callback at {where} took the answer but its reply was unusable "
                f"({exc.reason}); look at the run before answering again."
            ) from None
    code = reply.status_code
    if 200 <= code < 300:
        return
    excerpt = body_excerpt(reply.body, reply.headers.get("content-type"), limit=120)
    said = f" ({excerpt})" if excerpt else ""
    if code in (404, 410):
        raise NotFoundError(
            f"The flow's callback at {where} no longer knows this request (HTTP {code}{said}): "
            "it may have expired or been answered elsewhere.",
            status_code=code,
        )
    raise ServerError(
        f"The flow's callback at {where} refused the answer with HTTP {code}{said}; "
        "try again later or answer from the CrewAI dashboard.",
        status_code=code,
        excerpt=excerpt,
    )


def _host(url: str) -> str:
    """Where the callback is, for a message: the host only (its path may be a credential)."""
    parts = urlsplit(url)
    return inert_line(parts.netloc.rpartition("@")[2] or "(no host)", 80)
