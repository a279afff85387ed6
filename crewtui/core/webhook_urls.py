"""Where a kickoff asks the service to push: the URLs the receiver made, as a value.

Apart from the receiver (``crewtui.core.webhooks``) so that the tracker, ``status`` and the
app's first frame, which pass these around, do not import the receiver's HTTP server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crewtui.api.client import EventsWebhook


@dataclass(frozen=True, repr=False)
class WebhookUrls:
    """Where a kickoff asks the service to push; each URL holds the secret.

    With ``events`` the kickoff asks for the batched form only; the classic URLs are still
    known, for POST /resume (which takes only those).
    """

    task: str
    step: str
    crew: str
    events: EventsWebhook | None = None

    def __repr__(self) -> str:
        # The path is the receiver's only secret: keep it out of logs and tracebacks.
        return "WebhookUrls(<secret>)"
