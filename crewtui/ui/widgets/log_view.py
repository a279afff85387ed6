"""The Log view's lines: one row per run-log entry, drawn only where it shows (Line API).

It is given entries (``core.run_log.LogEntry``) and draws the rows on the screen, however
many it holds: a busy day's thousands of entries cost a screenful per frame. It follows the
newest entry while the view is at the bottom, as ``tail -f`` does, and stays where the user
scrolled otherwise. Search marks matching rows and moves between them. No I/O here; every
text from a crew goes through ``crewtui.ui.text``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, tzinfo
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from crewtui.core.run_log import LogEntry, LogKind, line_parts, searchable
from crewtui.ui.palette import PLAIN, Palette, component_classes, palette_css, palette_of

_PREFIX = "log-view"


def _utcnow() -> datetime:
    return datetime.now(UTC)


# The theme colour of each kind's word (None: the text's own); the word is always there.
KIND_COLOURS: dict[LogKind, str | None] = {
    "run": "accent",
    "done": "success",
    "failed": "error",
    "waiting": "warning",
    "task": None,
    "step": "muted",
    "tool": "secondary",
    "event": "muted",
    "usage": "muted",
}
# Wide enough for a time of another day (``11-22 10:05:00``) or of today (``10:05:00``).
_DATED = 14
_TODAY = 8


def entry_text(
    entry: LogEntry,
    now: datetime,
    palette: Palette = PLAIN,
    tz: tzinfo | None = None,
    moment_width: int = 0,
    width: int | None = None,
) -> Text:
    """One entry as a row: every column inert (``line_parts``), the kind in its colour.

    A row wider than ``width`` leaves out the agent (the task names it well enough), so
    that what happened (``completed in 1.0s``) stays on an 80-column screen."""
    row = _row(entry, now, palette, tz, moment_width)
    if width is not None and row.cell_len > width and entry.agent and entry.task:
        return _row(replace(entry, agent=None), now, palette, tz, moment_width)
    return row


def _row(
    entry: LogEntry, now: datetime, palette: Palette, tz: tzinfo | None, moment_width: int
) -> Text:
    moment, crew, short_id, kind, labelled, words = line_parts(entry, now, tz)
    row = Text(no_wrap=True, end="")
    row.append(f"{moment:>{moment_width}}", style=palette.muted)
    row.append(f"  {crew:<12}  ")
    row.append(short_id, style=palette.muted)
    row.append("  ")
    colour = KIND_COLOURS[entry.kind]
    kind_style = palette[colour] if colour else Style()
    row.append(f"{kind:<7}", style=kind_style + Style(bold=entry.kind in ("failed", "waiting")))
    if labelled:
        row.append(f"  {labelled}")
    row.append(f"  {words}")
    return row


class LogView(ScrollView, can_focus=True):
    """Rows of log entries; follows the newest while at the bottom; searchable."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *component_classes(_PREFIX),
        "log-view--match",
        "log-view--current",
    }

    DEFAULT_CSS = """
    LogView {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: scroll;
    }
    LogView > .log-view--match { background: $primary 20%; }
    LogView > .log-view--current { background: $accent 40%; text-style: bold; }
    """ + palette_css("LogView", _PREFIX)

    def __init__(
        self,
        *,
        tz: tzinfo | None = None,
        clock: Callable[[], datetime] | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.tz = tz
        self.clock = clock or _utcnow
        self.entries: list[LogEntry] = []
        self.query_text = ""
        # Indices of the rows that match the search, and the one moved to last.
        self.matches: list[int] = []
        self._matched: frozenset[int] = frozenset()
        self.current = -1
        self._palette = PLAIN
        # "Today", for the rows' times: a row of another day shows its date too, and then
        # every time is as wide, so the columns stay in line.
        self._now = self.clock()
        self._moment_width = _TODAY

    def on_mount(self) -> None:
        self.restyle()

    def restyle(self) -> None:
        """The theme changed: rows carry its colours."""
        self._palette = palette_of(self, _PREFIX)
        self.refresh()

    # -- entries ---------------------------------------------------------------------------

    @property
    def at_bottom(self) -> bool:
        return self.scroll_offset.y >= self.max_scroll_y

    def show(self, entries: Sequence[LogEntry]) -> None:
        """Show these entries from the newest (a new filter, or back from a pause)."""
        self.entries = list(entries)
        self._now = self.clock()
        self._moment_width = _TODAY
        self._widen_moments(self.entries)
        self._search_again()
        self._resize()
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def append(self, entries: Sequence[LogEntry], limit: int) -> None:
        """New entries at the bottom, keeping the newest ``limit``; the view follows them
        when it was at the bottom, and otherwise keeps what the user is reading in place."""
        if not entries:
            return
        following = self.at_bottom
        start = len(self.entries)
        self.entries.extend(entries)
        self._widen_moments(entries)
        if self.query_text:  # only the new rows are searched
            folded = self.query_text.casefold()
            found = [start + i for i, entry in enumerate(entries) if folded in searchable(entry)]
            self.matches.extend(found)
        dropped = max(len(self.entries) - limit, 0)
        if dropped:
            del self.entries[:dropped]
            kept = [row - dropped for row in self.matches if row >= dropped]
            self.current = max(self.current - (len(self.matches) - len(kept)), -1)
            self.matches = kept
        self._matched = frozenset(self.matches)
        self._resize()
        if following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif dropped:
            self.scroll_to(y=max(self.scroll_offset.y - dropped, 0), animate=False, immediate=True)
        self.refresh()

    def _widen_moments(self, entries: Sequence[LogEntry]) -> None:
        if self._moment_width == _DATED:
            return
        today = self._now.astimezone(self.tz).date()
        if any(entry.at.astimezone(self.tz).date() != today for entry in entries):
            self._moment_width = _DATED

    def _resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.entries))

    # -- search ----------------------------------------------------------------------------

    def search(self, text: str) -> None:
        """Mark the rows holding ``text`` and move to the last one (the newest)."""
        self.query_text = text.strip()
        self._search_again()
        self.current = len(self.matches) - 1 if self.matches else -1
        self._scroll_to_current()
        self.refresh()

    def next_match(self, step: int) -> None:
        """Move to the next (``step`` 1) or previous (-1) matching row, round the ends."""
        if not self.matches:
            return
        self.current = (self.current + step) % len(self.matches)
        self._scroll_to_current()
        self.refresh()

    @property
    def current_row(self) -> int | None:
        return self.matches[self.current] if 0 <= self.current < len(self.matches) else None

    def _search_again(self) -> None:
        row = self.current_row
        if not self.query_text:
            self.matches, self._matched, self.current = [], frozenset(), -1
            return
        folded = self.query_text.casefold()
        self.matches = [i for i, entry in enumerate(self.entries) if folded in searchable(entry)]
        self._matched = frozenset(self.matches)
        if row is not None and row in self.matches:
            self.current = self.matches.index(row)
        elif self.current >= len(self.matches):
            self.current = len(self.matches) - 1

    def _scroll_to_current(self) -> None:
        row = self.current_row
        if row is None:
            return
        height = self.scrollable_content_region.height
        if not self.scroll_offset.y <= row < self.scroll_offset.y + height:
            top = max(row - height // 2, 0)
            self.scroll_to(y=top, animate=False, immediate=True)

    # -- drawing ---------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = self.scroll_offset.y + y
        if not 0 <= index < len(self.entries):
            return Strip.blank(width, self.rich_style)
        entry = self.entries[index]
        row = entry_text(entry, self._now, self._palette, self.tz, self._moment_width, width)
        if index == self.current_row:
            row.stylize(self.get_component_rich_style("log-view--current"))
        elif index in self._matched:
            row.stylize(self.get_component_rich_style("log-view--match"))
        strip = Strip(row.render(self.app.console)).apply_style(self.rich_style)
        return strip.crop_extend(0, width, self.rich_style)

    @property
    def shown_text(self) -> list[str]:
        """The rows as plain text, in order, cut where the view cuts them (tests and
        screenshots check what is there)."""
        width = self.scrollable_content_region.width
        rows = []
        for entry in self.entries:
            row = entry_text(
                entry, self._now, tz=self.tz, moment_width=self._moment_width, width=width
            )
            row.truncate(width)
            rows.append(row.plain)
        return rows
