"""Assemble a running crewtui: config → store → clients → tracker → webhook receiver.

The app, the headless commands and the demo all start from here, so each is wired the
same way (one history, one tracker, the receiver feeding that tracker) and a change to the
wiring is made once. Nothing here imports Textual.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from crewtui.api.errors import ConfigError, StoreError
from crewtui.api.profile import CrewProfile
from crewtui.config import Config, Paths, history_url, hitl_secret
from crewtui.core.history import History
from crewtui.core.store import Store
from crewtui.settings import HistorySettings, PollSettings, WebhookSettings

if TYPE_CHECKING:
    # Imported in ``assemble``: the app makes its tracker after its first frame (it brings
    # the HTTP client, the dialects and the wire models; ``TrackerLater``).
    from crewtui.core.tracker import Tracker

    # Imported when a receiver is asked for: status and the list need none.
    from crewtui.core.webhooks import WebhookReceiver

NOT_KEPT = "This session's history will not be kept."


@dataclass
class Runtime:
    """The parts of a running crewtui, and the notes to show the user about them."""

    store: History
    tracker: Tracker
    receiver: WebhookReceiver | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TrackerLater:
    """What the app needs before its tracker is made (the history its list reads, the
    crews it will follow) and how to make the tracker over that history, with its receiver.

    The app's first frame shows the list: the tracker brings the HTTP client, the dialects
    and the wire models, none of which that frame needs, so the app makes it after.
    """

    store: History
    crews: dict[str, CrewProfile]  # by name, as the tracker keeps them
    make: Callable[[], Runtime]


def assemble_later(
    crews: Sequence[CrewProfile],
    config: Config,
    paths: Paths,
    *,
    webhooks_listen: str | None = None,
    public_url: str | None = None,
) -> tuple[TrackerLater, list[str]]:
    """The history opened now, the tracker (``assemble``) made when asked; the notes to show
    about the history."""
    store, note = open_store(paths, config.history)
    make = partial(
        assemble,
        crews,
        config,
        paths,
        store=store,
        webhooks_listen=webhooks_listen,
        public_url=public_url,
    )
    return TrackerLater(store, {crew.name: crew for crew in crews}, make), [note] if note else []


def open_store(paths: Paths, settings: HistorySettings | None = None) -> tuple[History, str | None]:
    """The history: the one place that picks its back end, and a note to show about it.

    With ``$CREWTUI_HISTORY_URL`` or ``[history] url``, the shared history on PostgreSQL; one
    that cannot be opened raises its StoreError (a team's history never silently becomes
    this session's alone). Otherwise the SQLite file of the home; if it cannot be opened, a
    session-only one and a note why. A history opened read-only (damaged, or in a place
    crewtui cannot write) comes with the note that says so: it is shown, and nothing is
    saved to it.
    """
    settings = settings or HistorySettings()
    steps_per_run = settings.steps_per_run
    url = history_url(settings)
    if url is not None:
        return _open_postgres(url, steps_per_run), None
    try:
        store = Store.open(paths.store_file, steps_per_run=steps_per_run)
    except StoreError as error:
        return Store.in_memory(steps_per_run=steps_per_run), f"{error.message} {NOT_KEPT}"
    return store, store.open_note


def _open_postgres(url: str, steps_per_run: int) -> History:
    try:
        from crewtui.core.pg_store import PgStore
    except ImportError:
        raise ConfigError(
            "A history on PostgreSQL needs psycopg: install crewtui with its postgres extra "
            "(pip install 'crewtui[postgres]')."
        ) from None
    return PgStore.open(url, steps_per_run=steps_per_run)


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
    store: History | None = None,
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
    from crewtui.core.tracker import Tracker

    tracker = Tracker(crews, store, poll or config.poll)
    receiver = (
        webhook_receiver(tracker, config, paths, webhooks_listen, public_url) if webhooks else None
    )
    return Runtime(store=store, tracker=tracker, receiver=receiver, notes=notes)
