"""Assemble a running crewtui: config → store → clients → tracker → webhook receiver.

The app, the headless commands and the demo all start from here, so each is wired the
same way (one history, one tracker, the receiver feeding that tracker) and a change to the
wiring is made once. Nothing here imports Textual.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crewtui.api.errors import StoreError
from crewtui.api.profile import CrewProfile
from crewtui.config import (
    Config,
    HistorySettings,
    Paths,
    PollSettings,
    WebhookSettings,
    hitl_secret,
)
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker

if TYPE_CHECKING:  # imported when a receiver is asked for: status and the list need none
    from crewtui.core.webhooks import WebhookReceiver

NOT_KEPT = "This session's history will not be kept."


@dataclass
class Runtime:
    """The parts of a running crewtui, and the notes to show the user about them."""

    store: Store
    tracker: Tracker
    receiver: WebhookReceiver | None = None
    notes: list[str] = field(default_factory=list)


def open_store(paths: Paths, settings: HistorySettings | None = None) -> tuple[Store, str | None]:
    """The history on disk; if it cannot be opened, a session-only one and a note why.

    A history opened read-only (damaged, or in a place crewtui cannot write) comes with
    the note that says so: it is shown, and nothing is saved to it.
    """
    steps_per_run = (settings or HistorySettings()).steps_per_run
    try:
        store = Store.open(paths.store_file, steps_per_run=steps_per_run)
    except StoreError as error:
        return Store.in_memory(steps_per_run=steps_per_run), f"{error.message} {NOT_KEPT}"
    return store, store.open_note


def webhook_receiver(
    tracker: Tracker,
    config: Config,
    paths: Paths,
    listen: str | None = None,
    public_url: str | None = None,
) -> WebhookReceiver | None:
    """The webhook receiver when asked for on the command line or in the config."""
    settings = config.webhooks
    if listen is not None or public_url is not None:
        settings = WebhookSettings(
            listen=listen or settings.listen,
            public_url=public_url or settings.public_url,
            form=settings.form,
            hitl_secret=settings.hitl_secret,
        )
    address = settings.listen_address
    if address is None:
        return None
    host, port = address
    from crewtui.core.webhooks import WebhookReceiver, load_or_create_secret

    # Made, kept and remembered for redaction like the secret.
    token = load_or_create_secret(paths.webhook_token_file)
    signing = hitl_secret(config)
    return WebhookReceiver(
        tracker.ingest,
        tracker.accepts_push,
        host=host,
        port=port,
        secret=load_or_create_secret(paths.webhook_secret_file),
        token=token,
        form=settings.form,
        public_url=settings.public_url,
        hitl_secret=signing.get_secret_value() if signing is not None else None,
        on_hitl=tracker.hitl_requested,
    )


def assemble(
    crews: Sequence[CrewProfile],
    config: Config,
    paths: Paths,
    *,
    store: Store | None = None,
    poll: PollSettings | None = None,
    webhooks: bool = True,
    webhooks_listen: str | None = None,
    public_url: str | None = None,
) -> Runtime:
    """A tracker over the history (``store``, else the one on disk) for ``crews``.

    ``webhooks=False`` leaves the receiver out (the headless commands poll only).
    """
    notes: list[str] = []
    if store is None:
        store, note = open_store(paths, config.history)
        if note:
            notes.append(note)
    tracker = Tracker(crews, store, poll or config.poll)
    receiver = (
        webhook_receiver(tracker, config, paths, webhooks_listen, public_url) if webhooks else None
    )
    return Runtime(store=store, tracker=tracker, receiver=receiver, notes=notes)
