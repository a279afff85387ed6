"""The kickoff list: a virtual table that draws only the rows on screen.

The list may hold a million kickoffs; it costs what a screenful costs. Rows live in
:class:`~crewtui.ui.widgets.kickoff_rows.KickoffRows` (the runs of rows read so far, out of
the store's count); each line is drawn from its row when shown (Textual's Line API) and kept
until the row changes, so a change repaints its own line and a burst of changes repaints once
per frame. The one-second tick repaints only the running rows on screen. The widget does no
I/O: it asks for the rows it lacks (``RowsWanted``, ``Recount``) and the screen reads them
from the store in a worker and hands them back.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import total_ordering
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.events import Click, Resize
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from crewtui.api.rows import SUMMARY_FIELDS, KickoffSummary
from crewtui.api.sanitize import inert_line
from crewtui.api.states import RunState
from crewtui.core.batch import BATCH_KEY
from crewtui.core.format import (
    CANCELLING,
    CONTINUED,
    CONTINUED_SYMBOL,
    NOT_FOLLOWED,
    STATE_ORDER,
    STATE_SYMBOLS,
    cancel_note,
    continuation_line,
    continued_elsewhere,
    crew_cell,
    duration_text,
    format_duration,
    restart_note,
    start_text,
    tokens_text,
    waiting_line,
)
from crewtui.core.timing import current_task_start
from crewtui.ui.text import safe_line
from crewtui.ui.widgets.kickoff_rows import KickoffRows, OrderKey

if TYPE_CHECKING:
    from crewtui.api.models import Kickoff

SortOrder = Literal["newest", "oldest", "state", "crew"]
SORT_ORDERS: tuple[SortOrder, ...] = ("newest", "oldest", "state", "crew")

# Rows read from the store at a time.
PAGE_ROWS = 200
# Rows beyond the edges of the view that are read before they are scrolled to: half a page,
# so paging down (a dozen rows a key) asks for the next page some eight keys before it is
# reached, and the read's round trip (a worker, a thread, SQLite) is over by then. With 30
# rows, bench_keys' pagedowns into rows never read waited a frame more for it.
PAGE_MARGIN = PAGE_ROWS // 2

# The order "state" sorts by, the same as the store's (active first, quiet ends last).
_STATE_RANK = {state: rank for rank, state in enumerate(STATE_ORDER)}

# Symbol and theme variable per state; the word is always shown too (never colour alone).
_STATE_VARIABLE: dict[RunState, str] = {
    RunState.PENDING: "muted",
    RunState.RUNNING: "accent",
    RunState.PAUSED: "warning",
    RunState.COMPLETED: "success",
    RunState.FAILED: "error",
    RunState.CANCELLED: "muted",
    RunState.NOT_FOUND: "warning",
    RunState.LOST: "error",
    RunState.UNKNOWN: "muted",
}

_MIN_TASK_WIDTH = 20
# The state word of a running run past its task's usual time, and a run marked to compare.
STUCK_WORD = "stuck?"
COMPARE_MARK = "◆"

# The crew column's width: a longer name is cut as the CLI cuts it (``crew_cell``: a name
# made from a URL keeps its end, where crews under one host differ).
_CREW_WIDTH = 10
# (key, label, width); the task column grows to what is left of the width (at least its
# width here, clipped at the edge when the pane is narrower).
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("mark", "", 1),
    ("state", "State", 11),
    ("crew", "Crew", _CREW_WIDTH),
    ("id", "ID", 8),
    ("started", "Started", 8),
    ("elapsed", "Elapsed", 7),
    ("progress", "Progress", 12),
    ("task", "Task", _MIN_TASK_WIDTH),
)
_BAR_WIDTH = 6
# Below this much room for the task column (an 80-column terminal), the list goes compact:
# progress as ``1/3`` without its bar and today's start times without seconds, so the task
# column gets the room back.
_COMPACT_WIDTHS = {"started": 6, "progress": 5}
_COMPACT_LABELS = {"started": "Start", "progress": "Tasks"}
# The optional tokens column (off by default, toggled with a key), after the task column.
TOKENS_COLUMN: tuple[str, str, int] = ("tokens", "Tokens", 6)
_RIGHT_ALIGNED = frozenset({"elapsed", "tokens"})


def summary_of(kickoff: Kickoff) -> KickoffSummary:
    """The list row of a full kickoff (what a tracker event carries)."""
    derived: dict[str, Any] = {
        "task_count": len(kickoff.tasks),
        "task_started_at": current_task_start(kickoff),
    }
    fields = {name: getattr(kickoff, name) for name in SUMMARY_FIELDS if name not in derived}
    return KickoffSummary(**fields, **derived)


# The filter's state choices, by name: "active" groups every state still being followed,
# "failed" the runs that ended badly; each other state can be picked on its own.
STATE_CHOICES: dict[str, frozenset[RunState]] = {
    "active": frozenset(state for state in RunState if not state.is_terminal),
    "running": frozenset({RunState.RUNNING}),
    "paused": frozenset({RunState.PAUSED}),
    "pending": frozenset({RunState.PENDING}),
    "completed": frozenset({RunState.COMPLETED}),
    "failed": frozenset({RunState.FAILED, RunState.LOST}),
    "cancelled": frozenset({RunState.CANCELLED}),
    "not_found": frozenset({RunState.NOT_FOUND}),
    "lost": frozenset({RunState.LOST}),
}


def state_choice(states: frozenset[RunState] | None) -> str | None:
    """The name of a state choice (``None`` for any state, or a set no choice names)."""
    for name, members in STATE_CHOICES.items():
        if members == states:
            return name
    return None


@dataclass(frozen=True)
class ListFilter:
    """What the list shows; the app turns it into a store query, live rows are checked here."""

    crew: str | None = None
    states: frozenset[RunState] | None = None
    text: str = ""
    archived: bool = False
    # One batch's runs only (its row in the list expanded).
    batch: str | None = None

    @property
    def is_empty(self) -> bool:
        return (
            self.crew is None
            and self.states is None
            and not self.text
            and not self.archived
            and self.batch is None
        )

    def describe(self) -> str:
        """``crew=travel state=failed text='x' archived``: the filter as the user set it."""
        parts: list[str] = []
        if self.crew is not None:
            parts.append(f"crew={inert_line(self.crew, 24)}")
        if self.states is not None:
            name = state_choice(self.states) or ",".join(sorted(self.states))
            parts.append(f"state={name}")
        if self.text:
            parts.append(f"text={inert_line(self.text, 24)!r}")
        if self.archived:
            parts.append("archived")
        if self.batch is not None:
            parts.append(f"batch={inert_line(self.batch[:8])}")
        return " ".join(parts)

    def matches(self, row: Kickoff | KickoffSummary) -> bool:
        """The same test as the store's query, for kickoffs that change while shown."""
        if self.crew is not None and row.crew != self.crew:
            return False
        if self.states is not None and row.state not in self.states:
            return False
        if row.archived != self.archived:
            return False
        if self.batch is not None and row.meta.get(BATCH_KEY) != self.batch:
            return False
        needle = self.text.casefold()
        inputs = () if isinstance(row, KickoffSummary) else row.inputs.values()
        haystack = (row.kickoff_id, row.crew, row.current_task or "", *inputs)
        return not needle or any(needle in value.casefold() for value in haystack)


