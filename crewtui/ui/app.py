"""The Textual app: starts the tracker on its loop, forwards its events, keeps the theme.

Everything that shows or acts on kickoffs lives on the main screen; the app owns the
lifetime of the tracker (and the webhook receiver), the keymap from the config, and the
choice of theme, which it writes back to the config when the user changes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.notifications import Notification, Notify
from textual.reactive import Reactive
from textual.screen import ModalScreen, Screen
from textual.theme import Theme
from textual.worker import Worker, WorkerCancelled, WorkerFailed

from crewtui.api.errors import CrewtuiError
from crewtui.api.profile import CrewProfile
from crewtui.api.redact import redact
from crewtui.api.sanitize import inert_line
from crewtui.config import Config, Paths, save_ui_theme
from crewtui.core.logs import log_file, logs_to_file
from crewtui.core.notify import NotifyEvent, in_tmux, osc_sequence, sends
from crewtui.core.run_log import STEPS_READ_AGAIN, LogEntry, LogRing, RunLog
from crewtui.core.runtime import TrackerLater, assemble_later
from crewtui.core.tracker_events import (
    CrewHealthChanged,
    HistoryTrouble,
    KickoffChanged,
    StepsAdded,
    TrackerEvent,
)
from crewtui.core.webhook_urls import flow_request_note
from crewtui.ui.bindings import keymap_from_config
from crewtui.ui.commands import KickoffCommands
from crewtui.ui.crash import SafeCrash
from crewtui.ui.export import export_directory
from crewtui.ui.memory import MEMORY_FILENAME, FormMemory
from crewtui.ui.screens.main import (
    HealthUpdated,
    KickoffUpdated,
    MainScreen,
    StepsArrived,
    utcnow,
)
from crewtui.ui.toast_hold import ToastHold
from crewtui.ui.widgets.status_line import is_idle

if TYPE_CHECKING:  # the forms and the log are imported when first opened (MainScreen), the
    from rich.console import RenderableType

    from crewtui.api.models import Kickoff

    # the tracker after the first frame (``CrewtuiApp.tracker``), the receiver with it
    from crewtui.core.tracker import Tracker
    from crewtui.core.webhooks import WebhookReceiver
    from crewtui.ui.screens.batch_form import BatchForm
    from crewtui.ui.screens.kickoff_form import KickoffForm
    from crewtui.ui.screens.log import LogScreen

_CSS = Path(__file__).with_name("crewtui.tcss")
# How long a hang-up or a kill gives the app to quit cleanly before the process just ends.
SIGNAL_EXIT_GRACE = 5.0
# xterm's title stack (XTWINOPS 22/23): the terminal's own title comes back on exit.
PUSH_TITLE = "\x1b[22;2t"
POP_TITLE = "\x1b[23;2t"
# The newest run-log entries the Log view can show (``l``), whatever the app's uptime.
LOG_ENTRIES_KEPT = 5000

logger = logging.getLogger(__name__)


class AppClosing(Exception):
    """The tracker was asked for once the app had begun closing, before it was made.

    None is made then: the app stops the tracker it holds as it unmounts, so one made
    after that would never be stopped (its connections, its receiver's port, its lease
    held as long as the process lives), and the action that asked has no screen left to
    act on. The app takes this as the quiet end of that action (``_handle_exception``).
    """


class CrewtuiApp(App[int]):
    """crewtui's terminal UI over one tracker."""

    CSS_PATH = _CSS
    TITLE = "crewtui"
    COMMANDS: ClassVar = App.COMMANDS | {KickoffCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    # The terminal's title (see ``watch_sub_title``); no widget draws it, so a change
    # (each pause and answer changes the waiting count) must not repaint the whole screen.
    sub_title: Reactive[str] = Reactive("", compute=False, repaint=False)

    class Started(Message):
        """The tracker is running: the demo launches its kickoffs, tests start acting."""

    def __init__(
        self,
        tracker: Tracker | TrackerLater,
        config: Config,
        paths: Paths,
        *,
        notify_on_finish: bool = True,
        receiver: WebhookReceiver | None = None,
        startup_notes: Sequence[str] = (),
        clock: Callable[[], datetime] = utcnow,
        tz: tzinfo | None = None,
    ) -> None:
        super().__init__()
        # A key answers in one frame. An animation (the detail tabs' sliding underline, a
        # gliding scroll) is a dozen frames more to paint and, over SSH, to send, and the
        # next key waits behind them. Textual's own switch, TEXTUAL_ANIMATIONS, still wins.
        if "TEXTUAL_ANIMATIONS" not in os.environ:
            self.animation_level = "none"
        # The one tracker: made after the list's first frame (see ``tracker``) when given as
        # a ``TrackerLater``, as ``build_app`` gives it; given made, by tests and benchmarks.
        self._tracker = tracker
        self.store = tracker.store
        self.crews: dict[str, CrewProfile] = dict(tracker.crews)
        self.config = config
        self.paths = paths
        self.receiver = receiver
        self.notify_on_finish = notify_on_finish
        self.startup_notes = list(startup_notes)
        self.keymap, unknown = keymap_from_config(config.keys)
        if unknown:
            self.startup_notes.append(f"Unknown key ids in [keys]: {', '.join(unknown)}.")
        self.main = MainScreen(
            lambda: self.tracker,
            self.store,
            self.crews,
            FormMemory(paths.data_dir / MEMORY_FILENAME),
            export_dir=lambda: export_directory(self.config.ui.export_dir, paths.data_dir),
            keymap=self.keymap,
            notify_on_finish=notify_on_finish,
            bell=config.ui.bell,
            desktop_notify=self.desktop_notify,
            take_back_toast=self.take_back_toast,
            clock=clock,
            tz=tz,
            prices=config.price_table,
            stall_limits=config.stall,
            flow_requests=self._flow_request_note,
        )
        # Every tracker event as run-log entries, kept from the start for the Log view.
        self.run_log = RunLog()
        self.log_ring = LogRing(LOG_ENTRIES_KEPT, clock())
        self._log_screen: LogScreen | None = None
        self._unlisten: Callable[[], None] | None = None
        self._exit_deadline: threading.Timer | None = None
        self._log_routing = contextlib.ExitStack()
        self._title_pushed = False
        self._after_frame: list[Callable[[], object]] = []
        # Toasts that arrived while a dialog was open: they would cover its buttons.
        self._toast_hold = ToastHold()
        # Following runs, started after the list's first frame (``start_following``); set
        # once the tracker runs (tests wait for it).
        self._starting: Worker[None] | None = None
        # From ``exit`` (or an unmount however it came): no tracker is made any more.
        self._quitting = False
        self.following = asyncio.Event()
        # Every error a worker raised that the app survived: tests check it stays empty.
        self.unexpected_errors: list[BaseException] = []
        if config.ui.theme in self.available_themes:
            self.theme = config.ui.theme

    @property
    def tracker(self) -> Tracker:
        """The one tracker. Given as a ``TrackerLater``, it is made (with its receiver) where
        it is first needed: ``start_following``, after the list's first frame, unless a key
        asks for it sooner. Its events are forwarded from then on. Once the app is closing,
        one not made yet never is (``AppClosing``)."""
        if isinstance(self._tracker, TrackerLater):
            if self._quitting:
                raise AppClosing("the app is closing: no tracker is made any more")
            runtime = self._tracker.make()
            self._tracker, self.receiver = runtime.tracker, runtime.receiver
            self._unlisten = runtime.tracker.listen(self._forward)
        return self._tracker

    def get_default_screen(self) -> MainScreen:
        return self.main

    async def on_mount(self) -> None:
        # From here stderr is the screen: every library's log goes to the file instead.
        self._log_routing.enter_context(logs_to_file(log_file(self.paths), self.secrets()))
        self._handle_hangup(install=True)
        self.set_keymap(self.keymap)
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.screen_change_signal.subscribe(self, self._screen_changed)
        if not isinstance(self._tracker, TrackerLater):  # given made: listened to at once
            self._unlisten = self._tracker.listen(self._forward)
        for note in self.startup_notes:
            self.notify(note, severity="warning", timeout=8, markup=False)
        self.after_next_frame(_freeze_start_up_objects)

    def on_main_screen_first_page_in(self) -> None:
        """The first frame needs the list and nothing else: following runs (the receiver,
        the tracker's reads of the active runs, its first polls and the HTTP client they
        import) starts once the list's first page is on the terminal."""
        self.after_next_frame(self._start_following)

    def _start_following(self) -> None:
        if self._starting is None and not self._quitting:  # a quit may come first
            self._starting = self.start_following()

    @work(group="start")
    async def start_following(self) -> None:
        """Compose the detail's panes, make and start the tracker and the receiver, read the
        inbox, and say so (``Started``): after the list's first frame, none of it before."""
        await self.main.detail.compose_panes()
        tracker = self.tracker
        if self.receiver is not None:
            await self._start_receiver(self.receiver)
        await tracker.start()
        for kickoff in tracker.tracked():  # their next change is told as a change
            self.run_log.remember(kickoff)
        await self.main.load_inbox()
        self.main.following_started()
        self.following.set()
        self.post_message(self.Started())
        self.first_contact()

    @work(group="first-contact")
    async def first_contact(self) -> None:
        """Ask each idle crew (none of its runs going, nobody else polling it) for its inputs
        once: a wrong token or a dead URL then shows in the status line when the app opens.
        Before, such a crew read "○ travel idle" until the first kickoff failed. The
        tracker notes the answer in the crew's health, whatever it is. A check nobody asked
        for raises no toast: an unexpected failure is only logged (redacted), and the form,
        which asks the same, says it when the user opens it."""
        tracker = self.tracker
        idle = [crew for crew in tracker.crews if is_idle(tracker.health(crew))]

        async def ask(crew: str) -> None:
            try:
                await tracker.inputs(crew)
            except CrewtuiError:
                pass  # in the crew's health now
            except Exception:
                logger.exception("asking crew %r for its inputs failed unexpectedly", crew)

        await asyncio.gather(*(ask(crew) for crew in idle))

    def _flow_request_note(self) -> str:
        """Where flows' requests for a person reach this app, or what it takes that they do."""
        hitl_url = None if self.receiver is None else self.receiver.hitl_url
        return flow_request_note(
            hitl_url, self.paths.webhook_secret_file, receiving=self.receiver is not None
        )

    async def _start_receiver(self, receiver: WebhookReceiver) -> None:
        """Webhooks are a bonus: if the receiver cannot start, polling carries on alone."""
        try:
            await receiver.start()
        except CrewtuiError as error:
            self.notify(error.message, title="Webhooks off", severity="warning", markup=False)
            self.receiver = None
            return
        self.tracker.webhook_urls = receiver.urls

    def watch_sub_title(self, sub_title: str) -> None:
        """The terminal's title says how many runs wait ("crewtui · 2 waiting"), so a
        person in another window or tmux pane sees it (OSC 2; the title before crewtui's
        is pushed once and restored on exit)."""
        if self.is_headless or self._driver is None:
            return
        if not self._title_pushed:
            self._driver.write(PUSH_TITLE)
            self._title_pushed = True
        words = " · ".join(part for part in (self.title, sub_title) if part)
        self._driver.write(f"\x1b]2;{inert_line(words, 80)}\x07")

    def _handle_hangup(self, *, install: bool) -> None:
        """A lost SSH connection (SIGHUP) or a kill (SIGTERM) quits cleanly: the tracker
        stops and the history is closed; running kickoffs are picked up next time."""
        loop = asyncio.get_running_loop()
        for name in ("SIGHUP", "SIGTERM"):
            number = getattr(signal, name, None)
            if number is None:
                continue
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                if install:
                    loop.add_signal_handler(number, self._quit_on_signal)
                else:
                    loop.remove_signal_handler(number)

    def _quit_on_signal(self) -> None:
        """Quit, and make sure the process ends even if Textual cannot finish.

        With its terminal gone, Textual's shutdown can block for good on its output queue
        (seen with a dialog open when tmux or SSH went away): the process then lingered,
        deaf to further signals. A daemon timer ends it after ``SIGNAL_EXIT_GRACE`` seconds;
        the history is safe, as after any crash, since every write is its own transaction.
        """
        if self._exit_deadline is None:
            self._exit_deadline = threading.Timer(SIGNAL_EXIT_GRACE, os._exit, args=(0,))
            self._exit_deadline.daemon = True
            self._exit_deadline.start()
        self.exit(0)

    async def on_unmount(self) -> None:
        self._quitting = True
        self._handle_hangup(install=False)
        if self._title_pushed and self._driver is not None:
            self._driver.write(POP_TITLE)
        if self._unlisten is not None:
            self._unlisten()
        if self._starting is not None:  # a quit before the tracker was up: it stops whole
            self._starting.cancel()
            with contextlib.suppress(WorkerCancelled, WorkerFailed):
                await self._starting.wait()
        if not isinstance(self._tracker, TrackerLater):  # a quit before it was made: no stop
            await self._tracker.stop()
        if self.receiver is not None:
            await self.receiver.stop()
        self._log_routing.close()

    def secrets(self) -> list[str]:
        """What must never be shown or logged: the crews' tokens."""
        return [token for crew in self.crews.values() if (token := crew.bearer())]

    def _handle_exception(self, error: Exception) -> None:
        """Textual's one door for every unhandled error (a private hook: Textual is pinned,
        and tests/ui/test_crashes.py shows if it moves).

        A worker's failure costs its action, not the app: one toast, one redacted record in
        the log file, and the app goes on. An action that asked for the tracker once the app
        was closing (``AppClosing``) just ends. Any other error still ends the app, but its
        dump has no frame locals and no token (Textual's own dump shows every frame's locals).
        """
        if isinstance(error, WorkerFailed):
            if not isinstance(error.error, AppClosing):
                self._worker_failed(error.error)
            return
        if isinstance(error, AppClosing):
            return
        super()._handle_exception(SafeCrash(error, self.secrets()))

    def _worker_failed(self, error: BaseException) -> None:
        self.unexpected_errors.append(error)
        secrets = self.secrets()
        logger.error(
            "an action failed unexpectedly", exc_info=(type(error), error, error.__traceback__)
        )
        detail = inert_line(redact(f"{type(error).__name__}: {error}", secrets), 160)
        self.notify(
            f"An unexpected error stopped that action ({detail}); crewtui goes on. "
            f"Details are in {log_file(self.paths)}.",
            title="Unexpected error",
            severity="error",
            timeout=12,
            markup=False,
        )

    def _forward(self, event: TrackerEvent) -> None:
        """Tracker events become messages to the main screen (called on the app's loop).

        None once the app is closing: an answer that lands then (a poll, the first contact
        with an idle crew) would reach screens being taken down. The history has it."""
        if self._quitting:
            return
        if isinstance(event, KickoffChanged):
            self.main.post_message(KickoffUpdated(event.kickoff, event.previous))
        elif isinstance(event, StepsAdded):
            self.main.post_message(StepsArrived(event.kickoff_id, event.steps))
        elif isinstance(event, CrewHealthChanged):
            self.main.post_message(HealthUpdated(event.health))
        elif isinstance(event, HistoryTrouble):
            self.notify(event.message, title="History not saved", severity="warning", markup=False)
        self._add_to_log(self.run_log.entries(event, utcnow()))
        if isinstance(event, KickoffChanged) and not self._polls_itself(event.kickoff):
            self.read_stored_steps(event.kickoff.kickoff_id)

    def _add_to_log(self, entries: Sequence[LogEntry]) -> None:
        if not entries:
            return
        self.log_ring.extend(entries)
        log_screen = self._log_screen
        if log_screen is not None and self.screen_stack and self.screen is log_screen:
            log_screen.post_message(log_screen.Added(entries))

    def _polls_itself(self, kickoff: Kickoff) -> bool:
        """Whether this process polls the run's crew (holds its lease): its steps then come
        as events; otherwise another process stores them."""
        return self.tracker.holds_lease(kickoff.crew)

    @work(group="log-steps")
    async def read_stored_steps(self, kickoff_id: str) -> None:
        """A run another process follows changed: the steps it stored, for the log."""
        steps = await asyncio.to_thread(self.store.list_steps, kickoff_id, newest=STEPS_READ_AGAIN)
        self._add_to_log(self.run_log.stored_steps(kickoff_id, steps))

    def action_open_log(self) -> None:
        """``l``: the Log view, made once and kept (its filter and pause stay as left)."""
        from crewtui.ui.screens.log import LogScreen

        if self._log_screen is None:
            self._log_screen = LogScreen(
                self.log_ring,
                self.store,
                self.keymap,
                tz=self.main.tz,
                clock=self.main.clock,
            )
            self.install_screen(self._log_screen, name="log")
        if self.screen is not self._log_screen:
            self.push_screen("log")

    def desktop_notify(self, event: NotifyEvent, title: str, body: str) -> None:
        """A desktop notification (OSC 9 / 777, ``[notify]``) when the config asks for
        ``event``; wrapped for tmux when inside it. The text is made inert on the way."""
        settings = self.config.notify
        if sends(settings.osc, event):
            self.send_to_terminal(osc_sequence(title, body, settings.form, tmux=in_tmux()))

    def after_next_frame(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once the next frame is on the terminal. ``call_after_refresh``
        may run before it (on an idle screen inside a batch update, say), and what waits
        for the first frame (Markdown's imports, the GC freeze) then delays it."""
        self._after_frame.append(callback)
        self.refresh()

    def post_display_hook(self) -> None:
        if self._after_frame:
            waiting, self._after_frame = self._after_frame, []
            for callback in waiting:
                self.call_next(callback)

    def send_to_terminal(self, sequence: str) -> None:
        """Write an escape sequence through Textual's driver, which owns the terminal (a
        print would land in the middle of a frame); nothing when headless."""
        if not self.is_headless and self._driver is not None:
            self._driver.write(sequence)

    # The form is a screen of its own: its messages reach the app, not the main screen.

    def on_kickoff_form_required_inputs_wanted(
        self, message: KickoffForm.RequiredInputsWanted
    ) -> None:
        self.main.fetch_inputs(message.crew, message.form)

    def on_kickoff_form_submitted(self, message: KickoffForm.Submitted) -> None:
        self.main.start_kickoff(message)

    def on_batch_form_preview_wanted(self, message: BatchForm.PreviewWanted) -> None:
        self.main.preview_batch(message.path, message.form)

    def on_batch_form_submitted(self, message: BatchForm.Submitted) -> None:
        self.main.start_batch(message.request, message.form)

    def on_notify(self, event: Notify) -> None:
        """A toast waits while a dialog is open (``toast_hold``): toasts are hidden then,
        and one raised meanwhile would time out unseen. Preventing the default keeps it
        from Textual's handler (``App._on_notify``), which shows it."""
        # While the app closes its stack may be empty already: ``self.screen`` would raise.
        if self.screen_stack and isinstance(self.screen, ModalScreen):
            self._toast_hold.hold(event.notification)
            event.prevent_default()

    def _screen_changed(self, screen: Screen[object]) -> None:
        """A dialog open hides every toast; back from the dialogs, the toasts held meanwhile
        come out, with their full time."""
        dialog_open = isinstance(screen, ModalScreen)
        for stacked in self.screen_stack:
            stacked.set_class(dialog_open, "-dialog-open")
        if dialog_open or not self._toast_hold:
            return
        for toast in self._toast_hold.release():  # the same toast, to be taken back still
            self.post_message(Notify(replace(toast, raised_at=time.time())))

    def take_back_toast(self, notification: Notification) -> bool:
        """Take a toast away before its time, whether it waits in the hold (a dialog is
        open) or is on screen; whether it was still there to be seen.

        Textual has no public way to take one toast back. ``App._unnotify`` is what a toast
        calls on itself when its time is up or it is clicked (``Toast._expire``); forgetting
        one it no longer has is a no-op, and the toast rack then removes the toast's widget
        (``ToastRack.show`` drops every toast whose notification is gone). Iterating
        ``App._notifications`` forgets the expired ones first, so an expired toast is not
        taken for one on screen. Textual is pinned; tests/ui/test_ended_toasts.py shows if
        either moves.
        """
        if self._toast_hold.take_back(notification):
            return True
        shown = [toast for toast in self._notifications if toast.identity == notification.identity]
        for toast in shown:
            self._unnotify(toast)
        return bool(shown)

    def _theme_changed(self, theme: Theme) -> None:
        self.main.restyle()
        if self._log_screen is not None:
            self._log_screen.restyle()
        if theme.name != self.config.ui.theme:
            self.config = replace(self.config, ui=replace(self.config.ui, theme=theme.name))
            self.save_theme(theme.name)

    @work(thread=True, group="theme")
    def save_theme(self, name: str) -> None:
        try:
            save_ui_theme(self.paths, name)
        except CrewtuiError as error:
            self.call_from_thread(
                self.notify, error.message, title="Theme not saved", severity="warning"
            )

    async def action_quit(self) -> None:
        self.exit(0)

    def exit(
        self, result: int | None = None, return_code: int = 0, message: RenderableType | None = None
    ) -> None:
        """Textual's exit; from here on, no tracker is made (``tracker``)."""
        self._quitting = True
        super().exit(result, return_code, message)


def build_app(
    crews: Sequence[CrewProfile],
    config: Config,
    paths: Paths,
    *,
    webhooks_listen: str | None = None,
    public_url: str | None = None,
) -> CrewtuiApp:
    """The app over the history on disk (or a session-only one), with its tracker."""
    later, notes = assemble_later(
        crews, config, paths, webhooks_listen=webhooks_listen, public_url=public_url
    )
    return CrewtuiApp(later, config, paths, startup_notes=notes)


def run_app(
    crews: Sequence[CrewProfile],
    config: Config,
    paths: Paths,
    *,
    webhooks_listen: str | None = None,
    public_url: str | None = None,
) -> int:
    """Run the app until the user quits; its exit code."""
    app = build_app(crews, config, paths, webhooks_listen=webhooks_listen, public_url=public_url)
    try:
        code = app.run()
    finally:
        app.store.close()
    return code if code is not None else 0


def _freeze_start_up_objects() -> None:
    """Move what start-up made (modules, classes, the first screen: some 100k objects)
    out of the garbage collector's sight. They live as long as the app, and every full
    collection walked them all on the event loop: measured, the worst stalls while a
    large output scrolled went from 300-400 ms to 170-270 ms. The collector, paused for
    the start-up by ``crewtui.cli.main``, resumes then."""
    gc.freeze()
    gc.enable()
