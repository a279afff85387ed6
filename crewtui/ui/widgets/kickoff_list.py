"""The kickoff list: a keyed DataTable that is updated cell by cell, never rebuilt.

Rows are keyed by kickoff id. Each change re-renders the row's cells and hands DataTable only
the cells whose rendering changed; the one-second tick touches only the elapsed cells of
running rows that are on screen. The widget does no I/O: the app pages summaries in from
the store (``NearEnd`` asks for the next page) and pushes every change it hears of.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import ClassVar, Literal

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.events import Resize
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from crewtui.api.models import Kickoff, KickoffSummary, RunState
from crewtui.api.sanitize import inert_line
from crewtui.core.format import (
    CANCELLING,
    STATE_ORDER,
    STATE_SYMBOLS,
    cancel_note,
    continuation_line,
    duration_text,
    format_duration,
    restart_note,
    start_text,
    tokens_text,
    waiting_line,
)
from crewtui.ui.text import safe_line

SortOrder = Literal["newest", "oldest", "state", "crew"]
SORT_ORDERS: tuple[SortOrder, ...] = ("newest", "oldest", "state", "crew")

# Rows left below the viewport when the next page is asked for.
PAGE_MARGIN = 30

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

# (key, label, width); the task column grows to what is left of the width (at least its
# width here, clipped at the edge when the pane is narrower).
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("mark", "", 1),
    ("state", "State", 11),
    ("crew", "Crew", 10),
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


def summary_of(kickoff: Kickoff) -> KickoffSummary:
    """The list row of a full kickoff (what a tracker event carries)."""
    fields = {
        name: getattr(kickoff, name) for name in KickoffSummary.model_fields if name != "task_count"
    }
    return KickoffSummary.model_validate({**fields, "task_count": len(kickoff.tasks)})


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

    @property
    def is_empty(self) -> bool:
        return self.crew is None and self.states is None and not self.text and not self.archived

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
        return " ".join(parts)

    def matches(self, row: Kickoff | KickoffSummary) -> bool:
        """The same test as the store's query, for kickoffs that change while shown."""
        if self.crew is not None and row.crew != self.crew:
            return False
        if self.states is not None and row.state not in self.states:
            return False
        if row.archived != self.archived:
            return False
        needle = self.text.casefold()
        inputs = row.inputs.values() if isinstance(row, Kickoff) else ()
        haystack = (row.kickoff_id, row.crew, row.current_task or "", *inputs)
        return not needle or any(needle in value.casefold() for value in haystack)


@dataclass
class CrewStaleness:
    """A crew that stopped answering: its active rows show how old their data is."""

    since: datetime


@dataclass
class _Row:
    summary: KickoffSummary
    cells: dict[str, Text] = field(default_factory=dict)


class _IdCell(Text):
    """The short-id cell; carries the full id so ``DataTable.sort`` can order by our key."""

    def __init__(self, kickoff_id: str, style: Style) -> None:
        super().__init__(kickoff_id[:8], style=style, end="", no_wrap=True)
        self.kickoff_id = kickoff_id


def _same(left: Text | None, right: Text) -> bool:
    return (
        left is not None
        and left.plain == right.plain
        and left.style == right.style
        and left.spans == right.spans
    )