@dataclass
class CrewStaleness:
    """A crew that stopped answering: its active rows show how old their data is."""

    since: datetime


@total_ordering
class _Descending:
    """A string that sorts backwards: the store's ``kickoff_id DESC`` tie-breaker."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.value == other.value

    def __lt__(self, other: _Descending) -> bool:
        return self.value > other.value

    def __hash__(self) -> int:
        return hash(self.value)


def order_key(order: SortOrder, row: KickoffSummary) -> OrderKey:
    """Where ``row`` sorts in ``order``: exactly the store's ORDER BY, ties included, so a
    page read from the store and rows placed here agree on every position."""
    stamp = row.created_at.timestamp()
    newest = (-stamp, _Descending(row.kickoff_id))
    if order == "oldest":
        return (stamp, row.kickoff_id)
    if order == "state":
        return (_STATE_RANK.get(row.state, 99), *newest)
    if order == "crew":
        return (row.crew, *newest)
    return newest


@dataclass(frozen=True)
class _Column:
    key: str
    label: str
    width: int
    right: bool = False


class _Paint(NamedTuple):
    """What every line of one paint is drawn with, resolved once for all of them: resolving
    the widget's style walks its ancestors for their backgrounds: done per line, it was 11 %
    of the cursor keys' work (cProfile of 100 keys: ``DOMNode.rich_style``, 797 calls).
    """

    scroll_x: int
    scroll_y: int
    width: int
    base: Style
    cursor: Style


# Rows rendered once are kept (by kickoff) until they change: a screenful and some.
_STRIP_CACHE = 512
# Rows held around the cursor at most; farther ones are let go and read again if shown.
HELD_ROWS = 4 * PAGE_ROWS


class KickoffList(ScrollView, can_focus=True):
    """Kickoffs, newest first by default: a header line and one line per visible row."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home,g", "scroll_top", "Top", show=False),
        Binding("end,ctrl+end,G", "scroll_bottom", "Bottom", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "kickoff-list--header",
        "kickoff-list--cursor",
        *(f"kickoff-list--{name}" for name in ("muted", "accent", "success", "warning", "error")),
    }

    # The look of Textual's DataTable, which this list replaces.
    DEFAULT_CSS = """
    KickoffList {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .kickoff-list--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .kickoff-list--header { background-tint: $foreground 5%; }
        }
        & > .kickoff-list--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .kickoff-list--header { background: ansi_bright_blue; color: ansi_default; }
        & > .kickoff-list--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    KickoffList > .kickoff-list--muted { color: $text-muted; }
    KickoffList > .kickoff-list--accent { color: $accent; }
    KickoffList > .kickoff-list--success { color: $success; }
    KickoffList > .kickoff-list--warning { color: $warning; }
    KickoffList > .kickoff-list--error { color: $error; }
    """

    class RowsWanted(Message):
        """Rows ``offset`` .. ``offset + limit`` are shown (or about to be) but not held."""

        def __init__(self, offset: int, limit: int, version: int) -> None:
            super().__init__()
            self.offset = offset
            self.limit = limit
            self.version = version

    class Recount(Message):
        """A change the list cannot place (a row it does not hold moved or left): count
        again and read ``offset`` .. ``offset + limit`` (the rows around the view)."""

        def __init__(self, offset: int, limit: int, version: int) -> None:
            super().__init__()
            self.offset = offset
            self.limit = limit
            self.version = version

    class Highlighted(Message):
        """The user moved the cursor onto a kickoff."""

        def __init__(self, kickoff_id: str) -> None:
            super().__init__()
            self.kickoff_id = kickoff_id

    class Chosen(Message):
        """The highlighted row was clicked again: the user wants its detail."""

    def __init__(self, *, tz: tzinfo | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tz = tz
        self.order: SortOrder = "newest"
        self.rows = KickoffRows(lambda row: order_key(self.order, row))
        self.unread: set[str] = set()
        # Runs the stall rule calls maybe stuck, and runs marked to compare (the screen's).
        self.stuck: frozenset[str] = frozenset()
        self.marked: tuple[str, ...] = ()
        self.cursor_row = 0
        # Which query the rows answer (a new filter or order is a new one).
        self.generation = 0
        self._stale: dict[str, CrewStaleness] = {}
        # The crews this session polls (None until the screen says): the active rows of the
        # others say they are not followed.
        self._followed: frozenset[str] | None = None
        self._now: datetime | None = None
        # Until someone puts the cursor on a row, it stays on the top row as rows arrive;
        # afterwards it stays on its kickoff wherever the order moves it.
        self._placed = False
        # Narrow terminals: progress without bars, start times without seconds.
        self.compact = False
        self.show_tokens = False
        self._columns: list[_Column] = []
        self._strips: dict[str, tuple[tuple[object, ...], Strip]] = {}
        self._epoch = 0
        self._header_strip: tuple[int, Strip] | None = None
        self._asked: set[tuple[int, int]] = set()
        self._recount_asked = -1
        self._paint: _Paint | None = None

    # -- reading -------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """Rows in the list (held or not)."""
        return self.rows.total

    @property
    def selected_id(self) -> str | None:
        """The kickoff under the cursor, if its row is held."""
        row = self.rows.get(self.cursor_row)
        return None if row is None else row.kickoff_id

    @property
    def cursor_pending(self) -> bool:
        """The cursor is on a row that is still being read."""
        return self.cursor_row < self.rows.total and self.rows.get(self.cursor_row) is None

    def summary(self, kickoff_id: str) -> KickoffSummary | None:
        return self.rows.summary(kickoff_id)

    def __contains__(self, kickoff_id: object) -> bool:
        return kickoff_id in self.rows

    @property
    def column_keys(self) -> list[str]:
        return [column.key for column in self._columns]

    def cells(self, kickoff_id: str) -> dict[str, Text]:
        """The cells of a held row as shown now (KeyError if the row is not held)."""
        summary = self.rows.summary(kickoff_id)
        if summary is None:
            raise KeyError(kickoff_id)
        shown = set(self.column_keys)
        return {
            key: cell
            for key, cell in self._cells_for(summary, self._clock()).items()
            if key in shown
        }

    def cell(self, kickoff_id: str, column: str) -> Text:
        return self.cells(kickoff_id)[column]

    # -- writing -------------------------------------------------------------------------

    def reset(self, order: SortOrder) -> None:
        """Forget every row (a new query: other filter or order) before the first page."""
        self.order = order
        self.generation += 1
        self.rows.reset()
        self._asked.clear()
        self._strips.clear()
        self.cursor_row = 0
        self._placed = False
        self._resized()

    def begin(self, total: int, rows: Sequence[KickoffSummary], now: datetime) -> None:
        """The count and first page of a new query. Kickoffs that came in while they were
        read stay: the read may have been too early to see them."""
        self._now = now
        arrived = [summary for _index, summary in self.rows.held_rows()]
        self.rows.reset(total)
        self.rows.place(0, rows, len(rows) if len(rows) >= total else PAGE_ROWS)
        for summary in arrived:
            if summary.kickoff_id not in self.rows:
                self.rows.insert(summary)
        self._asked.clear()
        self._resized()

    def add_page(
        self,
        offset: int,
        rows: Sequence[KickoffSummary],
        now: datetime,
        *,
        asked: int,
        version: int,
    ) -> bool:
        """Hold a page read at ``offset``; False (dropped) when positions moved meanwhile."""
        self._asked.discard((version, offset))
        if version != self.rows.version:
            self.refresh()  # the rows still missing are asked for again as they are drawn
            return False
        self._now = now
        before = self.rows.total
        self.rows.place(offset, rows, asked)
        self.rows.keep_near((self.cursor_row, int(self.scroll_y)), HELD_ROWS)
        if self.rows.total != before:
            self._resized()
        self.refresh()
        return True

    def hold_with_cursor(
        self, offset: int, rows: Sequence[KickoffSummary], kickoff_id: str, now: datetime
    ) -> None:
        """Hold a page read below the first (right after :meth:`begin`) with the cursor on
        ``kickoff_id`` in it: the run the cursor was on before the filter changed. The
        cursor is placed first, so the rows held are the ones around it."""
        index = next(i for i, row in enumerate(rows) if row.kickoff_id == kickoff_id)
        self.cursor_row = offset + index
        self._placed = True
        self.add_page(offset, rows, now, asked=PAGE_ROWS, version=self.rows.version)
        self.call_after_refresh(self._show_cursor)  # once the scroll area has its new size

    def recounted(
        self, total: int, offset: int, rows: Sequence[KickoffSummary], now: datetime, version: int
    ) -> None:
        """The answer to :class:`Recount`: every held row is replaced by these."""
        if version != self.rows.version:
            return
        selected = self.selected_id
        self._now = now
        self.rows.reset(total)
        self.rows.place(offset, rows, len(rows))
        self._asked.clear()
        self._recount_asked = -1
        if self._placed and selected is not None:
            index = self.rows.index_of(selected)
            if index is not None:
                self.cursor_row = index
        self._resized()

    def upsert(self, rows: Iterable[KickoffSummary], now: datetime) -> None:
        """Rows new to the list or held by it (a kickoff started or tracked here)."""
        self._now = now
        for summary in rows:
            self.apply(summary, member=True, first_seen=True)

    def apply(
        self,
        summary: KickoffSummary,
        *,
        member: bool,
        first_seen: bool,
        membership_fixed: bool = True,
    ) -> None:
        """A kickoff changed. ``member``: the filter keeps it; ``first_seen``: it may be new
        to the list; ``membership_fixed``: a known kickoff cannot enter or leave the list by
        changing (no state or text filter). A held row changes in place or moves; one not
        held changes the count, or asks for a recount when where it was cannot be known."""
        kickoff_id = summary.kickoff_id
        if kickoff_id in self.rows:
            if not member:
                self.remove_kickoff(kickoff_id)
                return
            before, after = self.rows.update(summary)
            if before == after:
                self._refresh_index(before)
            else:
                self._moved(before, after)
            return
        if self.order == "state" and not first_seen:
            # Its state may have moved it here from rows not held: only a count can tell.
            if member or not membership_fixed:
                self._ask_recount()
        elif member and (first_seen or not membership_fixed):
            # The order does not move a known row: one that belongs here, is not held and
            # lands among held rows was not in the list before.
            self._inserted(self.rows.insert(summary))
        elif not member and not membership_fixed:
            self._ask_recount()

    def remove_kickoff(self, kickoff_id: str) -> None:
        index = self.rows.remove(kickoff_id)
        self.unread.discard(kickoff_id)
        self._strips.pop(kickoff_id, None)
        if index is not None:
            if index < self.cursor_row:
                self.cursor_row -= 1
            self._clamp_cursor()
            self._resized()

    def select(self, kickoff_id: str) -> None:
        index = self.rows.index_of(kickoff_id)
        if index is not None:
            self._placed = True
            if index != self.cursor_row:
                self._move_cursor(index)
                self.post_message(self.Highlighted(kickoff_id))

    def mark_unread(self, kickoff_id: str) -> None:
        self.unread.add(kickoff_id)
        self._refresh_kickoff(kickoff_id)

    def mark_read(self, kickoff_id: str) -> None:
        if kickoff_id in self.unread:
            self.unread.discard(kickoff_id)
            self._refresh_kickoff(kickoff_id)

    def set_stuck(self, kickoff_ids: frozenset[str]) -> None:
        """The runs to show as maybe stuck (their state cell says so)."""
        changed, self.stuck = self.stuck ^ kickoff_ids, kickoff_ids
        for kickoff_id in changed:
            self._refresh_kickoff(kickoff_id)

    def set_marked(self, kickoff_ids: tuple[str, ...]) -> None:
        """The runs marked to compare (their mark cell says so)."""
        changed = set(self.marked) ^ set(kickoff_ids)
        self.marked = kickoff_ids
        for kickoff_id in changed:
            self._refresh_kickoff(kickoff_id)

    def set_stale(self, crew: str, since: datetime | None) -> None:
        """Mark (or clear) a crew whose service stopped answering; its active rows show it."""
        if since is None:
            if self._stale.pop(crew, None) is None:
                return
        else:
            self._stale[crew] = CrewStaleness(since)
        self.refresh()

    def set_followed_crews(self, crews: Collection[str]) -> None:
        """The crews this session polls: nothing here moves the active rows of the others
        (another crew's runs in a shared history), so they say ``not followed``."""
        followed = frozenset(crews)
        if followed != self._followed:
            self._followed = followed
            self.restyle()

    def restyle(self) -> None:
        """Render every row again (the theme changed, so did its colours)."""
        self._epoch += 1
        self._strips.clear()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.restyle()

    def tick(self, now: datetime) -> None:
        """Advance the clock: only visible, active rows have cells that move with time."""
        self._now = now
        top = int(self.scroll_y)
        for index in range(top, top + self._rows_shown()):
            row = self.rows.get(index)
            if row is not None and not row.state.is_terminal:
                self._refresh_index(index)

    def toggle_tokens(self) -> None:
        """Show or hide the tokens column; rows keep their place and the cursor its row."""
        self.show_tokens = not self.show_tokens
        self._resized()

    # -- cursor --------------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        self._user_move(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self._user_move(self.cursor_row + 1)

    def action_page_up(self) -> None:
        page = max(self._rows_shown() - 1, 1)
        self.scroll_to(y=self.scroll_y - page, animate=False, immediate=True)
        self._user_move(self.cursor_row - page)

    def action_page_down(self) -> None:
        page = max(self._rows_shown() - 1, 1)
        self.scroll_to(y=self.scroll_y + page, animate=False, immediate=True)
        self._user_move(self.cursor_row + page)

    def action_scroll_top(self) -> None:
        self._user_move(0)

    def action_scroll_bottom(self) -> None:
        self._user_move(self.rows.total - 1)

    def on_click(self, event: Click) -> None:
        if event.y < 1:
            return
        index = int(self.scroll_y) + event.y - 1
        if index == self.cursor_row and self.selected_id is not None:
            self.post_message(self.Chosen())
        elif index < self.rows.total:
            self._user_move(index)

    def _user_move(self, index: int) -> None:
        if self.rows.total == 0:
            return
        index = max(0, min(index, self.rows.total - 1))
        if index == self.cursor_row:
            return
        self._placed = True
        self._move_cursor(index)
        if (kickoff_id := self.selected_id) is not None:
            self.post_message(self.Highlighted(kickoff_id))

    def _move_cursor(self, index: int) -> None:
        old, self.cursor_row = self.cursor_row, index
        self._refresh_index(old)
        self._refresh_index(index)
        self._show_cursor()

    def _show_cursor(self) -> None:
        """Scroll just enough that the cursor's row is on screen."""
        if not self.size.height:  # not laid out yet: once it is
            self.call_after_refresh(self._show_cursor)
            return
        shown = self._rows_shown()
        top = int(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + shown:
            self.scroll_to(y=self.cursor_row - shown + 1, animate=False, immediate=True)

    def _clamp_cursor(self) -> None:
        self.cursor_row = max(0, min(self.cursor_row, self.rows.total - 1))

    def _inserted(self, index: int | None) -> None:
        """A row came in at ``index`` (None: somewhere not held, above or below)."""
        if index is None:
            self._ask_recount()
        elif self._placed and index <= self.cursor_row:
            self.cursor_row += 1
        self._resized()

    def _moved(self, before: int | None, after: int | None) -> None:
        """A held row moved (``after`` None: into rows not held)."""
        follow = self._placed and before == self.cursor_row
        if before is not None and before < self.cursor_row and not follow:
            self.cursor_row -= 1
        if after is None:
            self._ask_recount()
        elif follow:
            self.cursor_row = after
        elif self._placed and after <= self.cursor_row:
            self.cursor_row += 1
        self._clamp_cursor()
        if follow:
            self._show_cursor()
        self.refresh()

    # -- layout --------------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        self._resized()

    def _resized(self) -> None:
        """Lay the columns out for the width and size the scroll area for every row."""
        self._columns = self._layout()
        width = sum(column.width + 2 for column in self._columns)
        self.virtual_size = Size(width, self.rows.total + 1)
        self._strips.clear()
        self._epoch += 1
        self.refresh()

    def _layout(self) -> list[_Column]:
        """Give the task column whatever the other columns leave of the width; when that is
        too little, go compact and give it the room the bars and seconds took."""
        shown = [*COLUMNS, TOKENS_COLUMN] if self.show_tokens else list(COLUMNS)
        room = self.scrollable_content_region.width
        self.compact = self._task_room(shown, room, compact=False) < _MIN_TASK_WIDTH
        columns: list[_Column] = []
        for key, label, width in shown:
            if self.compact and key in _COMPACT_WIDTHS:
                label, width = _COMPACT_LABELS[key], _COMPACT_WIDTHS[key]
            if key == "task":
                width = max(self._task_room(shown, room, compact=self.compact), _MIN_TASK_WIDTH)
            columns.append(_Column(key, label, width, right=key in _RIGHT_ALIGNED))
        return columns

    @staticmethod
    def _task_room(shown: Sequence[tuple[str, str, int]], room: int, *, compact: bool) -> int:
        """The width left for the task column in the normal or the compact layout."""
        widths = {key: width for key, _, width in shown if key != "task"}
        if compact:
            widths |= {key: width for key, width in _COMPACT_WIDTHS.items() if key in widths}
        return room - sum(width + 2 for width in widths.values()) - 2

    def _rows_shown(self) -> int:
        return max(self.scrollable_content_region.height - 1, 1)

    # -- rendering -----------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        self._ask_for_missing()
        self._paint = self._paint_now()
        try:
            return super().render_lines(crop)
        finally:
            self._paint = None

    def _paint_now(self) -> _Paint:
        return _Paint(
            int(self.scroll_x),
            int(self.scroll_y),
            self.scrollable_content_region.width,
            self.rich_style,
            self.get_component_rich_style("kickoff-list--cursor"),
        )

    def render_line(self, y: int) -> Strip:
        paint = self._paint or self._paint_now()
        scroll_x, width, base = paint.scroll_x, paint.width, paint.base
        if y == 0:
            strip = self._header()
        else:
            index = paint.scroll_y + y - 1
            row = self.rows.get(index) if index < self.rows.total else None
            if row is None:
                return Strip.blank(width, base)
            strip = self._row_strip(row, base)
            if index == self.cursor_row:
                strip = Strip(
                    Segment.apply_style(strip, post_style=paint.cursor), strip.cell_length
                )
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _header(self) -> Strip:
        """The column labels (drawn again only when the layout or the theme changed)."""
        if self._header_strip is None or self._header_strip[0] != self._epoch:
            style = self.rich_style + self.get_component_rich_style("kickoff-list--header")
            labels = {column.key: Text(column.label) for column in self._columns}
            self._header_strip = (self._epoch, self._strip(labels, style))
        return self._header_strip[1]

    def _row_strip(self, row: KickoffSummary, base: Style) -> Strip:
        """The row's line, rendered again only when something it shows changed."""
        now = self._clock()
        stale = self._stale.get(row.crew)
        stamp = (
            row,
            row.kickoff_id in self.unread,
            row.kickoff_id in self.stuck,
            row.kickoff_id in self.marked,
            stale.since if stale else None,
            now if not row.state.is_terminal else now.date(),
            self._epoch,
        )
        cached = self._strips.get(row.kickoff_id)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        strip = self._strip(self._cells_for(row, now), base)
        if len(self._strips) >= _STRIP_CACHE:
            del self._strips[next(iter(self._strips))]
        self._strips[row.kickoff_id] = (stamp, strip)
        return strip

    def _strip(self, cells: Mapping[str, Text], base: Style) -> Strip:
        """One line of ``cells`` in the columns over ``base``; each cell is its own run of
        segments (marked with its column), as a terminal and a screenshot place them."""
        console, segments, width = self.app.console, list[Segment](), 0
        for column in self._columns:
            fitted = _fit(cells[column.key], column.width, right=column.right)
            style = base + Style.from_meta({"column": column.key})
            segments.extend(Segment.apply_style(fitted.render(console), style))
            width += column.width + 2
        return Strip(segments, width)

    def _refresh_index(self, index: int | None) -> None:
        if index is not None:
            self.refresh_line(index + 1)

    def _refresh_kickoff(self, kickoff_id: str) -> None:
        self._refresh_index(self.rows.index_of(kickoff_id))

    # -- asking for rows -----------------------------------------------------------------

    def _ask_for_missing(self) -> None:
        """Ask for the pages of the rows on screen (and of the rows just beyond it, and of
        the cursor's row wherever it is): each missing stretch of a page (pages are
        ``PAGE_ROWS`` apart from the top), once."""
        top = int(self.scroll_y)
        start = max(top - PAGE_MARGIN, 0)
        stop = min(top + self._rows_shown() + PAGE_MARGIN, self.rows.total)
        version = self.rows.version
        pages = set(range(start // PAGE_ROWS, (stop - 1) // PAGE_ROWS + 1))
        if self.cursor_pending:
            pages.add(self.cursor_row // PAGE_ROWS)
        for page in sorted(pages):
            for first, last in self.rows.missing(page * PAGE_ROWS, (page + 1) * PAGE_ROWS):
                if (version, first) not in self._asked:
                    self._asked.add((version, first))
                    self.post_message(self.RowsWanted(first, last - first, version))

    def _ask_recount(self) -> None:
        """Once per version: count again and read the rows around the view."""
        version = self.rows.version
        if self._recount_asked == version:
            return
        self._recount_asked = version
        offset = max(int(self.scroll_y) - PAGE_MARGIN, 0)
        self.post_message(self.Recount(offset, PAGE_ROWS, version))

    # -- cells ---------------------------------------------------------------------------

    def _clock(self) -> datetime:
        return self._now or datetime.now().astimezone()

    def _colour(self, name: str) -> Style:
        """A theme colour resolved through CSS (``muted``, ``accent``, ``error``...)."""
        return self.get_component_rich_style(f"kickoff-list--{name}", partial=True)

    def _cells_for(self, row: KickoffSummary, now: datetime) -> dict[str, Text]:
        symbol, variable = STATE_SYMBOLS[row.state], _STATE_VARIABLE[row.state]
        colour = self._colour(variable)
        state_word = "may have started" if row.submission == "uncertain" else row.state.value
        if cancel_note(row) == CANCELLING:
            state_word = CANCELLING
        elif continued_elsewhere(row):  # the task cell says which id carries on
            symbol, state_word, colour = CONTINUED_SYMBOL, CONTINUED, self._colour("muted")
        elif row.kickoff_id in self.stuck and row.state is RunState.RUNNING:
            state_word, colour = STUCK_WORD, self._colour("warning")
        return {
            "mark": self._mark_cell(row.kickoff_id),
            "state": Text(f"{symbol} {state_word}", style=colour, end="", no_wrap=True),
            "crew": Text(crew_cell(row.crew, _CREW_WIDTH), end="", no_wrap=True),
            "id": Text(row.kickoff_id[:8], style=self._colour("muted")),
            "started": Text(
                start_text(row, lambda moment: self._started(moment, now)),
                style=self._colour("muted"),
            ),
            "elapsed": Text(duration_text(row, now)),
            "progress": self._progress_cell(row),
            "task": self._task_cell(row, now),
            "tokens": self._tokens_cell(row),
        }

    def _mark_cell(self, kickoff_id: str) -> Text:
        """``◆`` marked to compare, else ``•`` ended unread, else blank."""
        if kickoff_id in self.marked:
            return Text(COMPARE_MARK, style=self._colour("accent") + Style(bold=True))
        return Text("•" if kickoff_id in self.unread else " ", style=self._colour("accent"))

    def _tokens_cell(self, row: KickoffSummary) -> Text:
        total = row.usage.total_tokens if row.usage else None
        shown = "" if total is None else tokens_text(total)
        return Text(shown, style=self._colour("muted"))

    def _started(self, moment: datetime, now: datetime) -> str:
        local = moment.astimezone(self.tz)
        if local.date() == now.astimezone(self.tz).date():
            return local.strftime("%H:%M" if self.compact else "%H:%M:%S")
        return local.strftime("%b %d")

    def _progress_cell(self, row: KickoffSummary) -> Text:
        done = row.progress.completed if row.progress else None
        total = row.progress.total if row.progress else None
        if row.state is RunState.COMPLETED and row.kind == "flow":
            done = max(row.task_count, done or 0)  # a flow has no total: its methods run
        elif row.state is RunState.COMPLETED and row.task_count:
            done = total = max(row.task_count, total or 0)
        if done is None:
            return Text("")
        if not total:  # compact: ``4✓`` fits the column ``1/3`` fits
            return Text(f"{done}✓" if self.compact else f"{done} done", style=self._colour("muted"))
        if self.compact:
            return Text(f"{done}/{total}")
        filled = round(_BAR_WIDTH * min(done, total) / total)
        bar = Text("━" * filled, style=self._colour("accent"))
        bar.append("─" * (_BAR_WIDTH - filled), style=self._colour("muted"))
        bar.append(f" {done}/{total}")
        return bar

    def _task_cell(self, row: KickoffSummary, now: datetime) -> Text:
        text = Text(end="", no_wrap=True)
        if restarted := restart_note(row):
            text.append(restarted, style=self._colour("accent"))
            text.append(" · ", style=self._colour("muted"))
        if link := continuation_line(row):
            text.append(link, style=self._colour("accent"))
            text.append(" · ", style=self._colour("muted"))
        if row.state in (RunState.FAILED, RunState.LOST) or row.submission == "uncertain":
            text.append_text(safe_line(row.error, self._colour("error"), limit=200))
        elif row.state is RunState.CANCELLED and (note := cancel_note(row)) is not None:
            text.append(note, style=self._colour("muted"))
        elif row.state is RunState.PAUSED and row.waiting_for is not None and not row.continues:
            text.append(waiting_line(row.waiting_for), style=self._colour("warning"))
        elif not row.state.is_terminal:
            text.append_text(safe_line(row.current_task, limit=200))
        if text.plain.endswith(" · "):  # a note alone: no separator after it
            text.right_crop(3)
        if row.state.is_terminal:
            return text
        stale = self._stale.get(row.crew)
        if self._followed is not None and row.crew not in self._followed:
            why = NOT_FOLLOWED
        elif stale is not None:
            why = f"stale {format_duration((now - stale.since).total_seconds())}"
        else:
            return text
        cell = Text(end="", no_wrap=True)
        cell.append(why + (" · " if text.plain else ""), style=self._colour("warning"))
        return cell.append_text(text)


def _fit(cell: Text, width: int, *, right: bool) -> Text:
    """``cell`` in a column of ``width``: cut with an ellipsis, padded, one space each side."""
    fitted = cell.copy()
    fitted.end = ""
    if fitted.cell_len > width:
        fitted.truncate(width, overflow="ellipsis")
    gap = " " * (width - fitted.cell_len)
    line = Text(" " + (gap if right else ""), end="", no_wrap=True)
    line.append_text(fitted)
    line.append(("" if right else gap) + " ")
    return line
