"""The main screen: status line, kickoff list, the selected kickoff's detail, footer.

Every change of a kickoff arrives as a tracker event turned into a message; the screen never
polls. Reads of the history and every call to the tracker run in workers, so the screen never
waits on the network or the disk. Widgets only render.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Container
from textual.css.query import NoMatches
from textual.events import Resize
from textual.message import Message
from textual.notifications import Notification, Notify, SeverityLevel
from textual.screen import Screen
from textual.widgets import Input, Static

from crewtui.api.errors import CrewtuiError, InputValidationError
from crewtui.api.rows import KickoffSummary, WaitingFor
from crewtui.api.sanitize import inert_line
from crewtui.api.states import RunState, Submission
from crewtui.core.batch import (
    BATCH_KEY,
    Batch,
    BatchProgress,
    check_inputs,
    fingerprint,
    new_batch_id,
    progress_of,
    read_rows,
)
from crewtui.core.format import (
    UNKNOWN,
    continued_elsewhere,
    duration_text,
    sentence,
    waiting_line,
)
from crewtui.core.history import History, is_flow
from crewtui.core.inbox import Inbox, count_words, waiting_runs
from crewtui.core.notify import NotifyEvent
from crewtui.core.pricing import Price
from crewtui.core.stall import Stall, StallRule
from crewtui.core.text_lines import TextSource, read_all
from crewtui.core.tracker_events import CrewHealth
from crewtui.ui.bindings import (
    KEYS_BY_ID,
    MAIN_KEYS,
    PRIORITY_ACTIONS,
    effective_key,
    main_bindings,
)
from crewtui.ui.export import encodable, export_kickoff
from crewtui.ui.memory import FormMemory
from crewtui.ui.widgets.batch_rows import BatchRows
from crewtui.ui.widgets.detail import STEP_WINDOW, DetailKeys, KickoffDetail
from crewtui.ui.widgets.key_footer import KeyFooter
from crewtui.ui.widgets.kickoff_list import (
    PAGE_ROWS,
    SORT_ORDERS,
    KickoffList,
    ListFilter,
    summary_of,
)
from crewtui.ui.widgets.status_line import StatusLine

# Dialogs are imported where they are first opened: the first frame needs only
# the list (tests/ui/test_first_frame.py keeps it so).
if TYPE_CHECKING:
    from crewtui.api.models import Kickoff, Step
    from crewtui.api.profile import CrewProfile
    from crewtui.core.batch_runner import BatchNote  # imported when a batch is sent
    from crewtui.core.tracker import Tracker  # made after the first frame (CrewtuiApp.tracker)
    from crewtui.ui.screens.answer import Answer
    from crewtui.ui.screens.batch_form import BatchForm, BatchRequest
    from crewtui.ui.screens.inbox import InboxScreen
    from crewtui.ui.screens.kickoff_form import KickoffForm
    from crewtui.ui.screens.prompts import TrackRequest

# Wide terminals put the detail beside the list; narrower ones put it below.
WIDE_AT = 150
_TOAST_SECONDS = 6.0
NO_CREW = "No crew is configured: `crewtui doctor` names the config file to add one to."
# Runs that end within this many seconds of the first share one toast and one bell: a busy
# day ends runs in bursts, and a toast per run would cover the screen.
_ENDED_GATHER_SECONDS = 1.5
# At most this many runs are named in one toast; the rest are counted. Fewer on a short
# terminal (under _TALL_ENOUGH rows): at 80x24 four names and a count made the toast 8 rows
# tall, a third of the screen, over the detail.
_ENDED_NAMED = 4
_ENDED_NAMED_SHORT = 2
_TALL_ENOUGH = 30
# Batches shown as rows above the list (the newest), and how long their counts may lag a
# burst of changes (one history read per burst, not one per change).
BATCH_ROWS = 3
_BATCH_REFRESH_SECONDS = 0.5
# How far down the list a filter's change looks for the run the cursor was on (pages
# read one by one: a run further down than this leaves the cursor on the top row).
KEEP_SEARCH_ROWS = 10 * PAGE_ROWS
# States of a run the service does not know (a mistyped id): deleted at once, no waiting.
_UNKNOWN_TO_SERVICE = frozenset({RunState.NOT_FOUND, RunState.UNKNOWN})


class KickoffUpdated(Message):
    """A kickoff changed; a newer message for the same kickoff supersedes a queued one."""

    def __init__(self, kickoff: Kickoff, previous: RunState | None) -> None:
        super().__init__()
        self.kickoff = kickoff
        self.previous = previous

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, KickoffUpdated)
            and message.kickoff.kickoff_id == self.kickoff.kickoff_id
        )


class StepsArrived(Message):
    """New steps for a kickoff (never collapsed: each carries different steps)."""

    def __init__(self, kickoff_id: str, steps: Sequence[Step]) -> None:
        super().__init__()
        self.kickoff_id = kickoff_id
        self.steps = tuple(steps)


class HealthUpdated(Message):
    """A crew's health changed; only the newest per crew matters."""

    def __init__(self, health: CrewHealth) -> None:
        super().__init__()
        self.health = health

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, HealthUpdated) and message.health.crew == self.health.crew


def utcnow() -> datetime:
    return datetime.now(UTC)


def _batch_progress(store: History, limit: int) -> list[BatchProgress]:
    """The newest ``limit`` batches and each row's status (a thread's work: two reads)."""
    return [progress_of(b, store.batch_runs(b.batch_id)) for b in store.list_batches(limit)]


def finish_words(kickoff: Kickoff) -> str:
    """``travel 5f1c2d3e completed in 1m48s``: a toast's whole message, inert."""
    duration = duration_text(kickoff, utcnow())
    took = f" in {duration}" if duration not in ("", UNKNOWN) else ""
    return f"{inert_line(kickoff.crew, 40)} {kickoff.short_id} {kickoff.state.value}{took}"


# The toast of runs that ended is as grave as the gravest of them.
_SEVERITIES: tuple[SeverityLevel, ...] = ("information", "warning", "error")


def ended_severity(kickoff: Kickoff) -> SeverityLevel:
    """How grave a run's end is: a failed or lost run is an error; a cancelled one is not
    (a person asked for it): one crewtui asked to stop is information, one stopped
    elsewhere (by the service, or someone on its site) a warning."""
    if kickoff.state is RunState.CANCELLED:
        return "information" if kickoff.cancel_request is not None else "warning"
    return "information" if kickoff.state is RunState.COMPLETED else "error"


