"""Where a kickoff asks the service to push: the URLs the receiver made, as a value.

Apart from the receiver (``crewtui.core.webhooks``) so that the tracker, ``status`` and the
app's first frame, which pass these around, do not import the receiver's HTTP server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from crewtui.api.client import EventsWebhook

# What the receiver's secret path segment looks like on screen.
HIDDEN_SEGMENT = "••••••"


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


def masked_hook_url(url: str) -> str:
    """The receiver's URL as shown: the path segment after ``hooks`` is its only secret.

    Screenshots, screen sharing and a colleague's glance must not carry it; what is sent
    stays the real URL (the form maps the masked text back while it is left unedited).
    """
    parts = urlsplit(url)
    segments = parts.path.split("/")
    for index, segment in enumerate(segments[:-1]):
        if segment == "hooks" and segments[index + 1]:
            segments[index + 1] = HIDDEN_SEGMENT
            return urlunsplit(parts._replace(path="/".join(segments)))
    return url


def flow_request_note(hitl_url: str | None, secret_file: Path, *, receiving: bool) -> str:
    """Where a flow's requests for a person reach this crewtui, said after its kickoff: the
    deployment's human-in-the-loop webhook is set on the AMP side, by hand. The secret part
    stays masked (it guards every webhook path); the file that holds it is named instead.

    When they cannot reach it (no receiver, or no signing secret to check them with), it
    says so and what to set: otherwise the run just reads "running" while it waits.
    """
    if hitl_url is not None:
        return (
            f"Its requests for a person reach crewtui at {masked_hook_url(hitl_url)} "
            f"({HIDDEN_SEGMENT} is the secret in {secret_file}): set that as the "
            "deployment's human-in-the-loop webhook."
        )
    missing = (
        "set [webhooks] hitl_secret (or CREWTUI_HITL_SECRET)"
        if receiving
        else "receive webhooks (--webhooks HOST:PORT or [webhooks] listen) and set "
        "[webhooks] hitl_secret"
    )
    return (
        "Its requests for a person do not reach crewtui, so it reads running while it "
        f"waits (answer it in AMP): to answer them here, {missing}, start crewtui again, "
        "and set the URL it then gives as the deployment's human-in-the-loop webhook."
    )
