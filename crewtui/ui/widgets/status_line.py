"""The status line: each crew's health on the left, what the list shows on the right.

Trouble stays here, calm and one line long: a crew that rejects its token or stopped
answering is named with since when, and the rest of the screen keeps updating.

Each healthy crew that polls says how hard it presses on its service and how fresh its runs
are: requests per second of its budget and about how long a run waits between polls
("● travel 7/10 rps · ~3.2s"). A crew that another crewtui process polls for the shared
history (it holds the crew's lease) says which, and this one only views it
("○ travel polled by 4242@ops-box").

A crew with no run to poll yet says so ("○ travel idle").

It fits its width by leaving out detail, never crews: first the polling pace, then the
list's sort order, then healthy and idle crews are counted ("● 3 ok  ○ 2 idle") while
troubled ones stay named.

It is one widget drawing one line, the view's words put at its right end: its size never
changes, so new words (every push that pauses or answers a run changes the waiting count)
are a repaint of this line, not a layout of the screen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.events import Resize
from textual.widget import Widget

from crewtui.core.format import format_duration
from crewtui.core.tracker_events import CrewHealth
from crewtui.ui.text import safe_line

_HEALTH_LOOK: dict[str, tuple[str, str, str]] = {
    "ok": ("●", "success", ""),
    "token_rejected": ("✗", "error", "token rejected"),
    "unreachable": ("▲", "warning", "unreachable"),
    "unknown": ("○", "muted", ""),
}
# A crew this process has not had to poll yet (no run of it going): "○ travel idle".
_IDLE = "idle"


def is_idle(health: CrewHealth) -> bool:
    """Nothing to poll yet, and nobody else polls it: nothing to say but that."""
    return health.state == "unknown" and health.poller is None and health.stale_since is None


def pace_text(health: CrewHealth) -> str:
    """`` 7/10 rps · ~3.2s``: requests per second of the budget, the interval; what is known."""
    parts = []
    if health.rate is not None and health.budget is not None:
        parts.append(f"{health.rate:.0f}/{health.budget:g} rps")
    if health.interval is not None:
        parts.append(f"~{format_duration(health.interval, precise=True)}")
    return f" {' · '.join(parts)}" if parts else ""


class StatusLine(Widget):
    """One line on top: crews and their health, then the list's order, filter and counts."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        background: $panel;
        color: $foreground;
        padding: 0 1;
    }
    StatusLine > .status-line--muted { color: $text-muted; }
    StatusLine > .status-line--accent { color: $accent; text-style: bold; }
    StatusLine > .status-line--success { color: $success; }
    StatusLine > .status-line--warning { color: $warning; }
    StatusLine > .status-line--error { color: $error; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        f"status-line--{name}" for name in ("muted", "accent", "success", "warning", "error")
    }

    def __init__(self, *, tz: tzinfo | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tz = tz
        self._healths: dict[str, CrewHealth] = {}
        self._view_parts: tuple[str, ...] = ()
        self._view_optional: tuple[str, ...] = ()
        self._crews_shown = Text()
        self._view_shown = Text()
        self._line = Text()

    @property
    def crews_text(self) -> str:
        """The crews as the line shows them now (before any cut at the width)."""
        return self._crews_shown.plain

    @property
    def view_text(self) -> str:
        """The view's words as the line shows them now, at its right end."""
        return self._view_shown.plain

    def render(self) -> Text:
        return self._line

    def set_healths(self, healths: Iterable[CrewHealth]) -> None:
        for health in healths:
            self._healths[health.crew] = health
        self._render_crews()

    def set_health(self, health: CrewHealth) -> None:
        self.set_healths([health])

    def set_view(self, parts: Sequence[str], optional: Sequence[str] = ()) -> None:
        """The right side: counts and filter (``parts``), then ``optional`` words shown only
        when there is room (crewtui's own words, not API text)."""
        self._view_parts, self._view_optional = tuple(parts), tuple(optional)
        self._fit()

    def on_resize(self, event: Resize) -> None:
        self._fit()

    def describe(self, crew: str) -> str:
        """One crew's health in words (for tests and the help screen)."""
        health = self._healths.get(crew)
        return "" if health is None else self._health_text(health).plain

    def _render_crews(self) -> None:
        troubles = [
            f"{health.crew}: {health.message}"
            for health in self._healths.values()
            if health.message and health.state in ("unreachable", "token_rejected")
        ]
        viewed = [
            f"{health.crew} is polled by {health.poller}; this process views it"
            + (f"; its poller says: {health.poller_trouble}" if health.poller_trouble else "")
            for health in self._healths.values()
            if health.poller is not None
        ]
        said = troubles + viewed
        self.tooltip = safe_line("  ·  ".join(said), limit=600) if said else None
        self._fit()

    def _crews_line(self, *, intervals: bool, count_healthy: bool, brief: bool = False) -> Text:
        """The crews at one level of detail (``brief``: troubled crews by symbol and name;
        the tooltip keeps the whole story)."""
        line = Text(no_wrap=True, end="", overflow="ellipsis")
        healths = list(self._healths.values())
        healthy = [h for h in healths if h.state == "ok" and h.stale_since is None]
        idle = [h for h in healths if is_idle(h)]
        counted = {h.crew for h in healthy + idle} if count_healthy else set()
        for health in healths:
            if health.crew in counted:
                continue
            if line:
                line.append("  ")
            line.append_text(self._health_text(health, intervals=intervals, brief=brief))
        for state, words, crews in (("ok", "ok", healthy), ("unknown", _IDLE, idle)):
            if count_healthy and crews:
                if line:
                    line.append("  ")
                symbol, variable, _ = _HEALTH_LOOK[state]
                line.append(f"{symbol} {len(crews)} {words}", style=self._colour(variable))
        return line

    def _view_line(self, *, optional: bool) -> Text:
        parts = [*self._view_optional, *self._view_parts] if optional else self._view_parts
        return Text(" · ".join(parts), no_wrap=True, end="", overflow="ellipsis")

    def _fit(self) -> None:
        """The most detailed crews and view that fit the width together."""
        if not self.is_mounted:
            return
        width = self.content_region.width
        levels = [
            (self._crews_line(intervals=True, count_healthy=False), True),
            (self._crews_line(intervals=False, count_healthy=False), True),
            (self._crews_line(intervals=False, count_healthy=False), False),
            (self._crews_line(intervals=False, count_healthy=True), False),
            (self._crews_line(intervals=False, count_healthy=True, brief=True), False),
        ]
        crews, view = levels[-1][0], self._view_line(optional=False)
        for candidate, optional in levels:
            candidate_view = self._view_line(optional=optional)
            if not width or candidate.cell_len + 2 + candidate_view.cell_len <= width:
                crews, view = candidate, candidate_view
                break
        self._crews_shown, self._view_shown = crews, view
        view = view.copy()
        view.stylize(self._colour("muted"))
        room = max(0, width - view.cell_len) if width else crews.cell_len + 2
        crews = crews.copy()
        crews.truncate(room, overflow="ellipsis")
        line = Text.assemble(crews, " " * (room - crews.cell_len), view, no_wrap=True, end="")
        if line != self._line or line.style != self._line.style:
            self._line = line
            self.refresh()

    def _health_text(
        self, health: CrewHealth, *, intervals: bool = True, brief: bool = False
    ) -> Text:
        symbol, variable, words = _HEALTH_LOOK.get(health.state, _HEALTH_LOOK["unknown"])
        colour = self._colour(variable)
        text = Text(f"{symbol} ", style=colour, end="")
        text.append_text(safe_line(health.crew, limit=24))
        if brief:
            return text
        if words:
            text.append(f" {words}", style=colour)
        elif is_idle(health):
            text.append(f" {_IDLE}", style=colour)
        if health.state == "unreachable" and health.since is not None:
            text.append(f" since {self._clock(health.since)}", style=colour)
        if health.poller is not None:
            text.append(" polled by ", style=self._colour("muted"))
            text.append_text(safe_line(health.poller, self._colour("muted"), limit=40))
        if health.stale_since is not None:
            warning = self._colour("warning")
            text.append(f", stale since {self._clock(health.stale_since)}", style=warning)
            if intervals and health.poller_trouble:
                text.append(": ", style=warning)
                text.append_text(safe_line(health.poller_trouble, warning, limit=80))
        if intervals and health.state == "ok":
            text.append(pace_text(health), style=self._colour("muted"))
        return text

    def _clock(self, moment: datetime) -> str:
        return moment.astimezone(self.tz).strftime("%H:%M:%S")

    def _colour(self, name: str) -> Style:
        """A theme colour resolved through CSS (``muted``, ``accent``, ``error``...): the
        colour blended on the line's background (a partial style drops ``$text-muted``'s
        transparency and comes out white), and its boldness."""
        style = self.get_component_rich_style(f"status-line--{name}")
        return Style(color=style.color, bold=style.bold)

    def restyle(self) -> None:
        """Render again with the current theme's colours."""
        self._render_crews()