@dataclass(frozen=True)
class EndedRuns:
    """Runs that ended, as one toast tells them: how many of each state (``3 runs
    completed``, ``2 completed, 1 failed``) and the newest few by name, newest first (the
    ones to read first when runs that ended earlier are counted in). Their words, not the
    runs: a toast counted in again and again holds no kickoff (nor its outputs)."""

    counts: Mapping[str, int] = field(default_factory=dict)
    newest: tuple[str, ...] = ()
    severity: SeverityLevel = "information"

    def plus(self, ended: Sequence[Kickoff]) -> EndedRuns:
        """These runs and ``ended`` after them."""
        counts = dict(self.counts)
        for kickoff in ended:
            counts[kickoff.state.value] = counts.get(kickoff.state.value, 0) + 1
        named = tuple(finish_words(kickoff) for kickoff in reversed(ended))
        severity = max((self.severity, *map(ended_severity, ended)), key=_SEVERITIES.index)
        return EndedRuns(counts, (named + self.newest)[:_ENDED_NAMED], severity)

    @property
    def title(self) -> str:
        if len(self.counts) > 1:  # the completed first, the others as they came
            counts = sorted(self.counts.items(), key=lambda item: item[0] != RunState.COMPLETED)
            return ", ".join(f"{count} {state}" for state, count in counts)
        ((state, count),) = self.counts.items()
        return f"Run {state}" if count == 1 else f"{count} runs {state}"

    def lines(self, named: int = _ENDED_NAMED) -> list[str]:
        """The newest ``named`` runs by name, then how many more."""
        shown = self.newest[:named]
        left_out = sum(self.counts.values()) - len(shown)
        return [*shown, f"and {left_out} more"] if left_out else list(shown)


# How long the cursor must rest on a row before its detail is read and rendered.
DETAIL_SETTLE = 0.06