class KickoffList(DataTable[Text]):
    """Kickoffs, newest first by default, one keyed row each."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = DataTable.COMPONENT_CLASSES | {
        f"kickoff-list--{name}" for name in ("muted", "accent", "success", "warning", "error")
    }

    DEFAULT_CSS = """
    KickoffList > .kickoff-list--muted { color: $text-muted; }
    KickoffList > .kickoff-list--accent { color: $accent; }
    KickoffList > .kickoff-list--success { color: $success; }
    KickoffList > .kickoff-list--warning { color: $warning; }
    KickoffList > .kickoff-list--error { color: $error; }
    """

    class NearEnd(Message):
        """The user scrolled close to the last loaded row: time for the next page."""

    def __init__(self, *, tz: tzinfo | None = None, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, cell_padding=1)
        self.tz = tz
        self.order: SortOrder = "newest"
        self.has_more = False
        self.unread: set[str] = set()
        self._rows: dict[str, _Row] = {}
        self._stale: dict[str, CrewStaleness] = {}
        self._more_asked = False
        self._upserting = False
        self._now: datetime | None = None
        # Until someone puts the cursor on a row, it stays on the top row as rows arrive;
        # afterwards it stays on its kickoff wherever the order moves it.
        self._placed = False
        self._moving = False
        # Narrow terminals: progress without bars, start times without seconds.
        self.compact = False
        self.show_tokens = False

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def toggle_tokens(self) -> None:
        """Show or hide the tokens column; rows keep their place and the cursor its row."""
        key, label, width = TOKENS_COLUMN
        self.show_tokens = not self.show_tokens
        with self.app.batch_update():
            if self.show_tokens:
                self.add_column(label, key=key, width=width, default=Text(""))
                for kickoff_id in self._rows:
                    self._refresh_row(kickoff_id)
            else:
                self.remove_column(ColumnKey(key))
                for row in self._rows.values():
                    row.cells.pop(key, None)
            self.on_resize(None)

    def on_resize(self, event: Resize | None) -> None:
        """Give the task column whatever the other columns leave of the width; when that is
        too little, go compact and give it the room the bars and seconds took."""
        compact = self._task_room(compact=False) < _MIN_TASK_WIDTH
        widths = {key: width for key, _, width in COLUMNS}
        if compact:
            widths |= _COMPACT_WIDTHS
        widths["task"] = max(self._task_room(compact=compact), _MIN_TASK_WIDTH)
        changed = compact != self.compact
        self.compact = compact
        labels = {key: label for key, label, _ in COLUMNS}
        if compact:
            labels |= _COMPACT_LABELS
        for key, width in widths.items():
            column = self.columns[ColumnKey(key)]
            if column.width != width:
                column.width = width
                column.label = Text(labels[key])
                changed = True
        if changed:
            # DataTable has no API to resize a column: drop its measurements and redraw.
            self._require_update_dimensions = True
            self._clear_caches()
            self.restyle()
            self.refresh()

    def _task_room(self, *, compact: bool) -> int:
        """The width left for the task column in the normal or the compact layout."""
        shown = [*COLUMNS, TOKENS_COLUMN] if self.show_tokens else COLUMNS
        widths = {key: width for key, _, width in shown if key != "task"}
        if compact:
            widths |= _COMPACT_WIDTHS
        fixed = sum(width + 2 * self.cell_padding for width in widths.values())
        return self.scrollable_content_region.width - fixed - 2 * self.cell_padding

    # -- reading -------------------------------------------------------------------------

    @property
    def selected_id(self) -> str | None:
        """The kickoff under the cursor, if any."""
        if not self._rows or not self.is_valid_row_index(self.cursor_row):
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def summary(self, kickoff_id: str) -> KickoffSummary | None:
        row = self._rows.get(kickoff_id)
        return row.summary if row else None

    def __contains__(self, kickoff_id: object) -> bool:
        return kickoff_id in self._rows

    # -- writing -------------------------------------------------------------------------

    def upsert(self, rows: Iterable[KickoffSummary], now: datetime) -> None:
        """Add new rows and update changed cells of known ones; sort once if order moved."""
        self._now = now
        selected = self.selected_id
        resort = False
        # Rows arrive one by one: judge "near the end" once they are all in.
        self._upserting = True
        try:
            with self.app.batch_update():
                for summary in rows:
                    resort |= self._upsert_one(summary, now)
                if resort:
                    self._sort(selected)
        finally:
            self._upserting = False
        self._check_near_end()

    def add_page(self, rows: Iterable[KickoffSummary], now: datetime, *, has_more: bool) -> None:
        """Append a page from the store (rows already shown keep their live data)."""
        self.has_more = has_more
        self._more_asked = False
        self.upsert((row for row in rows if row.kickoff_id not in self._rows), now)

    def remove_kickoff(self, kickoff_id: str) -> None:
        if self._rows.pop(kickoff_id, None) is not None:
            self.remove_row(kickoff_id)
        self.unread.discard(kickoff_id)

    def reset(self, order: SortOrder) -> None:
        """Forget every row (a new query: other filter or order) before the first page."""
        self.order = order
        self._rows.clear()
        self.has_more = False
        self._more_asked = False
        self.clear()
        self._placed = False

    def select(self, kickoff_id: str) -> None:
        if kickoff_id in self._rows:
            self.move_cursor(row=self.get_row_index(kickoff_id))
            self._placed = True

    def mark_unread(self, kickoff_id: str) -> None:
        self.unread.add(kickoff_id)
        self._refresh_row(kickoff_id)

    def mark_read(self, kickoff_id: str) -> None:
        if kickoff_id in self.unread:
            self.unread.discard(kickoff_id)
            self._refresh_row(kickoff_id)

    def set_stale(self, crew: str, since: datetime | None) -> None:
        """Mark (or clear) a crew whose service stopped answering; its active rows show it."""
        if since is None:
            if self._stale.pop(crew, None) is None:
                return
        else:
            self._stale[crew] = CrewStaleness(since)
        with self.app.batch_update():
            for kickoff_id, row in self._rows.items():
                if row.summary.crew == crew and not row.summary.state.is_terminal:
                    self._refresh_row(kickoff_id)

    def restyle(self) -> None:
        """Render every row again (the theme changed, so did its colours)."""
        with self.app.batch_update():
            for kickoff_id in self._rows:
                self._refresh_row(kickoff_id)

    def tick(self, now: datetime) -> None:
        """Advance the clock: only visible, active rows have cells that move with time."""
        self._now = now
        top = int(self.scroll_y)
        bottom = top + self.scrollable_content_region.height
        with self.app.batch_update():
            for kickoff_id, row in self._rows.items():
                if row.summary.state.is_terminal:
                    continue
                if top <= self.get_row_index(kickoff_id) < bottom:
                    self._apply(kickoff_id, row, self._cells_for(row.summary, now))

    # -- internals -----------------------------------------------------------------------

    def _upsert_one(self, summary: KickoffSummary, now: datetime) -> bool:
        """Apply one row; True when its position in the order may have changed."""
        row = self._rows.get(summary.kickoff_id)
        cells = self._cells_for(summary, now)
        if row is None:
            self._rows[summary.kickoff_id] = _Row(summary, cells)
            self.add_row(*cells.values(), key=summary.kickoff_id)
            return True
        moved = self._order_key(row.summary) != self._order_key(summary)
        row.summary = summary
        self._apply(summary.kickoff_id, row, cells)
        return moved

    def _refresh_row(self, kickoff_id: str) -> None:
        row = self._rows.get(kickoff_id)
        if row is not None:
            self._apply(kickoff_id, row, self._cells_for(row.summary, self._clock()))

    def _apply(self, kickoff_id: str, row: _Row, cells: Mapping[str, Text]) -> None:
        for key, cell in cells.items():
            if not _same(row.cells.get(key), cell):
                row.cells[key] = cell
                self.update_cell(kickoff_id, key, cell)

    def _sort(self, keep: str | None) -> None:
        self.sort("id", key=lambda cell: self._order_key(self._rows[cell.kickoff_id].summary))
        index = 0
        if self._placed and keep is not None and keep in self._rows:
            index = self.get_row_index(keep)
        if index != self.cursor_row:
            self._moving = True
            try:
                self.move_cursor(row=index, animate=False)
            finally:
                self._moving = False

    def _order_key(self, row: KickoffSummary) -> tuple[object, ...]:
        stamp = row.created_at.timestamp()
        if self.order == "oldest":
            return (stamp, row.kickoff_id)
        if self.order == "state":
            return (_STATE_RANK.get(row.state, 99), -stamp, row.kickoff_id)
        if self.order == "crew":
            return (row.crew, -stamp, row.kickoff_id)
        return (-stamp, row.kickoff_id)

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
        return {
            "mark": Text(
                "•" if row.kickoff_id in self.unread else " ", style=self._colour("accent")
            ),
            "state": Text(f"{symbol} {state_word}", style=colour, end="", no_wrap=True),
            "crew": safe_line(row.crew, limit=24),
            "id": _IdCell(row.kickoff_id, self._colour("muted")),
            "started": Text(
                start_text(row, lambda moment: self._started(moment, now)),
                style=self._colour("muted"),
            ),
            "elapsed": Text(duration_text(row, now), justify="right"),
            "progress": self._progress_cell(row),
            "task": self._task_cell(row, now),
        } | ({"tokens": self._tokens_cell(row)} if self.show_tokens else {})

    def _tokens_cell(self, row: KickoffSummary) -> Text:
        total = row.usage.total_tokens if row.usage else None
        shown = "" if total is None else tokens_text(total)
        return Text(shown, style=self._colour("muted"), justify="right")

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
        if not total:
            return Text(f"{done} done", style=self._colour("muted"))
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
        elif row.state is RunState.PAUSED and row.waiting_for is not None:
            text.append(waiting_line(row.waiting_for), style=self._colour("warning"))
        elif not row.state.is_terminal:
            text.append_text(safe_line(row.current_task, limit=200))
        if text.plain.endswith(" · "):  # a note alone: no separator after it
            text.right_crop(3)
        stale = self._stale.get(row.crew)
        if stale is None or row.state.is_terminal:
            return text
        age = format_duration((now - stale.since).total_seconds())
        cell = Text(end="", no_wrap=True)
        cell.append(f"stale {age}" + (" · " if text.plain else ""), style=self._colour("warning"))
        return cell.append_text(text)

    # -- paging --------------------------------------------------------------------------

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._check_near_end()

    def watch_cursor_coordinate(
        self, old_coordinate: Coordinate, new_coordinate: Coordinate
    ) -> None:
        super().watch_cursor_coordinate(old_coordinate, new_coordinate)
        if not self._moving and old_coordinate.row != new_coordinate.row and self._rows:
            self._placed = True
        self._check_near_end()

    def _check_near_end(self) -> None:
        if not self.has_more or self._more_asked or self._upserting:
            return
        bottom = max(int(self.scroll_y) + self.scrollable_content_region.height, self.cursor_row)
        if self.row_count - bottom <= PAGE_MARGIN:
            self._more_asked = True
            self.post_message(self.NearEnd())