class MainScreen(Screen[None]):
    """The list, the detail and the keys that act on them."""

    BINDINGS: ClassVar[list[BindingType]] = list(main_bindings())

    class FirstPageIn(Message):
        """The list's first page is in (or could not be read), once: the app starts
        following runs after the frame that shows it (``CrewtuiApp.start_following``)."""

    def __init__(
        self,
        tracker: Callable[[], Tracker],
        store: History,
        crews: Mapping[str, CrewProfile],
        memory: FormMemory,
        *,
        export_dir: Callable[[], Path],
        keymap: dict[str, str],
        notify_on_finish: bool = True,
        bell: bool = False,
        desktop_notify: Callable[[NotifyEvent, str, str], None] | None = None,
        take_back_toast: Callable[[Notification], bool],
        clock: Callable[[], datetime] = utcnow,
        tz: tzinfo | None = None,
        prices: Mapping[str, Price] | None = None,
        stall_limits: Mapping[str, Mapping[str, float]] | None = None,
        flow_requests: Callable[[], str | None] = lambda: None,
    ) -> None:
        super().__init__()
        # The history the list reads and the crews followed, known before the tracker is
        # made (after the first frame: see ``tracker``).
        self._tracker = tracker
        self.store = store
        self.crews = crews
        # Where flows' requests for a person reach the receiver, or what it takes that they
        # do (None: nothing to say).
        self.flow_requests = flow_requests
        # Runs started here whose crew the history did not know as a flow: the note is said
        # when one turns out to be a flow (a crew's first flow kickoff), or forgotten at its end.
        self._flow_unknown: set[str] = set()
        self.memory = memory
        self.export_dir = export_dir
        self.keymap = keymap
        self.notify_on_finish = notify_on_finish
        self.bell = bell
        self.desktop_notify = desktop_notify
        # Takes a toast back, held or on screen (``CrewtuiApp.take_back_toast``).
        self.take_back_toast = take_back_toast
        self._ended: list[Kickoff] = []
        # The toast that said which runs ended, and what it said: the next ones to end are
        # counted in with them while it is still to be seen, in one toast.
        self._ended_toast: tuple[Notification, EndedRuns] | None = None
        self.clock = clock
        self.tz = tz
        self.filter = ListFilter()
        self._selected: Kickoff | None = None
        self._loading: str | None = None
        self._remembered: dict[str, dict[str, str]] = {}
        self._opened_at = utcnow()
        self._view: tuple[tuple[str, ...], tuple[str, ...]] | None = None
        # The stall rule, made again when the tracker reads the history's durations; the
        # runs it calls maybe stuck now, and those already announced by a toast (once each).
        self.stall_limits = stall_limits or {}
        self._stall_rule = StallRule(limits=self.stall_limits)
        self._durations_seen: object = None
        self.stuck: dict[str, Stall] = {}
        self._stuck_announced: set[str] = set()
        # Stalls are judged on the followed runs, so from when following starts
        # (``following_started``): a tick before it would make the tracker early.
        self._judging_stalls = False
        # The run marked with space, waiting for a second run of its crew to compare with.
        self._marked: KickoffSummary | None = None
        # The toast saying a run is marked: it goes once the mark does, so that it does not
        # cover the comparison the second mark opens.
        self._mark_toast: Notification | None = None
        # Held, not queried: a worker or timer finishing while the screen is being torn
        # down must not fail to find its widgets.
        self.status = StatusLine(tz=tz, id="status")
        self.kickoffs = KickoffList(tz=tz, id="kickoffs")
        self.batch_rows = BatchRows(id="batch-rows")
        self._batch_refresh_due = False
        # Its panes come after the list's first frame (``CrewtuiApp.start_following``).
        self.detail = KickoffDetail(
            keys=DetailKeys.bound(keymap),
            prices=prices,
            panes_later=True,
            id="detail",
        )
        self.footer = KeyFooter(MAIN_KEYS, keymap, id="footer")
        # The runs waiting for a person: counted in the status line and the title, listed
        # by the inbox screen (``i``) while it is open.
        self.inbox = Inbox()
        self._inbox_screen: InboxScreen | None = None
        self._first_page_told = False
        # The words the empty list shows now (they say whether a filter hides every run).
        self._empty_said = ""

    # -- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.status
        with Container(id="panes"):
            with Container(id="list-pane"):
                yield self.batch_rows
                yield self.kickoffs
                self._empty_said = self._empty_words()
                yield Static(self._empty_said, id="empty", markup=False)
            yield self.detail
        yield self.footer

    @property
    def selected(self) -> Kickoff | None:
        """The full record of the highlighted row, once loaded; ``None`` while it loads.

        The highlighted row's key is the one truth of "selected": a record loaded for a row
        the cursor has left (archived, deleted, filtered away) is never answered here.
        """
        kickoff = self._selected
        if kickoff is None or kickoff.kickoff_id != self.kickoffs.selected_id:
            return None
        return kickoff

    @property
    def tracker(self) -> Tracker:
        """The one tracker (``CrewtuiApp.tracker``): every change of a kickoff goes through it.
        Made on first use, so nothing on the way to the first frame may use it."""
        return self._tracker()

    def on_mount(self) -> None:
        # Each crew's health is unknown until the tracker has polled it (then events say).
        self.status.set_healths([CrewHealth(crew=crew) for crew in self.crews])
        if self.crews:  # with none, nothing is followed and every key says so (NO_CREW)
            self.kickoffs.set_followed_crews(self.crews)
            self.detail.set_followed_crews(self.crews)
        self.kickoffs.focus()
        self.reload()
        self.load_remembered()
        self.load_batches()
        self.set_interval(1.0, self.tick)

    def on_resize(self, event: Resize) -> None:
        """Detail beside the list when wide, below it when not."""
        self.query_one("#panes").set_class(event.size.width >= WIDE_AT, "-wide")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys bound with priority (n, t) are text while a text box has the focus; escape
        clears a filter only when there is one."""
        if action == "clear_filter":
            return not self.filter.is_empty
        return not (action in PRIORITY_ACTIONS and isinstance(self.focused, Input))

    def restyle(self) -> None:
        """The theme changed: cells carry colours, so render them again. A theme set
        before the screen is mounted (the app no longer waits for the tracker before
        showing it) needs nothing: the screen's first render uses it."""
        if not self.is_mounted:
            return
        self.kickoffs.restyle()
        self.status.restyle()
        self.detail.restyle()
        self.footer.restyle()

    # -- history pages -------------------------------------------------------------------

    def reload(self, keep: KickoffSummary | None = None) -> None:
        """Start again from the first page (the filter or the order changed); the cursor
        goes back on ``keep``'s run once its row is read (if the new list holds it)."""
        self.kickoffs.reset(self.kickoffs.order)
        self._describe_view()
        self.load_first(self.kickoffs.generation, keep)

    def _query(self) -> dict[str, Any]:
        return {
            "crew": self.filter.crew,
            "states": self.filter.states,
            "archived": self.filter.archived,
            "text": self.filter.text or None,
            "batch": self.filter.batch,
        }

    async def _read(self, offset: int, limit: int) -> list[KickoffSummary]:
        """Rows ``offset`` .. ``offset + limit`` of the list, read in a thread."""
        rows = await asyncio.to_thread(
            self.store.list_kickoffs,
            **self._query(),
            order=self.kickoffs.order,
            limit=limit,
            offset=offset,
        )
        return [row for row in rows if not self._in_flight(row)]

    @work(exclusive=True, group="page")
    async def load_first(self, generation: int, keep: KickoffSummary | None = None) -> None:
        """The count and the first page of a new query; those of an older query are dropped.

        With ``keep``, the page that holds its run too (looked for further down only when
        the filter certainly lists it, and within ``KEEP_SEARCH_ROWS``), and the cursor on it.
        """
        try:
            total = await asyncio.to_thread(self.store.count_kickoffs, **self._query())
            rows = await self._read(0, PAGE_ROWS)
            kept_page = await self._page_holding(keep, rows, total)
            if generation != self.kickoffs.generation or not self.is_attached:
                return
            self.kickoffs.begin(total, rows, self.clock())
            if keep is not None and kept_page is not None:
                offset, page = kept_page
                self.kickoffs.hold_with_cursor(offset, page, keep.kickoff_id, self.clock())
            elif keep is not None and keep.kickoff_id in self.kickoffs:
                self.kickoffs.select(keep.kickoff_id)
            self._after_rows_changed()
        finally:
            if not self._first_page_told:
                self._first_page_told = True
                self.post_message(self.FirstPageIn())

    async def _page_holding(
        self, keep: KickoffSummary | None, first: Sequence[KickoffSummary], total: int
    ) -> tuple[int, list[KickoffSummary]] | None:
        """The page below the first that holds ``keep``'s run, when the filter lists it."""
        if keep is None or any(row.kickoff_id == keep.kickoff_id for row in first):
            return None
        if not self.filter.matches(keep):
            return None  # it may not be in the list at all: not worth reading pages for
        for offset in range(PAGE_ROWS, min(total, KEEP_SEARCH_ROWS), PAGE_ROWS):
            page = await self._read(offset, PAGE_ROWS)
            if any(row.kickoff_id == keep.kickoff_id for row in page):
                return offset, page
        return None

    @on(KickoffList.RowsWanted)
    def rows_wanted(self, message: KickoffList.RowsWanted) -> None:
        self.load_page(message.offset, message.limit, message.version)

    @work(group="page")
    async def load_page(self, offset: int, limit: int, version: int) -> None:
        """Rows the list shows but does not hold yet (scrolled or jumped to)."""
        rows = await self._read(offset, limit)
        if not self.is_attached:
            return
        if self.kickoffs.add_page(offset, rows, self.clock(), asked=limit, version=version):
            self._after_rows_changed()

    @on(KickoffList.Recount)
    def recount(self, message: KickoffList.Recount) -> None:
        self.load_recount(message.offset, message.limit, message.version)

    @work(exclusive=True, group="recount")
    async def load_recount(self, offset: int, limit: int, version: int) -> None:
        """Count again and read the rows around the view (a change the list could not place)."""
        total = await asyncio.to_thread(self.store.count_kickoffs, **self._query())
        rows = await self._read(offset, limit)
        if not self.is_attached:
            return
        self.kickoffs.recounted(total, offset, rows, self.clock(), version)
        self._after_rows_changed()

    def _in_flight(self, row: KickoffSummary) -> bool:
        """An attempt this session is sending: it arrives by event under its real id (or is
        dropped if refused), so a page read mid-send must not show its local placeholder."""
        return row.submission is Submission.SENDING and row.created_at >= self._opened_at

    def _after_rows_changed(self) -> None:
        empty = self.kickoffs.row_count == 0
        placeholder = self.query_one("#empty", Static)
        placeholder.display = empty
        if empty:
            words = self._empty_words()
            if words != self._empty_said:
                self._empty_said = words
                placeholder.update(words)
        # The cursor may now rest on another row without a highlight event (the row under it
        # was removed): the detail follows whatever is highlighted after every change; a
        # row still being read is shown once it is in.
        if not self.kickoffs.cursor_pending:
            self._select(self.kickoffs.selected_id, settle=False)
        self._describe_view()

    def _empty_words(self) -> str:
        """What an empty list means: no run yet, or none that the filter keeps."""
        if self.filter.is_empty:
            new, track = (effective_key(KEYS_BY_ID[key], self.keymap) for key in ("new", "track"))
            return f"No kickoffs yet. Press {new} to start one, or {track} to track an id."
        clear, change = (
            effective_key(KEYS_BY_ID[key], self.keymap) for key in ("clear-filter", "filter")
        )
        return (
            f"No kickoff matches the filter ({self.filter.describe()}). Press {clear} to "
            f"clear it and see every run, or {change} to change it."
        )

    @property
    def kickoff_count(self) -> int:
        """How many kickoffs the list has (the store's count, kept up to date by events)."""
        return self.kickoffs.row_count

    def _describe_view(self) -> None:
        parts: list[str] = []
        if not self.filter.is_empty:
            parts.append(self.filter.describe())
        count = self.kickoff_count
        parts.append(f"{count:,} kickoff{'' if count == 1 else 's'}")
        if self.stuck:
            parts.append(f"{len(self.stuck)} maybe stuck")
        if waiting := count_words(len(self.inbox)):
            parts.insert(0, f"{waiting} ({effective_key(KEYS_BY_ID['inbox'], self.keymap)})")
        unread = len(self.kickoffs.unread)
        if unread:
            parts.append(f"{unread} new")
        view = (tuple(parts), (f"sort {self.kickoffs.order}",))
        # Every change of a kickoff comes through here: words that did not change must not
        # lay the screen out again (a burst of changes would cost a layout each).
        if view != self._view:
            self._view = view
            self.status.set_view(*view)

    # -- tracker events ------------------------------------------------------------------

    def on_kickoff_updated(self, message: KickoffUpdated) -> None:
        kickoff = message.kickoff
        known = self.kickoffs.summary(kickoff.kickoff_id)
        if known is not None:
            was_active = not known.state.is_terminal
        else:
            was_active = message.previous is not None and not message.previous.is_terminal
        summary = summary_of(kickoff)
        self.kickoffs.apply(
            summary,
            member=self.filter.matches(kickoff),
            first_seen=message.previous is None,
            membership_fixed=self.filter.states is None and not self.filter.text,
        )
        if was_active and kickoff.is_terminal:
            self._finished(kickoff)
        if kickoff.kickoff_id in self._flow_unknown:
            if kickoff.kind == "flow":
                self._say_where_flow_requests_go(kickoff)
            elif kickoff.is_terminal:
                self._flow_unknown.discard(kickoff.kickoff_id)
        was_waiting = (
            known.state is RunState.PAUSED and known.waiting_for is not None
            if known is not None
            else message.previous is RunState.PAUSED
        )
        if not was_waiting and kickoff.state is RunState.PAUSED and kickoff.waiting_for:
            self._started_waiting(kickoff, kickoff.waiting_for)
        if self.inbox.apply(summary):
            self._inbox_changed()
        if self._selected is not None and self._selected.kickoff_id == kickoff.kickoff_id:
            self._selected = kickoff
            self.detail.show(kickoff, now=self.clock())
        if BATCH_KEY in kickoff.meta:
            self._batches_changed()
        self._after_rows_changed()

    def _finished(self, kickoff: Kickoff) -> None:
        """A run ended while we watched: unread marker now; bell and toast once per burst."""
        if kickoff.kickoff_id != self.kickoffs.selected_id and kickoff.kickoff_id in self.kickoffs:
            self.kickoffs.mark_unread(kickoff.kickoff_id)
        self._ended.append(kickoff)
        if len(self._ended) > 1:
            return
        if self.bell:
            self.app.bell()
        self.set_timer(_ENDED_GATHER_SECONDS, self._announce_ended)

    def _announce_ended(self) -> None:
        """One toast for the runs that ended in the last burst, as grave as the gravest.

        At 80x24 a toast per burst stacked over most of the detail while runs kept ending, so
        a burst that ends while the last one's toast is still to be seen (on screen, or held
        under a dialog) takes that toast back and counts its runs in with its own: one toast,
        its time counted again from now. The desktop is told of each burst alone."""
        ended, self._ended = self._ended, []
        if not ended:
            return
        burst = EndedRuns().plus(ended)
        if self.desktop_notify is not None:
            self.desktop_notify("ended", burst.title, " · ".join(burst.lines()))
        if not self.notify_on_finish or self._log_shown():
            return
        if self._ended_toast is not None:
            earlier, told = self._ended_toast
            if self.take_back_toast(earlier):
                burst = told.plus(ended)
        named = _ENDED_NAMED if self.app.size.height >= _TALL_ENOUGH else _ENDED_NAMED_SHORT
        toast = Notification(
            "\n".join(burst.lines(named)),
            title=burst.title,
            severity=burst.severity,
            timeout=_TOAST_SECONDS,
            markup=False,
        )
        self._ended_toast = (toast, burst)
        self.app.post_message(Notify(toast))

    def _log_shown(self) -> bool:
        """The Log view is open: its newest lines say which runs ended, and a toast would
        sit on them (at 80 columns it covers their words)."""
        from crewtui.ui.screens.log import LogScreen

        return isinstance(self.app.screen, LogScreen)

    def _started_waiting(self, kickoff: Kickoff, waiting: WaitingFor) -> None:
        """A run now waits for a person: say which, on what (inert text), and ring."""
        who = f"{inert_line(kickoff.crew, 40)} {inert_line(kickoff.short_id)}"
        if self.desktop_notify is not None:
            self.desktop_notify("waiting", "Run waits for input", f"{who} {waiting_line(waiting)}")
        self.notify(
            sentence(f"{who} {waiting_line(waiting)}"),
            title="Run waits for input",
            severity="warning",
            timeout=_TOAST_SECONDS,
            markup=False,
        )
        if self.bell:
            self.app.bell()

    def on_steps_arrived(self, message: StepsArrived) -> None:
        if self._selected is not None and self._selected.kickoff_id == message.kickoff_id:
            self.detail.add_steps(message.steps)

    @work(exclusive=True, group="older-steps")
    async def on_kickoff_detail_older_steps_wanted(
        self, message: KickoffDetail.OlderStepsWanted
    ) -> None:
        """The Steps tab reached its oldest step held: read older ones from the history."""
        store = self.store
        steps, _ = await asyncio.to_thread(store.step_window, message.kickoff_id, message.newest)
        with contextlib.suppress(NoMatches):  # the app may be closing
            self.detail.add_older_steps(message.kickoff_id, steps)

    def on_health_updated(self, message: HealthUpdated) -> None:
        health = message.health
        self.status.set_health(health)
        troubled = health.state in ("unreachable", "token_rejected")
        # A crew another process polls is stale when that poller stopped its rounds.
        since = (health.last_ok or health.since) if troubled else health.stale_since
        self.kickoffs.set_stale(health.crew, since)
        self.detail.set_crew_health(health)

    def tick(self) -> None:
        """Once a second: elapsed times of visible running rows, and the shown run."""
        now = self.clock()
        if self._judging_stalls:
            self._judge_stalls(now)
        self.kickoffs.tick(now)
        if self._selected is not None and not self._selected.is_terminal:
            self.detail.show(self._selected, now=now)

    def following_started(self) -> None:
        """The app follows runs now (its tracker is made): judge their stalls each tick."""
        self._judging_stalls = True

    def _judge_stalls(self, now: datetime) -> None:
        """Which followed runs are maybe stuck now: marked in the list, counted in the status
        line, and announced by a toast the first time (``core.stall`` decides)."""
        durations = self.tracker.task_durations
        if durations is not self._durations_seen:
            self._durations_seen = durations
            self._stall_rule = StallRule(durations, self.stall_limits)
            self.detail.set_stall_rule(self._stall_rule)
        stuck = {}
        for kickoff in self.tracker.tracked():
            stall = self._stall_rule.judge(kickoff, now)
            if stall is not None:
                stuck[kickoff.kickoff_id] = stall
        if stuck.keys() == self.stuck.keys():
            self.stuck = stuck
            return
        self.stuck = stuck
        self.kickoffs.set_stuck(frozenset(stuck))
        self._describe_view()
        for kickoff_id, stall in stuck.items():
            if kickoff_id not in self._stuck_announced:
                self._stuck_announced.add(kickoff_id)
                self._announce_stuck(kickoff_id, stall)

    def _announce_stuck(self, kickoff_id: str, stall: Stall) -> None:
        kickoff = self.tracker.get(kickoff_id)
        who = f"{inert_line(kickoff.crew, 40)} {kickoff_id[:8]}" if kickoff else kickoff_id[:8]
        self.notify(
            inert_line(f"{who}: {stall.words()}.", 300),
            title="Maybe stuck",
            severity="warning",
            timeout=_TOAST_SECONDS,
            markup=False,
        )

    # -- selection -----------------------------------------------------------------------

    @on(KickoffList.Highlighted)
    def highlighted(self, event: KickoffList.Highlighted) -> None:
        self._select(event.kickoff_id)

    @on(KickoffList.Chosen)
    def action_focus_detail(self) -> None:
        self.detail.focus_tab(self.detail.active_tab)

    def action_show_tab(self, tab_id: str) -> None:
        self.detail.show_tab(tab_id)

    def action_step_tab(self, step: int) -> None:
        self.detail.step_tab(step)

    def _select(self, kickoff_id: str | None, *, settle: bool = True) -> None:
        if kickoff_id is None:
            if self._selected is not None or self._loading is not None:
                self.workers.cancel_group(self, "detail")
                self._loading = None
                self._selected = None
                self.detail.show(None)
            return
        self.kickoffs.mark_read(kickoff_id)
        if self._selected is not None and self._selected.kickoff_id == kickoff_id:
            if self._loading is not None:  # back on the shown row before another loaded
                self.workers.cancel_group(self, "detail")
                self._loading = None
            return
        if self._loading == kickoff_id:
            return
        self._loading = kickoff_id
        self.load_detail(kickoff_id, settle=settle)

    @work(exclusive=True, group="detail")
    async def load_detail(self, kickoff_id: str, *, settle: bool = True) -> None:
        """The full record (outputs, tasks) is read only for the selected row.

        A cursor move waits for the cursor to rest first: holding ``j`` through a long
        history cancels each load before it reads or renders anything (the worker group is
        exclusive). A change of the list itself (archive, delete, filter) shows at once.
        The first row's record is read once the detail's panes are in, after the list's
        first frame: decoding a whole kickoff brings the wire models, which that frame does
        not show.
        """
        if settle:
            await asyncio.sleep(DETAIL_SETTLE)
        await self.detail.panes_ready()
        await self._show_highlighted()

    async def _show_highlighted(self) -> Kickoff | None:
        """Make the detail show the highlighted row's record; that record, or ``None``."""
        kickoff_id = self.kickoffs.selected_id
        if kickoff_id is None:
            return None
        if self._selected is not None and self._selected.kickoff_id == kickoff_id:
            return self._selected
        store = self.store
        kickoff = self.tracker.get(kickoff_id)
        # From the history, large outputs stay there and are read in pieces as shown.
        stored: Mapping[str | None, TextSource] = {}
        if kickoff is None:
            lean = await asyncio.to_thread(store.get_kickoff_lean, kickoff_id)
            kickoff, stored = lean if lean is not None else (None, {})
        # Only the newest steps are read and held; the Steps tab says how many more exist.
        steps, stats = await asyncio.to_thread(store.step_window, kickoff_id, STEP_WINDOW)
        if self._loading == kickoff_id:
            self._loading = None
        if kickoff is None or not self.is_attached or self.kickoffs.selected_id != kickoff_id:
            return None
        self._selected = kickoff
        # The app may be closing: its widgets can go before this worker is cancelled.
        with contextlib.suppress(NoMatches):
            self.detail.show(kickoff, steps, now=self.clock(), stored=stored)
            self.detail.set_step_history(stats.stored, stats.dropped, store.steps_per_run)
            self._describe_view()
        return kickoff

    # -- the form ------------------------------------------------------------------------

    @work(group="memory")
    async def load_remembered(self) -> None:
        self._remembered = await asyncio.to_thread(self.memory.inputs)

    @property
    def current_row(self) -> KickoffSummary | None:
        """The row under the cursor: what every action acts on."""
        kickoff_id = self.kickoffs.selected_id
        return None if kickoff_id is None else self.kickoffs.summary(kickoff_id)

    def _highlighted_crew(self) -> str | None:
        row = self.current_row
        return row.crew if row is not None else None

    def action_new_kickoff(self) -> None:
        self._open_form(crew=self._highlighted_crew())

    def open_form_for(self, crew: str) -> None:
        """The form on a given crew (the command palette's per-crew commands)."""
        self._open_form(crew=crew)

    def action_rerun(self) -> None:
        self.rerun()

    @work(exclusive=True, group="rerun")
    async def rerun(self) -> None:
        """The form pre-filled from the highlighted row (its inputs are in the full record)."""
        kickoff = await self._show_highlighted()
        if kickoff is None:
            self.notify("Select a kickoff to run again.", timeout=3)
            return
        self._open_form(crew=kickoff.crew, values=kickoff.inputs, meta=kickoff.meta)

    def _open_form(
        self,
        *,
        crew: str | None,
        values: dict[str, str] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        if not self.crews:
            self.notify(NO_CREW, severity="warning")
            return
        from crewtui.ui.screens.kickoff_form import KickoffForm

        form = KickoffForm(
            list(self.crews),
            crew,
            values=values,
            meta=meta,
            webhooks=self.tracker.webhook_urls,
            remembered=self._remembered,
        )
        self.app.push_screen(form, self._form_closed)

    def _form_closed(self, kickoff: Kickoff | None) -> None:
        if kickoff is None or not self.is_attached:
            return
        if self.filter.matches(kickoff):
            self.kickoffs.upsert([summary_of(kickoff)], self.clock())
            self.kickoffs.select(kickoff.kickoff_id)
            self._after_rows_changed()
        self.kickoffs.focus()

    @work(group="inputs")
    async def fetch_inputs(self, crew: str, form: KickoffForm) -> None:
        """GET /inputs for the form; whether the crew is a flow, GET /inputs cannot tell (it
        names a flow's optional state fields alike): its newest run in the history can."""
        try:
            names = await self.tracker.inputs(crew)
            flow = await asyncio.to_thread(is_flow, self.store, crew)
        except CrewtuiError as error:
            if form.is_attached:
                form.set_required(crew, [], error=error.message)
            return
        except Exception:
            # The form must not wait for an answer that will never come; the app's worker
            # failure handling still shows, logs (redacted) and records the error.
            if form.is_attached:
                form.set_required(crew, [], error="crewtui hit an unexpected error.")
            raise
        if form.is_attached:
            form.set_required(crew, names, flow=flow)

    @work(group="kickoff")
    async def start_kickoff(self, message: KickoffForm.Submitted) -> None:
        request, form = message.request, message.form
        form.set_busy(True)
        try:
            kickoff = await self.tracker.kickoff(
                request.crew, request.inputs, request.meta, webhooks=request.webhooks
            )
        except CrewtuiError as error:
            self._refused(form, error)
            return
        self._remembered[request.crew] = dict(request.inputs)
        if form.is_attached:
            form.dismiss(kickoff)
        else:  # the form was closed while sending: the run started all the same
            self._form_closed(kickoff)
        if form.flow or kickoff.kind == "flow":
            self._say_where_flow_requests_go(kickoff)
        else:
            self._flow_unknown.add(kickoff.kickoff_id)
        await asyncio.to_thread(self.memory.remember, request.crew, request.inputs, request.meta)

    def _say_where_flow_requests_go(self, kickoff: Kickoff) -> None:
        """After a flow's kickoff: where its requests for a person reach crewtui, or what
        it takes that they do."""
        self._flow_unknown.discard(kickoff.kickoff_id)
        note = self.flow_requests()
        if note is not None:
            self.notify(
                f"{inert_line(kickoff.crew, 40)} {kickoff.short_id} started. {note}",
                title="Flow started",
                timeout=_TOAST_SECONDS * 2,
                markup=False,
            )

    def _refused(self, form: KickoffForm, error: CrewtuiError) -> None:
        """Say why in the form (or in a toast if the user closed it meanwhile)."""
        if not form.is_attached:
            self.notify(error.message, title="Kickoff refused", severity="error", markup=False)
        elif isinstance(error, InputValidationError):
            form.mark_missing(error.missing, error.message)
        else:
            form.show_error(error.message)

    # -- batches -------------------------------------------------------------------------

    def action_new_batch(self) -> None:
        if not self.crews:
            self.notify(NO_CREW, severity="warning")
            return
        from crewtui.ui.screens.batch_form import BatchForm

        form = BatchForm(list(self.crews), self._highlighted_crew())
        self.app.push_screen(form, self._batch_form_closed)

    def _batch_form_closed(self, batch_id: str | None) -> None:
        if batch_id is not None and self.is_attached:
            self.kickoffs.focus()

    @work(exclusive=True, group="batch-preview")
    async def preview_batch(self, path: str, form: BatchForm) -> None:
        """Read the file the form names (in a thread) and show its first rows there."""
        try:
            rows = await asyncio.to_thread(read_rows, Path(path))
        except CrewtuiError as error:
            if form.is_attached:
                form.show_preview(path, None, error.message)
            return
        if form.is_attached:
            form.show_preview(path, rows, None)

    @work(group="batch-start")
    async def start_batch(self, request: BatchRequest, form: BatchForm) -> None:
        """Check every row against the crew's inputs, record the batch (or find the one
        already recorded for these rows), close the form and run it."""
        store = self.store
        try:
            rows = await asyncio.to_thread(read_rows, Path(request.path))
            required = await self.tracker.inputs(request.crew)
            check_inputs(rows, required, request.crew, request.path)
            url = self.crews[request.crew].url
            same = fingerprint(request.crew, url, rows)
            batch = await asyncio.to_thread(store.find_batch, same)
            resumed = batch is not None
            if batch is None:
                batch = Batch(
                    new_batch_id(), request.crew, request.path, same, rows,
                    request.concurrency, utcnow(),
                )  # fmt: skip
                await asyncio.to_thread(store.save_batch, batch)
        except CrewtuiError as error:
            if form.is_attached:
                form.show_error(error.message)
            return
        if form.is_attached:
            form.dismiss(batch.batch_id)
        # The same rows again resume their batch (as ``crewtui batch`` does): say so, or
        # the toast reads as if every row had been sent once more.
        said = (
            "these rows were batched before: only the rows not yet sent are sent"
            if resumed
            else f"up to {request.concurrency} at once"
        )
        self.notify(
            f"Batch {batch.short_id}: {len(rows)} rows on {inert_line(request.crew, 40)}, {said}.",
            title="Batch resumed" if resumed else "Batch started",
            timeout=_TOAST_SECONDS,
            markup=False,
        )
        self.run_batch(batch, request.concurrency)

    @work(group="batch")
    async def run_batch(self, batch: Batch, concurrency: int) -> None:
        """Send the batch's rows through the tracker; every run arrives as any other."""

        def noted(note: BatchNote) -> None:
            if note.kind in ("uncertain", "refused") and note.message:
                self.notify(
                    f"Row {note.row.number}: {inert_line(note.message, 300)}",
                    title=f"Batch {batch.short_id}",
                    severity="warning",
                    markup=False,
                )
            self._batches_changed()

        from crewtui.core.batch_runner import BatchRunner

        runner = BatchRunner(self.tracker, batch, concurrency=concurrency, on_note=noted)
        try:
            outcome = await runner.run()
        except CrewtuiError as error:
            self.notify(
                error.message, title=f"Batch {batch.short_id} stopped", severity="error",
                markup=False,
            )  # fmt: skip
            return
        progress = outcome.progress
        self.notify(
            f"Batch {batch.short_id}: {progress.counts_text()}.",
            title="Batch ended",
            severity="warning" if progress.failed or outcome.refused else "information",
            timeout=_TOAST_SECONDS,
            markup=False,
        )
        self._batches_changed()

    def _batches_changed(self) -> None:
        """Read the batches' counts again, once per burst of changes."""
        if not self._batch_refresh_due:
            self._batch_refresh_due = True
            self.set_timer(_BATCH_REFRESH_SECONDS, self.load_batches)

    @work(exclusive=True, group="batches")
    async def load_batches(self) -> None:
        """The newest batches and where their rows stand, read in a thread."""
        self._batch_refresh_due = False
        shown = await asyncio.to_thread(_batch_progress, self.store, BATCH_ROWS)
        if self.is_attached:
            self.batch_rows.show(shown, self.filter.batch)

    @on(BatchRows.Toggled)
    def _batch_toggled(self, message: BatchRows.Toggled) -> None:
        self._toggle_batch(message.batch_id)

    def action_batch_runs(self) -> None:
        batch_id = self.batch_rows.highlighted_id
        if batch_id is None:
            self.notify("No batch yet: b starts one from a CSV or JSON Lines file.", timeout=3)
            return
        self._toggle_batch(batch_id)

    def _toggle_batch(self, batch_id: str) -> None:
        """Expand a batch's row (the list shows its runs only), or collapse it."""
        expanded = None if self.filter.batch == batch_id else batch_id
        self.apply_filter(replace(self.filter, batch=expanded))
        self.load_batches()

    # -- other actions -------------------------------------------------------------------

    def action_track(self) -> None:
        if not self.crews:
            self.notify(NO_CREW, severity="warning")
            return
        from crewtui.ui.screens.prompts import TrackScreen

        crew = self._highlighted_crew()
        self.app.push_screen(TrackScreen(list(self.crews), crew), self._track_chosen)

    def _track_chosen(self, request: TrackRequest | None) -> None:
        if request is not None:
            self.track(request)

    @work(group="track")
    async def track(self, request: TrackRequest) -> None:
        """Follow an id started elsewhere. An id the service does not know stays on the
        list, selected, and its Tasks tab says so; when that note is not what the detail
        shows (another tab in front, or the row filtered out), a toast says so and how to
        remove it at once. A service that fails to answer leaves it followed, to be polled
        again."""
        try:
            kickoff = await self.tracker.track(request.crew, request.kickoff_id)
        except CrewtuiError as error:
            # The id is followed all the same: it is polled again once the crew answers.
            self.notify(
                error.message,
                title="Tracked; the crew did not answer",
                severity="warning",
                markup=False,
            )
            return
        self._form_closed(kickoff)
        if kickoff.state is RunState.NOT_FOUND and not self._tasks_tab_shows(kickoff):
            delete_key = effective_key(KEYS_BY_ID["delete"], self.keymap)
            self.notify(
                f"{inert_line(request.crew, 40)} does not know kickoff {kickoff.kickoff_id}: "
                f"check the id and the crew. {delete_key} removes it from the list.",
                title="Unknown kickoff",
                severity="warning",
                timeout=_TOAST_SECONDS * 2,
                markup=False,
            )

    def _tasks_tab_shows(self, kickoff: Kickoff) -> bool:
        """Whether the detail shows (or is loading) this run with its Tasks tab in front,
        where a run the service does not know has its note: a toast there would cover it
        with the same news."""
        return self.kickoffs.selected_id == kickoff.kickoff_id and self.detail.active_tab == "tasks"

    def action_filter(self) -> None:
        """The list follows the dialog as the user types; escape puts the old filter back."""
        before = self.filter

        def closed(chosen: ListFilter | None) -> None:
            self.apply_filter(before if chosen is None else chosen)

        from crewtui.ui.screens.prompts import FilterScreen

        dialog = FilterScreen(list(self.crews), self.filter, on_change=self.apply_filter)
        self.app.push_screen(dialog, closed)

    def action_clear_filter(self) -> None:
        """Escape: every run again, whether a filter or a batch's row (``B``) narrowed it;
        the cursor stays on the run it was on."""
        collapsed = self.filter.batch is not None
        self.apply_filter(ListFilter())
        if collapsed:
            self.load_batches()

    def apply_filter(self, chosen: ListFilter) -> None:
        """A new filter lists its runs from the top; the cursor stays on its run when the
        new list holds it."""
        if chosen != self.filter:
            self.filter = chosen
            self.reload(keep=self.current_row)

    def action_cycle_sort(self) -> None:
        order = self.kickoffs.order
        self.kickoffs.order = SORT_ORDERS[(SORT_ORDERS.index(order) + 1) % len(SORT_ORDERS)]
        self.reload()

    def action_toggle_tokens(self) -> None:
        self.kickoffs.toggle_tokens()

    def action_toggle_markdown(self) -> None:
        self.detail.toggle_markdown()

    def action_copy_output(self) -> None:
        self.copy_output()

    @work(exclusive=True, group="copy")
    async def copy_output(self) -> None:
        """Copy what the Output tab shows once it shows the highlighted row."""
        if await self._show_highlighted() is None:
            self.notify("Select a kickoff to copy its output.", timeout=3)
            return
        shown = self.detail.shown_output()
        text = (
            shown
            if shown is None or isinstance(shown, str)
            else await asyncio.to_thread(read_all, shown)
        )
        if not text:
            self.notify("There is no output to copy yet.", timeout=3)
            return
        self.app.copy_to_clipboard(encodable(text))
        self.notify(f"Copied {len(text):,} characters to the clipboard.", timeout=3)

    def action_export(self) -> None:
        self.export()

    @work(group="export")
    async def export(self) -> None:
        """Write the highlighted row's record, with every step the history holds (the view
        holds only the newest), into the export directory."""
        kickoff = await self._show_highlighted()
        if kickoff is None:
            self.notify("Select a kickoff to export.", timeout=3)
            return
        store = self.store
        try:
            steps = await asyncio.to_thread(store.list_steps, kickoff.kickoff_id)
            # The shown record may have left large outputs in the history: export them all.
            if self.tracker.get(kickoff.kickoff_id) is None:
                kickoff = await asyncio.to_thread(store.get_kickoff, kickoff.kickoff_id) or kickoff
        except CrewtuiError as error:
            self.notify(error.message, title="Export failed", severity="error", markup=False)
            return
        try:
            markdown, data = await asyncio.to_thread(
                export_kickoff, kickoff, steps, self.export_dir()
            )
        except OSError as error:
            self.notify(f"Export failed: {error.strerror}.", severity="error", markup=False)
            return
        self.notify(f"{markdown}\n{data}", title="Exported", timeout=_TOAST_SECONDS, markup=False)

    def action_archive(self) -> None:
        kickoff = self.current_row
        if kickoff is not None:
            self.archive(kickoff.kickoff_id, not kickoff.archived)

    @work(group="archive")
    async def archive(self, kickoff_id: str, archived: bool) -> None:
        try:
            await self.tracker.archive(kickoff_id, archived)
        except CrewtuiError as error:
            self.notify(error.message, severity="error", markup=False)
            return
        word = "Archived" if archived else "Unarchived"
        hint = " (/ shows archived kickoffs)" if archived else ""
        self.notify(f"{word} {kickoff_id[:8]}{hint}.", timeout=3, markup=False)

    def action_delete(self) -> None:
        kickoff = self.current_row
        if kickoff is None:
            return
        if not (kickoff.state.is_terminal or kickoff.state in _UNKNOWN_TO_SERVICE):
            self.notify("A run still in progress cannot be deleted; archive it (d).", timeout=4)
            return
        kickoff_id = kickoff.kickoff_id
        question = f"Delete {kickoff.crew} {kickoff_id[:8]} from the local history for good?"

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.delete(kickoff_id)

        from crewtui.ui.screens.prompts import ConfirmScreen

        self.app.push_screen(ConfirmScreen("Delete kickoff", question), confirmed)

    @work(group="delete")
    async def delete(self, kickoff_id: str) -> None:
        try:
            await self.tracker.forget(kickoff_id)
        except CrewtuiError as error:
            self.notify(error.message, severity="error", markup=False)
            return
        if not self.is_attached:
            return
        self.kickoffs.remove_kickoff(kickoff_id)
        if self.inbox.forget(kickoff_id):
            self._inbox_changed()
        self._after_rows_changed()
        self.notify(f"Deleted {kickoff_id[:8]}.", timeout=3, markup=False)

    # -- the inbox -----------------------------------------------------------------------

    async def load_inbox(self) -> None:
        """The history's waiting runs; from then on, events keep the inbox up to date.
        Read once the tracker has started (``CrewtuiApp.start_following``): a run it
        holds is newer than the history's copy."""
        runs = await asyncio.to_thread(waiting_runs, self.store)
        for run in runs:  # a run changed while the history was read is newer in the tracker
            kickoff = self.tracker.get(run.kickoff_id)
            self.inbox.apply(run if kickoff is None else summary_of(kickoff))
        self._inbox_changed()

    def _inbox_changed(self) -> None:
        """The count in the status line and the title; the rows of an open inbox."""
        self.app.sub_title = count_words(len(self.inbox))
        self._describe_view()
        if self._inbox_screen is not None and self._inbox_screen.is_attached:
            self._inbox_screen.set_rows(self.inbox.rows())

    def action_inbox(self) -> None:
        from crewtui.ui.screens.inbox import InboxScreen

        def closed(kickoff_id: str | None) -> None:
            self._inbox_screen = None
            if kickoff_id is None:
                return
            if kickoff_id in self.kickoffs:
                self.kickoffs.select(kickoff_id)
                self.kickoffs.focus()
            else:
                self.notify("That run is not in the list under the current filter.", timeout=4)

        self._inbox_screen = InboxScreen(
            self.inbox.rows(), answer=self.answer_waiting, clock=self.clock
        )
        self.app.push_screen(self._inbox_screen, closed)

    @work(group="answer")
    async def answer_waiting(self, kickoff_id: str) -> None:
        """The answer dialog for a run of the inbox (its full record, read in a thread)."""
        kickoff = self.tracker.get(kickoff_id) or await asyncio.to_thread(
            self.store.get_kickoff, kickoff_id
        )
        if kickoff is not None and self.is_attached:
            self.answer(kickoff)

    def action_answer(self) -> None:
        """Approve or reject the selected run that waits for a person."""
        kickoff = self._selected
        if kickoff is None or kickoff.is_terminal:
            ended = f" ({kickoff.state.value})" if kickoff else ""
            self.notify(f"Select a run that waits for input to answer it{ended}.", timeout=4)
            return
        if continued_elsewhere(kickoff):
            new_id = inert_line(kickoff.continues or "")[:8]
            self.notify(f"{kickoff.short_id} was answered: it continues as {new_id}.", timeout=4)
            return
        self.answer(kickoff)

    def answer(
        self, kickoff: Kickoff, draft: Answer | None = None, error: str | None = None
    ) -> None:
        """Ask; a refusal reopens the dialog with the same draft and the reason."""

        def answered(answer: Answer | None) -> None:
            if answer is not None:
                self.send_answer(kickoff, answer)

        from crewtui.ui.screens.answer import AnswerScreen

        self.app.push_screen(AnswerScreen(kickoff, draft=draft, error=error), answered)

    @work(group="answer")
    async def send_answer(self, kickoff: Kickoff, answer: Answer) -> None:
        """Send through the tracker; say what the service did (a new id, or its word)."""
        try:
            resumed = await self.tracker.resume(
                kickoff.kickoff_id, answer.task_id, answer.feedback, answer.approve
            )
        except CrewtuiError as refused:
            self.answer(kickoff, answer, refused.message)
            return
        if resumed.callback:
            self.notify(
                f"Answered {inert_line(resumed.task_id, 60) or 'the flow'} through its callback: "
                f"“{inert_line(resumed.feedback, 80)}”.",
                timeout=_TOAST_SECONDS,
                markup=False,
            )
            self._form_closed(resumed.kickoff)
            return
        verb = "Approved" if resumed.approved else "Rejected"
        follow = resumed.continues_as
        # The short id, as the list shows it: a whole uuid wraps the toast at 80 columns.
        said = f"continues as {follow[:8]}" if follow else f"the service says {resumed.status}"
        self.notify(
            f"{verb} {inert_line(resumed.task_id, 60)}: {inert_line(said, 120)}.",
            timeout=_TOAST_SECONDS,
            markup=False,
        )
        self._form_closed(resumed.kickoff)

    def action_cancel(self) -> None:
        """Stop the selected run (experimental), once the person confirms which one."""
        kickoff = self._selected
        if kickoff is None or kickoff.is_terminal:
            ended = f" (this one is {kickoff.state.value})" if kickoff else ""
            self.notify(f"Select a running or paused run to cancel it{ended}.", timeout=4)
            return
        if kickoff.cancel_request == "sent":
            self.notify(f"{kickoff.short_id} is already being cancelled.", timeout=3)
            return
        ran = duration_text(kickoff, datetime.now(UTC))
        if not ran:
            how_long = ""
        elif kickoff.state is RunState.PAUSED:
            how_long = f", waiting for input (started {ran} ago)"
        else:
            how_long = f", running for {ran}"
        question = (
            f"Stop the {inert_line(kickoff.crew, 40)} run {kickoff.short_id}{how_long}?"
            " (cancel is experimental)"
        )

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.cancel_run(kickoff)

        from crewtui.ui.screens.prompts import ConfirmScreen

        self.app.push_screen(ConfirmScreen("Cancel run", question), confirmed)

    @work(group="cancel")
    async def cancel_run(self, kickoff: Kickoff) -> None:
        """Through the tracker: the row says "cancelling…" until the service confirms."""
        try:
            outcome = await self.tracker.cancel(kickoff.crew, kickoff.kickoff_id)
        except CrewtuiError as error:
            self.notify(error.message, title="Not cancelled", severity="error", markup=False)
            return
        ended = outcome.kickoff
        if outcome.stopped:
            said = f"Cancelled {ended.short_id}: stopped by you."
        else:
            said = f"{ended.short_id} had already {ended.state.value}; nothing to cancel."
        self.notify(said, timeout=_TOAST_SECONDS, markup=False)

    def action_refresh(self) -> None:
        self.tracker.poll_now()
        self.notify("Polling every active kickoff now.", timeout=2)

    def action_mark(self) -> None:
        """Mark the selected run to compare (again: unmark it); a second run of the same
        crew opens the comparison, a run of another crew gets one sentence."""
        row, first = self.current_row, self._marked
        if row is None:
            return
        if first is not None and first.kickoff_id == row.kickoff_id:
            self._set_mark(None)
            return
        if first is None:
            self._set_mark(row)
            self._mark_toast = Notification(
                f"Marked {row.kickoff_id[:8]}: mark another {inert_line(row.crew, 40)} run "
                "with space to compare them.",
                timeout=3,
                markup=False,
            )
            self.app.post_message(Notify(self._mark_toast))
            return
        if first.crew != row.crew:
            self.notify(
                f"{row.kickoff_id[:8]} is a run of {inert_line(row.crew, 40)}, "
                f"{first.kickoff_id[:8]} of {inert_line(first.crew, 40)}: only runs of "
                "one crew can be compared.",
                severity="warning",
                timeout=_TOAST_SECONDS,
                markup=False,
            )
            return
        self._set_mark(None)
        from crewtui.ui.screens.compare import CompareScreen

        self.app.push_screen(
            CompareScreen(
                self.store,
                first.kickoff_id,
                row.kickoff_id,
                now=self.clock(),
                prices=self.detail.prices,
            )
        )

    def _set_mark(self, row: KickoffSummary | None) -> None:
        """The run marked to compare (kept here: its row may leave the pages the list holds)."""
        self._marked = row
        self.kickoffs.set_marked(() if row is None else (row.kickoff_id,))
        toast, self._mark_toast = self._mark_toast, None
        if toast is not None:
            self.take_back_toast(toast)

    def action_stats(self) -> None:
        """The stats of the selected run's crew (else the first crew)."""
        crews = sorted(self.crews)
        crew = self._highlighted_crew() or (crews[0] if crews else None)
        if crew is None:
            self.notify(NO_CREW, severity="warning", markup=False)
            return
        from crewtui.ui.screens.stats import StatsScreen

        self.app.push_screen(
            StatsScreen(self.store, crews, crew, clock=self.clock, prices=self.detail.prices)
        )

    def action_help(self) -> None:
        from crewtui.ui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self.keymap))

    def action_quit(self) -> None:
        self.app.exit(0)

    def rows(self) -> list[KickoffSummary]:
        """The summaries shown, top to bottom (for tests and the command palette)."""
        return [summary for _index, summary in self.kickoffs.rows.held_rows()]
